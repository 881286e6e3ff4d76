/**
 * How a rotation policy is stored: as tags on the secret's current version, so it travels with
 * the secret through every provider that keeps tags (memory, local; see docs/rotation.md).
 */
import { parseDuration } from '../config/schema.js';
import { LockboxError } from '../errors.js';
import { assertGeneratorOptions, generatorOptionsSchema, type GeneratorOptions } from './generator.js';

/** Tag holding the interval, as written (`30d`, `12h`, `90m`, or seconds). */
export const ROTATION_EVERY_TAG = 'lockbox.rotation.every';
/**
 * Tag holding when the value last changed (ISO 8601), written only when a policy is set without
 * a new value: re-tagging writes a version with the same value, and this keeps the clock.
 * Absent, the current version's creation time is the last rotation.
 */
export const ROTATION_LAST_TAG = 'lockbox.rotation.last';
/** Tag holding the generator options (JSON) that due rotations use for this secret. */
export const ROTATION_GENERATOR_TAG = 'lockbox.rotation.generator';

/** Every tag the rotation policy uses. */
export const ROTATION_TAGS = [ROTATION_EVERY_TAG, ROTATION_LAST_TAG, ROTATION_GENERATOR_TAG] as const;

/** A rotation policy: rotate every `every`, with `generate` (else the caller's defaults). */
export interface RotationPolicy {
  /** Interval: seconds, or a number with a unit ms, s, m, h, d, w (`"30d"`). */
  every: string;
  /** Generator options for due rotations of this secret. @default the caller's (rotateDue's `generate`) */
  generate?: GeneratorOptions;
}

/** A policy read back from tags, with the interval in milliseconds. */
export interface StoredRotationPolicy extends RotationPolicy {
  everyMs: number;
  /** When the value last changed, from ROTATION_LAST_TAG; undefined when the tag is absent. */
  last?: Date;
}

/** The interval in milliseconds; INVALID_INPUT naming `where` for text that is not a positive duration. */
export function parseRotationInterval(every: string | number, where: string): number {
  let seconds: number;
  try {
    seconds = parseDuration(every, where);
  } catch {
    seconds = NaN;
  }
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    throw new LockboxError('INVALID_INPUT', `${where} "${String(every).slice(0, 40)}" is not a positive duration`, {
      hint: 'use a number of seconds or a number with a unit ms, s, m, h, d or w (e.g. "30d", "12h")',
    });
  }
  return seconds * 1000;
}

/** The tags that store `policy` (validated: INVALID_INPUT for the interval, GENERATOR_INVALID for the generator). */
export function policyTags(policy: RotationPolicy): Record<string, string> {
  parseRotationInterval(policy.every, 'rotation.every');
  const tags: Record<string, string> = { [ROTATION_EVERY_TAG]: String(policy.every).trim() };
  if (policy.generate !== undefined) {
    const generate = checkedGenerator(policy.generate, 'rotation.generate');
    assertGeneratorOptions(generate);
    tags[ROTATION_GENERATOR_TAG] = JSON.stringify(generate);
  }
  return tags;
}

/** `tags` without the rotation policy's tags. */
export function withoutPolicyTags(tags: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => !(ROTATION_TAGS as readonly string[]).includes(key)));
}

/**
 * The policy stored in `tags`; undefined when there is none. A malformed tag is INVALID_INPUT
 * (or GENERATOR_INVALID) naming the tag — never silently "no policy".
 */
export function readPolicyTags(tags: Record<string, string> | undefined): StoredRotationPolicy | undefined {
  const every = tags?.[ROTATION_EVERY_TAG];
  if (every === undefined) return undefined;
  const everyMs = parseRotationInterval(every, `tag ${ROTATION_EVERY_TAG}`);
  const policy: StoredRotationPolicy = { every, everyMs };
  const last = tags![ROTATION_LAST_TAG];
  if (last !== undefined) {
    const time = Date.parse(last);
    if (Number.isNaN(time)) throw new LockboxError('INVALID_INPUT', `tag ${ROTATION_LAST_TAG} "${last.slice(0, 40)}" is not an ISO 8601 time`, { hint: 'remove the tag or write e.g. 2026-01-31T00:00:00Z' });
    policy.last = new Date(time);
  }
  const generator = tags![ROTATION_GENERATOR_TAG];
  if (generator !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(generator);
    } catch {
      throw new LockboxError('GENERATOR_INVALID', `tag ${ROTATION_GENERATOR_TAG} is not JSON`, { hint: 'set the policy again with lockbox rotate NAME --every …' });
    }
    policy.generate = checkedGenerator(parsed, `tag ${ROTATION_GENERATOR_TAG}`);
  }
  return policy;
}

/** Only the generator stored with a policy (GENERATOR_INVALID when its tag is malformed); undefined when none. */
export function readPolicyGenerator(tags: Record<string, string> | undefined): GeneratorOptions | undefined {
  const generator = tags?.[ROTATION_GENERATOR_TAG];
  return generator === undefined ? undefined : readPolicyTags({ [ROTATION_EVERY_TAG]: '1d', [ROTATION_GENERATOR_TAG]: generator })!.generate;
}

function checkedGenerator(options: unknown, where: string): GeneratorOptions {
  const parsed = generatorOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
    throw new LockboxError('GENERATOR_INVALID', `${where}: invalid generator options: ${issues}`, { hint: 'see GeneratorOptions in docs/rotation.md' });
  }
  return parsed.data;
}
