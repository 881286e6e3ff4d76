import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  ACTIONS, AccessDeniedError, accessPolicySchema, authorize, compileGlob, compilePolicy, currentPrincipal, decide, explain,
  type AccessRequest, type Action, type Decision,
} from '../../src/access/index.js';
import type { LockboxError } from '../../src/errors.js';

/** The example of the issue and of docs/access-control.md. */
const EXAMPLE_YAML = `
access:
  roles:
    app: [ { allow: [read], secrets: ["db/**", "stripe/*"], tenants: ["acme"] } ]
    admin: [ { allow: [read, list, write, delete, rotate, admin], secrets: ["**"] } ]
    auditor: [ { allow: [list], secrets: ["**"] }, { deny: [read], secrets: ["**"] } ]
  principals:
    alice: [admin]
    svc-payments: [app]
    carol: [auditor, admin]
    bob: []
  default: deny
`;
const example = compilePolicy((parseYaml(EXAMPLE_YAML) as { access: unknown }).access, 'lockbox.yaml');

/** Glob shapes: the rule's secrets (and tenants), requests it matches and requests it must not. */
const SHAPES: Array<{ shape: string; secrets: string[]; tenants?: string[]; hits: Target[]; misses: Target[] }> = [
  { shape: 'exact', secrets: ['db/password'], hits: [{ secret: 'db/password' }], misses: [{ secret: 'db/password2' }, { secret: 'db' }, { secret: 'x/db/password' }] },
  { shape: '*', secrets: ['stripe/*'], hits: [{ secret: 'stripe/key' }, { secret: 'stripe/k.v2' }], misses: [{ secret: 'stripe/live/key' }, { secret: 'stripe' }, { secret: 'stripe-x/key' }] },
  { shape: '**', secrets: ['**'], hits: [{ secret: 'x' }, { secret: 'a/b/c' }, { secret: 'y', tenant: 'acme' }], misses: [] },
  { shape: '?', secrets: ['db/pass?'], hits: [{ secret: 'db/pass1' }, { secret: 'db/passX' }], misses: [{ secret: 'db/pass' }, { secret: 'db/pass12' }, { secret: 'db/pass/1' }] },
  { shape: 'prefix/**', secrets: ['db/**'], hits: [{ secret: 'db' }, { secret: 'db/x' }, { secret: 'db/x/y' }], misses: [{ secret: 'dbx/y' }, { secret: 'other/db' }, { secret: 'DB/x' }] },
  { shape: 'tenant-restricted', secrets: ['db/*'], tenants: ['acme'], hits: [{ secret: 'db/x', tenant: 'acme' }], misses: [{ secret: 'db/x', tenant: 'globex' }, { secret: 'db/x' }, { secret: 'other/x', tenant: 'acme' }] },
];
type Target = { secret: string; tenant?: string };
type Kind = 'allow rule' | 'deny rule' | 'no rule';

/**
 * The rules of role "r" for each kind: the rule under test, plus (for deny) an allow-everything
 * rule before it, and (for no rule) a rule for every OTHER action on the same globs.
 */
function rulesFor(kind: Kind, action: Action, secrets: string[], tenants?: string[]): unknown[] {
  const scope = { secrets, ...(tenants ? { tenants } : {}) };
  if (kind === 'allow rule') return [{ allow: [action], ...scope }];
  if (kind === 'deny rule') return [{ allow: [...ACTIONS], secrets: ['**'] }, { deny: [action], ...scope }];
  return [{ allow: ACTIONS.filter((other) => other !== action), ...scope }];
}

/** Expected decision per kind, for a request the shape matches (hit) and one it does not (miss). */
const EXPECTED: Record<Kind, Record<'hit' | 'miss', { allowed: boolean; rule?: { index: number; effect: 'allow' | 'deny'; pattern: 'shape' | '**' } }>> = {
  'allow rule': { hit: { allowed: true, rule: { index: 0, effect: 'allow', pattern: 'shape' } }, miss: { allowed: false } },
  'deny rule': { hit: { allowed: false, rule: { index: 1, effect: 'deny', pattern: 'shape' } }, miss: { allowed: true, rule: { index: 0, effect: 'allow', pattern: '**' } } },
  'no rule': { hit: { allowed: false }, miss: { allowed: false } },
};

describe('decide: every action × allow/deny/no rule × glob shape', () => {
  for (const action of ACTIONS) {
    for (const kind of Object.keys(EXPECTED) as Kind[]) {
      for (const { shape, secrets, tenants, hits, misses } of SHAPES) {
        it(`${action} × ${kind} × ${shape}`, () => {
          const policy = compilePolicy({ roles: { r: rulesFor(kind, action, secrets, tenants) }, principals: { p: ['r'] } });
          for (const [outcome, targets] of [['hit', hits], ['miss', misses]] as const) {
            const expected = EXPECTED[kind][outcome];
            for (const target of targets) {
              const decision = decide(policy, { principal: 'p', action, ...target });
              const label = `${outcome} ${JSON.stringify(target)}: ${explain(decision)}`;
              assert.equal(decision.allowed, expected.allowed, label);
              if (expected.rule) {
                assert.deepEqual(
                  { role: decision.rule?.role, index: decision.rule?.index, effect: decision.rule?.effect, pattern: decision.rule?.pattern },
                  { role: 'r', index: expected.rule.index, effect: expected.rule.effect, pattern: expected.rule.pattern === '**' ? '**' : secrets[0] },
                  label,
                );
              } else {
                assert.equal(decision.rule, undefined, label);
                assert.ok(decision.reason.startsWith(`no rule allows ${action} on ${target.secret}`), label);
                assert.ok(decision.reason.endsWith('for p with roles r; default deny'), label);
              }
            }
          }
        });
      }
    }
  }
});

describe('decide: decision order', () => {
  it('explains decisions of the documented example in `lockbox policy check` form', () => {
    const check = (principal: string, action: Action, secret: string, tenant?: string): string =>
      explain(decide(example, { principal, action, secret, ...(tenant ? { tenant } : {}) }));
    assert.equal(check('alice', 'read', 'db/password'), 'allow: alice may read db/password (role admin, rule 1: allow read on **)');
    assert.equal(check('svc-payments', 'read', 'stripe/key', 'acme'),
      'allow: svc-payments may read stripe/key in tenant acme (role app, rule 1: allow read on stripe/* for tenants acme)');
    assert.equal(check('svc-payments', 'read', 'db/password'),
      'deny: svc-payments may not read db/password (no rule allows read on db/password for svc-payments with roles app; default deny)');
    assert.equal(check('svc-payments', 'write', 'db/password', 'acme'),
      'deny: svc-payments may not write db/password in tenant acme (no rule allows write on db/password in tenant acme for svc-payments with roles app; default deny)');
    assert.equal(check('carol', 'list', 'db/password'), 'allow: carol may list db/password (role auditor, rule 1: allow list on **)');
  });

  it('deny overrides allow, whichever role or rule comes first', () => {
    // carol holds auditor (deny read) and admin (allow everything): the deny in rule 2 of auditor wins.
    const decision = decide(example, { principal: 'carol', action: 'read', secret: 'db/password' });
    assert.equal(explain(decision), 'deny: carol may not read db/password (role auditor, rule 2: deny read on **)');
    assert.deepEqual(decision.rule, { role: 'auditor', index: 1, effect: 'deny', secrets: ['**'], pattern: '**' });

    const denyFirst = compilePolicy({
      roles: { a: [{ deny: ['write'], secrets: ['prod/**'] }], b: [{ allow: ['write'], secrets: ['prod/db'] }] },
      principals: { p: ['b', 'a'] },
    });
    assert.equal(explain(decide(denyFirst, { principal: 'p', action: 'write', secret: 'prod/db' })),
      'deny: p may not write prod/db (role a, rule 1: deny write on prod/**)');
    assert.equal(explain(decide(denyFirst, { principal: 'p', action: 'write', secret: 'prod' })),
      'deny: p may not write prod (role a, rule 1: deny write on prod/**)');
  });

  it('a deny rule restricted to a tenant leaves other tenants to the allow rules', () => {
    const policy = compilePolicy({
      roles: { r: [{ allow: ['read'], secrets: ['**'] }, { deny: ['read'], secrets: ['**'], tenants: ['globex'] }] },
      principals: { p: ['r'] },
    });
    assert.equal(decide(policy, { principal: 'p', action: 'read', secret: 'k', tenant: 'acme' }).allowed, true);
    assert.equal(decide(policy, { principal: 'p', action: 'read', secret: 'k' }).allowed, true);
    assert.equal(explain(decide(policy, { principal: 'p', action: 'read', secret: 'k', tenant: 'globex' })),
      'deny: p may not read k in tenant globex (role r, rule 2: deny read on ** for tenants globex)');
  });

  it('admin does not imply any other action, and no action implies another', () => {
    for (const granted of ACTIONS) {
      const policy = compilePolicy({ roles: { r: [{ allow: [granted], secrets: ['**'] }] }, principals: { p: ['r'] } });
      for (const asked of ACTIONS) {
        assert.equal(decide(policy, { principal: 'p', action: asked, secret: 'db/password' }).allowed, asked === granted, `${granted} → ${asked}`);
      }
    }
  });

  it('denies a principal with no roles, an unknown principal and a role without rules, naming why', () => {
    const policy = compilePolicy({ roles: { empty: [] }, principals: { bob: [], dave: ['empty'] } });
    const reasons = ['bob', 'eve', 'dave'].map((principal) => decide(policy, { principal, action: 'read', secret: 'db/password' }));
    assert.deepEqual(reasons.map((d) => [d.allowed, d.rule, d.reason]), [
      [false, undefined, 'principal bob has no roles: access.principals.bob is empty; default deny'],
      [false, undefined, 'principal eve has no roles: not listed under access.principals; default deny'],
      [false, undefined, 'no rule allows read on db/password for dave with roles empty; default deny'],
    ]);
    assert.equal(explain(decide(example, { principal: 'bob', action: 'list', secret: 'x' })),
      'deny: bob may not list x (principal bob has no roles: access.principals.bob is empty; default deny)');
  });

  it('default: allow lets unmatched requests through, but deny rules still deny', () => {
    const policy = compilePolicy({ roles: { r: [{ deny: ['delete'], secrets: ['prod/**'] }] }, principals: { p: ['r'] }, default: 'allow' });
    const asked = (principal: string, action: Action, secret: string): Decision => decide(policy, { principal, action, secret });
    assert.deepEqual([asked('p', 'read', 'prod/db').allowed, asked('p', 'read', 'prod/db').reason],
      [true, 'no rule matches read on prod/db for p with roles r; default allow']);
    assert.equal(asked('p', 'delete', 'prod/db').allowed, false);
    assert.deepEqual([asked('eve', 'delete', 'x').allowed, asked('eve', 'delete', 'x').reason],
      [true, 'principal eve has no roles: not listed under access.principals; default allow']);
  });

  it('an empty policy denies everything', () => {
    for (const input of [{}, { roles: null, principals: null }, { default: 'deny' }]) {
      const decision = decide(compilePolicy(input), { principal: 'alice', action: 'read', secret: 'x' });
      assert.equal(decision.allowed, false);
    }
  });
});

describe('decide: requests', () => {
  it('rejects an unknown action, an invalid name (no "..", so no glob escape) and an invalid tenant', () => {
    const policy = compilePolicy({ roles: { r: [{ allow: ['read'], secrets: ['public/**'] }] }, principals: { p: ['r'] } });
    const cases: Array<[AccessRequest, string, string]> = [
      [{ principal: 'p', action: 'reed' as Action, secret: 'public/x' }, 'INVALID_INPUT', 'unknown action "reed"; valid actions: read, list, write, delete, rotate, admin'],
      [{ principal: ' ', action: 'read', secret: 'public/x' }, 'INVALID_INPUT', 'the principal is empty'],
      [{ principal: 'p', action: 'read', secret: 'public/../private/key' }, 'INVALID_NAME', 'invalid secret name "public/../private/key": ".." segments are not allowed'],
      [{ principal: 'p', action: 'read', secret: 'public/x', tenant: 'a/b' }, 'INVALID_NAME', 'invalid secret name "a/b": a tenant (scope) is a single segment, without "/"'],
    ];
    for (const [request, code, message] of cases) {
      assert.throws(() => decide(policy, request), (error: LockboxError) => {
        assert.equal(error.code, code);
        assert.equal(error.message, message);
        return true;
      });
    }
  });

  it('authorize throws AccessDeniedError naming principal, action, secret and the reason', () => {
    assert.equal(authorize(example, { principal: 'alice', action: 'rotate', secret: 'db/password' }).allowed, true);
    assert.throws(() => authorize(example, { principal: 'svc-payments', action: 'write', secret: 'db/password', tenant: 'acme' }), (error: AccessDeniedError) => {
      assert.ok(error instanceof AccessDeniedError);
      assert.equal(error.code, 'ACCESS_DENIED');
      assert.equal(error.message,
        'access denied: svc-payments may not write db/password in tenant acme (no rule allows write on db/password in tenant acme for svc-payments with roles app; default deny)');
      assert.equal(error.hint, '`lockbox policy check svc-payments write db/password` explains; a rule under access: in lockbox.yaml grants access');
      assert.deepEqual([error.principal, error.action, error.secret, error.tenant], ['svc-payments', 'write', 'db/password', 'acme']);
      return true;
    });
  });
});

describe('compilePolicy: bad input', () => {
  const rule = (extra: Record<string, unknown>): unknown => ({ roles: { app: [{ allow: ['read'], secrets: ['db/**'], ...extra }] } });
  const cases: Array<[string, unknown, string]> = [
    ['an unknown action', { roles: { app: [{ allow: ['read', 'reed'], secrets: ['db/**'] }] } },
      'access.roles.app[0].allow[1]: unknown action "reed"; valid actions: read, list, write, delete, rotate, admin'],
    ['an unknown deny action', { roles: { app: [{ deny: ['Read'], secrets: ['**'] }] } },
      'access.roles.app[0].deny[0]: unknown action "Read"; valid actions: read, list, write, delete, rotate, admin'],
    ['an empty glob', rule({ secrets: [''] }), 'access.roles.app[0].secrets[0]: the glob is empty: use "**" to match every secret'],
    ['"***"', rule({ secrets: ['db/***'] }),
      'access.roles.app[0].secrets[0]: invalid glob "db/***": "***" has no meaning; use "*" within one segment or "**" for any number of segments'],
    ['"a**"', rule({ secrets: ['x', 'a**'] }), 'access.roles.app[0].secrets[1]: invalid glob "a**": "**" must be a whole segment (like "db/**"), not part of "a**"'],
    ['"**a"', rule({ secrets: ['db/**a'] }), 'access.roles.app[0].secrets[0]: invalid glob "db/**a": "**" must be a whole segment (like "db/**"), not part of "**a"'],
    ['a space', rule({ secrets: ['db/my key'] }),
      'access.roles.app[0].secrets[0]: invalid glob "db/my key": only letters, digits, ".", "_", "-", "/", "*" and "?" are allowed'],
    ['a bracket', rule({ secrets: ['db/[ab]'] }),
      'access.roles.app[0].secrets[0]: invalid glob "db/[ab]": only letters, digits, ".", "_", "-", "/", "*" and "?" are allowed'],
    ['a leading "/"', rule({ secrets: ['/db/*'] }), 'access.roles.app[0].secrets[0]: invalid glob "/db/*": a glob cannot start with "/" (names never do)'],
    ['an empty segment', rule({ secrets: ['db//x'] }), 'access.roles.app[0].secrets[0]: invalid glob "db//x": empty segment ("//" or trailing "/")'],
    ['a ".." segment', rule({ secrets: ['db/../x'] }), 'access.roles.app[0].secrets[0]: invalid glob "db/../x": ".." segments never match a secret name'],
    ['a glob that is not text', rule({ secrets: [7] }), 'access.roles.app[0].secrets[0]: expected a glob (text), got number'],
    ['no secrets', { roles: { app: [{ allow: ['read'] }] } },
      'access.roles.app[0].secrets: required: list the secret globs the rule covers (use ["**"] for every secret)'],
    ['an empty tenants list', rule({ tenants: [] }), 'access.roles.app[0].tenants: an empty tenants list matches nothing: leave tenants out to match every tenant'],
    ['a bad tenant', rule({ tenants: ['a/b'] }),
      'access.roles.app[0].tenants[0]: invalid tenant "a/b": a tenant is one name segment of letters, digits, ".", "_" and "-"'],
    ['allow and deny in one rule', rule({ deny: ['write'] }), 'access.roles.app[0]: a rule has either allow: or deny:, not both (write two rules)'],
    ['neither allow nor deny', { roles: { app: [{ secrets: ['**'] }] } },
      'access.roles.app[0]: a rule needs allow: [actions] or deny: [actions] (actions: read, list, write, delete, rotate, admin)'],
    ['an unknown rule key', rule({ secret: ['x'] }), 'access.roles.app[0].secret: unknown key "secret" (known keys: allow, deny, secrets, tenants)'],
    ['an unknown top key', { roles: {}, users: {} }, 'access.users: unknown key "users" (known keys: roles, principals, default)'],
    ['an unknown role', { roles: { app: [] }, principals: { alice: ['app', 'admin'] } }, 'access.principals.alice[1]: unknown role "admin"; defined roles: app'],
    ['a role with no roles defined', { principals: { 'alice@example.com': ['admin'] } },
      'access.principals["alice@example.com"][0]: unknown role "admin"; no roles are defined under access.roles'],
    ['a role list that is not a list', { principals: { alice: 'admin' } }, 'access.principals.alice: expected a list of role names, like [admin]'],
    ['a bad default', { default: 'permit' }, 'access.default: expected "deny" or "allow"'],
    ['no section', undefined, 'access: expected a mapping with roles:, principals: and default:'],
  ];
  for (const [what, input, message] of cases) {
    it(`rejects ${what} with POLICY_INVALID naming the key path`, () => {
      assert.throws(() => compilePolicy(input, '/etc/app/lockbox.yaml'), (error: LockboxError) => {
        assert.equal(error.code, 'POLICY_INVALID');
        assert.equal(error.message, `/etc/app/lockbox.yaml: ${message}`);
        assert.equal(error.hint, 'docs/access-control.md describes the access: section');
        return true;
      });
    });
  }

  it('lists every problem at once', () => {
    assert.throws(() => compilePolicy({ roles: { app: [{ allow: ['reed'], secrets: ['a**'] }] } }), (error: LockboxError) => {
      assert.equal(error.code, 'POLICY_INVALID');
      assert.equal(error.message, [
        '2 problems:',
        '  - access.roles.app[0].allow[0]: unknown action "reed"; valid actions: read, list, write, delete, rotate, admin',
        '  - access.roles.app[0].secrets[0]: invalid glob "a**": "**" must be a whole segment (like "db/**"), not part of "a**"',
      ].join('\n'));
      return true;
    });
  });

  it('gives the same problems when the schema is embedded in the config file schema', () => {
    const result = z.object({ access: accessPolicySchema.optional() }).safeParse({ access: { roles: { app: [{ allow: ['reed'], secrets: ['**'] }] } } });
    assert.equal(result.success, false);
    assert.deepEqual(result.error!.issues.map((issue) => [issue.path.join('.'), issue.message]),
      [['access.roles.app.0.allow.0', 'unknown action "reed"; valid actions: read, list, write, delete, rotate, admin']]);
  });
});

describe('globs', () => {
  const table: Array<[string, string[], string[]]> = [
    ['a/**/b', ['a/b', 'a/x/b', 'a/x/y/b'], ['ab', 'a/xb', 'a/b/c']],
    ['**/password', ['password', 'db/password', 'a/b/password'], ['dbpassword', 'password/x']],
    ['db/**/**', ['db', 'db/x/y'], ['dbx']],
    ['*.json', ['a.json', '.json'], ['a/b.json', 'ajson']],
    ['db/*-key', ['db/api-key', 'db/-key'], ['db/api_key', 'db/x/api-key']],
    ['Db/Key', ['Db/Key'], ['db/key', 'DB/KEY']],
  ];
  for (const [glob, matches, nonMatches] of table) {
    it(`${glob} matches ${matches.join(', ')} and not ${nonMatches.join(', ')}`, () => {
      const regexp = compileGlob(glob);
      for (const name of matches) assert.ok(regexp.test(name), name);
      for (const name of nonMatches) assert.ok(!regexp.test(name), name);
    });
  }
});

describe('currentPrincipal', () => {
  it('is LOCKBOX_PRINCIPAL when set, else the OS user', () => {
    assert.equal(currentPrincipal({ LOCKBOX_PRINCIPAL: 'svc-payments' }), 'svc-payments');
    assert.equal(currentPrincipal({ LOCKBOX_PRINCIPAL: '  ' }), userInfo().username || 'unknown');
    assert.equal(currentPrincipal({}), userInfo().username || 'unknown');
  });
});
