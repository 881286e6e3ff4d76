import { userInfo } from 'node:os';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import { compileGlob, globProblem } from './glob.js';

/**
 * The access-control policy engine: the `access:` section of lockbox.yaml (zod schema), its
 * compiled form, and `decide` — deny overrides allow, and a request no rule matches gets the
 * policy's default (deny unless `default: allow` is written). docs/access-control.md is the guide.
 */

/** Every action a rule can allow or deny. `admin` does not imply the others. */
export const ACTIONS = ['read', 'list', 'write', 'delete', 'rotate', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];
export type Effect = 'allow' | 'deny';

const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS);
const ROLE_NAME = /^[A-Za-z0-9._-]+$/;
const PRINCIPAL_NAME = /^[^\s\p{Cc}]+$/u;
const RULE_KEYS = ['allow', 'deny', 'secrets', 'tenants'];
const POLICY_KEYS = ['roles', 'principals', 'default'];
const HINT = 'docs/access-control.md describes the access: section';

const actionSchema = checked<Action>((value) =>
  typeof value === 'string' && ACTION_SET.has(value)
    ? undefined
    : `unknown action ${JSON.stringify(value)}; valid actions: ${ACTIONS.join(', ')}`);
const globSchema = checked<string>(globProblem);
const tenantSchema = checked<string>((value) => {
  if (typeof value !== 'string') return `expected a tenant id (text), got ${value === null ? 'null' : typeof value}`;
  try { assertValidScope(value); return undefined; } catch { return `invalid tenant ${JSON.stringify(value)}: a tenant is one name segment of letters, digits, ".", "_" and "-"`; }
});
const actionListSchema = z.array(actionSchema, { invalid_type_error: 'expected a list of actions, like [read, list]' })
  .min(1, `list at least one action (${ACTIONS.join(', ')})`);

const ruleSchema = z.object({
  /** Actions this rule grants. Exactly one of `allow` / `deny` per rule. */
  allow: actionListSchema.optional(),
  /** Actions this rule forbids; a matching deny wins over every allow. */
  deny: actionListSchema.optional(),
  /** Secret-name globs the rule covers (`db/**`, `stripe/*`, `**`). */
  secrets: z.array(globSchema, { required_error: 'required: list the secret globs the rule covers (use ["**"] for every secret)', invalid_type_error: 'expected a list of globs, like ["db/**"]' })
    .min(1, 'list at least one glob (use "**" for every secret)'),
  /** Tenants (scopes) the rule covers. @default every tenant, and requests without a tenant */
  tenants: z.array(tenantSchema, { invalid_type_error: 'expected a list of tenant ids, like [acme]' })
    .min(1, 'an empty tenants list matches nothing: leave tenants out to match every tenant').optional(),
}, { invalid_type_error: 'expected a rule: { allow: [actions] | deny: [actions], secrets: [globs], tenants?: [ids] }' }).strict()
  .superRefine((rule, ctx) => {
    if (rule.allow && rule.deny) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a rule has either allow: or deny:, not both (write two rules)' });
    if (!rule.allow && !rule.deny) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `a rule needs allow: [actions] or deny: [actions] (actions: ${ACTIONS.join(', ')})` });
  });

/** The `access:` section of lockbox.yaml. Unknown keys are errors. */
export const accessPolicySchema = z.object({
  /** Role name → its rules, in order. @default {} */
  roles: z.record(
    z.string().regex(ROLE_NAME, 'a role name is letters, digits, ".", "_" and "-"'),
    z.array(ruleSchema, { invalid_type_error: 'expected a list of rules' }),
    { invalid_type_error: 'expected a mapping of role name to rules' },
  ).nullish().transform((roles) => roles ?? {}),
  /** Principal (user or service id) → the roles it holds. @default {} */
  principals: z.record(
    z.string().regex(PRINCIPAL_NAME, 'a principal name cannot contain spaces or control characters'),
    z.array(z.string({ invalid_type_error: 'expected a role name' }), { invalid_type_error: 'expected a list of role names, like [admin]' }),
    { invalid_type_error: 'expected a mapping of principal to role names' },
  ).nullish().transform((principals) => principals ?? {}),
  /** What a request no rule matches gets. @default "deny" */
  default: z.enum(['deny', 'allow'], { errorMap: () => ({ message: 'expected "deny" or "allow"' }) }).default('deny'),
}, {
  required_error: 'expected a mapping with roles:, principals: and default:',
  invalid_type_error: 'expected a mapping with roles:, principals: and default:',
}).strict().superRefine((policy, ctx) => {
  const defined = Object.keys(policy.roles);
  for (const [principal, roles] of Object.entries(policy.principals)) {
    roles.forEach((role, index) => {
      if (Object.hasOwn(policy.roles, role)) return;
      const known = defined.length > 0 ? `defined roles: ${defined.join(', ')}` : 'no roles are defined under access.roles';
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['principals', principal, index], message: `unknown role ${JSON.stringify(role)}; ${known}` });
    });
  }
});

/** The `access:` section as written (input) and after validation (output). */
export type AccessPolicyInput = z.input<typeof accessPolicySchema>;
export type AccessPolicyConfig = z.output<typeof accessPolicySchema>;

/** One rule after compilation: its globs are RegExps. */
export interface CompiledRule {
  readonly role: string;
  /** Position in the role's list, from 0 (the key path is `access.roles.ROLE[index]`). */
  readonly index: number;
  readonly effect: Effect;
  readonly actions: ReadonlySet<Action>;
  readonly secrets: readonly string[];
  /** Absent = every tenant, and requests without one. */
  readonly tenants?: readonly string[];
  readonly matchers: readonly RegExp[];
}

/** A validated, compiled policy: globs compiled once, rules indexed per principal and action. */
export interface CompiledPolicy {
  /** Where the policy came from (a file path), used in messages. */
  readonly source?: string;
  readonly defaultEffect: Effect;
  readonly roles: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Principal → its roles, in the order written. */
  readonly principals: ReadonlyMap<string, readonly string[]>;
  /** Principal → action → the rules that name the action, in role then rule order. */
  readonly rulesByPrincipal: ReadonlyMap<string, ReadonlyMap<Action, readonly CompiledRule[]>>;
}

/** One question: may `principal` do `action` on `secret` (in `tenant`)? */
export interface AccessRequest {
  principal: string;
  action: Action;
  secret: string;
  /** The scope (tenant) of the secret; absent = the default scope. */
  tenant?: string;
}

/** The rule that decided, as reported. */
export interface DecidingRule {
  role: string;
  /** Position in the role's list, from 0; `explain` prints it from 1 ("rule 1" is the first). */
  index: number;
  effect: Effect;
  secrets: readonly string[];
  tenants?: readonly string[];
  /** The glob of `secrets` that matched the secret. */
  pattern: string;
}

/** The answer: allowed or not, the rule that decided (absent when the default did) and why. */
export interface Decision {
  allowed: boolean;
  rule?: DecidingRule;
  reason: string;
  request: AccessRequest;
}

/**
 * Validates (with {@link accessPolicySchema}) and compiles the `access:` section. Throws
 * POLICY_INVALID naming every problem's key path (e.g. `access.roles.app[0].allow[1]`).
 * @param source a file path to prefix messages with
 */
export function compilePolicy(input: unknown, source?: string): CompiledPolicy {
  const parsed = accessPolicySchema.safeParse(input);
  if (!parsed.success) throw policyInvalid(parsed.error.issues, source);
  const roles = new Map<string, CompiledRule[]>();
  for (const [role, rules] of Object.entries(parsed.data.roles)) {
    roles.set(role, rules.map((rule, index): CompiledRule => ({
      role,
      index,
      effect: rule.deny ? 'deny' : 'allow',
      actions: new Set(rule.deny ?? rule.allow),
      secrets: rule.secrets,
      ...(rule.tenants ? { tenants: rule.tenants } : {}),
      matchers: rule.secrets.map(compileGlob),
    })));
  }
  const principals = new Map(Object.entries(parsed.data.principals));
  const rulesByPrincipal = new Map<string, Map<Action, CompiledRule[]>>();
  for (const [principal, held] of principals) {
    const byAction = new Map<Action, CompiledRule[]>(ACTIONS.map((action) => [action, []]));
    for (const rule of held.flatMap((role) => roles.get(role) ?? [])) {
      for (const action of rule.actions) byAction.get(action)!.push(rule);
    }
    rulesByPrincipal.set(principal, byAction);
  }
  return { ...(source === undefined ? {} : { source }), defaultEffect: parsed.data.default, roles, principals, rulesByPrincipal };
}

/**
 * Decides one request. Order: a matching deny rule denies (whatever allows); else a matching allow
 * rule allows; else the policy's default decides (deny unless `default: allow`). A rule matches
 * when it names the action, one of its globs matches the secret, and its tenants (if any) include
 * the request's tenant. Throws INVALID_INPUT for an unknown action, INVALID_NAME for a bad name.
 */
export function decide(policy: CompiledPolicy, request: AccessRequest): Decision {
  assertValidRequest(request);
  const { principal, action, secret, tenant } = request;
  const roles = policy.principals.get(principal) ?? [];
  if (roles.length === 0) {
    const why = policy.principals.has(principal) ? `${formatKeyPath(['access', 'principals', principal])} is empty` : 'not listed under access.principals';
    return byDefault(policy, request, `principal ${principal} has no roles: ${why}; default ${policy.defaultEffect}`);
  }
  let allowing: DecidingRule | undefined;
  for (const rule of policy.rulesByPrincipal.get(principal)?.get(action) ?? []) {
    if (rule.tenants && (tenant === undefined || !rule.tenants.includes(tenant))) continue;
    const matched = rule.matchers.findIndex((matcher) => matcher.test(secret));
    if (matched < 0) continue;
    const deciding = decidingRule(rule, rule.secrets[matched]!);
    if (rule.effect === 'deny') return { allowed: false, rule: deciding, reason: describeRule(deciding, action), request };
    allowing ??= deciding;
  }
  if (allowing) return { allowed: true, rule: allowing, reason: describeRule(allowing, action), request };
  const verb = policy.defaultEffect === 'deny' ? 'allows' : 'matches';
  const asked = `${action} on ${secret}${tenantText(tenant)} for ${principal} with roles ${roles.join(', ')}`;
  return byDefault(policy, request, `no rule ${verb} ${asked}; default ${policy.defaultEffect}`);
}

/**
 * Like {@link decide}, but throws {@link AccessDeniedError} (ACCESS_DENIED) when the request is
 * denied; returns the allowing decision otherwise.
 */
export function authorize(policy: CompiledPolicy, request: AccessRequest): Decision {
  const decision = decide(policy, request);
  if (!decision.allowed) throw new AccessDeniedError(request, decision.reason);
  return decision;
}

/**
 * The decision in one line, as `lockbox policy check` prints it:
 * `allow: alice may read db/password (role admin, rule 1: allow read on **)`.
 */
export function explain(decision: Decision): string {
  return `${decision.allowed ? 'allow' : 'deny'}: ${requestText(decision.request, decision.allowed)} (${decision.reason})`;
}

/** Thrown when the policy denies a request. Names principal, action, secret and why — never a value. */
export class AccessDeniedError extends LockboxError {
  readonly principal: string;
  readonly action: Action;
  readonly secret: string;
  readonly tenant?: string;

  constructor(request: AccessRequest, reason?: string) {
    super('ACCESS_DENIED', `access denied: ${requestText(request, false)}${reason ? ` (${reason})` : ''}`, {
      hint: `\`lockbox policy check ${request.principal} ${request.action} ${request.secret}\` explains; a rule under access: in lockbox.yaml grants access`,
    });
    this.name = 'AccessDeniedError';
    this.principal = request.principal;
    this.action = request.action;
    this.secret = request.secret;
    if (request.tenant !== undefined) this.tenant = request.tenant;
  }
}

/**
 * Who is asking: `LOCKBOX_PRINCIPAL` when set and not blank, else the OS user name, else "unknown"
 * (a process without a passwd entry).
 */
export function currentPrincipal(env: Record<string, string | undefined> = process.env): string {
  const named = env.LOCKBOX_PRINCIPAL?.trim();
  if (named) return named;
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A zod schema that accepts what `check` finds no problem with (the problem is the issue's message). */
function checked<T>(check: (value: unknown) => string | undefined): z.ZodType<T, z.ZodTypeDef, unknown> {
  return z.unknown().transform((value, ctx) => {
    const problem = check(value);
    if (problem === undefined) return value as T;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    return z.NEVER;
  });
}

function assertValidRequest(request: AccessRequest): void {
  if (typeof request.principal !== 'string' || request.principal.trim() === '') {
    throw new LockboxError('INVALID_INPUT', 'the principal is empty', { hint: 'set LOCKBOX_PRINCIPAL or pass a principal' });
  }
  if (!ACTION_SET.has(request.action)) {
    throw new LockboxError('INVALID_INPUT', `unknown action ${JSON.stringify(request.action)}; valid actions: ${ACTIONS.join(', ')}`);
  }
  assertValidName(request.secret);
  if (request.tenant !== undefined) assertValidScope(request.tenant);
}

function byDefault(policy: CompiledPolicy, request: AccessRequest, reason: string): Decision {
  return { allowed: policy.defaultEffect === 'allow', reason, request };
}

function decidingRule(rule: CompiledRule, pattern: string): DecidingRule {
  return { role: rule.role, index: rule.index, effect: rule.effect, secrets: rule.secrets, ...(rule.tenants ? { tenants: rule.tenants } : {}), pattern };
}

function describeRule(rule: DecidingRule, action: Action): string {
  const tenants = rule.tenants ? ` for tenants ${rule.tenants.join(', ')}` : '';
  return `role ${rule.role}, rule ${rule.index + 1}: ${rule.effect} ${action} on ${rule.pattern}${tenants}`;
}

function requestText(request: AccessRequest, allowed: boolean): string {
  return `${request.principal} ${allowed ? 'may' : 'may not'} ${request.action} ${request.secret}${tenantText(request.tenant)}`;
}

function tenantText(tenant: string | undefined): string {
  return tenant === undefined ? '' : ` in tenant ${tenant}`;
}

function policyInvalid(issues: z.ZodIssue[], source: string | undefined): LockboxError {
  const problems = issues.flatMap((issue) => {
    const path = ['access', ...issue.path];
    if (issue.code !== 'unrecognized_keys') return [`${formatKeyPath(path)}: ${issue.message}`];
    const known = issue.path.length === 0 ? POLICY_KEYS : RULE_KEYS;
    return issue.keys.map((key) => `${formatKeyPath([...path, key])}: unknown key ${JSON.stringify(key)} (known keys: ${known.join(', ')})`);
  });
  const body = problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`;
  return new LockboxError('POLICY_INVALID', `${source ? `${source}: ` : ''}${body}`, { hint: HINT });
}

/** `access.roles.app[0].allow[1]`; keys that are not plain words are quoted: `principals["a b"]`. */
function formatKeyPath(path: ReadonlyArray<string | number>): string {
  return path.map((segment, index) => {
    if (typeof segment === 'number') return `[${segment}]`;
    if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) return index === 0 ? segment : `.${segment}`;
    return `[${JSON.stringify(segment)}]`;
  }).join('');
}
