import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ENVELOPE_CIPHERTEXT_OFFSET, ENVELOPE_IV_OFFSET, ENVELOPE_TAG_OFFSET } from '../../src/crypto/envelope.js';
import { LockboxError } from '../../src/errors.js';
import { create, generateMasterKey, type LocalProvider } from '../../src/providers/local.js';
import { SecretValue } from '../../src/secret-value.js';
import { providerContract } from '../providers/contract.js';

const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-local-'));
  dirs.push(dir);
  return dir;
}

function openLocal(dir: string, key: string, options: Record<string, unknown> = {}): LocalProvider {
  return create('local', options, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
}

async function fresh(): Promise<{ dir: string; key: string; provider: LocalProvider; dbPath: string }> {
  const dir = tempDir();
  const key = generateMasterKey();
  return { dir, key, provider: openLocal(dir, key), dbPath: join(dir, '.lockbox', 'store.db') };
}

/** Asserts a rejection with `code`, a message matching `message`, and no `canary` anywhere in it. */
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp | string, canary?: string): Promise<LockboxError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => { caught = error; return true; });
  assert.ok(caught instanceof LockboxError, `expected a LockboxError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  if (canary) {
    assert.ok(!caught.describe().includes(canary), 'the error must not carry the value');
    assert.ok(!String(caught.stack).includes(canary), 'the stack must not carry the value');
  }
  return caught;
}

function rawDb(dbPath: string): Database.Database {
  return new Database(dbPath);
}

providerContract('local', async (seed) => {
  const { dir, provider } = await fresh();
  for (const [name, value] of Object.entries(seed)) await provider.set({ name }, new SecretValue(value));
  return { provider, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('local store: master key on open', () => {
  it('refuses a wrong master key with MASTER_KEY_INVALID before reading anything', async () => {
    const { dir, provider } = await fresh();
    await provider.set({ name: 'db/password' }, new SecretValue('canary-wrong-key-1'));
    await provider.dispose();
    const wrongKey = generateMasterKey();
    const error = await rejectsWith(openLocal(dir, wrongKey).get({ name: 'db/password' }), 'MASTER_KEY_INVALID',
      'cannot open the store with this master key', 'canary-wrong-key-1');
    assert.equal(error.hint, 'set LOCKBOX_MASTER_KEY or master_key_file to the key this store was created with');
    assert.ok(!error.describe().includes(wrongKey));
    const health = await openLocal(dir, wrongKey).health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /cannot open the store with this master key/);
  });

  it('reports a malformed key with what is wrong, never the key', async () => {
    const notBase64 = 'canary-key-text!!';
    await rejectsWith(openLocal(tempDir(), notBase64).get({ name: 'x' }), 'MASTER_KEY_INVALID',
      'the master key in LOCKBOX_MASTER_KEY is not valid base64', notBase64);
    const short = Buffer.alloc(16, 7).toString('base64');
    await rejectsWith(openLocal(tempDir(), short).get({ name: 'x' }), 'MASTER_KEY_INVALID',
      'the master key in LOCKBOX_MASTER_KEY decodes to 16 bytes; it must be exactly 32', short);
  });

  it('says MASTER_KEY_MISSING with a hint when there is no key, and creates no store', async () => {
    const dir = tempDir();
    const provider = create('local', {}, { baseDir: dir, env: {} });
    const error = await rejectsWith(provider.get({ name: 'x' }), 'MASTER_KEY_MISSING', /LOCKBOX_MASTER_KEY is not set and the key file .*master\.key does not exist/);
    assert.match(error.hint ?? '', /lockbox init/);
    assert.match(error.hint ?? '', /LOCKBOX_MASTER_KEY/);
    assert.throws(() => statSync(join(dir, '.lockbox', 'store.db')), /ENOENT/);
  });

  it('reads the key from master_key_file when the variable is unset', async () => {
    const dir = tempDir();
    const key = generateMasterKey();
    writeFileSync(join(dir, 'k.key'), `${key}\n`, { mode: 0o600 });
    const provider = create('local', { master_key_file: 'k.key', path: 'data/s.db' }, { baseDir: dir, env: {} });
    await provider.set({ name: 'a' }, new SecretValue('from-file'));
    await provider.dispose();
    assert.equal((await openLocal(dir, key, { path: 'data/s.db' }).get({ name: 'a' }))?.value.reveal(), 'from-file');
  });
});

describe('local store: tampering', () => {
  async function seeded() {
    const store = await fresh();
    await store.provider.set({ name: 'db/password' }, new SecretValue('canary-tamper-pw'));
    await store.provider.set({ name: 'db/user' }, new SecretValue('canary-tamper-user'));
    await store.provider.dispose();
    return store;
  }

  function flipByte(dbPath: string, name: string, offset: number): void {
    const db = rawDb(dbPath);
    const envelope = db.prepare('SELECT envelope FROM versions WHERE name = ?').pluck().get(name) as Buffer;
    envelope[offset] = (envelope[offset] as number) ^ 0x01;
    db.prepare('UPDATE versions SET envelope = ? WHERE name = ?').run(envelope, name);
    db.close();
  }

  for (const [part, offset] of [['wrapped key', 20], ['iv', ENVELOPE_IV_OFFSET + 3], ['tag', ENVELOPE_TAG_OFFSET + 5], ['ciphertext', ENVELOPE_CIPHERTEXT_OFFSET + 2]] as const) {
    it(`a changed byte of the ${part} fails that secret only, with SECRET_TAMPERED`, async () => {
      const { dir, key, dbPath } = await seeded();
      flipByte(dbPath, 'db/password', offset);
      const provider = openLocal(dir, key);
      await rejectsWith(provider.get({ name: 'db/password' }), 'SECRET_TAMPERED', /^secret db\/password version 1 failed authentication/, 'canary-tamper-pw');
      assert.equal((await provider.get({ name: 'db/user' }))?.value.reveal(), 'canary-tamper-user');
    });
  }

  it('a ciphertext copied to another name fails to open', async () => {
    const { dir, key, dbPath } = await seeded();
    const db = rawDb(dbPath);
    db.prepare("UPDATE versions SET envelope = (SELECT envelope FROM versions WHERE name = 'db/password') WHERE name = 'db/user'").run();
    db.close();
    const provider = openLocal(dir, key);
    await rejectsWith(provider.get({ name: 'db/user' }), 'SECRET_TAMPERED', /^secret db\/user version 1 failed authentication/, 'canary-tamper-pw');
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-tamper-pw');
  });

  it('a row moved to another name or version fails to open', async () => {
    const { dir, key, dbPath } = await seeded();
    const db = rawDb(dbPath);
    db.prepare("UPDATE versions SET name = 'db/stolen' WHERE name = 'db/password'").run();
    db.prepare("UPDATE versions SET version = 7 WHERE name = 'db/user'").run();
    db.close();
    const provider = openLocal(dir, key);
    await rejectsWith(provider.get({ name: 'db/stolen' }), 'SECRET_TAMPERED', /^secret db\/stolen version 1 failed authentication/);
    await rejectsWith(provider.get({ name: 'db/user', version: '7' }), 'SECRET_TAMPERED', /^secret db\/user version 7 failed authentication/);
  });
});

describe('local store: a batch write shares one data key', () => {
  async function batch() {
    const store = await fresh();
    await store.provider.setMany([
      { ref: { name: 'batch/a' }, value: new SecretValue('canary-batch-a') },
      { ref: { name: 'batch/b' }, value: new SecretValue('canary-batch-b') },
      { ref: { name: 'batch/c', scope: 'acme' }, value: new SecretValue('canary-batch-c') },
    ]);
    await store.provider.set({ name: 'single' }, new SecretValue('canary-single'));
    await store.provider.dispose();
    return store;
  }
  const wrappedKeys = (dbPath: string) => {
    const db = rawDb(dbPath);
    const rows = db.prepare('SELECT name, envelope FROM versions ORDER BY name').raw().all() as Array<[string, Buffer]>;
    db.close();
    return new Map(rows.map(([name, envelope]) => [name, envelope.subarray(0, 60).toString('hex')]));
  };

  it('one wrapped data key for the versions of a setMany; a single set keeps its own; each reads back', async () => {
    const { dir, key, dbPath } = await batch();
    const keys = wrappedKeys(dbPath);
    assert.equal(keys.get('batch/a'), keys.get('batch/b'));
    assert.equal(keys.get('batch/a'), keys.get('batch/c'));
    assert.notEqual(keys.get('single'), keys.get('batch/a'));
    for (const cacheSize of [1024, 0]) {
      const provider = openLocal(dir, key, { data_key_cache_size: cacheSize });
      assert.equal((await provider.get({ name: 'batch/a' }))?.value.reveal(), 'canary-batch-a');
      assert.equal((await provider.get({ name: 'batch/b' }))?.value.reveal(), 'canary-batch-b');
      assert.equal((await provider.get({ name: 'batch/c', scope: 'acme' }))?.value.reveal(), 'canary-batch-c');
      assert.equal((await provider.get({ name: 'single' }))?.value.reveal(), 'canary-single');
      await provider.dispose();
    }
  });

  it('a value moved to another version of the same batch still fails to open (its AAD names its version)', async () => {
    const { dir, key, dbPath } = await batch();
    const db = rawDb(dbPath);
    db.prepare("UPDATE versions SET envelope = (SELECT envelope FROM versions WHERE name = 'batch/a') WHERE name = 'batch/b'").run();
    db.close();
    const provider = openLocal(dir, key);
    await rejectsWith(provider.get({ name: 'batch/b' }), 'SECRET_TAMPERED', /^secret batch\/b version 1 failed authentication/, 'canary-batch-a');
    assert.equal((await provider.get({ name: 'batch/a' }))?.value.reveal(), 'canary-batch-a');
    await provider.dispose();
  });

  it('a changed byte of a shared wrapped key fails that version with SECRET_TAMPERED, not the others', async () => {
    const { dir, key, dbPath } = await batch();
    const db = rawDb(dbPath);
    const envelope = db.prepare("SELECT envelope FROM versions WHERE name = 'batch/b'").pluck().get() as Buffer;
    envelope[20] = (envelope[20] as number) ^ 0x01;
    db.prepare("UPDATE versions SET envelope = ? WHERE name = 'batch/b'").run(envelope);
    db.close();
    const provider = openLocal(dir, key, { data_key_cache_size: 0 });
    await rejectsWith(provider.get({ name: 'batch/b' }), 'SECRET_TAMPERED', /^secret batch\/b version 1 failed authentication: its wrapped data key was changed or moved/, 'canary-batch-b');
    assert.equal((await provider.get({ name: 'batch/a' }))?.value.reveal(), 'canary-batch-a');
    await provider.dispose();
  });
});

describe('local store: files on disk', () => {
  it('creates the db, -wal and -shm files with mode 0600 whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      const { provider, dbPath } = await fresh();
      await provider.set({ name: 'a' }, new SecretValue('v'));
      for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
        assert.equal(statSync(file).mode & 0o777, 0o600, `${file} must be 0600`);
      }
      await provider.dispose();
    } finally {
      process.umask(previous);
    }
  });

  it('never writes a plaintext value to the db or WAL files', async () => {
    const { provider, dbPath } = await fresh();
    const canaries = ['canary-plain-7d1e9f', 'canary-json-{"k":"v"}', `canary-long-${'x'.repeat(3000)}`];
    for (const [i, value] of canaries.entries()) await provider.set({ name: `leak/${i}` }, new SecretValue(value), { tags: { team: 'ops' } });
    for (const file of [dbPath, `${dbPath}-wal`]) {
      const bytes = readFileSync(file);
      for (const value of canaries) assert.equal(bytes.indexOf(Buffer.from(value.slice(0, 19))), -1, `${file} holds a plaintext`);
    }
    await provider.dispose();
    const bytes = readFileSync(dbPath);
    for (const value of canaries) assert.equal(bytes.indexOf(Buffer.from(value.slice(0, 19))), -1);
  });

  it('reports a file that is not a lockbox store as STORE_ERROR', async () => {
    const dir = tempDir();
    const db = rawDb(join(dir, 'other.db'));
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY)');
    db.close();
    await rejectsWith(openLocal(dir, generateMasterKey(), { path: 'other.db' }).get({ name: 'a' }), 'STORE_ERROR', /not a lockbox store/);
  });
});

describe('local store: versions, labels, delete, expiry', () => {
  it('labels current/previous/pending, and pending does not touch current', async () => {
    const { provider } = await fresh();
    await provider.set({ name: 'api' }, new SecretValue('one'));
    await provider.set({ name: 'api' }, new SecretValue('two'), { tags: { rotated: 'yes' } });
    const staged = await provider.set({ name: 'api' }, new SecretValue('three'), { pending: true });
    assert.deepEqual([staged.version, staged.labels], ['3', ['pending']]);
    const read = async (version?: string) => (await provider.get({ name: 'api', version }))?.value.reveal();
    assert.deepEqual([await read(), await read('previous'), await read('pending'), await read('1')], ['two', 'one', 'three', 'one']);
    const current = await provider.get({ name: 'api' });
    assert.deepEqual([current?.metadata.version, current?.metadata.labels, current?.metadata.tags], ['2', ['current'], { rotated: 'yes' }]);
    assert.deepEqual((await provider.get({ name: 'api', version: '3' }))?.metadata.labels, ['pending']);
    await provider.set({ name: 'api' }, new SecretValue('four'));
    const versions = await provider.versions({ name: 'api' });
    assert.deepEqual(versions.map((v) => [v.version, v.labels]), [['1', []], ['2', ['previous']], ['3', ['pending']], ['4', ['current']]]);
    assert.deepEqual((await provider.list()).map((l) => [l.name, l.version]), [['api', '4']]);
    await rejectsWith(provider.get({ name: 'api', version: 'latest' }), 'INVALID_INPUT', /invalid version "latest"/);
    assert.equal(await provider.get({ name: 'api', version: '99' }), null);
  });

  it('soft delete hides, undelete restores, destroy erases one version or all', async () => {
    const { provider, dbPath } = await fresh();
    await provider.set({ name: 'svc' }, new SecretValue('v1'));
    await provider.set({ name: 'svc' }, new SecretValue('v2'));
    await provider.delete({ name: 'svc' });
    assert.equal(await provider.get({ name: 'svc' }), null);
    assert.deepEqual(await provider.list(), []);
    assert.ok((await provider.versions({ name: 'svc' })).every((v) => v.deletedAt instanceof Date));
    await provider.undelete({ name: 'svc' });
    assert.equal((await provider.get({ name: 'svc' }))?.value.reveal(), 'v2');

    await provider.delete({ name: 'svc' }, { mode: 'destroy', version: '1' });
    assert.equal(await provider.get({ name: 'svc', version: '1' }), null);
    assert.equal((await provider.get({ name: 'svc' }))?.value.reveal(), 'v2');
    assert.deepEqual((await provider.versions({ name: 'svc' })).map((v) => v.destroyed), [true, false]);
    const db = rawDb(dbPath);
    assert.equal(db.prepare("SELECT envelope FROM versions WHERE name = 'svc' AND version = 1").pluck().get(), null);

    await provider.delete({ name: 'svc' }, { mode: 'destroy' });
    assert.deepEqual(await provider.versions({ name: 'svc' }), []);
    assert.equal(db.prepare("SELECT count(*) FROM versions WHERE name = 'svc'").pluck().get(), 0);
    db.close();
    const missing = await rejectsWith(provider.delete({ name: 'svc' }), 'NOT_FOUND', 'secret svc not found');
    assert.equal(missing.provider, 'local');
    await rejectsWith(provider.undelete({ name: 'nope', scope: 'acme' }), 'NOT_FOUND', 'secret nope (tenant acme) not found');
  });

  it('hides expired versions at once and purges their ciphertext at open and on purgeExpired', async () => {
    const { dir, key, provider, dbPath } = await fresh();
    const later = new Date(Date.now() + 3_600_000);
    await provider.set({ name: 'temp/token' }, new SecretValue('canary-ephemeral'), { expiresAt: later });
    await provider.set({ name: 'temp/old' }, new SecretValue('gone'), { expiresAt: new Date(Date.now() - 1000) });
    await provider.set({ name: 'keep' }, new SecretValue('kept'));
    assert.equal((await provider.get({ name: 'temp/token' }))?.metadata.expiresAt?.getTime(), later.getTime());
    assert.equal(await provider.get({ name: 'temp/old' }), null);
    assert.deepEqual((await provider.list()).map((l) => l.name), ['keep', 'temp/token']);
    const db = rawDb(dbPath);
    const erased = db.prepare('SELECT envelope IS NULL AS erased, destroyed_at IS NOT NULL AS destroyed FROM versions WHERE name = ?');
    assert.deepEqual(erased.get('temp/old'), { erased: 0, destroyed: 0 }, 'expired but not yet purged');
    await provider.dispose();

    const reopened = openLocal(dir, key);
    assert.equal((await reopened.get({ name: 'keep' }))?.value.reveal(), 'kept');
    assert.deepEqual(erased.get('temp/old'), { erased: 1, destroyed: 1 }, 'purged when the store opened');
    assert.deepEqual(erased.get('temp/token'), { erased: 0, destroyed: 0 });
    assert.equal((await reopened.versions({ name: 'temp/old' }))[0]?.destroyed, true);
    assert.equal(await reopened.purgeExpired(), 0);

    await reopened.set({ name: 'temp/new' }, new SecretValue('x'), { expiresAt: new Date(Date.now() - 1) });
    assert.equal(await reopened.purgeExpired(), 1);
    assert.deepEqual(erased.get('temp/new'), { erased: 1, destroyed: 1 });
    db.close();
  });

  it('reads correctly with the data-key cache disabled', async () => {
    const dir = tempDir();
    const provider = openLocal(dir, generateMasterKey(), { data_key_cache_size: 0 });
    await provider.set({ name: 'a', scope: 'acme' }, new SecretValue('tenant-value'));
    assert.equal((await provider.get({ name: 'a', scope: 'acme' }))?.value.reveal(), 'tenant-value');
    assert.equal((await provider.get({ name: 'a', scope: 'acme' }))?.metadata.scope, 'acme');
  });

  it('rejects unknown options (strict schema)', () => {
    assert.throws(() => create('local', { pathh: 'x' } as never), /Unrecognized key/);
  });
});
