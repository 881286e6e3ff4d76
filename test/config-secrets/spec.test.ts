import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  findSecretPaths, formatPath, getAt, parsePath, setAt, validateAgainstSpec, type JsonSchema,
} from '../../src/config-secrets/spec.js';
import { LockboxError } from '../../src/errors.js';

const CANARY = 'canary-7f3c9b21e5';
const POINTER = { _secret: 'lockbox_workspace_ws1_secret_abc_v1', _secret_reference_id: '11111111-1111-4111-8111-111111111111' };

const credentials: JsonSchema = {
  type: 'object',
  required: ['credentials'],
  properties: {
    credentials: {
      oneOf: [
        { type: 'object', required: ['auth_type', 'api_key'], properties: { auth_type: { const: 'api_key' }, api_key: { type: 'string', airbyte_secret: true } } },
        { type: 'object', required: ['auth_type', 'client_id', 'client_secret'], properties: { auth_type: { type: 'string', enum: ['oauth'] }, client_id: { type: 'string' }, client_secret: { type: 'string', airbyte_secret: true }, refresh_token: { type: 'string', airbyte_secret: true } } },
      ],
    },
  },
};

function assertLockboxError(fn: () => unknown, code: string, message: string | RegExp): LockboxError {
  let caught: LockboxError | undefined;
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LockboxError, 'expected a LockboxError');
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    caught = error;
    return true;
  });
  return caught as LockboxError;
}

describe('findSecretPaths', () => {
  it('finds flat and nested secret fields marked airbyte_secret or x-secret', () => {
    const spec: JsonSchema = {
      type: 'object',
      properties: {
        email: { type: 'string' },
        api_token: { type: 'string', airbyte_secret: true },
        database: { type: 'object', properties: { host: { type: 'string' }, password: { type: 'string', 'x-secret': true } } },
      },
    };
    const config = { email: 'a@b.c', api_token: CANARY, database: { host: 'db', password: CANARY } };
    assert.deepEqual(findSecretPaths(spec, config), ['$.api_token', '$.database.password']);
  });

  it('returns no path for a secret field absent from the config', () => {
    const spec: JsonSchema = { type: 'object', properties: { api_token: { type: 'string', airbyte_secret: true }, nested: { type: 'object', properties: { key: { type: 'string', airbyte_secret: true } } } } };
    assert.deepEqual(findSecretPaths(spec, { nested: {} }), []);
    assert.deepEqual(findSecretPaths(spec, {}), []);
    assert.deepEqual(findSecretPaths(spec, 'not an object'), []);
  });

  it('walks arrays of objects and arrays of secret strings, index by index', () => {
    const spec: JsonSchema = {
      type: 'object',
      properties: {
        tunnels: { type: 'array', items: { type: 'object', properties: { host: { type: 'string' }, key: { type: 'string', airbyte_secret: true } } } },
        tokens: { type: 'array', items: { type: 'string', 'x-secret': true } },
      },
    };
    const config = { tunnels: [{ host: 'a', key: CANARY }, { host: 'b' }, { host: 'c', key: CANARY }], tokens: [CANARY, CANARY] };
    assert.deepEqual(findSecretPaths(spec, config), ['$.tunnels[0].key', '$.tunnels[2].key', '$.tokens[0]', '$.tokens[1]']);
  });

  it('picks the oneOf branch chosen by a const or single-value enum discriminator', () => {
    assert.deepEqual(findSecretPaths(credentials, { credentials: { auth_type: 'api_key', api_key: CANARY } }), ['$.credentials.api_key']);
    assert.deepEqual(
      findSecretPaths(credentials, { credentials: { auth_type: 'oauth', client_id: 'id', client_secret: CANARY, refresh_token: CANARY } }),
      ['$.credentials.client_secret', '$.credentials.refresh_token'],
    );
  });

  it('picks the anyOf branch the config validates against when there is no discriminator', () => {
    const spec: JsonSchema = {
      type: 'object',
      properties: {
        connection: {
          anyOf: [
            { type: 'object', required: ['url'], properties: { url: { type: 'string' }, url_password: { type: 'string', airbyte_secret: true } } },
            { type: 'object', required: ['host'], properties: { host: { type: 'string' }, password: { type: 'string', airbyte_secret: true } } },
          ],
        },
      },
    };
    assert.deepEqual(findSecretPaths(spec, { connection: { host: 'db', password: POINTER } }), ['$.connection.password']);
    assert.deepEqual(findSecretPaths(spec, { connection: { url: 'x', url_password: '**********' } }), ['$.connection.url_password']);
  });

  it('returns the secrets of every candidate branch when no branch matches, so nothing escapes masking', () => {
    const config = { credentials: { api_key: CANARY, client_secret: CANARY } };
    assert.deepEqual(findSecretPaths(credentials, config), ['$.credentials.api_key', '$.credentials.client_secret']);
  });

  it('walks every allOf branch', () => {
    const spec: JsonSchema = {
      allOf: [
        { type: 'object', properties: { a: { type: 'string', airbyte_secret: true } } },
        { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'string', 'x-secret': true } } } } },
      ],
    };
    assert.deepEqual(findSecretPaths(spec, { a: CANARY, b: { c: CANARY } }), ['$.a', '$.b.c']);
  });

  it('follows local $ref into definitions and $defs, including recursive schemas', () => {
    const spec: JsonSchema = {
      type: 'object',
      properties: { primary: { $ref: '#/definitions/server' }, replica: { $ref: '#/$defs/server' }, tree: { $ref: '#/definitions/node' } },
      definitions: {
        server: { type: 'object', properties: { password: { $ref: '#/definitions/secretString' } } },
        secretString: { type: 'string', airbyte_secret: true },
        node: { type: 'object', properties: { token: { type: 'string', airbyte_secret: true }, children: { type: 'array', items: { $ref: '#/definitions/node' } } } },
      },
      $defs: { server: { type: 'object', properties: { password: { type: 'string', airbyte_secret: true } } } },
    };
    const config = { primary: { password: CANARY }, replica: { password: CANARY }, tree: { token: CANARY, children: [{ children: [{ token: CANARY }] }] } };
    assert.deepEqual(findSecretPaths(spec, config), ['$.primary.password', '$.replica.password', '$.tree.token', '$.tree.children[0].children[0].token']);
  });

  it('walks patternProperties and additionalProperties and brackets keys that are not identifiers', () => {
    const spec: JsonSchema = {
      type: 'object',
      properties: { 'api-key': { type: 'string', airbyte_secret: true } },
      patternProperties: { '^hdr_': { type: 'string', airbyte_secret: true } },
      additionalProperties: { type: 'object', properties: { pass: { type: 'string', airbyte_secret: true } } },
    };
    const config = { 'api-key': CANARY, hdr_auth: CANARY, "o'brien": { pass: CANARY } };
    assert.deepEqual(findSecretPaths(spec, config), ["$['api-key']", '$.hdr_auth', "$['o\\'brien'].pass"]);
  });

  it('honours 2020-12 specs (prefixItems, $defs)', () => {
    const spec: JsonSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { pair: { type: 'array', prefixItems: [{ type: 'string' }, { $ref: '#/$defs/secret' }] } },
      $defs: { secret: { type: 'string', 'x-secret': true } },
    };
    assert.deepEqual(findSecretPaths(spec, { pair: ['user', CANARY] }), ['$.pair[1]']);
    validateAgainstSpec(spec, { pair: ['user', POINTER] }, ['$.pair[1]']);
  });

  it('rejects non-local $ref and specs that are not JSON Schema with INVALID_INPUT', () => {
    assertLockboxError(() => findSecretPaths({ type: 'object', properties: { a: { $ref: 'https://example.com/s.json' } } }, { a: 1 }), 'INVALID_INPUT',
      'spec $ref "https://example.com/s.json" is not supported: only local references such as "#/definitions/…" and "#/$defs/…" are');
    assertLockboxError(() => findSecretPaths({ type: 'object', properties: { a: { $ref: '#/definitions/missing' } } }, { a: 1 }), 'INVALID_INPUT',
      'spec $ref "#/definitions/missing" does not resolve');
    assertLockboxError(() => findSecretPaths({ type: 'strng' }, {}), 'INVALID_INPUT', /^spec is not a valid JSON Schema: spec\/type must be/);
  });
});

describe('validateAgainstSpec', () => {
  const spec: JsonSchema = {
    type: 'object',
    required: ['host', 'password'],
    additionalProperties: false,
    properties: {
      host: { type: 'string' },
      port: { type: 'integer', minimum: 1 },
      mode: { type: 'string', enum: ['fast', 'safe'] },
      password: { type: 'string', airbyte_secret: true, minLength: 50, pattern: '^pw_' },
      pin: { type: 'integer', 'x-secret': true },
    },
  };

  it('accepts pointers, masks, references and secret_coordinate:: strings in secret fields whatever their constraints', () => {
    for (const node of [POINTER, { _secret_reference_id: POINTER._secret_reference_id }, '**********', 'secret_coordinate::stripe/api-key']) {
      validateAgainstSpec(spec, { host: 'db', password: node, pin: node }, ['$.password', '$.pin']);
    }
  });

  it('checks raw secret values against their own subschema', () => {
    validateAgainstSpec(spec, { host: 'db', password: `pw_${'x'.repeat(60)}`, pin: 1234 }, ['$.password', '$.pin']);
    assertLockboxError(() => validateAgainstSpec(spec, { host: 'db', password: POINTER, pin: 'abc' }, ['$.password', '$.pin']),
      'SPEC_VALIDATION', 'config does not match its spec: $.pin: must be integer');
  });

  it('rejects a wrong type in a non-secret field with SPEC_VALIDATION naming the path', () => {
    assertLockboxError(() => validateAgainstSpec(spec, { host: 'db', port: '5432', password: POINTER }, ['$.password']),
      'SPEC_VALIDATION', 'config does not match its spec: $.port: must be integer');
    assertLockboxError(() => validateAgainstSpec(spec, { password: POINTER, extra: 1 }, ['$.password']),
      'SPEC_VALIDATION', 'config does not match its spec: $.host: is required; $.extra: is not allowed by the spec');
  });

  it('never puts a secret value in the message, even when the secret field itself is invalid', () => {
    const error = assertLockboxError(() => validateAgainstSpec(spec, { host: 'db', password: CANARY }, ['$.password']),
      'SPEC_VALIDATION', 'config does not match its spec: $.password: must NOT have fewer than 50 characters; $.password: must match pattern "^pw_"');
    assert.ok(!error.message.includes(CANARY));
    assert.ok(!JSON.stringify({ ...error, stack: error.stack }).includes(CANARY));
  });

  it('never quotes config values of non-secret fields either', () => {
    const error = assertLockboxError(() => validateAgainstSpec(spec, { host: 42, mode: CANARY, port: CANARY, password: POINTER }, ['$.password']),
      'SPEC_VALIDATION', /\$\.host: must be string; \$\.port: must be integer; \$\.mode: must be equal to one of the allowed values/);
    assert.ok(!error.message.includes(CANARY));
  });

  it('lists at most 5 issues', () => {
    const wide: JsonSchema = { type: 'object', properties: Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => [k, { type: 'integer' }])) };
    const config = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => [k, CANARY]));
    assertLockboxError(() => validateAgainstSpec(wide, config, []), 'SPEC_VALIDATION',
      'config does not match its spec: $.a: must be integer; $.b: must be integer; $.c: must be integer; $.d: must be integer; $.e: must be integer; and 2 more');
  });

  it('validates oneOf configs whose secret fields hold pointers, and names the path when no branch matches', () => {
    const oauth = { credentials: { auth_type: 'oauth', client_id: 'id', client_secret: POINTER } };
    validateAgainstSpec(credentials, oauth, findSecretPaths(credentials, oauth));
    const bad = { credentials: { auth_type: 'oauth', client_secret: CANARY } };
    const error = assertLockboxError(() => validateAgainstSpec(credentials, bad, findSecretPaths(credentials, bad)), 'SPEC_VALIDATION',
      /\$\.credentials\.client_id: is required.*\$\.credentials: must match exactly one schema in oneOf/);
    assert.ok(!error.message.includes(CANARY));
  });

  it('does not mutate the config it validates', () => {
    const config = { host: 'db', password: { ...POINTER } };
    validateAgainstSpec(spec, config, ['$.password']);
    assert.deepEqual(config, { host: 'db', password: POINTER });
  });
});

describe('path helpers', () => {
  it('formats and parses hydration paths', () => {
    const cases: [(string | number)[], string][] = [
      [[], '$'],
      [['api_token'], '$.api_token'],
      [['credentials', 'password'], '$.credentials.password'],
      [['tunnels', 0, 'key'], '$.tunnels[0].key'],
      [['weird key', "it's", 'back\\slash', '0'], "$['weird key']['it\\'s']['back\\\\slash']['0']"],
    ];
    for (const [segments, path] of cases) {
      assert.equal(formatPath(segments), path);
      assert.deepEqual(parsePath(path), segments);
    }
    assert.deepEqual(parsePath('$["double"].api-key[12]'), ['double', 'api-key', 12]);
  });

  it('rejects malformed paths with INVALID_INPUT', () => {
    assertLockboxError(() => parsePath('api_token'), 'INVALID_INPUT', 'invalid hydration path "api_token": it must start with "$"');
    assertLockboxError(() => parsePath('$..a'), 'INVALID_INPUT', /empty key at offset 1/);
    assertLockboxError(() => parsePath('$.a[x]'), 'INVALID_INPUT', /bad \[index\] at offset 3/);
    assertLockboxError(() => parsePath("$['open"), 'INVALID_INPUT', /unterminated \['key'\]/);
  });

  it('reads own properties only', () => {
    const doc = { a: { b: [10, { c: 'x' }] } };
    assert.equal(getAt(doc, '$.a.b[1].c'), 'x');
    assert.equal(getAt(doc, '$.a.b[5]'), undefined);
    assert.equal(getAt(doc, '$.constructor'), undefined);
    assert.equal(getAt(doc, '$.a.b.length'), undefined);
    assert.equal(getAt(doc, "$['__proto__']"), undefined);
  });

  it('sets into a new document, copying only the changed branch', () => {
    const doc = { a: { b: [10, { c: 'x' }] }, untouched: { deep: true } };
    const next = setAt(doc, '$.a.b[1].c', 'y');
    assert.deepEqual(doc, { a: { b: [10, { c: 'x' }] }, untouched: { deep: true } });
    assert.deepEqual(next, { a: { b: [10, { c: 'y' }] }, untouched: { deep: true } });
    assert.equal(next.untouched, doc.untouched);
    assert.deepEqual(setAt({}, '$.x.list[0]', 1), { x: { list: [1] } });
    assertLockboxError(() => setAt({ a: 'text' }, '$.a.b', 1), 'INVALID_INPUT', 'cannot set $.a.b: $.a is not an object');
  });

  it('keeps __proto__ and constructor keys as plain data properties', () => {
    const doc = JSON.parse('{"__proto__": {"x": 1}, "constructor": {"prototype": {}}}') as Record<string, unknown>;
    const next = setAt(setAt(doc, "$['__proto__'].polluted", true), '$.constructor.prototype.polluted', true);
    assert.equal(Object.getPrototypeOf(next), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(next, '__proto__')?.value, { x: 1, polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const fresh = setAt({}, "$['__proto__'].polluted", true);
    assert.ok(Object.hasOwn(fresh, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
