/**
 * Rotation policies (`rotation: { every: '30d' }`), stored as tags on the secret's current
 * version (see policy-tags.ts), and the due-rotation sweep behind `lockbox rotate --due`.
 */
import { LockboxError, NotFoundError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import { sameTags } from '../tags.js';
import type { SecretListing, SecretMetadata, SecretRef } from '../types.js';
import type { GeneratorSpec } from './generator.js';
import {
  policyTags, readPolicyTags, ROTATION_EVERY_TAG, ROTATION_GENERATOR_TAG, ROTATION_LAST_TAG, withoutPolicyTags, type RotationPolicy, type StoredRotationPolicy,
} from './policy-tags.js';
import {
  describeTarget, findOwner, rotateSecret, type RotateSecretOptions, type RotationHost, type RotationTest,
} from './staging.js';

/** What the due sweep needs of a manager on top of RotationHost (SecretManager has it). */
export interface RotationPolicyHost extends RotationHost {
  list(prefix?: string, options?: { scope?: string; provider?: string }): Promise<Array<SecretListing & { provider: string }>>;
}

/** Which secrets a sweep looks at. */
export interface SweepOptions {
  /** The time to compare against. @default now */
  now?: Date;
  /** Only names starting with this. @default "" (all) */
  prefix?: string;
  /** Tenant to sweep. @default the host's default (global) */
  scope?: string;
  /** Only this provider. @default every provider in the chain */
  provider?: string;
}

/** A secret with a rotation policy, and when it is due. */
export interface ScheduledRotation {
  name: string;
  scope?: string;
  provider: string;
  /** The policy; undefined when its tags are malformed (see `error`). */
  policy?: StoredRotationPolicy;
  /** When the value last changed. */
  lastRotatedAt?: Date;
  dueAt?: Date;
  due: boolean;
  /** Why the policy could not be read (INVALID_INPUT or GENERATOR_INVALID naming the tag). */
  error?: LockboxError;
}

/** What setRotationPolicy did. */
export interface SetPolicyResult {
  provider: string;
  /** False when the secret already had exactly this policy (nothing was written). */
  changed: boolean;
  /** The current version after the change. */
  metadata: SecretMetadata;
  /** When the next rotation is due; undefined after clearing the policy. */
  dueAt?: Date;
}

/** Options of rotateDue. */
export interface RotateDueOptions extends SweepOptions {
  /** Generator for secrets whose policy names none. @default 32 characters of lower, upper and digits */
  generate?: GeneratorSpec;
  /** Test hook run on every candidate (see rotateSecret). @default none */
  test?: RotationTest;
  /** Report what is due without rotating anything. @default false */
  dryRun?: boolean;
  /**
   * How each due secret is rotated; a manager passes its own guarded `rotate` here so that access
   * control and audit apply to every rotation of the sweep. @default rotateSecret(host, ref, options)
   */
  rotateWith?: (ref: SecretRef, options: RotateSecretOptions) => Promise<SecretMetadata>;
}

/** One secret's line of a due sweep. */
export interface RotateDueEntry {
  name: string;
  scope?: string;
  provider: string;
  status: 'rotated' | 'would-rotate' | 'not-due' | 'failed';
  /** The new current version (rotated). */
  version?: string;
  /** When it was (or will be) due. */
  dueAt?: Date;
  /** Error code (failed): a LockboxError code, or "UNEXPECTED". */
  code?: string;
  /** What went wrong (failed); never a value. */
  message?: string;
}

/** What rotateDue did: one entry per secret with a policy, by name, and the counts. */
export interface RotateDueSummary {
  entries: RotateDueEntry[];
  rotated: number;
  wouldRotate: number;
  notDue: number;
  failed: number;
}

/**
 * Sets (or with `null` clears) the rotation policy of an existing secret. The policy is stored
 * in tags of the current version; as providers version tags with values, this writes a new
 * version holding the SAME value (so `previous` then holds that value too), tagged with when the
 * value really last changed so that the schedule is not reset. Nothing is written when the
 * policy is unchanged.
 */
export async function setRotationPolicy(host: RotationHost, address: string | SecretRef, policy: RotationPolicy | null, options: { provider?: string; scope?: string } = {}): Promise<SetPolicyResult> {
  const base = typeof address === 'string' ? { name: address } : address;
  const ref: SecretRef = { name: assertValidName(base.name), scope: options.scope ?? base.scope, provider: options.provider ?? base.provider };
  if (ref.scope !== undefined) assertValidScope(ref.scope);
  const wanted = policy === null ? {} : policyTags(policy);
  const { provider, current } = await findOwner(host, ref);
  if (!current) throw new NotFoundError(describeTarget(ref), { hint: 'a policy is set on an existing secret: set or rotate it first' });
  const had = readableOrNone(current.metadata.tags);
  const lastChange = had?.last ?? validTime(current.metadata.tags[ROTATION_LAST_TAG]) ?? current.metadata.createdAt;
  const unchanged = sameTags(policyTagsOf(current.metadata.tags), wanted);
  if (unchanged) return { provider: provider.id, changed: false, metadata: current.metadata, dueAt: had ? new Date(lastChange.getTime() + had.everyMs) : undefined };
  if (!provider.capabilities.write || !provider.set) throw new LockboxError('CAPABILITY', `provider "${provider.id}" does not support writes, so it cannot hold a rotation policy`, { provider: provider.id });
  const tags = { ...withoutPolicyTags(current.metadata.tags), ...wanted };
  if (policy !== null) tags[ROTATION_LAST_TAG] = lastChange.toISOString();
  const metadata = await provider.set({ name: ref.name, scope: ref.scope }, current.value, { tags, expiresAt: current.metadata.expiresAt });
  const stored = readPolicyTags(metadata.tags);
  return { provider: provider.id, changed: true, metadata, dueAt: stored ? new Date(lastChange.getTime() + stored.everyMs) : undefined };
}

/** Every listed secret with a rotation policy (or a malformed one), by name, with when it is due. */
export async function rotationSchedule(host: RotationPolicyHost, options: SweepOptions = {}): Promise<ScheduledRotation[]> {
  const now = (options.now ?? new Date()).getTime();
  const listings = await host.list(options.prefix ?? '', { scope: options.scope, provider: options.provider });
  const schedule: ScheduledRotation[] = [];
  for (const listing of listings) {
    const entry: ScheduledRotation = { name: listing.name, scope: listing.scope, provider: listing.provider, due: false };
    try {
      const policy = readPolicyTags(listing.tags);
      if (!policy) continue;
      entry.policy = policy;
      entry.lastRotatedAt = policy.last ?? listing.updatedAt ?? await createdAt(host, listing);
      entry.dueAt = new Date(entry.lastRotatedAt.getTime() + policy.everyMs);
      entry.due = entry.dueAt.getTime() <= now;
    } catch (error) {
      if (!(error instanceof LockboxError)) throw error;
      entry.error = error;
    }
    schedule.push(entry);
  }
  return schedule;
}

/** The secrets whose rotation is due at `now` (malformed policies are left out: rotateDue reports them). */
export async function dueSecrets(host: RotationPolicyHost, now: Date = new Date(), options: Omit<SweepOptions, 'now'> = {}): Promise<ScheduledRotation[]> {
  return (await rotationSchedule(host, { ...options, now })).filter((entry) => entry.due);
}

/**
 * Rotates every secret whose policy is due, one after another (each through rotateSecret, so
 * each is staged, tested and promoted), and never stops at a failure: a failed secret is
 * reported with its error code and the sweep goes on. `dryRun` only reports.
 */
export async function rotateDue(host: RotationPolicyHost, options: RotateDueOptions = {}): Promise<RotateDueSummary> {
  const summary: RotateDueSummary = { entries: [], rotated: 0, wouldRotate: 0, notDue: 0, failed: 0 };
  for (const scheduled of await rotationSchedule(host, options)) {
    const { name, scope, provider, dueAt } = scheduled;
    const entry: RotateDueEntry = { name, scope, provider, status: 'not-due', dueAt };
    if (scheduled.error) {
      Object.assign(entry, { status: 'failed', code: scheduled.error.code, message: scheduled.error.message });
    } else if (scheduled.due && options.dryRun) {
      entry.status = 'would-rotate';
    } else if (scheduled.due) {
      try {
        const rotateWith = options.rotateWith ?? (async (ref, o) => (await rotateSecret(host, ref, o)).metadata);
        const metadata = await rotateWith({ name, scope, provider }, { generate: scheduled.policy?.generate ?? options.generate, test: options.test });
        Object.assign(entry, { status: 'rotated', version: metadata.version });
      } catch (error) {
        const known = error instanceof LockboxError;
        Object.assign(entry, {
          status: 'failed',
          code: known ? error.code : 'UNEXPECTED',
          message: known ? error.message : `unexpected ${error instanceof Error ? error.name : typeof error}`,
        });
      }
    }
    summary.entries.push(entry);
    if (entry.status === 'rotated') summary.rotated++;
    else if (entry.status === 'would-rotate') summary.wouldRotate++;
    else if (entry.status === 'not-due') summary.notDue++;
    else summary.failed++;
  }
  return summary;
}

/** The stored policy; undefined when there is none or its tags are malformed (a new policy replaces them). */
function readableOrNone(tags: Record<string, string>): StoredRotationPolicy | undefined {
  try {
    return readPolicyTags(tags);
  } catch {
    return undefined;
  }
}

function validTime(text: string | undefined): Date | undefined {
  const time = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** The policy-defining tags (interval and generator) among `tags`. */
function policyTagsOf(tags: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => key === ROTATION_EVERY_TAG || key === ROTATION_GENERATOR_TAG));
}


/** For providers whose listings carry no time: the current version's creation time. */
async function createdAt(host: RotationHost, listing: SecretListing & { provider: string }): Promise<Date> {
  const record = await host.provider(listing.provider).get({ name: listing.name, scope: listing.scope });
  if (!record) throw new NotFoundError(describeTarget(listing, listing.provider));
  return record.metadata.createdAt;
}
