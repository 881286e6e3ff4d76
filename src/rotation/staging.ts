/**
 * AWS-style staged rotation: the new value enters as `pending`, an optional test hook validates
 * it, then it becomes `current` and the old current `previous`. A failed test leaves `current`
 * untouched, keeps the pending version for inspection and throws ROTATION_TEST_FAILED.
 */
import { z } from 'zod';
import { CapabilityError, LockboxError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import { Redactor } from '../redaction/redactor.js';
import { SecretValue } from '../secret-value.js';
import type { Provider, SecretMetadata, SecretRecord, SecretRef } from '../types.js';
import { DEFAULT_GENERATED_LENGTH, generateValue, type GeneratorSpec } from './generator.js';
import { readPolicyGenerator, ROTATION_LAST_TAG } from './policy-tags.js';

/** What rotation needs of a manager (SecretManager has both). */
export interface RotationHost {
  /** Provider ids in look-up order. */
  readonly chain: string[];
  /** A configured provider by id (UNKNOWN_PROVIDER otherwise). */
  provider(id: string): Provider;
}

/** What the test hook is told besides the candidate value. Never logged by lockbox. */
export interface RotationContext {
  name: string;
  scope?: string;
  /** Id of the provider holding the secret. */
  provider: string;
  /** The version the candidate is staged as. */
  pendingVersion: string;
  /** The value being replaced (e.g. to log in and set the new password); null for a new secret. */
  current: SecretValue | null;
  /** Its version; undefined for a new secret. */
  currentVersion?: string;
}

/** Validates a candidate: throw (or reject) to refuse it. */
export type RotationTest = (candidate: SecretValue, context: RotationContext) => Promise<void> | void;

/** Options of rotateSecret. */
export interface RotateSecretOptions {
  /** Provider to rotate in. @default the chain's first provider holding the secret, else its first writable one */
  provider?: string;
  /** Tenant. @default the address's scope, else global */
  scope?: string;
  /** The new value. Give this or `generate`, not both. */
  value?: string | SecretValue;
  /**
   * How to generate the new value: options, a length, or a function. @default the generator
   * stored with the secret's rotation policy, else 32 characters of lower, upper and digits
   */
  generate?: GeneratorSpec;
  /** Validates the staged candidate before it becomes current. @default none (promoted at once) */
  test?: RotationTest;
  /** Tags for the new version, over the current version's tags (which are carried over). @default {} */
  tags?: Record<string, string>;
  /** When the new version stops being readable. @default never */
  expiresAt?: Date;
}

/**
 * How the staged value became current: `promoted` in place by the provider's `promote`;
 * `rewritten` as a new current version (the provider has no `promote`; the staged version keeps
 * its pending label); `direct` (the provider ignored `pending`, so the value was current at once).
 */
export type Promotion = 'promoted' | 'rewritten' | 'direct';

/** What rotateSecret did. */
export interface RotationResult {
  provider: string;
  /** Metadata of the new current version. */
  metadata: SecretMetadata;
  /** The version the candidate was staged as. */
  stagedVersion: string;
  /** The version that was current before (now `previous`); undefined for a new secret. */
  previousVersion?: string;
  promotion: Promotion;
}

const optionsSchema = z.object({
  provider: z.string().min(1).optional(),
  scope: z.string().optional(),
  value: z.union([z.string(), z.instanceof(SecretValue)]).optional(),
  generate: z.union([z.number(), z.record(z.unknown()), z.custom<() => unknown>((v) => typeof v === 'function')]).optional(),
  test: z.custom<RotationTest>((v) => typeof v === 'function', 'test must be a function').optional(),
  tags: z.record(z.string()).optional(),
  expiresAt: z.date().optional(),
}).strict();

/**
 * Rotates one secret: stages the new value as `pending`, runs `test` on it, then makes it
 * `current` (the old value stays readable as `previous`, e.g. `${secret:NAME@previous}`).
 * A test that throws or rejects: ROTATION_TEST_FAILED (cause: the hook's error), current
 * unchanged, pending kept. No value ever appears in an error: the hook's message is masked.
 */
export async function rotateSecret(host: RotationHost, address: string | SecretRef, options: RotateSecretOptions = {}): Promise<RotationResult> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new LockboxError('INVALID_INPUT', `invalid rotation options: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`);
  }
  if (options.value !== undefined && options.generate !== undefined) {
    throw new LockboxError('INVALID_INPUT', 'rotation takes a value or a generator, not both', { hint: 'drop `value` or `generate`' });
  }
  const base = typeof address === 'string' ? { name: address } : address;
  const target: SecretRef = { name: assertValidName(base.name), scope: options.scope ?? base.scope, provider: options.provider ?? base.provider };
  if (target.scope !== undefined) assertValidScope(target.scope);
  const { provider, current } = await findOwner(host, target);
  if (!provider.capabilities.write || !provider.set) throw new CapabilityError(provider.id, 'rotation');
  const ref: SecretRef = { name: target.name, scope: target.scope };

  const candidate = options.value !== undefined ? SecretValue.from(options.value) : await generateValue(options.generate ?? readPolicyGenerator(current?.metadata.tags) ?? DEFAULT_GENERATED_LENGTH);
  const tags = { ...carriedTags(current), ...(options.tags ?? {}) };
  const staged = await provider.set(ref, candidate, { pending: true, tags, expiresAt: options.expiresAt });
  const stagedAsPending = await isStaged(provider, ref, staged);

  if (options.test) {
    const context: RotationContext = {
      name: ref.name, scope: ref.scope, provider: provider.id, pendingVersion: staged.version,
      current: current?.value ?? null, currentVersion: current?.metadata.version,
    };
    try {
      await options.test(candidate, context);
    } catch (error) {
      const outcome = stagedAsPending ? undefined : await restoreCurrent(provider, ref, current);
      throw testFailed(provider.id, ref, error, [candidate, current?.value], staged.version, current, outcome);
    }
  }

  let metadata: SecretMetadata;
  let promotion: Promotion;
  if (!stagedAsPending) {
    [metadata, promotion] = [staged, 'direct'];
  } else if (provider.promote) {
    [metadata, promotion] = [await provider.promote(ref, staged.version), 'promoted'];
  } else {
    [metadata, promotion] = [await provider.set(ref, candidate, { tags, expiresAt: options.expiresAt }), 'rewritten'];
  }
  return { provider: provider.id, metadata, stagedVersion: staged.version, previousVersion: current?.metadata.version, promotion };
}

/** The provider holding the secret (and its current record), else the chain's first writable one. */
export async function findOwner(host: RotationHost, ref: SecretRef): Promise<{ provider: Provider; current: SecretRecord | null }> {
  const lookup: SecretRef = { name: ref.name, scope: ref.scope };
  if (ref.provider !== undefined) {
    const provider = host.provider(ref.provider);
    return { provider, current: await provider.get(lookup) };
  }
  for (const id of host.chain) {
    const provider = host.provider(id);
    const current = await provider.get(lookup);
    if (current) return { provider, current };
  }
  const writable = host.chain.map((id) => host.provider(id)).find((p) => p.capabilities.write && p.set);
  if (!writable) throw new CapabilityError(host.chain.join(', ') || 'chain', 'rotation', 'no provider in the chain is writable: add a `local` provider (run `lockbox init`)');
  return { provider: writable, current: null };
}

/** `NAME` with its tenant and provider, for messages. Never a value. */
export function describeTarget(ref: SecretRef, provider?: string): string {
  return `${ref.name}${ref.scope ? ` (tenant ${ref.scope})` : ''}${provider ? ` in provider "${provider}"` : ''}`;
}

/** The current version's tags minus the "last rotated" marker (the new value restarts the clock). */
function carriedTags(current: SecretRecord | null): Record<string, string> {
  const tags = { ...(current?.metadata.tags ?? {}) };
  delete tags[ROTATION_LAST_TAG];
  return tags;
}

/** Did the provider stage the write as pending (true), or make it current at once (false)? */
async function isStaged(provider: Provider, ref: SecretRef, staged: SecretMetadata): Promise<boolean> {
  if (staged.labels.includes('pending')) return true;
  if (staged.labels.includes('current')) return false;
  const now = await provider.get(ref);
  return now?.metadata.version !== staged.version;
}

/** For a provider that cannot stage: writes the old value back as current. Says what happened. */
async function restoreCurrent(provider: Provider, ref: SecretRef, current: SecretRecord | null): Promise<string> {
  if (!current) return `provider "${provider.id}" cannot stage values and the secret had no value before, so the candidate is current`;
  try {
    const restored = await provider.set!(ref, current.value, { tags: current.metadata.tags });
    return `provider "${provider.id}" cannot stage values, so the old value was written back as version ${restored.version}`;
  } catch (error) {
    const code = error instanceof LockboxError ? error.code : 'error';
    return `provider "${provider.id}" cannot stage values and writing the old value back failed (${code}): the candidate is current`;
  }
}

function testFailed(
  provider: string, ref: SecretRef, error: unknown, values: Array<SecretValue | undefined>, stagedVersion: string,
  current: SecretRecord | null, restoreOutcome: string | undefined,
): LockboxError {
  const redactor = new Redactor({ minLength: 1 });
  for (const value of values) if (value) redactor.register(value);
  const why = error instanceof Error ? error.message : typeof error === 'string' ? error : `it threw a ${typeof error}`;
  const state = restoreOutcome ?? `current is unchanged (${current ? `version ${current.metadata.version}` : 'none yet'}); the candidate stays as pending version ${stagedVersion}`;
  return new LockboxError('ROTATION_TEST_FAILED', `rotation of ${describeTarget(ref, provider)} failed its test: ${redactor.mask(why) || 'no reason given'}; ${state}`, {
    provider,
    cause: maskedCause(error, redactor),
    hint: 'fix what the test checks, then rotate again (the pending version is readable as NAME@pending)',
  });
}

/** The hook's error with every value masked in its message and stack (in place), or undefined if that cannot be done. */
function maskedCause(error: unknown, redactor: Redactor, depth = 0): unknown {
  if (typeof error === 'string') return redactor.mask(error);
  if (!(error instanceof Error)) return undefined;
  if (depth > 4) return undefined;
  try {
    const message = redactor.mask(error.message);
    if (message !== error.message) error.message = message;
    if (typeof error.stack === 'string') {
      const stack = redactor.mask(error.stack);
      if (stack !== error.stack) error.stack = stack;
    }
    if (error.cause !== undefined) {
      const inner = maskedCause(error.cause, redactor, depth + 1);
      if (inner !== error.cause) error.cause = inner;
    }
  } catch {
    return undefined;
  }
  return redactor.mask(`${error.message}\n${error.stack ?? ''}`) === `${error.message}\n${error.stack ?? ''}` ? error : undefined;
}
