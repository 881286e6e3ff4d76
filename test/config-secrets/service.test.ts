import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey, initLocalStore, type LocalProvider } from '../../src/providers/local.js';
import { create as createMemory } from '../../src/providers/memory.js';
import type { Provider } from '../../src/types.js';
import { DEFAULT_SECRET_STORAGE_ID, EPHEMERAL_SCOPE_ID, MASK, createConfigSecrets, createConfigSecretsDatabase, type ConfigSecrets } from '../../src/config-secrets/index.js';

const WS = '7f1c4a52-8d0e-4b8a-9a57-3f4c9d2e1b60';
const MANAGED = new RegExp(`^lockbox_workspace_${WS}_secret_[0-9a-f-]{36}_v1$`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const spec = {
  type: 'object',
  required: ['host', 'api_token'],
  properties: {
    host: { type: 'string' },
    api_token: { type: 'string', airbyte_secret: true },
    credentials: { type: 'object', properties: { user: { type: 'string' }, password: { type: 'string', 'x-secret': true } } },
  },
};
const owner = (id = 'a1') => ({ type: 'actor', id });
const scope = { type: 'workspace', id: WS };

interface Env { configs: ConfigSecrets; manager: SecretManager; local: LocalProvider; ext: Provider; db: ReturnType<typeof createConfigSecretsDatabase>; dbPath: string; clock: { t: number } }

async function setup(t: TestContext): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-cs-'));
  const key = generateMasterKey();
  initLocalStore({ path: join(dir, 'store.db'), masterKey: key });
  const local = createLocal('local', { path: 'store.db' }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
  const ext = createMemory('ext', { secrets: { 'stripe/api-key': 'canary-external-stripe' } });
  const manager = new SecretManager({ providers: [local, ext], redactor: { register() {} } });
  const dbPath = join(dir, 'config.db');
  const db = createConfigSecretsDatabase(dbPath);
  const clock = { t: Date.now() };
  const configs = createConfigSecrets({ manager, db, now: () => new Date(clock.t) });
  t.after(async () => {
    await db.destroy();
    await manager.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  return { configs, manager, local, ext, db, dbPath, clock };
}

async function value(env: Env, name: string): Promise<string | null> {
  return (await env.local.get({ name }))?.value.reveal() ?? null;
}
async function storedNames(env: Env): Promise<string[]> {
  return (await env.local.list!()).map((l) => l.name);
}
function pointerAt(config: Record<string, unknown>, key: string): { _secret: string; _secret_reference_id?: string } {
  return config[key] as { _secret: string; _secret_reference_id?: string };
}
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LockboxError, `a LockboxError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

describe('config secrets: lifecycle', () => {
  test('create splits secrets out into managed v1 coordinates with reference ids; masked and hydrate', async (t) => {
    const env = await setup(t);
    const config = { host: 'db.example', api_token: 'canary-token-1', credentials: { user: 'u', password: 'canary-pw-1' } };
    const saved = await env.configs.create({ scope, owner: owner(), spec, config });
    const token = pointerAt(saved.config, 'api_token');
    assert.match(token._secret, MANAGED);
    assert.match(token._secret_reference_id!, UUID);
    assert.equal(saved.config.host, 'db.example');
    assert.equal(saved.revision, 1);
    assert.deepEqual(saved.secrets.map((s) => [s.path, s.managed]), [['$.api_token', true], ['$.credentials.password', true]]);
    assert.equal(await value(env, token._secret), 'canary-token-1');
    assert.deepEqual(await env.configs.masked(saved.id), { host: 'db.example', api_token: MASK, credentials: { user: 'u', password: MASK } });
    assert.deepEqual(await env.configs.hydrate(saved.id), config);
    assert.deepEqual((await env.configs.get(saved.id)).config, saved.config);
  });

  test('update: a changed secret becomes _v2 of the same base and v1 is destroyed; a masked one is kept', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-v1', credentials: { password: 'canary-pw' } } });
    const v1 = pointerAt(saved.config, 'api_token');
    const password = (saved.config.credentials as Record<string, unknown>).password as { _secret: string };
    const updated = await env.configs.update(saved.id, { host: 'h2', api_token: 'canary-v2', credentials: { password: MASK } });
    const v2 = pointerAt(updated.config, 'api_token');
    assert.equal(v2._secret, v1._secret.replace(/_v1$/, '_v2'));
    assert.equal(v2._secret_reference_id, v1._secret_reference_id, 'the reference keeps its id');
    assert.equal(updated.revision, 2);
    assert.equal(await value(env, v2._secret), 'canary-v2');
    assert.equal(await value(env, v1._secret), null, 'the old version is gone');
    assert.deepEqual(await env.local.versions!({ name: password._secret }).then((v) => v.length), 1, 'the masked secret was not rewritten');
    assert.deepEqual(await env.configs.hydrate(saved.id), { host: 'h2', api_token: 'canary-v2', credentials: { password: 'canary-pw' } });
    assert.deepEqual((await storedNames(env)).sort(), [password._secret, v2._secret].sort());

    // The partial config sent back as it was returned changes no secret.
    const echoed = await env.configs.update(saved.id, updated.config);
    assert.deepEqual(echoed.config, updated.config);
    assert.equal(echoed.revision, 3);
  });

  test('external secrets are read, never written nor deleted', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'secret_coordinate::stripe/api-key', credentials: { password: { _secret: 'ext:stripe/api-key' } } } });
    assert.deepEqual(pointerAt(saved.config, 'api_token')._secret, 'stripe/api-key');
    assert.deepEqual(saved.secrets.map((s) => s.managed), [false, false]);
    assert.deepEqual(await env.configs.hydrate(saved.id), { host: 'h', api_token: 'canary-external-stripe', credentials: { password: 'canary-external-stripe' } });
    await env.configs.update(saved.id, { host: 'h', api_token: 'canary-own-now' });
    await env.configs.delete(saved.id);
    assert.deepEqual((await env.ext.versions!({ name: 'stripe/api-key' })).length, 1);
    assert.equal((await env.ext.get({ name: 'stripe/api-key' }))?.value.reveal(), 'canary-external-stripe');
    assert.deepEqual(await storedNames(env), [], 'the managed secret of the update went with the delete');
  });

  test('delete removes references, rows and managed secrets; a shared secret survives until its last user goes', async (t) => {
    const env = await setup(t);
    const a = await env.configs.create({ scope, owner: owner('a'), spec, config: { host: 'h', api_token: 'canary-shared' } });
    const coordinate = pointerAt(a.config, 'api_token')._secret;
    const b = await env.configs.create({ scope, owner: owner('b'), spec, config: { host: 'h', api_token: { _secret: coordinate } } });
    const secretConfigId = a.secrets[0]!.secretConfigId;
    assert.equal(b.secrets[0]!.secretConfigId, secretConfigId);
    assert.deepEqual(await env.configs.usages(secretConfigId), [
      { ownerType: 'actor', ownerId: 'a', path: '$.api_token', configId: a.id },
      { ownerType: 'actor', ownerId: 'b', path: '$.api_token', configId: b.id },
    ]);
    await rejectsWith(env.configs.deleteSecretConfig(secretConfigId), 'SECRET_IN_USE', /actor\/a at \$\.api_token.*actor\/b at \$\.api_token/);

    await env.configs.delete(a.id);
    await rejectsWith(env.configs.get(a.id), 'NOT_FOUND', new RegExp(`config ${a.id} not found`));
    assert.equal(await value(env, coordinate), 'canary-shared', 'b still uses it');
    await env.configs.delete(b.id);
    assert.equal(await value(env, coordinate), null);
    await rejectsWith(env.configs.usages(secretConfigId), 'NOT_FOUND', /secret config .* not found/);
    assert.deepEqual(await env.db.selectFrom('secret_reference').selectAll().execute(), []);
    assert.deepEqual(await env.db.selectFrom('secret_config').selectAll().execute(), []);
  });

  test('a path dropped from the config loses its reference and its managed secret (dangling clean-up)', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-t', credentials: { password: 'canary-p' } } });
    const password = saved.secrets.find((s) => s.path === '$.credentials.password')!;
    const updated = await env.configs.update(saved.id, { host: 'h', api_token: MASK });
    assert.deepEqual(updated.secrets.map((s) => s.path), ['$.api_token']);
    assert.equal(await value(env, password.coordinate), null);
    await rejectsWith(env.configs.usages(password.secretConfigId), 'NOT_FOUND', /not found/);
  });

  test('deleteSecretConfig destroys an unused managed secret', async (t) => {
    const env = await setup(t);
    await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-x' } });
    // An orphan: a managed row nobody references (e.g. left by a crash).
    const orphan = 'lockbox_workspace_orphan_secret_0_v1';
    await env.manager.set(orphan, 'canary-orphan', { provider: 'local' });
    const id = randomUUID();
    const row = { secret_storage_id: DEFAULT_SECRET_STORAGE_ID, descriptor: orphan, external_coordinate: orphan, managed: 1, tombstone: 0, created_by: 't', updated_by: 't', created_at: 'x', updated_at: 'x' };
    await env.db.insertInto('secret_config').values({ id, ...row }).execute();
    await env.configs.deleteSecretConfig(id);
    assert.equal(await value(env, orphan), null);
    await rejectsWith(env.configs.deleteSecretConfig(id), 'NOT_FOUND', new RegExp(`secret config ${id} not found`));
  });

  test('ephemeral configs use the all-zero scope id and are purged with their secrets after 2 hours', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope: { type: 'workspace', id: EPHEMERAL_SCOPE_ID }, owner: owner('check-1'), spec, config: { host: 'h', api_token: 'canary-eph' } });
    const coordinate = pointerAt(saved.config, 'api_token')._secret;
    assert.match(coordinate, new RegExp(`^lockbox_workspace_${EPHEMERAL_SCOPE_ID}_secret_`));
    assert.equal(saved.expiresAt?.getTime(), env.clock.t + 2 * 60 * 60 * 1000);
    assert.equal((await env.local.versions!({ name: coordinate }))[0]?.expiresAt?.getTime(), env.clock.t + 2 * 60 * 60 * 1000, 'the secret itself expires too');
    assert.deepEqual(await env.configs.purgeEphemeral(new Date(env.clock.t + 60 * 60 * 1000)), { configIds: [] });
    assert.deepEqual(await env.configs.purgeEphemeral(new Date(env.clock.t + 2 * 60 * 60 * 1000)), { configIds: [saved.id] });
    await rejectsWith(env.configs.get(saved.id), 'NOT_FOUND', /not found/);
    assert.deepEqual(await storedNames(env), []);
  });

  test('dual read: a reference id wins over its _secret text; a legacy _secret-only pointer still hydrates and updates', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-a', credentials: { password: 'canary-b' } } });
    const token = pointerAt(saved.config, 'api_token');
    const password = saved.secrets.find((s) => s.path === '$.credentials.password')!;
    // Legacy: the password has no reference row, only `_secret`; the token's `_secret` text is stale.
    await env.db.deleteFrom('secret_reference').where('id', '=', password.referenceId).execute();
    await env.db.deleteFrom('secret_config').where('id', '=', password.secretConfigId).execute();
    const partial = { ...saved.config, api_token: { ...token, _secret: 'lockbox_workspace_stale_secret_x_v9' }, credentials: { password: { _secret: password.coordinate } } };
    await env.db.updateTable('config_document').set({ partial_config: JSON.stringify(partial) }).where('id', '=', saved.id).execute();
    assert.deepEqual(await env.configs.hydrate(saved.id), { host: 'h', api_token: 'canary-a', credentials: { password: 'canary-b' } });

    const updated = await env.configs.update(saved.id, { host: 'h', api_token: MASK, credentials: { password: 'canary-b2' } });
    const next = updated.secrets.find((s) => s.path === '$.credentials.password')!;
    assert.equal(next.coordinate, password.coordinate.replace(/_v1$/, '_v2'));
    assert.equal(await value(env, password.coordinate), null, 'the legacy version is destroyed once replaced');
    assert.deepEqual(await env.configs.hydrate(saved.id), { host: 'h', api_token: 'canary-a', credentials: { password: 'canary-b2' } });

    // A config that is all legacy pointers: delete still destroys its managed secrets.
    const legacyOnly = { host: 'h', api_token: { _secret: updated.secrets[0]!.coordinate }, credentials: { password: { _secret: next.coordinate } } };
    await env.db.deleteFrom('secret_reference').execute();
    await env.db.deleteFrom('secret_config').execute();
    await env.db.updateTable('config_document').set({ partial_config: JSON.stringify(legacyOnly) }).where('id', '=', saved.id).execute();
    assert.equal((await storedNames(env)).length, 2);
    await env.configs.delete(saved.id);
    assert.deepEqual(await storedNames(env), []);
  });
});

describe('config secrets: bad input and races', () => {
  test('invalid input writes nothing: spec failure, array, null, masked on create, unversioned managed coordinate', async (t) => {
    const env = await setup(t);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ api_token: 'canary-1' }, 'SPEC_VALIDATION', /host/],
      [{ host: 'h', api_token: ['canary-2'] }, 'SECRET_NODE_INVALID', /\$\.api_token is an array/],
      [{ host: 'h', api_token: 'canary-3', credentials: { password: null } }, 'SECRET_NODE_INVALID', /\$\.credentials\.password is null/],
      [{ host: 'h', api_token: MASK }, 'SECRET_NODE_INVALID', /\$\.api_token .*nothing stored to keep/],
      [{ host: 'h', api_token: { _secret: 'lockbox_workspace_w_secret_s' } }, 'INVALID_COORDINATE', /lockbox_workspace_w_secret_s/],
      [{ host: 'h', api_token: 'canary-4', credentials: { password: { _secret_reference_id: randomUUID() } } }, 'SECRET_REFERENCE_NOT_FOUND', /\$\.credentials\.password .*not a secret reference of actor\/a1/],
      [{ host: 'h', api_token: 'canary-5', credentials: { password: 'secret_coordinate::missing/key' } }, 'NOT_FOUND', /missing\/key named at \$\.credentials\.password not found/],
    ];
    for (const [config, code, message] of cases) {
      await rejectsWith(env.configs.create({ scope, owner: owner(), spec, config }), code, message);
      assert.deepEqual(await storedNames(env), [], `${code}: no secret left behind`);
    }
    assert.deepEqual(await env.db.selectFrom('config_document').selectAll().execute(), []);
    assert.deepEqual(await env.db.selectFrom('secret_config').selectAll().execute(), []);
    await rejectsWith(env.configs.create({ scope: { type: 'workspace', id: 'has space' }, owner: owner(), spec, config: {} }), 'INVALID_INPUT', /scope\.id/);
    await rejectsWith(env.configs.update(randomUUID(), { host: 'h' }), 'NOT_FOUND', /config .* not found/);
  });

  test('a failed update leaves the config, its revision and its secrets as they were', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-keep' } });
    const before = await storedNames(env);
    const tokenRef = saved.secrets[0]!.referenceId;
    await rejectsWith(env.configs.update(saved.id, { api_token: 'canary-new' }), 'SPEC_VALIDATION', /host/);
    // The raw value is written before the missing external secret is found: it must be destroyed again.
    await rejectsWith(env.configs.update(saved.id, { host: 'h', api_token: 'canary-new', credentials: { password: 'secret_coordinate::nope' } }), 'NOT_FOUND', /nope named at \$\.credentials\.password/);
    await rejectsWith(env.configs.update(saved.id, { host: 'h', api_token: { _secret_reference_id: randomUUID() } }), 'SECRET_REFERENCE_NOT_FOUND', /\$\.api_token/);
    assert.deepEqual(await storedNames(env), before);
    assert.equal((await env.configs.get(saved.id)).revision, 1);
    // A reference id of this owner alone keeps the secret it points at.
    const kept = await env.configs.update(saved.id, { host: 'h2', api_token: { _secret_reference_id: tokenRef } });
    assert.deepEqual(kept.secrets, saved.secrets);
    assert.deepEqual(await env.configs.hydrate(saved.id), { host: 'h2', api_token: 'canary-keep' });
  });

  test('one config per owner', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-1' } });
    await rejectsWith(env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-2' } }), 'ALREADY_EXISTS', new RegExp(`actor/a1 already has a config \\(${saved.id}\\)`));
    assert.equal((await storedNames(env)).length, 1);
  });

  test('two updates racing from one revision: one wins, the other gets CONFLICT and leaves nothing behind', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-0' } });
    const results = await Promise.allSettled([
      env.configs.update(saved.id, { host: 'h', api_token: 'canary-A' }, { expectedRevision: 1 }),
      env.configs.update(saved.id, { host: 'h', api_token: 'canary-B' }, { expectedRevision: 1 }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.equal((lost[0]!.reason as LockboxError).code, 'CONFLICT');
    assert.match((lost[0]!.reason as Error).message, new RegExp(`config ${saved.id} changed since revision 1`));
    const winner = results[0]!.status === 'fulfilled' ? 'canary-A' : 'canary-B';
    assert.deepEqual(await env.configs.hydrate(saved.id), { host: 'h', api_token: winner });
    const current = pointerAt((await env.configs.get(saved.id)).config, 'api_token')._secret;
    assert.deepEqual(await storedNames(env), [current], 'v1 and the loser\'s version are gone');
  });

  test('an update from a stale revision is a CONFLICT; the newer update is not lost', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-0' } });
    const read = await env.configs.get(saved.id);
    await env.configs.update(saved.id, { host: 'h', api_token: 'canary-first' });
    await rejectsWith(env.configs.update(saved.id, { host: 'h', api_token: 'canary-stale' }, { expectedRevision: read.revision }), 'CONFLICT', /changed since revision 1/);
    assert.deepEqual(await env.configs.hydrate(saved.id), { host: 'h', api_token: 'canary-first' });
    assert.equal((await storedNames(env)).length, 1);
  });

  test('hydrate names the path and coordinate of a secret deleted behind lockbox\'s back', async (t) => {
    const env = await setup(t);
    const saved = await env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: 'canary-gone' } });
    const coordinate = pointerAt(saved.config, 'api_token')._secret;
    await env.manager.delete(coordinate, { provider: 'local', mode: 'destroy' });
    await rejectsWith(env.configs.hydrate(saved.id), 'NOT_FOUND', new RegExp(`secret ${coordinate} for \\$\\.api_token of config ${saved.id} not found`));
  });
});

test('canary: no secret value in return values, errors or the database file', async (t) => {
  const env = await setup(t);
  const canaries = ['canary-c1-token', 'canary-c2-password', 'canary-c3-rotated', 'canary-c4-lost'];
  const seen: unknown[] = [];
  const errors: unknown[] = [];
  const record = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      const result = await p;
      seen.push(result);
      return result;
    } catch (error) {
      errors.push(error);
      return undefined;
    }
  };
  const saved = (await record(env.configs.create({ scope, owner: owner(), spec, config: { host: 'h', api_token: canaries[0], credentials: { password: canaries[1] } } })))!;
  await record(env.configs.get(saved.id));
  await record(env.configs.masked(saved.id));
  await record(env.configs.update(saved.id, { host: 'h', api_token: canaries[2], credentials: { password: MASK } }));
  await record(env.configs.update(saved.id, { host: 'h', api_token: canaries[3] }, { expectedRevision: 1 }));
  await record(env.configs.usages(saved.secrets[0]!.secretConfigId));
  await record(env.configs.deleteSecretConfig(saved.secrets[1]!.secretConfigId));
  await record(env.configs.create({ scope, owner: owner('x'), spec, config: { host: 'h', api_token: [canaries[0]] } }));
  await record(env.configs.create({ scope, owner: owner('x'), spec, config: { api_token: canaries[0] } }));
  await record(env.configs.create({ scope, owner: owner('x'), spec, config: { host: 'h', api_token: { _secret: 'lockbox_x' }, credentials: { password: canaries[1] } } }));
  await record(env.configs.update(saved.id, { host: 'h', api_token: { value: canaries[0] } }));
  await record(env.configs.purgeEphemeral());
  assert.ok(errors.length >= 5, 'the error paths ran');
  const hydrated = await env.configs.hydrate(saved.id);
  assert.equal((hydrated as { api_token: string }).api_token, canaries[2]);

  const texts = [JSON.stringify(seen), ...errors.map((e) => `${(e as Error).message}\n${(e as Error).stack}\n${(e as LockboxError).hint ?? ''}`)];
  const files = [env.dbPath, `${env.dbPath}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1'));
  await record(env.configs.delete(saved.id));
  for (const canary of canaries) {
    for (const text of texts) assert.ok(!text.includes(canary), `${canary} leaked into ${text.slice(0, 200)}`);
    for (const bytes of files) assert.ok(!bytes.includes(canary), `${canary} is in the database file`);
  }
});
