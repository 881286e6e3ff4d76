import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { generateSecret as legacyGenerateSecret } from '../../src/generate.js';
import {
  AMBIGUOUS_CHARACTERS, CHARACTER_CLASSES, generateSecret, generateValue, type GeneratorOptions,
} from '../../src/rotation/generator.js';
import { SecretValue } from '../../src/secret-value.js';

function throwsGenerator(options: GeneratorOptions, message: string): void {
  assert.throws(() => generateSecret(options), (error: unknown) => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
    assert.equal(error.code, 'GENERATOR_INVALID');
    assert.equal(error.message, message);
    return true;
  });
}

const samples = (options: GeneratorOptions, count = 200) => Array.from({ length: count }, () => generateSecret(options));

describe('generator: classes and lengths', () => {
  it('defaults to 32 characters with a lower-case letter, an upper-case letter and a digit in every value', () => {
    for (const value of samples({})) {
      assert.equal(value.length, 32);
      assert.match(value, /^[A-Za-z0-9]+$/);
      assert.match(value, /[a-z]/);
      assert.match(value, /[A-Z]/);
      assert.match(value, /[0-9]/);
    }
  });

  it('puts one character of every required class in a value exactly as long as the number of classes', () => {
    for (const value of samples({ length: 4, classes: ['lower', 'upper', 'digits', 'symbols'] })) {
      assert.equal(value.length, 4);
      for (const chars of Object.values(CHARACTER_CLASSES)) {
        assert.equal([...value].filter((c) => chars.includes(c)).length, 1, `${JSON.stringify(value)} needs exactly one of ${chars}`);
      }
    }
  });

  it('draws from a class without requiring it when `required` leaves it out', () => {
    const values = samples({ length: 3, classes: ['digits', 'symbols'], required: ['digits'] }, 300);
    for (const value of values) assert.match(value, /[0-9]/);
    assert.ok(values.some((v) => /^[0-9]+$/.test(v)), 'some values hold no symbol');
    assert.ok(values.some((v) => /[^0-9]/.test(v)), 'some values hold a symbol');
  });

  it('uses a custom class and requires it like a built-in one', () => {
    for (const value of samples({ length: 12, classes: ['digits', { name: 'hex', chars: 'abcdef' }] })) {
      assert.match(value, /^[0-9a-f]{12}$/);
      assert.match(value, /[a-f]/);
      assert.match(value, /[0-9]/);
    }
  });

  it('honours a custom exclude set and the ambiguous-characters switch', () => {
    const excluded = 'aeiouAEIOU$%';
    const all = samples({ length: 64, classes: ['lower', 'upper', 'digits', 'symbols'], exclude: excluded, excludeAmbiguous: true }).join('');
    for (const c of excluded + AMBIGUOUS_CHARACTERS) assert.ok(!all.includes(c), `"${c}" must never be generated`);
    assert.match(all, /[a-z]/);
  });

  it('draws every character of the pool about equally often (no modulo bias)', () => {
    const pool = CHARACTER_CLASSES.lower + CHARACTER_CLASSES.upper + CHARACTER_CLASSES.digits;
    const counts = new Map<string, number>();
    for (const value of samples({ length: 4096, required: [] }, 30)) for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
    const expected = (4096 * 30) / pool.length;
    assert.equal(counts.size, pool.length);
    for (const [c, n] of counts) assert.ok(Math.abs(n - expected) < expected * 0.2, `"${c}" drawn ${n} times, expected about ${Math.round(expected)}`);
  });

  it('keeps the original src/generate.ts export working', () => {
    assert.match(legacyGenerateSecret({ length: 20, classes: ['digits'] }), /^[0-9]{20}$/);
  });
});

describe('generator: impossible policies are GENERATOR_INVALID saying why', () => {
  it('length 4 with 5 required classes', () => {
    throwsGenerator(
      { length: 4, classes: ['lower', 'upper', 'digits', 'symbols', { name: 'accents', chars: 'éüñ' }] },
      'length 4 cannot hold one character of each of 5 required classes (lower, upper, digits, symbols, accents)',
    );
  });

  it('every character excluded', () => {
    throwsGenerator({ classes: ['digits'], exclude: CHARACTER_CLASSES.digits }, 'every character is excluded: nothing is left to generate from');
  });

  it('a required class emptied by the exclusions', () => {
    throwsGenerator({ classes: ['lower', 'digits'], exclude: '0123456789' }, 'required class "digits" is empty after exclusions');
  });

  it('a required class that is not drawn from', () => {
    throwsGenerator({ classes: ['lower'], required: ['digits'] }, 'required class "digits" is not one of the classes (lower)');
  });

  it('lengths outside 1–4096 or not whole', () => {
    throwsGenerator({ length: 0 }, 'cannot generate a value of length 0');
    throwsGenerator({ length: 4097 }, 'cannot generate a value of length 4097');
    throwsGenerator({ length: 2.5 }, 'cannot generate a value of length 2.5');
  });

  it('no classes, a class named twice, an unknown class name', () => {
    throwsGenerator({ classes: [] }, 'no character classes to generate from');
    throwsGenerator({ classes: ['digits', { name: 'digits', chars: '01' }] }, 'character class "digits" is named twice');
    assert.throws(() => generateSecret({ classes: ['emoji' as 'lower'] }), (error: unknown) => {
      assert.ok(error instanceof LockboxError);
      assert.equal(error.code, 'GENERATOR_INVALID');
      assert.match(error.message, /^invalid generator options: classes\.0: /);
      return true;
    });
  });
});

describe('generator: generateValue', () => {
  it('takes options, a bare length or a function, and gives a SecretValue', async () => {
    assert.equal((await generateValue(10)).reveal().length, 10);
    assert.match((await generateValue({ length: 6, classes: ['digits'] })).reveal(), /^[0-9]{6}$/);
    const fromFunction = await generateValue(async () => 'canary-from-function');
    assert.ok(fromFunction instanceof SecretValue);
    assert.equal(fromFunction.reveal(), 'canary-from-function');
  });

  it('refuses a function that returns nothing usable, with GENERATOR_INVALID', async () => {
    const cases: Array<[() => unknown, string]> = [
      [() => '', 'the generator function returned an empty value'],
      [() => 42, 'the generator function returned number, not a string'],
      [() => null, 'the generator function returned null, not a string'],
      [() => { throw new TypeError('canary-in-generator-error'); }, 'the generator function failed (TypeError)'],
    ];
    for (const [fn, message] of cases) {
      await assert.rejects(generateValue(fn as () => string), (error: unknown) => {
        assert.ok(error instanceof LockboxError);
        assert.equal(error.code, 'GENERATOR_INVALID');
        assert.equal(error.message, message);
        return true;
      });
    }
  });
});
