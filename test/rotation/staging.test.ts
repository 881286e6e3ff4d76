import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey } from '../../src/providers/local.js';
import { create as createMemory } from '../../src/providers/memory.js';
import { Redactor } from '../../src/redaction/redactor.js';
import { rotateSecret, type RotationContext } from '../../src/rotation/staging.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider } from '../../src/types.js';

const dirs: string[] = [];
const managers: SecretManager[] = [];
after(async () => {
  for (const manager of managers) await manager.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function managerWith(...providers: Provider[]): SecretManager {
  const manager = new SecretManager({ providers, cache: false, redactor: new Redactor() });
  managers.push(manager);
  return manager;
}

function memoryManager(secrets: Record<string, string> = {}): { manager: SecretManager; provider: Provider } {
  const provider = createMemory('mem', { secrets });
  return { manager: managerWith(provider), provider };
}

function localManager(): SecretManager {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-rotation-'));
  dirs.push(dir);
  return managerWith(createLocal('local', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: generateMasterKey() } }));
}

/** The memory provider without `promote` (or, with `ignorePending`, a backend that cannot stage). */
function limited(inner: Provider, ignorePending = false): Provider {
  return {
    id: 'limited', type: 'limited', capabilities: inner.capabilities,
    get: (ref) => inner.get(ref),
    list: (prefix, scope) => inner.list!(prefix, scope),
    versions: (ref) => inner.versions!(ref),
    set: (ref, value, opts) => inner.set!(ref, value, ignorePending ? { ...opts, pending: false } : opts),
    health: () => inner.health(),
  };
}

async function rotationFailure(promise: Promise<unknown>, canaries: string[]): Promise<LockboxError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => { caught = error; return true; });
  assert.ok(caught instanceof LockboxError, `expected a LockboxError, got ${String(caught)}`);
  assert.equal(caught.code, 'ROTATION_TEST_FAILED');
  for (const canary of canaries) {
    for (const text of [caught.describe(), String(caught.stack), inspect(caught, { depth: 10 }), JSON.stringify(caught)]) {
      assert.ok(!text.includes(canary), `the error must not carry ${canary}: ${text}`);
    }
  }
  return caught;
}

const read = async (manager: SecretManager, name: string, version?: string) => (await manager.get(name, { version }))?.value.reveal() ?? null;

describe('rotateSecret: staging, test hook, promotion', () => {
  it('stages the candidate as pending while the hook runs, then makes it current and keeps the old one as previous', async () => {
    const { manager } = memoryManager({ 'db/password': 'canary-old-pass' });
    const seen: Array<{ candidate: string; context: RotationContext; currentDuringTest: string | null; pendingDuringTest: string | null }> = [];
    const result = await rotateSecret(manager, 'db/password', {
      value: 'canary-new-pass',
      test: async (candidate, context) => {
        seen.push({ candidate: candidate.reveal(), context, currentDuringTest: await read(manager, 'db/password'), pendingDuringTest: await read(manager, 'db/password', 'pending') });
      },
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.candidate, 'canary-new-pass');
    assert.equal(seen[0]!.currentDuringTest, 'canary-old-pass');
    assert.equal(seen[0]!.pendingDuringTest, 'canary-new-pass');
    const { context } = seen[0]!;
    assert.deepEqual([context.name, context.provider, context.pendingVersion, context.currentVersion, context.current?.reveal()], ['db/password', 'mem', '2', '1', 'canary-old-pass']);
    assert.deepEqual([result.provider, result.metadata.version, result.stagedVersion, result.previousVersion, result.promotion], ['mem', '2', '2', '1', 'promoted']);
    assert.equal(await read(manager, 'db/password'), 'canary-new-pass');
    assert.equal(await read(manager, 'db/password', 'previous'), 'canary-old-pass');
    assert.equal(await read(manager, 'db/password', 'pending'), null);
  });

  it('a hook that throws: ROTATION_TEST_FAILED with its (masked) message and the hook error as cause; current untouched, pending kept', async () => {
    const { manager } = memoryManager({ 'db/password': 'canary-old-pass' });
    const hookError = new Error('login as app with canary-new-pass (was canary-old-pass) refused');
    const error = await rotationFailure(
      rotateSecret(manager, 'db/password', { value: 'canary-new-pass', test: () => { throw hookError; } }),
      ['canary-new-pass', 'canary-old-pass'],
    );
    assert.equal(error.message, 'rotation of db/password in provider "mem" failed its test: login as app with [REDACTED] (was [REDACTED]) refused; current is unchanged (version 1); the candidate stays as pending version 2');
    assert.equal(error.cause, hookError);
    assert.equal(error.provider, 'mem');
    assert.equal(await read(manager, 'db/password'), 'canary-old-pass');
    assert.equal(await read(manager, 'db/password', 'pending'), 'canary-new-pass');
    assert.deepEqual((await manager.versions('db/password')).map((v) => v.labels), [['current'], ['pending']]);
  });

  it('a hook that rejects, or throws a string: same error, the reason masked, current untouched', async () => {
    const { manager } = memoryManager({ api: 'canary-api-1' });
    const rejected = await rotationFailure(
      rotateSecret(manager, 'api', { value: 'canary-api-2', test: async () => Promise.reject(new RangeError('health check timed out')) }),
      ['canary-api-2'],
    );
    assert.equal(rejected.message, 'rotation of api in provider "mem" failed its test: health check timed out; current is unchanged (version 1); the candidate stays as pending version 2');
    const thrown = await rotationFailure(
      rotateSecret(manager, 'api', { value: 'canary-api-3', test: () => { throw 'bad value canary-api-3'; } }),
      ['canary-api-3'],
    );
    assert.equal(thrown.message, 'rotation of api in provider "mem" failed its test: bad value [REDACTED]; current is unchanged (version 1); the candidate stays as pending version 3');
    assert.equal(await read(manager, 'api'), 'canary-api-1');
  });

  it('generates the candidate (options, length or function), and carries the tags over', async () => {
    const { manager } = memoryManager();
    await manager.set('svc/token', 'canary-token-0', { tags: { team: 'core', 'lockbox.rotation.last': '2020-01-01T00:00:00.000Z' } });
    const generated = await rotateSecret(manager, 'svc/token', { generate: { length: 20, classes: ['digits'] } });
    assert.match((await read(manager, 'svc/token'))!, /^[0-9]{20}$/);
    assert.deepEqual(generated.metadata.tags, { team: 'core' });
    await rotateSecret(manager, 'svc/token', { generate: 12, tags: { owner: 'ops' } });
    assert.equal((await read(manager, 'svc/token'))!.length, 12);
    assert.deepEqual((await manager.get('svc/token'))?.metadata.tags, { team: 'core', owner: 'ops' });
    await rotateSecret(manager, 'svc/token', { generate: () => 'canary-from-fn' });
    assert.equal(await read(manager, 'svc/token'), 'canary-from-fn');
    await rotateSecret(manager, 'svc/token');
    assert.match((await read(manager, 'svc/token'))!, /^[A-Za-z0-9]{32}$/);
  });

  it('uses the generator stored with the rotation policy when none is given', async () => {
    const { manager } = memoryManager();
    await manager.set('pin', '0000', { tags: { 'lockbox.rotation.every': '30d', 'lockbox.rotation.generator': '{"length":6,"classes":["digits"]}' } });
    await rotateSecret(manager, 'pin');
    assert.match((await read(manager, 'pin'))!, /^[0-9]{6}$/);
  });

  it('accepts a SecretValue as the new value', async () => {
    const { manager } = memoryManager({ k: 'canary-k' });
    await rotateSecret(manager, 'k', { value: new SecretValue('canary-sv') });
    assert.equal(await read(manager, 'k'), 'canary-sv');
  });

  it('creates a secret that does not exist yet in the first writable provider', async () => {
    const { manager } = memoryManager();
    const result = await rotateSecret(manager, { name: 'new/key', scope: 'acme' }, { value: 'canary-fresh' });
    assert.deepEqual([result.provider, result.metadata.version, result.previousVersion], ['mem', '1', undefined]);
    assert.equal((await manager.get('new/key', { scope: 'acme' }))?.value.reveal(), 'canary-fresh');
  });

  it('providers without promote: the pending value is written as a new current version', async () => {
    const inner = createMemory('inner', { secrets: { k: 'canary-k1' } });
    const manager = managerWith(limited(inner));
    const result = await rotateSecret(manager, 'k', { value: 'canary-k2', test: () => {} });
    assert.deepEqual([result.promotion, result.stagedVersion, result.metadata.version], ['rewritten', '2', '3']);
    assert.equal(await read(manager, 'k'), 'canary-k2');
    assert.equal(await read(manager, 'k', 'previous'), 'canary-k1');
  });

  it('providers that cannot stage: a failed test writes the old value back, and says so', async () => {
    const inner = createMemory('inner', { secrets: { k: 'canary-k1' } });
    const manager = managerWith(limited(inner, true));
    const error = await rotationFailure(rotateSecret(manager, 'k', { value: 'canary-k2', test: () => { throw new Error('nope'); } }), ['canary-k2', 'canary-k1']);
    assert.equal(error.message, 'rotation of k in provider "limited" failed its test: nope; provider "limited" cannot stage values, so the old value was written back as version 3');
    assert.equal(await read(manager, 'k'), 'canary-k1');
  });

  it('refuses bad options and read-only providers', async () => {
    const { manager } = memoryManager({ k: 'canary-k' });
    await assert.rejects(rotateSecret(manager, 'k', { value: 'canary-x', generate: 10 }), (error: unknown) =>
      error instanceof LockboxError && error.code === 'INVALID_INPUT' && error.message === 'rotation takes a value or a generator, not both');
    await assert.rejects(rotateSecret(manager, 'k', { test: 'yes' as never }), (error: unknown) =>
      error instanceof LockboxError && error.code === 'INVALID_INPUT' && error.message === 'invalid rotation options: test: test must be a function');
    await assert.rejects(rotateSecret(manager, 'k', { generate: { length: 2, classes: ['lower', 'upper', 'digits'] } }), (error: unknown) =>
      error instanceof LockboxError && error.code === 'GENERATOR_INVALID' && error.message === 'length 2 cannot hold one character of each of 3 required classes (lower, upper, digits)');
    assert.equal((await manager.versions('k')).length, 1, 'nothing was written');
    const readOnly = { ...limited(createMemory('ro', { secrets: { k: 'canary-ro' } })), id: 'ro', capabilities: { write: false, delete: false, list: true, versions: false, watch: false } };
    await assert.rejects(rotateSecret(managerWith(readOnly), 'k'), (error: unknown) =>
      error instanceof LockboxError && error.code === 'CAPABILITY' && error.message === 'provider "ro" does not support rotation');
  });
});

describe('${secret:NAME@previous} after a rotation (dual-credential overlap)', () => {
  for (const [label, make] of [['memory', () => memoryManager().manager], ['local', localManager]] as const) {
    it(`resolves to the previous value through manager.resolve (${label})`, async () => {
      const manager = make();
      await manager.set('db/password', 'canary-first');
      await rotateSecret(manager, 'db/password', { value: 'canary-second', test: () => {} });
      assert.equal(await manager.resolve('new=${secret:db/password} old=${secret:db/password@previous}'), 'new=canary-second old=canary-first');
      await rotateSecret(manager, 'db/password', { value: 'canary-third' });
      assert.equal(await manager.resolve('${secret:db/password@previous}'), 'canary-second');
    });
  }

  it('a failed rotation leaves both current and previous as they were (local)', async () => {
    const manager = localManager();
    await manager.set('db/password', 'canary-first');
    await rotateSecret(manager, 'db/password', { value: 'canary-second' });
    await rotationFailure(rotateSecret(manager, 'db/password', { value: 'canary-third', test: () => { throw new Error('refused'); } }), ['canary-third']);
    assert.equal(await manager.resolve('${secret:db/password}|${secret:db/password@previous}|${secret:db/password@pending}'), 'canary-second|canary-first|canary-third');
  });
});
