/**
 * Random secret values: a length, character classes (each optionally required at least once),
 * exclusions — or a function of your own. Characters come from the OS CSPRNG through
 * `crypto.randomInt`, which rejects out-of-range draws instead of reducing modulo the alphabet
 * size, so every character of a pool is equally likely (no modulo bias).
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';

/** The built-in character classes. */
export const CHARACTER_CLASSES = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  /** No quotes, backslash, backtick or space: safe in shells, .env files and most connection strings. */
  symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~',
} as const;

/** Characters that are easy to misread: removed by `excludeAmbiguous`. */
export const AMBIGUOUS_CHARACTERS = '0Oo1lI|';

export type CharacterClass = keyof typeof CHARACTER_CLASSES;

/** A character class of your own, e.g. `{ name: 'hex', chars: '0123456789abcdef' }`. */
export interface CustomCharacterClass {
  /** Name used in `required` and in error messages. */
  name: string;
  /** The characters of the class. */
  chars: string;
}

/** How to generate a random secret value. */
export interface GeneratorOptions {
  /** Number of characters (1–4096). @default 32 */
  length?: number;
  /** Classes to draw characters from: built-in names or custom classes. @default ['lower', 'upper', 'digits'] */
  classes?: Array<CharacterClass | CustomCharacterClass>;
  /** Names of the classes that must each appear at least once; `[]` requires none. @default every class in `classes` */
  required?: string[];
  /** Characters never to use (e.g. `"\"'\\"` or `"$"`). @default "" */
  exclude?: string;
  /** Also exclude look-alike characters (AMBIGUOUS_CHARACTERS: `0Oo1lI|`). @default false */
  excludeAmbiguous?: boolean;
}

/** A generator of your own: returns (or resolves to) the new value. */
export type GeneratorFunction = () => string | SecretValue | Promise<string | SecretValue>;

/** What a rotation generates from: options, a bare length, or a function. */
export type GeneratorSpec = GeneratorOptions | number | GeneratorFunction;

/** Default length of a generated value. */
export const DEFAULT_GENERATED_LENGTH = 32;
/** Longest value the generator makes. */
export const MAX_GENERATED_LENGTH = 4096;

const customClassSchema = z.object({
  name: z.string().min(1, 'a custom class needs a name').max(64),
  chars: z.string().min(1, 'a custom class needs at least one character'),
}).strict();

/** zod schema of GeneratorOptions (the shape; impossible combinations are checked by generateSecret). */
export const generatorOptionsSchema = z.object({
  length: z.number().optional(),
  classes: z.array(z.union([z.enum(['lower', 'upper', 'digits', 'symbols']), customClassSchema])).optional(),
  required: z.array(z.string()).optional(),
  exclude: z.string().optional(),
  excludeAmbiguous: z.boolean().optional(),
}).strict();

/**
 * A random value following `options`. Throws GENERATOR_INVALID, saying why, for an impossible
 * policy: a bad length, a required class emptied by exclusions, more required classes than the
 * length holds, or nothing left to draw from.
 */
export function generateSecret(options: GeneratorOptions = {}): string {
  const { pool, required, length } = compile(options);
  const chars = required.map((set) => set[randomInt(set.length)]!);
  while (chars.length < length) chars.push(pool[randomInt(pool.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/**
 * The value a spec produces, as a SecretValue: generated from options or a length, or returned
 * by a function (which must give a non-empty string; GENERATOR_INVALID otherwise).
 */
export async function generateValue(spec: GeneratorSpec = {}): Promise<SecretValue> {
  if (typeof spec === 'number') return new SecretValue(generateSecret({ length: spec }));
  if (typeof spec !== 'function') return new SecretValue(generateSecret(spec));
  let produced: unknown;
  try {
    produced = await spec();
  } catch (error) {
    if (error instanceof LockboxError) throw error;
    throw new LockboxError('GENERATOR_INVALID', `the generator function failed (${errorName(error)})`, {
      cause: error, hint: 'fix the generator function passed as `generate`',
    });
  }
  const value = produced instanceof SecretValue ? produced : typeof produced === 'string' ? new SecretValue(produced) : undefined;
  if (value === undefined) {
    throw new LockboxError('GENERATOR_INVALID', `the generator function returned ${produced === null ? 'null' : typeof produced}, not a string`, {
      hint: 'return a string or a SecretValue',
    });
  }
  if (value.reveal().length === 0) {
    throw new LockboxError('GENERATOR_INVALID', 'the generator function returned an empty value', { hint: 'return a non-empty string' });
  }
  return value;
}

/** Checks options without generating: throws GENERATOR_INVALID for an impossible policy. */
export function assertGeneratorOptions(options: GeneratorOptions): void {
  compile(options);
}

interface CompiledPolicy { pool: string[]; required: string[][]; length: number }

function compile(options: GeneratorOptions): CompiledPolicy {
  const parsed = generatorOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
    throw invalid(`invalid generator options: ${issues}`, 'see GeneratorOptions in docs/rotation.md');
  }
  const length = parsed.data.length ?? DEFAULT_GENERATED_LENGTH;
  if (!Number.isInteger(length) || length < 1 || length > MAX_GENERATED_LENGTH) {
    throw invalid(`cannot generate a value of length ${length}`, `use a whole length between 1 and ${MAX_GENERATED_LENGTH}`);
  }
  const excluded = new Set([...(parsed.data.exclude ?? ''), ...(parsed.data.excludeAmbiguous ? AMBIGUOUS_CHARACTERS : '')]);
  const classes = (parsed.data.classes ?? ['lower', 'upper', 'digits']).map((c) => (typeof c === 'string' ? { name: c, chars: CHARACTER_CLASSES[c] } : c));
  if (classes.length === 0) throw invalid('no character classes to generate from', 'name at least one class');
  const byName = new Map<string, string[]>();
  for (const { name, chars } of classes) {
    if (byName.has(name)) throw invalid(`character class "${name}" is named twice`, 'give every class its own name');
    byName.set(name, [...new Set(chars)].filter((c) => !excluded.has(c)));
  }
  const pool = [...new Set([...byName.values()].flat())];
  if (pool.length === 0) throw invalid('every character is excluded: nothing is left to generate from', 'exclude fewer characters or add a class');
  const requiredNames = [...new Set(parsed.data.required ?? classes.map((c) => c.name))];
  const required = requiredNames.map((name) => {
    const set = byName.get(name);
    if (set === undefined) throw invalid(`required class "${name}" is not one of the classes (${[...byName.keys()].join(', ')})`, 'add it to `classes` or drop it from `required`');
    if (set.length === 0) throw invalid(`required class "${name}" is empty after exclusions`, 'exclude fewer characters or stop requiring the class');
    return set;
  });
  if (length < required.length) {
    throw invalid(`length ${length} cannot hold one character of each of ${required.length} required classes (${requiredNames.join(', ')})`, `use a length of at least ${required.length} or require fewer classes`);
  }
  return { pool, required, length };
}

function invalid(message: string, hint: string): LockboxError {
  return new LockboxError('GENERATOR_INVALID', message, { hint });
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
