import { LockboxError } from '../errors.js';

/**
 * Secret-name globs for access rules. A glob is `/`-separated segments over the name alphabet
 * `[A-Za-z0-9._-]` plus `*` and `?`:
 * - `*` matches any run of characters within one segment (never a `/`);
 * - `?` matches exactly one character within a segment;
 * - `**` as a whole segment matches any number of segments, including zero
 *   (`db/**` matches `db`, `db/a` and `db/a/b`; `**` matches every name);
 * - everything else is literal and case-sensitive.
 * A glob is compiled to one anchored RegExp, once.
 */

/** Characters a glob may contain. */
const GLOB_ALPHABET = /^[A-Za-z0-9._\-/*?]+$/;
const GLOBSTAR = '**';

/**
 * Why `glob` is malformed, in words, or undefined when it is well-formed. The reasons name the
 * rule broken, so a caller can prefix them with the key path.
 */
export function globProblem(glob: unknown): string | undefined {
  if (typeof glob !== 'string') return `expected a glob (text), got ${glob === null ? 'null' : typeof glob}`;
  if (glob.length === 0) return 'the glob is empty: use "**" to match every secret';
  if (!GLOB_ALPHABET.test(glob)) {
    return `invalid glob ${JSON.stringify(glob)}: only letters, digits, ".", "_", "-", "/", "*" and "?" are allowed`;
  }
  if (glob.includes('***')) {
    return `invalid glob ${JSON.stringify(glob)}: "***" has no meaning; use "*" within one segment or "**" for any number of segments`;
  }
  if (glob.startsWith('/')) return `invalid glob ${JSON.stringify(glob)}: a glob cannot start with "/" (names never do)`;
  for (const segment of glob.split('/')) {
    if (segment === '') return `invalid glob ${JSON.stringify(glob)}: empty segment ("//" or trailing "/")`;
    if (segment === '.' || segment === '..') {
      return `invalid glob ${JSON.stringify(glob)}: "${segment}" segments never match a secret name`;
    }
    if (segment !== GLOBSTAR && segment.includes(GLOBSTAR)) {
      return `invalid glob ${JSON.stringify(glob)}: "**" must be a whole segment (like "db/**"), not part of "${segment}"`;
    }
  }
  return undefined;
}

/**
 * Compiles a glob to an anchored RegExp matching whole secret names. Throws POLICY_INVALID
 * naming the rule broken when the glob is malformed (see {@link globProblem}).
 */
export function compileGlob(glob: string): RegExp {
  const problem = globProblem(glob);
  if (problem !== undefined) throw new LockboxError('POLICY_INVALID', problem, { hint: 'docs/access-control.md describes globs' });
  return new RegExp(`^${globSource(glob)}$`);
}

/** RegExp source for a well-formed glob (consecutive `**` segments collapse into one). */
function globSource(glob: string): string {
  const segments = glob.split('/').filter((segment, index, all) => !(segment === GLOBSTAR && all[index - 1] === GLOBSTAR));
  if (segments.length === 1 && segments[0] === GLOBSTAR) return '.+';
  let source = '';
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === GLOBSTAR) {
      // A trailing `**` adds zero or more "/segment"; elsewhere it adds zero or more "segment/".
      source += last ? '(?:/[^/]+)*' : `${index > 0 ? '/' : ''}(?:[^/]+/)*`;
      return;
    }
    const separator = index > 0 && segments[index - 1] !== GLOBSTAR ? '/' : '';
    source += separator + segmentSource(segment);
  });
  return source;
}

function segmentSource(segment: string): string {
  let source = '';
  for (const char of segment) {
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += /[A-Za-z0-9_-]/.test(char) ? char : `\\${char}`;
  }
  return source;
}
