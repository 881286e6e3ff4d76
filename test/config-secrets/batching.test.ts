import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey, initLocalStore } from '../../src/providers/local.js';
import { create as createMemory } from '../../src/providers/memory.js';
import type { Provider, SecretRef, SetOptions } from '../../src/types.js';
import type { SecretValue } from '../../src/secret-value.js';
import { createConfigSecrets, createConfigSecretsDatabase, type ConfigSecrets, type SavedConfig } from '../../src/config-secrets/index.js';

const WS = '7f1c4a52-8d0e-4b8a-9a57-3f4c9d2e1b60';
const scope = { type: 'workspace', id: WS };
const owner = (id: string) => ({ type: 'actor', id });
const spec = {
  type: 'object',
  required: ['host', 'api_token'],
  properties: {
    host: { type: 'string' },
    api_token: { type: 'string', airbyte_secret: true },
    credentials: { type: 'object', properties: { user: { type: 'string' }, password: { type: 'string', 'x-secret': true } } },
  },
};
const configOf = (n: number | string) => ({ host: `db-${n}`, api_token: `canary-token-${n}`, credentials: { user: 'u', password: `canary-pw-${n}` } });

interface Env { configs: ConfigSecrets; manager: SecretManager; db: ReturnType<typeof createConfigSecretsDatabase>; dbPath: string; storeWrites: () => number; names: () => Promise<string[]> }

async function setup(t: TestContext, store: 'local' | 'local-worker' | 'limited' = 'local'): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-cs-batch-'));
  let provider: Provider;
  if (store !== 'limited') {
    const key = generateMasterKey();
    initLocalStore({ path: join(dir, 'store.db'), masterKey: key });
    const writeThread = store === 'local-worker' ? 'worker' : 'main';
    provider = createLocal('local', { path: 'store.db', write_thread: writeThread }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
  } else {
    provider = sizeLimited(createMemory('local'), 64);
  }
  const manager = new SecretManager({ providers: [provider], redactor: { register() {} } });
  let writes = 0;
  const setMany = manager.setMany.bind(manager);
  manager.setMany = (entries, target) => {
    writes++;
    return setMany(entries, target);
  };
  const dbPath = join(dir, 'config.db');
  const db = createConfigSecretsDatabase(dbPath);
  const configs = createConfigSecrets({ manager, db });
  t.after(async () => {
    await db.destroy();
    await manager.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  return { configs, manager, db, dbPath, storeWrites: () => writes, names: async () => (await provider.list!()).map((l) => l.name).sort() };
}

for (const store of ['local', 'local-worker'] as const) describe(`config secrets (${store === 'local' ? 'store writes on the main thread' : 'store writes on a worker thread'}): concurrent creates are written together`, () => {
  test('40 concurrent creates all succeed, in fewer store transactions, each as committed as a lone create', async (t) => {
    const env = await setup(t, store);
    await env.configs.create({ scope, owner: owner('warm-up'), spec, config: configOf('warm-up') });
    const before = env.storeWrites();
    const saved = await Promise.all(Array.from({ length: 40 }, (_, n) => env.configs.create({ scope, owner: owner(`a${n}`), spec, config: configOf(n) })));
    assert.ok(env.storeWrites() - before < 40, `grouped: ${env.storeWrites() - before} store writes for 40 creates`);
    // Committed: a second connection to the file sees every config, and each result is what get() returns.
    const other = createConfigSecretsDatabase(env.dbPath);
    t.after(() => other.destroy());
    const ids = (await other.selectFrom('config_document').select('id').execute()).map((r) => r.id);
    for (const [n, result] of saved.entries()) {
      assert.ok(ids.includes(result.id), `config ${n} committed`);
      assert.deepEqual(result, await env.configs.get(result.id));
      assert.deepEqual(await env.configs.hydrate(result.id), configOf(n));
      assert.deepEqual(result.owner, owner(`a${n}`));
    }
    assert.equal(new Set(saved.flatMap((s) => s.secrets.map((b) => b.coordinate))).size, 80, 'every secret has its own coordinate');
    assert.equal((await env.names()).length, 82);
  });

  test('a config that fails among concurrent ones fails alone, with its own code, leaving nothing behind', async (t) => {
    const env = await setup(t, store);
    const first = await env.configs.create({ scope, owner: owner('taken'), spec, config: configOf('taken') });
    const bad: Array<[Record<string, unknown>, string, string, RegExp]> = [
      ['taken', configOf('x1'), 'ALREADY_EXISTS', new RegExp(`actor/taken already has a config \\(${first.id}\\)`)],
      ['bad-ref', { ...configOf('x2'), credentials: { password: { _secret_reference_id: randomUUID() } } }, 'SECRET_REFERENCE_NOT_FOUND', /\$\.credentials\.password .*not a secret reference of actor\/bad-ref/],
      ['bad-ext', { ...configOf('x3'), api_token: 'secret_coordinate::missing/key' }, 'NOT_FOUND', /missing\/key named at \$\.api_token not found/],
      ['bad-spec', { api_token: 'canary-x4' }, 'SPEC_VALIDATION', /host/],
      ['bad-node', { ...configOf('x5'), api_token: ['canary-x5'] }, 'SECRET_NODE_INVALID', /\$\.api_token is an array/],
    ].map(([id, config, code, message]) => [{ owner: id, config }, code as string, id as string, message as RegExp]);
    const good = Array.from({ length: 12 }, (_, n) => ({ owner: `g${n}`, config: configOf(n) }));
    const inputs = [...good.slice(0, 6), ...bad.map(([input]) => input as { owner: string; config: Record<string, unknown> }), ...good.slice(6)];
    const results = await Promise.allSettled(inputs.map((input) => env.configs.create({ scope, owner: owner(input.owner), spec, config: input.config })));
    const byOwner = new Map(inputs.map((input, i) => [input.owner, results[i]!]));
    for (const [, code, id, message] of bad) {
      const result = byOwner.get(id)!;
      assert.equal(result.status, 'rejected', `${id} fails`);
      const error = (result as PromiseRejectedResult).reason as LockboxError;
      assert.ok(error instanceof LockboxError, String(error));
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      assert.ok(!/canary-/.test(`${error.message}\n${error.stack}`), 'no secret value in the error');
    }
    for (const { owner: id, config } of good) {
      const result = byOwner.get(id)!;
      assert.equal(result.status, 'fulfilled', `${id} succeeds: ${result.status === 'rejected' ? String(result.reason) : ''}`);
      assert.deepEqual(await env.configs.hydrate((result as PromiseFulfilledResult<SavedConfig>).value.id), config);
    }
    assert.equal((await env.names()).length, 2 * (good.length + 1), 'only the secrets of the configs that were saved');
    assert.equal((await env.db.selectFrom('config_document').select('id').execute()).length, good.length + 1);
  });

  test('two concurrent creates for one owner: the first is saved, the second is ALREADY_EXISTS', async (t) => {
    const env = await setup(t, store);
    const [a, b] = await Promise.allSettled([
      env.configs.create({ scope, owner: owner('same'), spec, config: configOf('a') }),
      env.configs.create({ scope, owner: owner('same'), spec, config: configOf('b') }),
      ...Array.from({ length: 4 }, (_, n) => env.configs.create({ scope, owner: owner(`o${n}`), spec, config: configOf(n) })),
    ]);
    assert.equal(a!.status, 'fulfilled');
    const saved = (a as PromiseFulfilledResult<SavedConfig>).value;
    assert.equal(b!.status, 'rejected');
    assert.equal(((b as PromiseRejectedResult).reason as LockboxError).code, 'ALREADY_EXISTS');
    assert.match(((b as PromiseRejectedResult).reason as Error).message, new RegExp(`actor/same already has a config \\(${saved.id}\\)`));
    assert.deepEqual(await env.configs.hydrate(saved.id), configOf('a'));
    assert.equal((await env.names()).length, 2 * 5);
  });

  test('a value the store refuses fails only its own create; the others are written without it', async (t) => {
    const env = await setup(t, 'limited');
    const big = { ...configOf('big'), api_token: `canary-${'x'.repeat(100)}` };
    const results = await Promise.allSettled([
      ...Array.from({ length: 3 }, (_, n) => env.configs.create({ scope, owner: owner(`a${n}`), spec, config: configOf(n) })),
      env.configs.create({ scope, owner: owner('big'), spec, config: big }),
      ...Array.from({ length: 3 }, (_, n) => env.configs.create({ scope, owner: owner(`b${n}`), spec, config: configOf(n + 3) })),
    ]);
    const failed = results[3]!;
    assert.equal(failed.status, 'rejected');
    assert.equal(((failed as PromiseRejectedResult).reason as LockboxError).code, 'VALUE_TOO_LARGE');
    assert.ok(!((failed as PromiseRejectedResult).reason as Error).message.includes('canary-'));
    const saved = results.filter((r): r is PromiseFulfilledResult<SavedConfig> => r.status === 'fulfilled').map((r) => r.value);
    assert.equal(saved.length, 6);
    for (const config of saved) assert.match((await env.configs.hydrate(config.id) as { api_token: string }).api_token, /^canary-token-\d$/);
    assert.equal((await env.names()).length, 12, 'nothing of the refused config is left in the store');
    assert.equal((await env.db.selectFrom('secret_config').select('id').execute()).length, 12, 'nor in secret_config');
  });

  test('an owner with a leftover reference (its config removed outside lockbox) is saved among concurrent creates, reusing that reference', async (t) => {
    const env = await setup(t, store);
    const old = await env.configs.create({ scope, owner: owner('leftover'), spec, config: configOf('old') });
    await env.db.deleteFrom('config_document').where('id', '=', old.id).execute();
    const [again, ...others] = await Promise.all([
      env.configs.create({ scope, owner: owner('leftover'), spec, config: configOf('new') }),
      ...Array.from({ length: 5 }, (_, n) => env.configs.create({ scope, owner: owner(`n${n}`), spec, config: configOf(n) })),
    ]);
    assert.deepEqual(await env.configs.hydrate(again!.id), configOf('new'));
    assert.deepEqual(again!.secrets.map((s) => s.referenceId), old.secrets.map((s) => s.referenceId), 'the path keeps its reference id');
    for (const [n, config] of others.entries()) assert.deepEqual(await env.configs.hydrate(config.id), configOf(n));
    assert.equal((await env.names()).length, 2 * 6, 'the superseded secrets of the old config are destroyed');
  });

  test('concurrent updates of one config while creates are being batched: one wins, the others get CONFLICT', async (t) => {
    const env = await setup(t, store);
    const saved = await env.configs.create({ scope, owner: owner('u'), spec, config: configOf('u0') });
    const updates = Array.from({ length: 4 }, (_, n) => env.configs.update(saved.id, configOf(`u${n + 1}`), { expectedRevision: 1 }));
    const creates = Array.from({ length: 8 }, (_, n) => env.configs.create({ scope, owner: owner(`c${n}`), spec, config: configOf(n) }));
    const results = await Promise.allSettled(updates);
    await Promise.all(creates);
    const won = results.filter((r): r is PromiseFulfilledResult<SavedConfig> => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 3);
    for (const loser of lost) {
      assert.equal((loser.reason as LockboxError).code, 'CONFLICT');
      assert.match((loser.reason as Error).message, new RegExp(`config ${saved.id} changed since revision 1`));
    }
    assert.equal(won[0]!.value.revision, 2);
    assert.deepEqual(await env.configs.hydrate(saved.id), configOf(`u${results.indexOf(won[0]!) + 1}`));
    assert.equal((await env.names()).length, 2 + 2 * 8, 'v1 and the losers\' versions are gone');
  });
});

/** A provider in front of the memory one that refuses values longer than `maxBytes` (as cloud stores cap value sizes); setMany writes all or none. */
function sizeLimited(inner: Provider, maxBytes: number): Provider {
  const check = (value: SecretValue) => {
    if (Buffer.byteLength(value.reveal()) > maxBytes) throw new LockboxError('VALUE_TOO_LARGE', `provider "local": a value is larger than ${maxBytes} bytes`);
  };
  return {
    id: inner.id, type: 'limited', capabilities: inner.capabilities,
    get: (ref) => inner.get(ref),
    list: (prefix, s) => inner.list!(prefix, s),
    set: async (ref: SecretRef, value: SecretValue, opts?: SetOptions) => {
      check(value);
      return inner.set!(ref, value, opts);
    },
    setMany: async (entries) => {
      for (const entry of entries) check(entry.value);
      const written = [];
      for (const entry of entries) written.push(await inner.set!(entry.ref, entry.value, entry.opts));
      return written;
    },
    delete: (ref, opts) => inner.delete!(ref, opts),
    health: () => inner.health(),
  };
}
