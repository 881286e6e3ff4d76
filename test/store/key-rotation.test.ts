import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { LockboxError } from '../../src/errors.js';
import { resolveKeySource } from '../../src/crypto/keyring-sources.js';
import { createKeyFile, generateMasterKey, keyIdOf } from '../../src/crypto/master-key.js';
import { create, optionsSchema, type LocalOptions } from '../../src/providers/local.js';
import { SecretValue } from '../../src/secret-value.js';
import { masterKeyStatus } from '../../src/store/key-status.js';
import { rotateMasterKey, type RotateMasterKeyOptions } from '../../src/store/master-key-rotation.js';
import { ROTATION_STEPS } from '../../src/store/rewrap.js';
import { EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY } from '../emulators/aws-json.js';
import { startKmsEmulator, type KmsEmulator } from '../emulators/aws-kms.js';

process.env.AWS_ACCESS_KEY_ID = EMULATOR_ACCESS_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY = EMULATOR_SECRET_ACCESS_KEY;

const CHILD = fileURLToPath(new URL('./key-rotation-child.ts', import.meta.url));
const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

interface Seeded { dir: string; options: LocalOptions; versions: Array<{ name: string; scope?: string; version: string; value: string }> }
type Row = { scope: string; name: string; version: number; key_id: string | null; envelope: Buffer | null };

const storeOf = (dir: string) => join(dir, '.lockbox', 'store.db');
const keyFileOf = (dir: string) => join(dir, '.lockbox', 'master.key');
const fileKeyId = (dir: string) => keyIdOf(Buffer.from(readFileSync(keyFileOf(dir), 'utf8').trim(), 'base64'));

/** A store with 27 versions holding a value (some per tenant, one pending, one secret with two versions, three written in one batch) and one destroyed version. */
async function seed(options: LocalOptions = {}, env: Record<string, string> = {}): Promise<Seeded> {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-rotate-'));
  dirs.push(dir);
  if (options.master_key === undefined) createKeyFile(keyFileOf(dir));
  const provider = create('local', options, { baseDir: dir, env });
  const versions: Seeded['versions'] = [];
  for (let i = 0; i < 20; i++) {
    const scope = i % 5 === 0 ? 'acme' : undefined;
    const meta = await provider.set({ name: `app/secret-${i}`, scope }, new SecretValue(`canary-rotate-${i}`));
    versions.push({ name: `app/secret-${i}`, scope, version: meta.version, value: `canary-rotate-${i}` });
  }
  for (const value of ['canary-multi-1', 'canary-multi-2']) {
    const meta = await provider.set({ name: 'multi' }, new SecretValue(value));
    versions.push({ name: 'multi', version: meta.version, value });
  }
  // Written in one batch: these versions share one data key (re-wrapped per row by a rotation).
  const batch = await provider.setMany(['a', 'b', 'c'].map((n) => ({ ref: { name: `batch/${n}` }, value: new SecretValue(`canary-batch-${n}`) })));
  batch.forEach((meta, i) => versions.push({ name: meta.name, version: meta.version, value: `canary-batch-${'abc'[i]}` }));
  const pending = await provider.set({ name: 'staged' }, new SecretValue('canary-pending'), { pending: true });
  versions.push({ name: 'staged', version: pending.version, value: 'canary-pending' });
  await provider.set({ name: 'gone' }, new SecretValue('canary-gone-1'));
  const kept = await provider.set({ name: 'gone' }, new SecretValue('canary-gone-2'));
  versions.push({ name: 'gone', version: kept.version, value: 'canary-gone-2' });
  await provider.delete({ name: 'gone' }, { mode: 'destroy', version: '1' });
  await provider.dispose();
  return { dir, options, versions };
}

/** Every seeded version reads back through a local provider with these options and environment. */
async function assertAllReadable(seeded: Seeded, env: Record<string, string | undefined> = {}, options = seeded.options): Promise<void> {
  const provider = create('local', options, { baseDir: seeded.dir, env });
  try {
    for (const { name, scope, version, value } of seeded.versions) {
      const record = await provider.get({ name, scope, version });
      assert.equal(record?.value.reveal(), value, `${name}@${version} does not read back`);
    }
  } finally {
    await provider.dispose();
  }
}

function rows(dir: string): Row[] {
  const db = new Database(storeOf(dir), { readonly: true });
  try {
    return db.prepare('SELECT scope, name, version, key_id, envelope FROM versions ORDER BY scope, name, version').all() as Row[];
  } finally {
    db.close();
  }
}

function rotate(seeded: Seeded, extra: Partial<RotateMasterKeyOptions> = {}, env: Record<string, string | undefined> = {}) {
  return rotateMasterKey({ storePath: storeOf(seeded.dir), source: resolveKeySource(optionsSchema.parse(seeded.options), seeded.dir), env, ...extra });
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<LockboxError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof LockboxError, `expected ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, message);
  return error;
}

/** Runs the child rotation with LOCKBOX_TEST_KILL_AT=step (batches of 10 rows). */
function rotateInChild(dir: string, step: string, env: Record<string, string> = {}): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, LOCKBOX_TEST_KILL_AT: step, ...env };
  delete childEnv.LOCKBOX_MASTER_KEY;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, '10'], { env: childEnv as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (_code, signal) => { clearTimeout(guard); resolve({ signal, stdout, stderr }); });
  });
}

describe('keys rotate (key file source)', () => {
  it('re-wraps every data key under a new key file key, leaving the sealed values byte for byte', async () => {
    const seeded = await seed();
    const oldKey = readFileSync(keyFileOf(seeded.dir), 'utf8').trim();
    const before = rows(seeded.dir);
    const result = await rotate(seeded);
    const after = rows(seeded.dir);
    const live = before.filter((r) => r.envelope !== null);
    assert.deepEqual({ ...result, toKeyId: undefined }, { fromKeyId: keyIdOf(Buffer.from(oldKey, 'base64')), toKeyId: undefined, rewrapped: live.length, resumed: false, installedAt: keyFileOf(seeded.dir) });
    assert.equal(result.toKeyId, fileKeyId(seeded.dir), 'the key file now holds the new key');
    assert.equal(statSync(keyFileOf(seeded.dir)).mode & 0o777, 0o600);
    assert.ok(!existsSync(`${keyFileOf(seeded.dir)}.next`), 'no staged key file is left behind');
    for (const [i, row] of before.entries()) {
      const now = after[i]!;
      if (row.envelope === null) {
        assert.equal(now.envelope, null, 'an erased version stays erased');
        continue;
      }
      assert.equal(now.key_id, result.toKeyId);
      assert.deepEqual(now.envelope!.subarray(60), row.envelope.subarray(60), `${row.name}@${row.version}: iv, tag and ciphertext are untouched`);
      assert.notDeepEqual(now.envelope!.subarray(0, 60), row.envelope.subarray(0, 60), 'the wrapped data key changed');
    }
    await assertAllReadable(seeded);
    await rejectsWith(create('local', {}, { baseDir: seeded.dir, env: { LOCKBOX_MASTER_KEY: oldKey } }).get({ name: 'multi' }),
      'MASTER_KEY_INVALID', /^cannot open the store with this master key$/);
    const status = await masterKeyStatus({ storePath: storeOf(seeded.dir), source: resolveKeySource(optionsSchema.parse({}), seeded.dir), env: {} });
    assert.deepEqual(status.keys, [{ keyId: result.toKeyId, versions: live.length, active: true }]);
    assert.equal(status.erasedVersions, 1);
    assert.equal(status.rotation, undefined);
    assert.deepEqual(status.configuredKey, { opens: true, keyId: result.toKeyId });
  });

  it('takes the new key from --new-key-file, and refuses the current key or a half-given one', async () => {
    const seeded = await seed();
    const newKey = generateMasterKey();
    writeFileSync(join(seeded.dir, 'next.key'), newKey);
    await rejectsWith(rotate(seeded, { newKeyFile: keyFileOf(seeded.dir) }), 'INVALID_ARGUMENT', /^the new master key is the current one \(key id [0-9a-f]{16}\)$/);
    await rejectsWith(rotate(seeded, { newKeyFile: join(seeded.dir, 'next.key'), newKeyEnv: 'X' }), 'INVALID_ARGUMENT', /^give the new key with --new-key-file or --new-key-env, not both$/);
    await rejectsWith(rotate(seeded, { newKeyFile: join(seeded.dir, 'missing.key') }), 'MASTER_KEY_MISSING', /^the new master key file .*missing\.key does not exist$/);
    const result = await rotate(seeded, { newKeyFile: join(seeded.dir, 'next.key') });
    assert.equal(result.toKeyId, keyIdOf(Buffer.from(newKey, 'base64')));
    assert.equal(readFileSync(keyFileOf(seeded.dir), 'utf8').trim(), newKey);
    await assertAllReadable(seeded, {}, {});
  });

  it('a provider that had the store open before the rotation keeps reading and writing after it', async () => {
    const seeded = await seed();
    const provider = create('local', {}, { baseDir: seeded.dir, env: {} });
    assert.equal((await provider.get({ name: 'multi' }))?.value.reveal(), 'canary-multi-2');
    const result = await rotate(seeded);
    assert.equal((await provider.get({ name: 'multi' }))?.value.reveal(), 'canary-multi-2', 'the cached data key still opens the value');
    assert.equal((await provider.get({ name: 'app/secret-1' }))?.value.reveal(), 'canary-rotate-1', 'a re-wrapped row: the provider reloads its keyring');
    const written = await provider.set({ name: 'after/rotation' }, new SecretValue('canary-after'));
    await provider.dispose();
    const row = rows(seeded.dir).find((r) => r.name === 'after/rotation');
    assert.equal(row?.key_id, result.toKeyId, 'the write was sealed under the new key, not the stale one');
    seeded.versions.push({ name: 'after/rotation', version: written.version, value: 'canary-after' });
    await assertAllReadable(seeded);
  });

  it('a provider writing on a worker thread (write_thread: worker) reloads its key after a rotation too', async () => {
    const seeded = await seed();
    const provider = create('local', { write_thread: 'worker' }, { baseDir: seeded.dir, env: {} });
    const before = await provider.set({ name: 'thread/before' }, new SecretValue('canary-thread-before'));
    const result = await rotate(seeded);
    const during = await provider.set({ name: 'thread/after' }, new SecretValue('canary-thread-after'));
    const later = await provider.setMany([{ ref: { name: 'thread/later' }, value: new SecretValue('canary-thread-later') }]);
    await provider.dispose();
    const byName = new Map(rows(seeded.dir).map((r) => [r.name, r.key_id]));
    assert.equal(byName.get('thread/after'), result.toKeyId, 'the first write after the rotation is sealed under the new key');
    assert.equal(byName.get('thread/later'), result.toKeyId, 'so is the next one, from the restarted thread');
    seeded.versions.push(
      { name: 'thread/before', version: before.version, value: 'canary-thread-before' },
      { name: 'thread/after', version: during.version, value: 'canary-thread-after' },
      { name: 'thread/later', version: later[0]!.version, value: 'canary-thread-later' },
    );
    await assertAllReadable(seeded);
  });

  it('a version whose data key fails authentication stops the rotation with KEY_ROTATION_FAILED; destroying it lets it finish', async () => {
    const seeded = await seed();
    const oldKey = readFileSync(keyFileOf(seeded.dir), 'utf8').trim();
    const db = new Database(storeOf(seeded.dir));
    const target = db.prepare("SELECT envelope FROM versions WHERE name = 'app/secret-7'").pluck().get() as Buffer;
    target[20]! ^= 1;
    db.prepare("UPDATE versions SET envelope = ? WHERE name = 'app/secret-7'").run(target);
    db.close();
    const error = await rejectsWith(rotate(seeded), 'KEY_ROTATION_FAILED', /^key rotation stopped: the data key of secret app\/secret-7 version 1 failed authentication \(changed or moved\)$/);
    assert.match(error.hint ?? '', /every secret stays readable with the old or the new key/);
    seeded.versions = seeded.versions.filter((v) => v.name !== 'app/secret-7');
    await assertAllReadable(seeded, { LOCKBOX_MASTER_KEY: oldKey }, {});
    await assertAllReadable(seeded);
    const provider = create('local', {}, { baseDir: seeded.dir, env: {} });
    await provider.delete({ name: 'app/secret-7' }, { mode: 'destroy', version: '1' });
    await provider.dispose();
    const result = await rotate(seeded);
    assert.equal(result.resumed, true);
    assert.deepEqual(new Set(rows(seeded.dir).filter((r) => r.envelope).map((r) => r.key_id)), new Set([result.toKeyId]));
    await assertAllReadable(seeded);
  });
});

describe('a row wrapped by a key the store does not know', () => {
  it('reads as SECRET_TAMPERED (no keyring reload) and stops a rotation with KEY_ROTATION_FAILED naming it', async () => {
    const seeded = await seed();
    const db = new Database(storeOf(seeded.dir));
    db.prepare("UPDATE versions SET key_id = 'ffffffffffffffff' WHERE name = 'multi' AND version = 1").run();
    db.close();
    const provider = create('local', {}, { baseDir: seeded.dir, env: {} });
    await rejectsWith(provider.get({ name: 'multi', version: '1' }), 'SECRET_TAMPERED',
      /^secret multi version 1 failed authentication: its data key is wrapped by another master key \(key id ffffffffffffffff\)$/);
    assert.equal((await provider.get({ name: 'multi' }))?.value.reveal(), 'canary-multi-2', 'the other versions stay readable');
    await provider.dispose();
    await rejectsWith(rotate(seeded), 'KEY_ROTATION_FAILED',
      /^key rotation stopped: secret multi version 1 is wrapped by master key id ffffffffffffffff, which is neither the old nor the new key$/);
  });
});

describe('keys rotate (environment variable source)', () => {
  it('needs the new key given; re-wraps under it and says where to put it', async () => {
    const oldKey = generateMasterKey();
    const seeded = await seed({ master_key: { source: 'env', variable: 'APP_KEY' } }, { APP_KEY: oldKey });
    const dir = seeded.dir;
    await rejectsWith(rotate(seeded, {}, { APP_KEY: oldKey }), 'INVALID_ARGUMENT', /^the master key comes from the environment variable APP_KEY, which lockbox cannot write a new key to$/);
    const newKey = generateMasterKey();
    const result = await rotate(seeded, { newKeyEnv: 'NEXT_KEY' }, { APP_KEY: oldKey, NEXT_KEY: newKey });
    assert.equal(result.installedAt, undefined);
    assert.equal(result.nextStep, `put the value of NEXT_KEY (key id ${keyIdOf(Buffer.from(newKey, 'base64'))}) in the environment variable APP_KEY: the old key no longer opens the store`);
    await assertAllReadable(seeded, { APP_KEY: newKey });
    await rejectsWith(create('local', seeded.options, { baseDir: dir, env: { APP_KEY: oldKey } }).get({ name: 'app/secret-1' }), 'MASTER_KEY_INVALID', /^cannot open the store with this master key$/);
  });
});

describe('keys rotate: a SIGKILL at each step leaves every secret readable, and the next run finishes', () => {
  for (const step of ROTATION_STEPS) {
    it(`killed at ${step}`, { timeout: 120_000 }, async () => {
      const seeded = await seed();
      const oldKey = readFileSync(keyFileOf(seeded.dir), 'utf8').trim();
      const oldKeyId = fileKeyId(seeded.dir);
      const child = await rotateInChild(seeded.dir, step);
      assert.equal(child.signal, 'SIGKILL', `the child was killed at ${step}: ${child.stderr}`);
      await assertAllReadable(seeded);
      const keyIds = new Set(rows(seeded.dir).filter((r) => r.envelope).map((r) => r.key_id));
      assert.ok(keyIds.size <= 2 && keyIds.has(oldKeyId) === !['key-switched', 'key-file-staged', 'key-installed', 'rotation-cleared'].includes(step));
      if (step !== 'rotation-cleared') await assertAllReadable(seeded, { LOCKBOX_MASTER_KEY: oldKey }, {});
      if (step === 'batch-committed') {
        const status = await masterKeyStatus({ storePath: storeOf(seeded.dir), source: resolveKeySource(optionsSchema.parse({}), seeded.dir), env: {} });
        assert.equal(status.rotation?.fromKeyId, oldKeyId);
        assert.equal(status.rotation?.versionsLeft, 27 - 10);
        await rejectsWith(rotate(seeded, { newKeyEnv: 'K' }, { K: generateMasterKey() }), 'INVALID_ARGUMENT',
          new RegExp(`^a rotation to master key id ${status.rotation?.toKeyId} is in progress; the new key given has id [0-9a-f]{16}$`));
      }
      const finished = await rotate(seeded);
      assert.equal(finished.resumed, step !== 'rotation-cleared');
      assert.equal(fileKeyId(seeded.dir), finished.toKeyId);
      assert.deepEqual(new Set(rows(seeded.dir).filter((r) => r.envelope).map((r) => r.key_id)), new Set([finished.toKeyId]));
      await assertAllReadable(seeded);
      await rejectsWith(create('local', {}, { baseDir: seeded.dir, env: { LOCKBOX_MASTER_KEY: oldKey } }).get({ name: 'multi' }), 'MASTER_KEY_INVALID', /cannot open the store/);
    });
  }
});

describe('keys rotate (AWS KMS source, emulator)', () => {
  let kms: KmsEmulator;
  let keyA: { keyId: string };
  let keyB: { keyId: string };
  before(async () => {
    kms = await startKmsEmulator();
    keyA = kms.createKey({ alias: 'alias/lockbox' });
    keyB = kms.createKey();
  });
  after(() => kms.close());
  const kmsOptions = (kmsKeyId: string): LocalOptions => ({ master_key: { source: 'kms', kms_key_id: kmsKeyId, endpoint: kms.url, region: 'us-east-1', retries: 0 } });
  const wrappedFile = (dir: string) => join(dir, '.lockbox', 'master.key.kms');

  it('makes a new master key with GenerateDataKey, replaces the wrapped key file and re-wraps the rows', async () => {
    const seeded = await seed(kmsOptions('alias/lockbox'));
    const oldBlob = readFileSync(wrappedFile(seeded.dir), 'utf8');
    const result = await rotate(seeded);
    assert.equal(result.installedAt, wrappedFile(seeded.dir));
    assert.equal(result.nextStep, undefined);
    assert.notEqual(readFileSync(wrappedFile(seeded.dir), 'utf8'), oldBlob);
    await assertAllReadable(seeded);
    writeFileSync(wrappedFile(seeded.dir), oldBlob);
    await rejectsWith(create('local', seeded.options, { baseDir: seeded.dir, env: {} }).get({ name: 'multi' }), 'MASTER_KEY_INVALID', /^cannot open the store with this master key$/);
  });

  it('--kms-key-id moves the master key under another KMS key and says to update kms_key_id', async () => {
    const seeded = await seed(kmsOptions(keyA.keyId));
    const result = await rotate(seeded, { kmsKeyId: keyB.keyId });
    assert.match(result.nextStep ?? '', new RegExp(`^set master_key.kms_key_id to "${keyB.keyId}"`));
    await assertAllReadable(seeded, {}, kmsOptions(keyB.keyId));
    await rejectsWith(create('local', seeded.options, { baseDir: seeded.dir, env: {} }).get({ name: 'multi' }), 'KMS_ERROR',
      new RegExp(`^AWS KMS Decrypt with key "${keyA.keyId}" failed: IncorrectKeyException`));
    await rejectsWith(rotate({ ...seeded, options: {} }, { kmsKeyId: keyB.keyId }), 'INVALID_ARGUMENT', /^--kms-key-id applies only when the master key comes from AWS KMS$/);
  });

  for (const step of ['rotation-recorded', 'batch-committed', 'key-file-staged', 'key-installed'] as const) {
    it(`a SIGKILL at ${step} leaves every secret readable; the next run finishes`, { timeout: 120_000 }, async () => {
      const seeded = await seed(kmsOptions(keyA.keyId));
      const child = await rotateInChild(seeded.dir, step, { KMS_ENDPOINT: kms.url, KMS_KEY_ID: keyA.keyId });
      assert.equal(child.signal, 'SIGKILL', child.stderr);
      await assertAllReadable(seeded);
      const finished = await rotate(seeded);
      assert.equal(finished.resumed, true);
      assert.deepEqual(new Set(rows(seeded.dir).filter((r) => r.envelope).map((r) => r.key_id)), new Set([finished.toKeyId]));
      await assertAllReadable(seeded);
    });
  }
});
