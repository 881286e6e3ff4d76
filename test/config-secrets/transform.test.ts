import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { MASK, SECRET_COORDINATE_PREFIX, classifySecretNode, pointerNode } from '../../src/config-secrets/nodes.js';
import type { JsonSchema } from '../../src/config-secrets/spec.js';
import { findPointers, hydrateConfig, maskConfig, processConfig, replaceAtPaths } from '../../src/config-secrets/transform.js';
import { LockboxError } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';

const CANARY = 'canary-0d9e4a77c1';
const REF = '11111111-1111-4111-8111-111111111111';
const STORAGE = '22222222-2222-4222-8222-222222222222';
const MANAGED = 'lockbox_workspace_ws1_secret_abc_v1';

const spec: JsonSchema = {
  type: 'object',
  required: ['host'],
  properties: {
    host: { type: 'string' },
    port: { type: 'integer' },
    api_token: { type: 'string', airbyte_secret: true },
    tunnels: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, key: { type: 'string', 'x-secret': true } } } },
    credentials: {
      oneOf: [
        { type: 'object', properties: { auth_type: { const: 'basic' }, password: { type: 'string', airbyte_secret: true } } },
        { type: 'object', properties: { auth_type: { const: 'oauth' }, client_secret: { type: 'string', airbyte_secret: true } } },
      ],
    },
  },
};

function assertLockboxError(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LockboxError, 'expected a LockboxError');
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert.ok(!error.message.includes(CANARY), 'the message leaks the canary');
    return true;
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('classifySecretNode', () => {
  it('turns strings, numbers, booleans and SecretValues into raw SecretValues', () => {
    for (const [input, text] of [[CANARY, CANARY], [1234, '1234'], [true, 'true'], ['', ''], [new SecretValue(CANARY), CANARY]] as const) {
      const node = classifySecretNode(input, '$.a');
      assert.equal(node.kind, 'raw');
      assert.equal(node.kind === 'raw' && node.value.reveal(), text);
      assert.ok(!inspect(node).includes(CANARY));
      assert.ok(!JSON.stringify(node).includes(CANARY));
    }
  });

  it('recognises the mask and secret_coordinate:: references', () => {
    assert.deepEqual(classifySecretNode(MASK, '$.a'), { kind: 'masked' });
    assert.deepEqual(classifySecretNode(`${SECRET_COORDINATE_PREFIX}vault:acme/stripe`, '$.a'),
      { kind: 'coordinate', coordinate: { kind: 'external', full: 'vault:acme/stripe' } });
    assert.deepEqual(classifySecretNode(`${SECRET_COORDINATE_PREFIX}${MANAGED}`, '$.a'),
      { kind: 'coordinate', coordinate: { kind: 'external', full: MANAGED } }, 'a secret_coordinate:: name is never lockbox-owned');
    assertLockboxError(() => classifySecretNode(SECRET_COORDINATE_PREFIX, '$.a'), 'INVALID_COORDINATE',
      'secret field at $.a is "secret_coordinate::" without a secret name');
  });

  it('reads {_secret} pointers with optional reference and storage ids', () => {
    assert.deepEqual(classifySecretNode({ _secret: MANAGED }, '$.a'), {
      kind: 'coordinate', coordinate: { kind: 'managed', base: 'lockbox_workspace_ws1_secret_abc', version: 1, full: MANAGED },
    });
    assert.deepEqual(classifySecretNode({ _secret: 'stripe/api-key', _secret_reference_id: REF.toUpperCase(), _secret_storage_id: STORAGE }, '$.a'), {
      kind: 'coordinate', coordinate: { kind: 'external', full: 'stripe/api-key' }, referenceId: REF, storageId: STORAGE,
    });
    assert.deepEqual(classifySecretNode({ _secret_reference_id: REF }, '$.a'), { kind: 'reference', referenceId: REF });
  });

  it('rejects arrays, null, undefined and other objects with SECRET_NODE_INVALID naming the path', () => {
    const expected = (what: string) => `secret field at $.creds.password ${what}; expected a string, a number, a boolean, "**********", "secret_coordinate::NAME" or a {"_secret": …} / {"_secret_reference_id": …} pointer`;
    assertLockboxError(() => classifySecretNode([CANARY], '$.creds.password'), 'SECRET_NODE_INVALID', expected('is an array'));
    assertLockboxError(() => classifySecretNode(null, '$.creds.password'), 'SECRET_NODE_INVALID', expected('is null'));
    assertLockboxError(() => classifySecretNode(undefined, '$.creds.password'), 'SECRET_NODE_INVALID', expected('is missing'));
    assertLockboxError(() => classifySecretNode({}, '$.creds.password'), 'SECRET_NODE_INVALID', expected('is an empty object'));
    assertLockboxError(() => classifySecretNode({ value: CANARY }, '$.creds.password'), 'SECRET_NODE_INVALID',
      expected('is an object with keys other than _secret, _secret_reference_id and _secret_storage_id'));
    assertLockboxError(() => classifySecretNode({ _secret: MANAGED, note: CANARY }, '$.creds.password'), 'SECRET_NODE_INVALID', /keys other than/);
    assertLockboxError(() => classifySecretNode({ _secret: 42 }, '$.creds.password'), 'SECRET_NODE_INVALID', /has a _secret that is not a non-empty string/);
    assertLockboxError(() => classifySecretNode({ _secret_storage_id: STORAGE }, '$.creds.password'), 'SECRET_NODE_INVALID', /without _secret or _secret_reference_id/);
  });

  it('rejects malformed coordinates and ids, naming the path and not the value', () => {
    assertLockboxError(() => classifySecretNode({ _secret: 'lockbox_workspace_ws1_secret_abc' }, '$.tunnels[0].key'), 'INVALID_COORDINATE',
      /^secret field at \$\.tunnels\[0\]\.key: invalid secret coordinate "lockbox_workspace_ws1_secret_abc"/);
    assertLockboxError(() => classifySecretNode({ _secret: MANAGED, _secret_reference_id: CANARY }, '$.a'), 'INVALID_INPUT',
      'secret field at $.a: _secret_reference_id is not a UUID');
    assertLockboxError(() => classifySecretNode({ _secret_reference_id: 7 }, '$.a'), 'INVALID_INPUT', 'secret field at $.a: _secret_reference_id is not a UUID');
    assertLockboxError(() => classifySecretNode({ _secret: MANAGED, _secret_storage_id: CANARY }, '$.a'), 'INVALID_INPUT',
      'secret field at $.a: _secret_storage_id is not a UUID');
  });

  it('builds pointer nodes', () => {
    assert.deepEqual(pointerNode(MANAGED), { _secret: MANAGED });
    assert.deepEqual(pointerNode(MANAGED, REF), { _secret: MANAGED, _secret_reference_id: REF });
  });
});

describe('processConfig', () => {
  it('classifies every secret field of a nested config with arrays and oneOf', () => {
    const config = deepFreeze({
      host: 'db', api_token: CANARY,
      tunnels: [{ name: 'a', key: { _secret: MANAGED, _secret_reference_id: REF } }, { name: 'b', key: MASK }, { name: 'c' }],
      credentials: { auth_type: 'oauth', client_secret: `${SECRET_COORDINATE_PREFIX}stripe/api-key` },
    });
    const processed = processConfig(spec, config);
    assert.deepEqual(processed.map(({ path, node }) => [path, node.kind]), [
      ['$.api_token', 'raw'], ['$.tunnels[0].key', 'coordinate'], ['$.tunnels[1].key', 'masked'], ['$.credentials.client_secret', 'coordinate'],
    ]);
    assert.ok(!inspect(processed, { depth: 10 }).includes(CANARY));
  });

  it('throws SECRET_NODE_INVALID or SPEC_VALIDATION before anything is returned', () => {
    assertLockboxError(() => processConfig(spec, { host: 'db', api_token: null }), 'SECRET_NODE_INVALID', /^secret field at \$\.api_token is null/);
    assertLockboxError(() => processConfig(spec, { host: 'db', tunnels: [{ key: [CANARY] }] }), 'SECRET_NODE_INVALID', /^secret field at \$\.tunnels\[0\]\.key is an array/);
    assertLockboxError(() => processConfig(spec, { host: 'db', port: 'x', api_token: CANARY }), 'SPEC_VALIDATION', 'config does not match its spec: $.port: must be integer');
    assertLockboxError(() => processConfig(spec, { api_token: 123 }), 'SPEC_VALIDATION',
      'config does not match its spec: $.host: is required; $.api_token: must be string');
  });
});

describe('replaceAtPaths', () => {
  it('replaces values at nested paths and array indexes without touching the input', () => {
    const config = deepFreeze({ host: 'db', tunnels: [{ key: CANARY }, { key: CANARY }], untouched: { deep: [1] } });
    const next = replaceAtPaths(config, new Map<string, unknown>([['$.tunnels[1].key', pointerNode(MANAGED, REF)], ['$.tunnels[0].key', MASK]]));
    assert.deepEqual(next, { host: 'db', tunnels: [{ key: MASK }, { key: { _secret: MANAGED, _secret_reference_id: REF } }], untouched: { deep: [1] } });
    assert.equal(next.untouched, config.untouched);
    assert.equal(replaceAtPaths(config, new Map()), config);
  });
});

describe('maskConfig', () => {
  it('masks secret paths of the spec and pointer nodes anywhere', () => {
    const config = deepFreeze({
      host: 'db', api_token: CANARY,
      tunnels: [{ name: 'a', key: CANARY }, { name: 'b', key: { _secret_reference_id: REF } }],
      credentials: { auth_type: 'basic', password: `${SECRET_COORDINATE_PREFIX}x` },
      extra: { nested: [{ _secret: MANAGED }] },
    });
    assert.deepEqual(maskConfig(spec, config), {
      host: 'db', api_token: MASK,
      tunnels: [{ name: 'a', key: MASK }, { name: 'b', key: MASK }],
      credentials: { auth_type: 'basic', password: MASK },
      extra: { nested: [MASK] },
    });
  });

  it('masks only pointer nodes without a spec', () => {
    const stored = deepFreeze({ host: 'db', api_token: { _secret: MANAGED, _secret_reference_id: REF }, list: [{ k: { _secret: 'ext/name' } }, 'plain'] });
    assert.deepEqual(maskConfig(undefined, stored), { host: 'db', api_token: MASK, list: [{ k: MASK }, 'plain'] });
    const plain = { host: 'db' };
    assert.equal(maskConfig(undefined, plain), plain);
  });
});

describe('findPointers and hydrateConfig', () => {
  const stored = deepFreeze({
    host: 'db',
    api_token: { _secret: MANAGED, _secret_reference_id: REF },
    tunnels: [{ name: 'a', key: { _secret: 'vault:acme/ssh' } }, { name: 'b', key: { _secret_reference_id: STORAGE } }],
    weird: { 'a b': { _secret: MANAGED } },
  });

  it('finds every pointer without a spec', () => {
    assert.deepEqual([...findPointers(stored)], [
      ['$.api_token', { coordinate: MANAGED, referenceId: REF }],
      ['$.tunnels[0].key', { coordinate: 'vault:acme/ssh' }],
      ['$.tunnels[1].key', { referenceId: STORAGE }],
      ["$.weird['a b']", { coordinate: MANAGED }],
    ]);
    assert.deepEqual(findPointers({ a: 'plain', b: [1, null] }).size, 0);
    assertLockboxError(() => findPointers({ a: [{ _secret: '' }] }), 'SECRET_NODE_INVALID', /^secret field at \$\.a\[0\] has a _secret that is not a non-empty string/);
    assertLockboxError(() => findPointers({ a: { _secret_reference_id: CANARY } }), 'INVALID_INPUT', 'secret field at $.a: _secret_reference_id is not a UUID');
  });

  it('replaces every pointer with what the resolver returns; the resolver picks reference id or coordinate', async () => {
    const seen: [string, unknown][] = [];
    const hydrated = await hydrateConfig(stored, async (path, pointer) => {
      seen.push([path, pointer]);
      return pointer.referenceId !== undefined ? `by-ref:${pointer.referenceId}` : new SecretValue(`by-coord:${pointer.coordinate}`);
    });
    assert.deepEqual(hydrated, {
      host: 'db',
      api_token: `by-ref:${REF}`,
      tunnels: [{ name: 'a', key: 'by-coord:vault:acme/ssh' }, { name: 'b', key: `by-ref:${STORAGE}` }],
      weird: { 'a b': `by-coord:${MANAGED}` },
    });
    assert.equal(seen.length, 4);
  });

  it('returns the document itself when there is nothing to hydrate, and surfaces resolver failures', async () => {
    const plain = { host: 'db' };
    assert.equal(await hydrateConfig(plain, async () => 'x'), plain);
    await assert.rejects(hydrateConfig(stored, async () => { throw new LockboxError('NOT_FOUND', 'gone'); }), { code: 'NOT_FOUND' });
  });

  it('round-trips: split with processConfig + replaceAtPaths, then hydrate', async () => {
    const config = { host: 'db', api_token: CANARY, tunnels: [{ name: 'a', key: `${CANARY}-2` }] };
    const processed = processConfig(spec, config);
    const values = new Map<string, string>();
    const partial = replaceAtPaths(config, new Map(processed.map(({ path, node }, i) => {
      const coordinate = `lockbox_workspace_ws1_secret_${i}_v1`;
      if (node.kind === 'raw') values.set(coordinate, node.value.reveal());
      return [path, pointerNode(coordinate)];
    })));
    assert.ok(!JSON.stringify(partial).includes(CANARY));
    assert.ok(!JSON.stringify(maskConfig(spec, partial)).includes(CANARY));
    assert.deepEqual(await hydrateConfig(partial, async (_path, pointer) => values.get(pointer.coordinate ?? '') ?? ''), config);
  });
});

describe('prototype safety', () => {
  it('treats __proto__ and constructor keys of a parsed config as data', async () => {
    const protoSpec = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string","airbyte_secret":true},"constructor":{"type":"object","properties":{"prototype":{"type":"string","x-secret":true}}}}}') as JsonSchema;
    const config = JSON.parse(`{"__proto__":"${CANARY}","constructor":{"prototype":"${CANARY}"}}`) as Record<string, unknown>;
    const processed = processConfig(protoSpec, config);
    assert.deepEqual(processed.map((p) => p.path), ['$.__proto__', '$.constructor.prototype']);
    const partial = replaceAtPaths(config, new Map(processed.map(({ path }) => [path, pointerNode(MANAGED)])));
    assert.equal(Object.getPrototypeOf(partial), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(partial, '__proto__')?.value, { _secret: MANAGED });
    assert.deepEqual(maskConfig(protoSpec, partial), JSON.parse(`{"__proto__":"${MASK}","constructor":{"prototype":"${MASK}"}}`));
    const hydrated = await hydrateConfig(partial, async () => 'v') as Record<string, unknown>;
    assert.equal(Object.getOwnPropertyDescriptor(hydrated, '__proto__')?.value, 'v');
    assert.equal(({} as Record<string, unknown>)._secret, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, '_secret'), false);
  });
});
