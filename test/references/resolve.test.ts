import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { LockboxError, ProviderUnavailableError } from '../../src/errors.js';
import { extractField } from '../../src/json-field.js';
import {
  collectReferences, formatRef, resolveDocument, resolveString, UnresolvedReferencesError,
  type FetchOutcome, type SecretReader,
} from '../../src/references/index.js';
import { SecretValue } from '../../src/secret-value.js';
import type { SecretRef } from '../../src/types.js';

const CANARY_PW = 'canary-db-password-51c9';
const CANARY_JSON = '{"user":"app","pass":"canary-json-pass-7d20","nested":{"host":"db.internal"}}';

/**
 * The resolver's declared dependency over a Map: key `[scope/][provider:]name[@version]`
 * (`@current` is the same as no version). Counts calls; `errors` answers chosen keys with an error.
 */
class MapReader implements SecretReader {
  readonly calls: SecretRef[][] = [];
  constructor(readonly secrets: Record<string, string>, readonly errors: Record<string, unknown> = {}) {}

  async fetchMany(refs: SecretRef[]): Promise<FetchOutcome[]> {
    this.calls.push(refs);
    return refs.map((ref): FetchOutcome => {
      const version = ref.version && ref.version !== 'current' ? `@${ref.version}` : '';
      const key = `${ref.scope ? `${ref.scope}/` : ''}${ref.provider ? `${ref.provider}:` : ''}${ref.name}${version}`;
      if (Object.hasOwn(this.errors, key)) return { status: 'error', error: this.errors[key] };
      if (!Object.hasOwn(this.secrets, key)) return { status: 'missing' };
      const value = new SecretValue(this.secrets[key]!);
      if (ref.field === undefined) return { status: 'found', value };
      try {
        return { status: 'found', value: extractField(value, ref.field, formatRef(ref)) };
      } catch (error) {
        return { status: 'error', error };
      }
    });
  }
}

function reader(): MapReader {
  return new MapReader({
    'db/password': CANARY_PW,
    'db/user': 'app',
    'db/creds': CANARY_JSON,
    'db/password@2': 'old-pw',
    'vault:api/key': 'vault-key',
    'acme/db/password': 'acme-pw',
    'loop': '${secret:db/password}',
  });
}

async function rejectsUnresolved(promise: Promise<unknown>, check: (error: UnresolvedReferencesError) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof UnresolvedReferencesError);
    assert.ok(error instanceof LockboxError);
    assert.equal(error.code, 'UNRESOLVED_REFERENCES');
    check(error);
    return true;
  });
}

describe('resolveString', () => {
  it('substitutes every grammar form', async () => {
    const r = reader();
    assert.equal(await resolveString(r, 'postgres://${secret:db/user}:${secret:db/password}@h/db'), `postgres://app:${CANARY_PW}@h/db`);
    assert.equal(await resolveString(r, '${secret:db/password@2}'), 'old-pw');
    assert.equal(await resolveString(r, '${secret:db/password@current}'), CANARY_PW);
    assert.equal(await resolveString(r, '${secret:vault:api/key}'), 'vault-key');
    assert.equal(await resolveString(r, '${secret:db/creds#user}/${secret:db/creds#/nested/host}'), 'app/db.internal');
    assert.equal(await resolveString(r, 'plain text, no references'), 'plain text, no references');
  });

  it('turns escapes into literal text and leaves other ${…} forms alone', async () => {
    const r = reader();
    assert.equal(await resolveString(r, '$${secret:db/password} ${FOO} ${other:x}'), '${secret:db/password} ${FOO} ${other:x}');
    assert.equal(r.calls.length, 0, 'nothing to fetch means no call');
  });

  it('reads the environment, with and without a default', async () => {
    const env = { HOST: 'db.example', EMPTY: '' };
    const r = reader();
    assert.equal(await resolveString(r, '${env:HOST}:${env:PORT:-5432}', { env }), 'db.example:5432');
    assert.equal(await resolveString(r, '[${env:EMPTY}]', { env }), '[]', 'set but empty is a value');
    assert.equal(await resolveString(r, '${env:EMPTY:-fallback}', { env }), 'fallback', ':- also covers empty');
    process.env.LOCKBOX_REFERENCES_TEST_VAR = 'from-process';
    try {
      assert.equal(await resolveString(r, '${env:LOCKBOX_REFERENCES_TEST_VAR}'), 'from-process', 'defaults to process.env');
    } finally {
      delete process.env.LOCKBOX_REFERENCES_TEST_VAR;
    }
    await rejectsUnresolved(resolveString(r, 'x=${env:MISSING_VAR}', { env }), (error) => {
      assert.equal(error.message, '1 reference could not be resolved:\n  ${env:MISSING_VAR}: environment variable MISSING_VAR is not set');
      assert.deepEqual(error.unresolved, [{ reference: '${env:MISSING_VAR}', reason: 'environment variable MISSING_VAR is not set', code: 'NOT_FOUND' }]);
    });
  });

  it('applies ?optional and ?default=text when the secret is not found', async () => {
    const r = reader();
    assert.equal(await resolveString(r, '[${secret:no/such?optional}]'), '[]');
    assert.equal(await resolveString(r, '${secret:no/such?default=localhost:5432}'), 'localhost:5432');
    assert.equal(await resolveString(r, '[${secret:no/such?default=}]'), '[]');
    assert.equal(await resolveString(r, '${secret:db/user?default=other}'), 'app', 'a found secret wins over its default');
  });

  it('never applies ?optional or ?default to errors: provider down, field errors', async () => {
    const r = new MapReader({ 'db/creds': CANARY_JSON, 'plain': 'not json' }, { 'vault:db/pw': new ProviderUnavailableError('vault', 'connect ECONNREFUSED') });
    await rejectsUnresolved(
      resolveString(r, '${secret:vault:db/pw?optional}|${secret:db/creds#nope?default=x}|${secret:plain#user?optional}'),
      (error) => {
        assert.deepEqual(error.unresolved.map((u) => u.code), ['PROVIDER_UNAVAILABLE', 'FIELD_NOT_FOUND', 'FIELD_NOT_JSON']);
        assert.equal(error.transient, false, 'field errors are not transient');
      },
    );
  });

  it('does not re-scan a substituted value', async () => {
    const r = reader();
    assert.equal(await resolveString(r, 'v=${secret:loop}'), 'v=${secret:db/password}');
    assert.equal(r.calls.length, 1);
    assert.deepEqual(r.calls[0], [{ name: 'loop' }]);
  });

  it('rejects invalid references before fetching anything', async () => {
    const r = reader();
    await assert.rejects(resolveString(r, 'a ${secret:db/password} ${secret:x@latest}'), (error: unknown) => {
      assert.ok(error instanceof LockboxError);
      assert.equal(error.code, 'INVALID_REFERENCE');
      assert.equal(error.message, 'invalid reference "${secret:x@latest}" at 1:25: version must be a number or current|previous|pending');
      return true;
    });
    assert.equal(r.calls.length, 0);
  });
});

describe('batching and scope', () => {
  it('fetches every unique secret in ONE call (same name/version/field deduplicated, @current = no version)', async () => {
    const r = reader();
    const document = {
      a: '${secret:db/password}', b: ['${secret:db/password}', '${secret:db/password@current}'],
      c: { d: '${secret:db/user}:${secret:db/password}', e: '${secret:db/creds#user}', f: '${secret:db/creds#pass}' },
      g: '${secret:db/password@2} ${secret:vault:api/key} ${secret:db/password?optional}',
    };
    const resolved = await resolveDocument(r, document);
    assert.equal(r.calls.length, 1);
    assert.deepEqual(r.calls[0], [
      { name: 'db/password' }, { name: 'db/user' }, { name: 'db/creds', field: 'user' }, { name: 'db/creds', field: 'pass' },
      { name: 'db/password', version: '2' }, { provider: 'vault', name: 'api/key' },
    ]);
    assert.equal(resolved.c.f, 'canary-json-pass-7d20');
    assert.equal(resolved.g, `old-pw vault-key ${CANARY_PW}`);
  });

  it('applies options.scope to every secret reference', async () => {
    const r = reader();
    assert.equal(await resolveString(r, '${secret:db/password}', { scope: 'acme' }), 'acme-pw');
    assert.deepEqual(r.calls[0], [{ name: 'db/password', scope: 'acme' }]);
    await rejectsUnresolved(resolveString(r, '${secret:db/user}', { scope: 'acme' }), (error) => {
      assert.equal(error.unresolved[0]?.reason, 'not found (tenant "acme")');
    });
    await assert.rejects(resolveString(r, '${secret:a}', { scope: 'a/b' }), { code: 'INVALID_NAME' });
  });
});

describe('one error listing every unresolved reference', () => {
  it('lists missing, failed and field errors with their reasons, and leaks no value', async () => {
    const r = new MapReader(
      { 'db/password': CANARY_PW, 'db/creds': CANARY_JSON },
      {
        'vault:api/key': new ProviderUnavailableError('vault', 'timed out after 5000 ms'),
        'aws:x': Object.assign(new Error(`boom ${CANARY_PW}`), { code: 'ECONNRESET' }),
        'gcp:y': new TypeError(`cannot read ${CANARY_PW}`),
      },
    );
    const document = {
      url: 'pg://${secret:db/password}@${secret:no/such}',
      api: { key: '${secret:vault:api/key}' },
      list: ['${secret:db/creds#missing-field}', '${secret:aws:x}', '${secret:gcp:y}', '${secret:no/such}'],
    };
    await rejectsUnresolved(resolveDocument(r, document), (error) => {
      assert.equal(error.message, [
        '5 references could not be resolved:',
        '  ${secret:no/such} in url: not found',
        '  ${secret:vault:api/key} in api.key: PROVIDER_UNAVAILABLE: provider "vault" is unavailable: timed out after 5000 ms',
        '  ${secret:db/creds#missing-field} in list[0]: FIELD_NOT_FOUND: secret db/creds#missing-field has no field "missing-field"',
        '  ${secret:aws:x} in list[1]: unexpected error (ECONNRESET)',
        '  ${secret:gcp:y} in list[2]: unexpected error (TypeError)',
      ].join('\n'));
      assert.deepEqual(error.unresolved.map((u) => u.code), ['NOT_FOUND', 'PROVIDER_UNAVAILABLE', 'FIELD_NOT_FOUND', 'ECONNRESET', undefined]);
      for (const text of [error.message, String(error.stack), inspect(error, { depth: 5 }), JSON.stringify(error)]) {
        assert.ok(!text.includes('canary'), 'no secret value in the error');
      }
    });
    assert.equal(r.calls.length, 1);
  });

  it('fails every secret reference when the batched call itself rejects, and marks it transient', async () => {
    const down: SecretReader = { fetchMany: async () => { throw new ProviderUnavailableError('vault', 'connect ECONNREFUSED'); } };
    await rejectsUnresolved(resolveString(down, '${secret:a} ${secret:b}'), (error) => {
      assert.equal(error.unresolved.length, 2);
      assert.match(error.message, /^2 references could not be resolved:\n {2}\$\{secret:a\}: PROVIDER_UNAVAILABLE: provider "vault" is unavailable/);
      assert.equal(error.transient, true);
    });
  });

  it('rejects a reader that answers with the wrong number of outcomes', async () => {
    const broken: SecretReader = { fetchMany: async () => [] };
    await assert.rejects(resolveString(broken, '${secret:a}'), {
      code: 'INVALID_INPUT', message: 'the secret reader returned 0 outcomes for 1 references',
    });
  });
});

describe('resolveDocument', () => {
  it('resolves string values only: keys untouched, other values kept, input not mutated', async () => {
    const when = new Date(0);
    const input = {
      '${secret:db/user}': 'key stays', n: 42, ok: true, none: null, when,
      nested: [{ pw: '${secret:db/password}' }, 'x', 7], escaped: '$${secret:db/user}',
    };
    const before = structuredClone(input);
    const output = await resolveDocument(reader(), input);
    assert.deepEqual(output, {
      '${secret:db/user}': 'key stays', n: 42, ok: true, none: null, when,
      nested: [{ pw: CANARY_PW }, 'x', 7], escaped: '${secret:db/user}',
    });
    assert.equal(output.when, when);
    assert.deepEqual(input, before);
    assert.notEqual(output.nested, input.nested);
  });

  it('resolves a parsed YAML document', async () => {
    const document = parseYaml('db:\n  user: ${secret:db/user}\n  port: 5432\n  hosts: [a, "${env:H:-b}"]\n');
    assert.deepEqual(await resolveDocument(reader(), document, { env: {} }), { db: { user: 'app', port: 5432, hosts: ['a', 'b'] } });
  });

  it('keeps __proto__ and constructor keys as own data and pollutes no prototype', async () => {
    const input = JSON.parse('{"__proto__":{"polluted":"yes","pw":"${secret:db/password}"},"constructor":{"prototype":{"polluted":"yes"}},"a":[{"__proto__":{"polluted":"yes"}}]}');
    const output = await resolveDocument(reader(), input);
    assert.ok(Object.hasOwn(output, '__proto__'));
    assert.equal(Object.getPrototypeOf(output), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(output, '__proto__')?.value, { polluted: 'yes', pw: CANARY_PW });
    assert.ok(Object.hasOwn(output, 'constructor'));
    assert.ok(Object.hasOwn(output.a[0], '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((output as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).filter((n) => n === 'polluted' || n === 'pw'), []);
    const nullProto = Object.assign(Object.create(null), { x: '${secret:db/user}' });
    const copy = await resolveDocument(reader(), nullProto);
    assert.equal(Object.getPrototypeOf(copy), null);
    assert.equal(copy.x, 'app');
  });

  it('names where in the document an invalid reference is', async () => {
    await assert.rejects(resolveDocument(reader(), { servers: [{ token: 'Bearer ${secret:a@x}' }] }), {
      code: 'INVALID_REFERENCE',
      message: 'invalid reference "${secret:a@x}" at 1:8: version must be a number or current|previous|pending (in servers[0].token)',
    });
  });

  it('rejects a document that contains itself', async () => {
    const loop: Record<string, unknown> = { a: '${secret:db/user}' };
    loop.self = { back: loop };
    await assert.rejects(resolveDocument(reader(), loop), { code: 'INVALID_INPUT', message: 'the document contains itself at self.back' });
  });

  it('resolves a bare string document', async () => {
    assert.equal(await resolveDocument(reader(), '${secret:db/user}'), 'app');
  });
});

describe('collectReferences', () => {
  it('lists every distinct reference in a document, in order, without fetching', () => {
    const references = collectReferences({
      a: '${secret:db/password} ${env:HOME}', b: ['${secret:db/password}', '$${secret:escaped}', 7], c: { d: '${secret:vault:x@2#f?optional}' },
    });
    assert.deepEqual(references.map((r) => r.raw), ['${secret:db/password}', '${env:HOME}', '${secret:vault:x@2#f?optional}']);
    assert.deepEqual(collectReferences('${secret:a}').map((r) => r.raw), ['${secret:a}']);
    assert.deepEqual(collectReferences(42), []);
  });

  it('throws the parse error with its location', () => {
    assert.throws(() => collectReferences({ x: ['${secret:a?maybe}'] }), { code: 'INVALID_REFERENCE', message: /unknown modifier "\?maybe".* \(in x\[0\]\)$/ });
  });
});
