/** Validation of the options of a store write, skipped for the common empty options. */
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import type { SecretRef, SetOptions } from '../types.js';
import { checkName, checkScope } from './checked-names.js';

const setOptionsSchema = z.object({
  expiresAt: z.date().refine((d) => !Number.isNaN(d.getTime()), 'expiresAt is not a valid date').optional(),
  tags: z.record(z.string()).optional(),
  pending: z.boolean().optional(),
});

/** The options of a write that gives none. */
export const EMPTY_OPTIONS: SetOptions = Object.freeze({});

/**
 * Throws INVALID_INPUT when an option the store reads (expiresAt, tags, pending) is invalid. Options
 * that set none of them (`{}`, or only address fields such as `scope`) need no schema pass.
 */
export function checkSetOptions(opts: SetOptions): void {
  if (!needsValidation(opts)) return;
  const parsed = setOptionsSchema.safeParse(opts);
  if (!parsed.success) {
    throw new LockboxError('INVALID_INPUT', `invalid options for set: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
}

/** Every check of one write (options, name, scope): the name and scope as the store keys them. */
export function checkWrite(ref: SecretRef, opts: SetOptions = EMPTY_OPTIONS): { name: string; scope: string } {
  checkSetOptions(opts);
  return { name: checkName(ref.name), scope: ref.scope ? checkScope(ref.scope) : '' };
}

function needsValidation(opts: SetOptions): boolean {
  if (opts === EMPTY_OPTIONS) return false;
  if (typeof opts !== 'object' || opts === null) return true; // the schema reports it
  return opts.expiresAt !== undefined || opts.tags !== undefined || opts.pending !== undefined;
}
