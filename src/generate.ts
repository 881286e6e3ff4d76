import { randomInt } from 'node:crypto';
import { LockboxError } from './errors.js';

const CLASSES = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~',
} as const;

export type CharacterClass = keyof typeof CLASSES;

/** How to generate a random secret value. */
export interface GeneratorOptions {
  /** Number of characters. @default 32 */
  length?: number;
  /** Character classes to draw from; each one appears at least once. @default ['lower','upper','digits'] */
  classes?: CharacterClass[];
  /** Characters never to use (e.g. look-alikes "0O1l"). @default "" */
  exclude?: string;
}

/** A random value from the OS CSPRNG (crypto.randomInt, no modulo bias). */
export function generateSecret(options: GeneratorOptions = {}): string {
  const length = options.length ?? 32;
  const classes = options.classes ?? ['lower', 'upper', 'digits'];
  const exclude = new Set(options.exclude ?? '');
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw new LockboxError('GENERATOR_INVALID', `cannot generate a value of length ${length}`, {
      hint: 'use a whole length between 1 and 4096',
    });
  }
  if (classes.length === 0) {
    throw new LockboxError('GENERATOR_INVALID', 'no character classes to generate from', { hint: 'name at least one class' });
  }
  const pools = classes.map((name) => {
    const pool = [...(CLASSES[name] ?? '')].filter((c) => !exclude.has(c));
    if (pool.length === 0) {
      throw new LockboxError('GENERATOR_INVALID', `character class "${name}" is empty after exclusions`, {
        hint: 'exclude fewer characters or drop the class',
      });
    }
    return pool;
  });
  if (length < pools.length) {
    throw new LockboxError('GENERATOR_INVALID', `length ${length} cannot hold one character of each of ${pools.length} required classes`, {
      hint: `use a length of at least ${pools.length} or require fewer classes`,
    });
  }
  const all = [...new Set(pools.flat())];
  const chars = pools.map((pool) => pool[randomInt(pool.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
