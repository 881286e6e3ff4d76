import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { Statements } from '../../src/config-secrets/statements.js';
import {
  DEFAULT_SECRET_STORAGE_ID, bindReferences, configRow, bumpRevision, ensureDefaultStorage, findSecretConfig, insertDocument,
  listTombstoned, reserveSecretConfig, settleUnreferenced, usagesOf,
} from '../../src/config-secrets/repository.js';
import { CONFIG_SECRETS_MIGRATIONS, createConfigSecretsDatabase, migrateToLatest, type ConfigSecretsTables } from '../../src/config-secrets/schema.js';

const NOW = '2025-01-01T00:00:00.000Z';
const owner = { type: 'actor', id: 'a1' };

describe('config-secrets tables', () => {
  let dir: string;
  let db: Kysely<ConfigSecretsTables>;
  let path: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lockbox-cs-repo-'));
    path = join(dir, 'nested', 'config.db');
    db = createConfigSecretsDatabase(path);
    await migrateToLatest(db);
    await ensureDefaultStorage(db, { providerId: 'local', storageType: 'local', env: {} });
  });
  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the database file is private, in WAL mode, with foreign keys on; migrating again changes nothing', async () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const journal = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(db);
    assert.equal(journal.rows[0]?.journal_mode, 'wal');
    const fk = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db);
    assert.equal(fk.rows[0]?.foreign_keys, 1);
    await migrateToLatest(db);
    const applied = await sql<{ n: number }>`SELECT count(*) AS n FROM config_secrets_migration`.execute(db);
    assert.equal(applied.rows[0]?.n, Object.keys(CONFIG_SECRETS_MIGRATIONS).length);
    const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`.execute(db);
    for (const table of ['config_document', 'secret_config', 'secret_reference', 'secret_storage']) {
      assert.ok(tables.rows.some((r) => r.name === table), `${table} exists`);
    }
  });

  test('ensureDefaultStorage is idempotent and follows a changed storage type and the environment', async () => {
    const clock = { t: Date.parse('2030-01-01T00:00:00Z') };
    const now = () => new Date(clock.t);
    const first = await ensureDefaultStorage(db, { providerId: 'local', storageType: 'local', env: {}, now });
    clock.t += 1000;
    const again = await ensureDefaultStorage(db, { providerId: 'local', storageType: 'local', env: {}, now });
    assert.equal(again.updated_at, first.updated_at, 'nothing changed, nothing written');
    const rows = await db.selectFrom('secret_storage').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.id, DEFAULT_SECRET_STORAGE_ID);
    assert.equal(rows[0]!.configured_from_environment, 1);

    clock.t += 1000;
    const changed = await ensureDefaultStorage(db, { providerId: 'local', storageType: 'vault', env: {}, now });
    assert.equal(changed.storage_type, 'vault');
    assert.equal(changed.updated_at, new Date(clock.t).toISOString());
    assert.equal(changed.created_at, first.created_at);

    const fromEnv = await ensureDefaultStorage(db, {
      providerId: 'local', storageType: 'local', now,
      env: { LOCKBOX_SECRET_STORAGE_TYPE: 'aws', LOCKBOX_SECRET_STORAGE_PROVIDER: 'aws-prod' },
    });
    assert.deepEqual([fromEnv.storage_type, fromEnv.provider_id], ['aws', 'aws-prod']);
    await ensureDefaultStorage(db, { providerId: 'local', storageType: 'local', env: {} });
    assert.equal((await db.selectFrom('secret_storage').selectAll().execute()).length, 1);
  });

  test('a coordinate can be reserved once per storage', async () => {
    const input = { storageId: DEFAULT_SECRET_STORAGE_ID, coordinate: `lockbox_workspace_w_secret_${randomUUID()}_v1`, managed: true, actor: 't', now: NOW };
    const id = await reserveSecretConfig(db, input);
    assert.ok(id);
    assert.equal(await reserveSecretConfig(db, input), undefined);
  });

  test('reserving many coordinates at once claims only those nobody holds, and claims them all or none', async () => {
    const statements = new Statements(db);
    const coordinate = () => `lockbox_workspace_w_secret_${randomUUID()}_v1`;
    const row = (c: string) => configRow(randomUUID(), { storageId: DEFAULT_SECRET_STORAGE_ID, coordinate: c, managed: true, actor: 't', now: NOW });
    const taken = coordinate();
    assert.ok(await reserveSecretConfig(db, { storageId: DEFAULT_SECRET_STORAGE_ID, coordinate: taken, managed: true, actor: 't', now: NOW }));
    for (const size of [3, 40, 300]) {
      const rows = Array.from({ length: size }, () => row(coordinate()));
      rows.splice(1, 0, row(taken));
      const inserted = await statements.reserveSecretConfigs(db, rows);
      assert.equal(inserted.size, size, `${size}: every free coordinate is claimed`);
      assert.ok(!inserted.has(rows[1]!.id), `${size}: the held coordinate is not claimed again`);
      const stored = await db.selectFrom('secret_config').select('id').where('external_coordinate', 'in', rows.map((r) => r.external_coordinate)).execute();
      assert.equal(stored.length, size + 1);
    }
    const inTransaction = Array.from({ length: 300 }, () => row(coordinate()));
    inTransaction.splice(280, 0, row(taken));
    const claimed = await db.transaction().execute((trx) => statements.reserveSecretConfigs(trx, inTransaction));
    assert.deepEqual([...claimed].sort(), inTransaction.filter((_, i) => i !== 280).map((r) => r.id).sort(), 'inside a caller\'s transaction too');
    // A statement that fails (a foreign key here) leaves none of the batch behind, even across several statements.
    const orphans = Array.from({ length: 300 }, () => ({ ...row(coordinate()), secret_storage_id: randomUUID() as string }));
    orphans[0] = row(coordinate());
    await assert.rejects(statements.reserveSecretConfigs(db, orphans), /FOREIGN KEY/);
    assert.equal((await db.selectFrom('secret_config').select('id').where('id', '=', orphans[0]!.id).execute()).length, 0);
  });

  test('a reference must point at an existing secret config (foreign key)', async () => {
    await assert.rejects(
      db.insertInto('secret_reference').values({ id: randomUUID(), secret_config_id: randomUUID(), scope_type: 'actor', scope_id: 'x', hydration_path: '$.a', created_at: NOW, updated_at: NOW }).execute(),
      /FOREIGN KEY/,
    );
  });

  test('one reference per owner and path, a missing path counting as one path', async () => {
    const configId = (await reserveSecretConfig(db, { storageId: DEFAULT_SECRET_STORAGE_ID, coordinate: 'ext/unique', managed: false, actor: 't', now: NOW }))!;
    const insert = (scopeId: string, hydrationPath: string | null) => db.insertInto('secret_reference')
      .values({ id: randomUUID(), secret_config_id: configId, scope_type: 'actor', scope_id: scopeId, hydration_path: hydrationPath, created_at: NOW, updated_at: NOW }).execute();
    await insert('u1', '$.a');
    await assert.rejects(insert('u1', '$.a'), /UNIQUE/);
    await insert('u2', '$.a');
    await insert('u1', null);
    await assert.rejects(insert('u1', null), /UNIQUE/, 'coalesce(hydration_path, \'\') makes two NULL paths collide');
  });

  test('bindReferences keeps ids per path, re-points changed paths and deletes dangling ones', async () => {
    const reserve = async (coordinate: string, managed = true) => (await reserveSecretConfig(db, { storageId: DEFAULT_SECRET_STORAGE_ID, coordinate, managed, actor: 't', now: NOW }))!;
    const [c1, c2, c3, ext] = [await reserve('lockbox_a_b_secret_c1_v1'), await reserve('lockbox_a_b_secret_c2_v1'), await reserve('lockbox_a_b_secret_c3_v1'), await reserve('team/api-key', false)];
    const first = await bindReferences(db, owner, new Map([['$.a', c1], ['$.b', c2], ['$.e', ext]]), NOW);
    assert.deepEqual(first.released, []);
    const second = await bindReferences(db, owner, new Map([['$.a', c1], ['$.b', c3]]), NOW);
    assert.equal(second.referenceIds.get('$.a'), first.referenceIds.get('$.a'));
    assert.equal(second.referenceIds.get('$.b'), first.referenceIds.get('$.b'), 'a re-pointed reference keeps its id');
    assert.deepEqual(second.released.sort(), [c2, ext].sort());
    assert.deepEqual(await usagesOf(db, c2), []);
    assert.deepEqual(await usagesOf(db, c3), [{ ownerType: 'actor', ownerId: 'a1', path: '$.b', configId: null }]);

    await settleUnreferenced(db, [...second.released, c1], 't', NOW);
    assert.equal((await findSecretConfig(db, c2))?.tombstone, 1, 'an unreferenced managed secret is tombstoned');
    assert.equal(await findSecretConfig(db, ext), undefined, 'an unreferenced external row is forgotten');
    assert.equal((await findSecretConfig(db, c1))?.tombstone, 0, 'a referenced one is left alone');
    assert.deepEqual((await listTombstoned(db)).map((r) => r.id), [c2]);
  });

  test('bumpRevision moves only from the expected revision', async () => {
    const id = randomUUID();
    await insertDocument(db, {
      id, scope_type: 'workspace', scope_id: 'w', owner_type: 'actor', owner_id: `rev-${id}`, spec: '{}', partial_config: '{}',
      revision: 1, expires_at: null, created_by: 't', updated_by: 't', created_at: NOW, updated_at: NOW,
    });
    assert.equal(await bumpRevision(db, id, 1, { updated_by: 't', updated_at: NOW }), true);
    assert.equal(await bumpRevision(db, id, 1, { updated_by: 't', updated_at: NOW }), false);
    assert.equal(await bumpRevision(db, id, 2, { updated_by: 't', updated_at: NOW }), true);
  });
});
