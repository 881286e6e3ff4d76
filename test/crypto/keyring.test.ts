import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { splitCommandLine } from '../../src/crypto/keyring-command.js';
import { loadKey, masterKeySourceSchema, resolveKeySource, type KeySource } from '../../src/crypto/keyring-sources.js';
import { generateMasterKey, keyIdOf, type MasterKey } from '../../src/crypto/master-key.js';
import { create, optionsSchema } from '../../src/providers/local.js';
import { SecretValue } from '../../src/secret-value.js';
import { EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY } from '../emulators/aws-json.js';
import { startKmsEmulator, type KmsEmulator } from '../emulators/aws-kms.js';

// The SDK's default credential chain reads these (the emulator accepts this access key id).
process.env.AWS_ACCESS_KEY_ID = EMULATOR_ACCESS_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY = EMULATOR_SECRET_ACCESS_KEY;

const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-keyring-'));
  dirs.push(dir);
  return dir;
}

function masterKey(): MasterKey {
  const key = randomBytes(32);
  return { key, keyId: keyIdOf(key), source: 'test' };
}

/** Resolves a `master_key` option as the local provider would. */
function source(spec: unknown, baseDir = tempDir()): KeySource {
  return resolveKeySource({ ...optionsSchema.parse({ master_key: spec }) }, baseDir);
}

function load(keySource: KeySource, env: Record<string, string | undefined> = {}, storePath = join(tempDir(), 'store.db')) {
  return loadKey(keySource, { env, storePath, providerId: 'local' });
}

/** Asserts the promise rejects with a LockboxError of `code` whose message matches, with no `secrets` in message, hint or stack. */
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp, ...secrets: string[]): Promise<LockboxError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof LockboxError, `expected a LockboxError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  for (const secret of secrets) {
    assert.ok(!caught.describe().includes(secret), `the error leaks ${secret}: ${caught.describe()}`);
    assert.ok(!String(caught.stack).includes(secret), 'the stack leaks a secret');
  }
  return caught;
}

describe('Keyring', () => {
  it('holds the active key and older ones by id, activates by id and zeroes every key', () => {
    const active = masterKey();
    const older = masterKey();
    const keyring = new Keyring(active, [older]);
    assert.equal(keyring.active, active);
    assert.deepEqual(keyring.keyIds, [active.keyId, older.keyId]);
    assert.equal(keyring.get(older.keyId), older);
    assert.equal(keyring.get('0000000000000000'), undefined);
    assert.equal(keyring.activate(older.keyId), older);
    assert.deepEqual(keyring.keyIds, [older.keyId, active.keyId]);
    const duplicate = { ...older, key: Buffer.from(older.key) };
    assert.equal(keyring.add(duplicate), older, 'a key already held is not added twice');
    assert.ok(duplicate.key.equals(Buffer.alloc(32)), 'the duplicate handed over is zeroed');
    keyring.zero();
    assert.ok(active.key.equals(Buffer.alloc(32)) && older.key.equals(Buffer.alloc(32)));
    assert.throws(() => keyring.activate('ffffffffffffffff'), { code: 'MASTER_KEY_INVALID' });
  });
});

describe('master key sources: env and file', () => {
  it('env: reads the named variable; unset is MASTER_KEY_MISSING naming it', async () => {
    const key = generateMasterKey();
    const loaded = await load(source({ source: 'env', variable: 'MY_KEY' }), { MY_KEY: key });
    assert.equal(loaded.key.keyId, keyIdOf(Buffer.from(key, 'base64')));
    assert.deepEqual(loaded.origin, { kind: 'env', variable: 'MY_KEY' });
    await rejectsWith(load(source({ source: 'env', variable: 'MY_KEY' }), {}), 'MASTER_KEY_MISSING', /^no master key: the environment variable MY_KEY is not set$/);
    await rejectsWith(load(source({ source: 'env' }), { LOCKBOX_MASTER_KEY: 'canary-not-a-key!' }), 'MASTER_KEY_INVALID',
      /^the master key in LOCKBOX_MASTER_KEY is not valid base64$/, 'canary-not-a-key!');
  });

  it('file: reads the path relative to the config directory; a missing file is MASTER_KEY_MISSING', async () => {
    const dir = tempDir();
    const key = generateMasterKey();
    writeFileSync(join(dir, 'k.key'), `${key}\n`);
    const loaded = await load(source({ source: 'file', path: 'k.key' }, dir));
    assert.deepEqual(loaded.origin, { kind: 'file', path: join(dir, 'k.key') });
    assert.equal(loaded.key.keyId, keyIdOf(Buffer.from(key, 'base64')));
    await rejectsWith(load(source({ source: 'file', path: 'nope.key' }, dir)), 'MASTER_KEY_MISSING', /^no master key: the key file .*nope\.key does not exist$/);
  });

  it('without master_key: the env variable when set, else the key file (today\'s behaviour)', async () => {
    const dir = tempDir();
    const fileKey = generateMasterKey();
    writeFileSync(join(dir, 'master.key'), fileKey);
    const keySource = resolveKeySource(optionsSchema.parse({ master_key_file: 'master.key' }), dir);
    assert.equal(keySource.source, 'env-or-file');
    assert.deepEqual((await load(keySource, { LOCKBOX_MASTER_KEY: generateMasterKey() })).origin, { kind: 'env', variable: 'LOCKBOX_MASTER_KEY' });
    assert.deepEqual((await load(keySource, {})).origin, { kind: 'file', path: join(dir, 'master.key') });
  });

  it('the option schema refuses unknown sources and unknown keys', () => {
    assert.equal(masterKeySourceSchema.safeParse({ source: 'vault' }).success, false);
    assert.equal(masterKeySourceSchema.safeParse({ source: 'env', path: 'x' }).success, false);
    assert.equal(masterKeySourceSchema.safeParse({ source: 'kms' }).success, false, 'kms needs kms_key_id');
    assert.equal(masterKeySourceSchema.safeParse({ source: 'command', command: [] }).success, false);
  });
});

describe('master key source: command', () => {
  const node = process.execPath;
  const printKey = (key: string) => ({ source: 'command' as const, command: [node, '-e', `process.stdout.write(${JSON.stringify(`${key}\n`)})`] });

  it('runs the program without a shell and parses its stdout', async () => {
    const key = generateMasterKey();
    const loaded = await load(source(printKey(key)));
    assert.equal(loaded.key.keyId, keyIdOf(Buffer.from(key, 'base64')));
    assert.equal(loaded.origin.kind, 'command');
    const asText = await load(source({ source: 'command', command: `"${node}" -e "process.stdout.write(process.env.K)"` }), { K: key });
    assert.equal(asText.key.keyId, loaded.key.keyId, 'a string command is split into words; the child gets the provider env');
  });

  it('splits command lines at spaces, with quotes grouping and no shell expansion', () => {
    assert.deepEqual(splitCommandLine('op read op://vault/lockbox/key'), ['op', 'read', 'op://vault/lockbox/key']);
    assert.deepEqual(splitCommandLine(`pass  show "my key" '$HOME' ""`), ['pass', 'show', 'my key', '$HOME', '']);
    assert.throws(() => splitCommandLine('pass show "unclosed'), { code: 'INVALID_INPUT', message: 'the master key command has an unclosed " quote' });
  });

  it('a non-zero exit is MASTER_KEY_MISSING naming the command and the code, never its output', async () => {
    const stdout = generateMasterKey();
    const command = [node, '-e', 'process.stdout.write(process.env.OUT); process.stderr.write(process.env.ERR); process.exit(3)'];
    const error = await rejectsWith(load(source({ source: 'command', command }), { OUT: stdout, ERR: 'canary-stderr' }), 'MASTER_KEY_MISSING',
      /^the master key command ".*" exited with code 3$/, stdout, 'canary-stderr');
    assert.ok(error.message.includes(node), 'the message names the program');
    assert.match(error.hint ?? '', /never prints its output/);
    assert.equal(error.cause, undefined, 'Node\'s own error (which embeds stderr) is not attached');
  });

  it('a missing program, a timeout and output that is not a key each say so', async () => {
    await rejectsWith(load(source({ source: 'command', command: 'lockbox-no-such-program read x' })), 'MASTER_KEY_MISSING',
      /^the master key command "lockbox-no-such-program read x" could not be started: lockbox-no-such-program was not found$/);
    await rejectsWith(load(source({ source: 'command', command: [node, '-e', 'setTimeout(() => {}, 10000)'], timeout_ms: 300 })), 'MASTER_KEY_MISSING',
      /^the master key command ".*" did not finish within 300 ms$/);
    await rejectsWith(load(source({ source: 'command', command: [node, '-e', 'process.stdout.write(process.env.OUT)'] }), { OUT: 'canary junk output!' }), 'MASTER_KEY_INVALID',
      /^the master key in the output of command ".*" is not valid base64$/, 'canary junk output!');
  });

  it('the local provider opens its store with a command source', async () => {
    const dir = tempDir();
    const key = generateMasterKey();
    const provider = create('local', { master_key: printKey(key) }, { baseDir: dir, env: {} });
    await provider.set({ name: 'db/password' }, new SecretValue('canary-command-value'));
    await provider.dispose();
    const viaEnv = create('local', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
    assert.equal((await viaEnv.get({ name: 'db/password' }))?.value.reveal(), 'canary-command-value');
    await viaEnv.dispose();
  });
});

describe('master key source: AWS KMS (emulator, official SDK)', () => {
  let kms: KmsEmulator;
  let keyA: { keyId: string; arn: string };
  let keyB: { keyId: string; arn: string };
  before(async () => {
    kms = await startKmsEmulator();
    keyA = kms.createKey({ alias: 'alias/lockbox' });
    keyB = kms.createKey();
  });
  after(() => kms.close());
  const kmsSource = (dir: string, kmsKeyId: string, extra: Record<string, unknown> = {}) =>
    source({ source: 'kms', kms_key_id: kmsKeyId, region: 'us-east-1', endpoint: kms.url, retries: 0, ...extra }, dir);

  it('first use wraps a new master key with GenerateDataKey into a 0600 file; later uses Decrypt it', async () => {
    const dir = tempDir();
    const first = await load(kmsSource(dir, 'alias/lockbox'), {}, join(dir, 'store.db'));
    const file = join(dir, '.lockbox/master.key.kms');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(first.origin, { kind: 'kms', wrappedKeyFile: file, kmsKeyId: 'alias/lockbox' });
    const blob = readFileSync(file, 'utf8');
    assert.ok(!blob.includes(first.key.key.toString('base64')), 'the file holds the KMS blob, not the key');
    kms.resetRequests();
    const again = await load(kmsSource(dir, keyA.arn), {}, join(dir, 'store.db'));
    assert.equal(again.key.keyId, first.key.keyId);
    assert.deepEqual(kms.operations, ['Decrypt']);
  });

  it('a wrong KMS key (the blob was made by another) is KMS_ERROR IncorrectKeyException naming the key id', async () => {
    const dir = tempDir();
    const loaded = await load(kmsSource(dir, keyA.keyId), {}, join(dir, 'store.db'));
    const error = await rejectsWith(load(kmsSource(dir, keyB.keyId), {}, join(dir, 'store.db')), 'KMS_ERROR',
      new RegExp(`^AWS KMS Decrypt with key "${keyB.keyId}" failed: IncorrectKeyException \\(HTTP 400\\): The key ID in the request does not identify a CMK that can perform this operation\\.$`),
      loaded.key.key.toString('base64'));
    assert.match(error.hint ?? '', /made with another KMS key/);
    assert.equal(error.transient, false);
  });

  it('a missing, disabled or denied KMS key is KMS_ERROR with AWS\'s error type', async () => {
    const missing = '99999999-8888-7777-6666-555555555555';
    const dir = tempDir();
    await rejectsWith(load(kmsSource(dir, missing), {}, join(dir, 'store.db')), 'KMS_ERROR',
      new RegExp(`^AWS KMS GenerateDataKey with key "${missing}" failed: NotFoundException \\(HTTP 400\\): Key 'arn:aws:kms:us-east-1:123456789012:key/${missing}' does not exist$`));
    const doomed = kms.createKey();
    const dir2 = tempDir();
    await load(kmsSource(dir2, doomed.keyId), {}, join(dir2, 'store.db'));
    kms.setKeyState(doomed.keyId, 'Disabled');
    const disabled = await rejectsWith(load(kmsSource(dir2, doomed.keyId), {}, join(dir2, 'store.db')), 'KMS_ERROR',
      new RegExp(`^AWS KMS Decrypt with key "${doomed.keyId}" failed: DisabledException \\(HTTP 400\\): ${doomed.arn} is disabled\\.$`));
    assert.match(disabled.hint ?? '', /enable it/);
    kms.setKeyState(doomed.keyId, 'Enabled');
    kms.denyKey(doomed.keyId, ['Decrypt']);
    await rejectsWith(load(kmsSource(dir2, doomed.keyId), {}, join(dir2, 'store.db')), 'KMS_ERROR', /failed: AccessDeniedException \(HTTP 400\): User: .* is not authorized to perform: kms:Decrypt/);
    kms.deleteKey(doomed.keyId);
    await rejectsWith(load(kmsSource(dir2, doomed.keyId), {}, join(dir2, 'store.db')), 'KMS_ERROR', /failed: NotFoundException/);
  });

  it('an unreachable endpoint is a transient KMS_ERROR; a store without its wrapped key file is MASTER_KEY_MISSING', async () => {
    const dir = tempDir();
    const down = await rejectsWith(load(kmsSource(dir, keyA.keyId, { endpoint: 'http://127.0.0.1:9' }), {}, join(dir, 'store.db')), 'KMS_ERROR',
      new RegExp(`^AWS KMS GenerateDataKey with key "${keyA.keyId}" failed: `));
    assert.equal(down.transient, true);
    writeFileSync(join(dir, 'store.db'), 'not empty');
    await rejectsWith(load(kmsSource(dir, keyA.keyId), {}, join(dir, 'store.db')), 'MASTER_KEY_MISSING',
      /^the store .*store\.db exists but its KMS-wrapped master key file .*master\.key\.kms does not$/);
  });

  it('a corrupted wrapped key file is MASTER_KEY_INVALID (not base64) or KMS_ERROR InvalidCiphertextException', async () => {
    const dir = tempDir();
    await load(kmsSource(dir, keyA.keyId), {}, join(dir, 'store.db'));
    const file = join(dir, '.lockbox/master.key.kms');
    const blob = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    blob[blob.length - 1]! ^= 1;
    writeFileSync(file, blob.toString('base64'));
    await rejectsWith(load(kmsSource(dir, keyA.keyId), {}, join(dir, 'store.db')), 'KMS_ERROR', /failed: InvalidCiphertextException/);
    writeFileSync(file, 'not base64 !!');
    await rejectsWith(load(kmsSource(dir, keyA.keyId), {}, join(dir, 'store.db')), 'MASTER_KEY_INVALID', /^the KMS-wrapped master key file .* is not valid base64$/);
  });

  it('the local provider seals under a KMS-wrapped master key and reopens it', async () => {
    const dir = tempDir();
    const options = { master_key: { source: 'kms' as const, kms_key_id: 'alias/lockbox', endpoint: kms.url, region: 'us-east-1' } };
    const provider = create('local', options, { baseDir: dir, env: {} });
    await Promise.all([provider.set({ name: 'a' }, new SecretValue('canary-kms-a')), provider.set({ name: 'b' }, new SecretValue('canary-kms-b'))]);
    await provider.dispose();
    const reopened = create('local', options, { baseDir: dir, env: {} });
    assert.equal((await reopened.get({ name: 'a' }))?.value.reveal(), 'canary-kms-a');
    assert.equal((await reopened.get({ name: 'b' }))?.value.reveal(), 'canary-kms-b');
    assert.equal((await reopened.health()).status, 'ready');
    await reopened.dispose();
    const wrongKey = create('local', { master_key: { ...options.master_key, kms_key_id: keyB.keyId } }, { baseDir: dir, env: {} });
    const health = await wrongKey.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /IncorrectKeyException/);
  });
});
