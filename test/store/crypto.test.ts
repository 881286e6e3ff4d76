import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DataKeyCache, dataKeyAad, ENVELOPE_CIPHERTEXT_OFFSET, envelopeWrappedKey, openEnvelope, sealEnvelope, sealKeyCheck,
  newDataKey, sealWithDataKey, sharedDataKeyAad, unwrapDataKey, unwrapVersionKey, valueAad, verifyKeyCheck, WRAPPED_KEY_BYTES,
} from '../../src/crypto/envelope.js';
import { createKeyFile, generateMasterKey, keyIdOf, loadMasterKey, parseMasterKey } from '../../src/crypto/master-key.js';
import { LockboxError } from '../../src/errors.js';
import { create, initLocalStore } from '../../src/providers/local.js';
import { SecretValue } from '../../src/secret-value.js';

const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-crypto-'));
  dirs.push(dir);
  return dir;
}

function lockboxError(code: string, message: RegExp, secret?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof LockboxError);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    if (secret) assert.ok(!error.describe().includes(secret), 'the key must not appear in the error');
    return true;
  };
}

describe('envelope encryption', () => {
  const masterKey = randomBytes(32);
  const aad = valueAad('store-1', 'acme', 'db/password', 3);
  const keyAad = dataKeyAad('store-1', 'acme', 'db/password', 3, 'k1');

  it('round-trips a value and its wrapped data key', () => {
    const { envelope, dataKey } = sealEnvelope(masterKey, Buffer.from('canary-envelope'), aad, keyAad);
    assert.equal(envelope.indexOf('canary-envelope'), -1);
    const unwrapped = unwrapDataKey(masterKey, envelopeWrappedKey(envelope), keyAad);
    assert.ok(unwrapped.equals(dataKey));
    assert.equal(openEnvelope(unwrapped, envelope, aad).toString(), 'canary-envelope');
    assert.equal(envelope.length, ENVELOPE_CIPHERTEXT_OFFSET + 'canary-envelope'.length);
  });

  it('a data key shared by a batch: one wrapping, each value sealed under its own AAD; unwrapVersionKey tells which kind it opened', () => {
    const shared = newDataKey(masterKey, sharedDataKeyAad('store-1', 'k1'));
    const first = sealWithDataKey(shared.dataKey, shared.wrapped, Buffer.from('canary-first'), valueAad('store-1', '', 'a', 1));
    const second = sealWithDataKey(shared.dataKey, shared.wrapped, Buffer.from('canary-second'), valueAad('store-1', '', 'b', 1));
    assert.ok(envelopeWrappedKey(first).equals(envelopeWrappedKey(second)), 'one wrapped key');
    assert.ok(!first.subarray(ENVELOPE_CIPHERTEXT_OFFSET - 28, ENVELOPE_CIPHERTEXT_OFFSET - 16).equals(second.subarray(ENVELOPE_CIPHERTEXT_OFFSET - 28, ENVELOPE_CIPHERTEXT_OFFSET - 16)), 'a fresh IV per value');
    const opened = unwrapVersionKey(masterKey, envelopeWrappedKey(second), dataKeyAad('store-1', '', 'b', 1, 'k1'), sharedDataKeyAad('store-1', 'k1'));
    assert.equal(opened.shared, true);
    assert.equal(openEnvelope(opened.dataKey, second, valueAad('store-1', '', 'b', 1)).toString(), 'canary-second');
    assert.throws(() => openEnvelope(opened.dataKey, first, valueAad('store-1', '', 'b', 1)), 'a value moved to another version of the batch');
    const own = sealEnvelope(masterKey, Buffer.from('canary-own'), aad, keyAad);
    assert.equal(unwrapVersionKey(masterKey, envelopeWrappedKey(own.envelope), keyAad, sharedDataKeyAad('store-1', 'k1')).shared, false);
    assert.throws(() => unwrapVersionKey(masterKey, envelopeWrappedKey(second), keyAad, sharedDataKeyAad('store-2', 'k1')), 'another store');
    assert.throws(() => unwrapVersionKey(randomBytes(32), envelopeWrappedKey(second), keyAad, sharedDataKeyAad('store-1', 'k1')), 'another master key');
  });

  it('binds store id, scope, name and version: any other AAD fails to open', () => {
    const { envelope, dataKey } = sealEnvelope(masterKey, Buffer.from('v'), aad, keyAad);
    assert.ok(!dataKey.equals(sealEnvelope(masterKey, Buffer.from('v'), aad, keyAad).dataKey), 'a fresh data key per version');
    const others = [
      valueAad('store-2', 'acme', 'db/password', 3), valueAad('store-1', '', 'db/password', 3),
      valueAad('store-1', 'acme', 'db/passwort', 3), valueAad('store-1', 'acme', 'db/password', 4),
    ];
    for (const other of others) assert.throws(() => openEnvelope(dataKey, envelope, other));
    assert.throws(() => unwrapDataKey(masterKey, envelopeWrappedKey(envelope), dataKeyAad('store-1', 'acme', 'db/password', 4, 'k1')));
    assert.throws(() => unwrapDataKey(randomBytes(32), envelopeWrappedKey(envelope), keyAad));
    assert.throws(() => openEnvelope(dataKey, envelope.subarray(0, ENVELOPE_CIPHERTEXT_OFFSET - 1), aad), /too short/);
  });

  it('the key check opens only under the same master key and store id', () => {
    const check = sealKeyCheck(masterKey, 'store-1');
    assert.equal(verifyKeyCheck(masterKey, 'store-1', check), true);
    assert.equal(verifyKeyCheck(randomBytes(32), 'store-1', check), false);
    assert.equal(verifyKeyCheck(masterKey, 'store-2', check), false);
    assert.equal(verifyKeyCheck(masterKey, 'store-1', Buffer.alloc(3)), false);
  });

  it('the data-key cache evicts the least recently used key and zeroes it', () => {
    const cache = new DataKeyCache(2);
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    cache.set('a', a);
    cache.set('b', b);
    assert.equal(cache.get('a'), a);
    cache.set('c', c);
    assert.equal(cache.get('b'), undefined);
    assert.ok(b.equals(Buffer.alloc(32)), 'an evicted key is zeroed');
    cache.clear();
    assert.ok(a.equals(Buffer.alloc(32)) && c.equals(Buffer.alloc(32)));
    assert.equal(cache.size, 0);
    const disabled = new DataKeyCache(0);
    disabled.set('x', randomBytes(32));
    assert.equal(disabled.get('x'), undefined);
    assert.equal(WRAPPED_KEY_BYTES, 60);
  });
});

describe('master key', () => {
  it('generates base64 of 32 random bytes with a stable 8-byte hex key id', () => {
    const key = generateMasterKey();
    assert.equal(Buffer.from(key, 'base64').length, 32);
    assert.notEqual(key, generateMasterKey());
    const parsed = parseMasterKey(`  ${key}\n`, 'test');
    assert.match(parsed.keyId, /^[0-9a-f]{16}$/);
    assert.equal(parsed.keyId, keyIdOf(Buffer.from(key, 'base64')));
  });

  it('rejects empty, non-base64 and wrong-length keys with MASTER_KEY_INVALID, never echoing them', () => {
    assert.throws(() => parseMasterKey(' \n', 'X'), lockboxError('MASTER_KEY_INVALID', /^the master key in X is empty$/));
    const junk = 'canary key with spaces';
    assert.throws(() => parseMasterKey(junk, 'X'), lockboxError('MASTER_KEY_INVALID', /^the master key in X is not valid base64$/, junk));
    const long = randomBytes(48).toString('base64');
    assert.throws(() => parseMasterKey(long, 'X'), lockboxError('MASTER_KEY_INVALID', /decodes to 48 bytes; it must be exactly 32$/, long));
  });

  it('prefers the environment variable over the key file, and names the file when it is malformed', () => {
    const dir = tempDir();
    const keyFile = join(dir, 'master.key');
    const fileKey = generateMasterKey();
    writeFileSync(keyFile, fileKey);
    const envKey = generateMasterKey();
    assert.equal(loadMasterKey({ env: { K: envKey }, envVar: 'K', keyFile }).source, 'K');
    const fromFile = loadMasterKey({ env: { K: '' }, envVar: 'K', keyFile });
    assert.equal(fromFile.keyId, keyIdOf(Buffer.from(fileKey, 'base64')));
    writeFileSync(keyFile, 'not base64 at all');
    assert.throws(() => loadMasterKey({ env: {}, envVar: 'K', keyFile }), lockboxError('MASTER_KEY_INVALID', /^the master key in key file .*master\.key is not valid base64$/));
  });

  it('creates a key file 0600 (umask-independent) and refuses to overwrite one', () => {
    const previous = process.umask(0o000);
    try {
      const keyFile = join(tempDir(), 'nested', 'master.key');
      const key = createKeyFile(keyFile);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      assert.equal(readFileSync(keyFile, 'utf8').trim(), key);
      assert.throws(() => createKeyFile(keyFile), lockboxError('ALREADY_EXISTS', /master\.key already exists/));
      assert.equal(readFileSync(keyFile, 'utf8').trim(), key, 'the existing key is untouched');
    } finally {
      process.umask(previous);
    }
  });
});

describe('initLocalStore', () => {
  it('writes a key file and a store (both 0600) that the provider then opens', async () => {
    const dir = tempDir();
    const path = join(dir, '.lockbox', 'store.db');
    const masterKeyFile = join(dir, '.lockbox', 'master.key');
    const result = initLocalStore({ path, masterKeyFile });
    assert.equal(result.created, true);
    assert.equal(result.keyFileCreated, true);
    assert.match(result.storeId, /^[0-9a-f-]{36}$/);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(masterKeyFile).mode & 0o777, 0o600);
    const provider = create('local', {}, { baseDir: dir, env: {} });
    await provider.set({ name: 'a' }, new SecretValue('v'));
    assert.equal((await provider.get({ name: 'a' }))?.value.reveal(), 'v');
    await provider.dispose();
    assert.throws(() => initLocalStore({ path, masterKeyFile }), lockboxError('ALREADY_EXISTS', /master\.key already exists/));
  });

  it('refuses to pair an existing store with a new key file', () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const key = generateMasterKey();
    assert.equal(initLocalStore({ path, masterKey: key }).created, true);
    assert.throws(() => initLocalStore({ path, masterKeyFile: join(dir, 'master.key') }),
      lockboxError('ALREADY_EXISTS', /store.*already exists but its key file .*master\.key does not/));
    assert.throws(() => statSync(join(dir, 'master.key')), /ENOENT/);
  });

  it('with a key from the environment: writes no key file, opens an existing store, refuses a wrong key', () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const key = generateMasterKey();
    const first = initLocalStore({ path, env: { LOCKBOX_MASTER_KEY: key } });
    assert.deepEqual([first.created, first.keyFileCreated], [true, false]);
    const again = initLocalStore({ path, masterKeyFile: join(dir, 'unused.key'), env: { LOCKBOX_MASTER_KEY: key } });
    assert.deepEqual([again.created, again.storeId], [false, first.storeId]);
    assert.throws(() => statSync(join(dir, 'unused.key')), /ENOENT/);
    assert.throws(() => initLocalStore({ path, masterKey: generateMasterKey() }), lockboxError('MASTER_KEY_INVALID', /^cannot open the store with this master key$/));
    assert.throws(() => initLocalStore({ path, env: {} }), lockboxError('MASTER_KEY_MISSING', /no key file path was given/));
  });
});
