import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ERROR_CODES, LockboxError, isTransient } from '../src/errors.js';
import { assertValidName } from '../src/names.js';
import { SecretValue } from '../src/secret-value.js';

describe('errors', () => {
  it('docs/errors.md lists exactly the codes in ERROR_CODES', () => {
    const documented = [...readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
  });

  it('carries a stable code, the provider and a hint', () => {
    const error = new LockboxError('PROVIDER_UNAVAILABLE', 'down', { provider: 'vault', hint: 'retry', transient: true });
    assert.equal(error.code, 'PROVIDER_UNAVAILABLE');
    assert.equal(error.provider, 'vault');
    assert.equal(error.describe(), 'down — retry');
    assert.equal(isTransient(error), true);
    assert.equal(isTransient(new LockboxError('NOT_FOUND', 'x')), false);
  });
});

describe('names', () => {
  for (const [name, rule] of [
    ['../x', '".." segments are not allowed'],
    ['/abs', 'a name cannot start with "/"'],
    ['a//b', 'empty segment ("//" or trailing "/")'],
    ['a/', 'empty segment ("//" or trailing "/")'],
    ['a/./b', '"." segments are not allowed'],
    ['x'.repeat(513), 'longer than 512 bytes'],
    ['sp ace', 'only letters, digits, ".", "_", "-" and "/" are allowed'],
    ['', 'the name is empty'],
  ] as const) {
    it(`rejects ${JSON.stringify(name.slice(0, 20))}: ${rule}`, () => {
      assert.throws(() => assertValidName(name), (error: LockboxError) => {
        assert.equal(error.code, 'INVALID_NAME');
        assert.ok(error.message.endsWith(rule), error.message);
        return true;
      });
    });
  }

  it('accepts path-like names up to 512 bytes', () => {
    for (const name of ['db/password', 'stripe/api-key.v2', 'a_b/C-9/x.y', 'x'.repeat(512)]) assert.equal(assertValidName(name), name);
  });
});

describe('SecretValue', () => {
  const canary = 'canary-secret-value-42';
  const value = new SecretValue(canary);

  it('prints [REDACTED] under String, templates, JSON and inspect', () => {
    assert.equal(String(value), '[REDACTED]');
    assert.equal(`${value}`, '[REDACTED]');
    assert.equal('' + value, '[REDACTED]');
    assert.equal(JSON.stringify({ value }), '{"value":"[REDACTED]"}');
    assert.equal(inspect(value), '[REDACTED]');
    assert.ok(!inspect({ nested: { value } }, { depth: 10, showHidden: true }).includes(canary));
  });

  it('gives the value only through reveal(), and compares in constant time', () => {
    assert.equal(value.reveal(), canary);
    assert.ok(value.equals(canary));
    assert.ok(!value.equals('other'));
  });
});

describe('small shared helpers', () => {
  it('isValidName agrees with assertValidName', async () => {
    const { isValidName } = await import('../src/names.js');
    for (const name of ['db/password', 'a.b_c-d', '..a']) assert.equal(isValidName(name), true, name);
    for (const name of ['../x', '/abs', 'a//b', 'a/./b', '', 'sp ace', 'x'.repeat(513)]) assert.equal(isValidName(name), false, name);
  });

  it('sameTags compares tag maps by keys and values, in any order', async () => {
    const { sameTags } = await import('../src/tags.js');
    assert.equal(sameTags({ a: '1', b: '2' }, { b: '2', a: '1' }), true);
    assert.equal(sameTags({ a: '1' }, { a: '2' }), false);
    assert.equal(sameTags({ a: '1' }, { a: '1', b: '2' }), false);
    assert.equal(sameTags({ a: '1', b: '2' }, { a: '1', c: '2' }), false);
    assert.equal(sameTags({}, null), false);
  });
});
