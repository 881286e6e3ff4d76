import { InvalidNameError } from './errors.js';

/** Longest name accepted, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 512;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** A whole valid name in one pass (ASCII only, so its length is its byte count): the common case's fast check. */
const VALID_NAME = /^(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)*$/;

/** True when `name` passes assertValidName (for filtering names a backend lists). */
export function isValidName(name: string): boolean {
  try {
    assertValidName(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks a secret name: `[A-Za-z0-9._-]` segments joined by `/`; no empty, `.` or `..`
 * segment, no leading `/`, at most 512 bytes. Throws InvalidNameError naming the rule.
 */
export function assertValidName(name: string): string {
  if (typeof name === 'string' && name.length <= MAX_NAME_BYTES && VALID_NAME.test(name)) return name;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidNameError(String(name ?? ''), 'the name is empty');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new InvalidNameError(name, `longer than ${MAX_NAME_BYTES} bytes`);
  }
  if (name.startsWith('/')) throw new InvalidNameError(name, 'a name cannot start with "/"');
  for (const segment of name.split('/')) {
    if (segment === '') throw new InvalidNameError(name, 'empty segment ("//" or trailing "/")');
    if (segment === '.' || segment === '..') throw new InvalidNameError(name, `"${segment}" segments are not allowed`);
    if (!SEGMENT.test(segment)) {
      throw new InvalidNameError(name, 'only letters, digits, ".", "_", "-" and "/" are allowed');
    }
  }
  return name;
}

/** Checks a scope (tenant) id: one name segment. */
export function assertValidScope(scope: string): string {
  if (scope.includes('/')) throw new InvalidNameError(scope, 'a tenant (scope) is a single segment, without "/"');
  return assertValidName(scope);
}
