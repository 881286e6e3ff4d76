import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient,
} from '@aws-sdk/client-kms';
import { DENIED_ACCESS_KEY_ID, EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY } from './aws-json.js';
import { startKmsEmulator, type KmsEmulator } from './aws-kms.js';

const CONTEXT = { purpose: 'test' };

function client(kms: KmsEmulator, accessKeyId = EMULATOR_ACCESS_KEY_ID): KMSClient {
  return new KMSClient({
    region: kms.region, endpoint: kms.url, maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey: EMULATOR_SECRET_ACCESS_KEY },
  });
}

/** Runs `call` and returns the SDK error's name, message and HTTP status. */
async function awsError(call: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await call;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  assert.fail('expected the call to fail');
}

describe('AWS KMS emulator (official SDK over HTTP)', () => {
  let kms: KmsEmulator;
  let sdk: KMSClient;
  let keyA: { keyId: string; arn: string };
  let keyB: { keyId: string; arn: string };
  before(async () => {
    kms = await startKmsEmulator();
    sdk = client(kms);
    keyA = kms.createKey({ alias: 'alias/lockbox-a', description: 'key A' });
    keyB = kms.createKey();
  });
  after(async () => {
    sdk.destroy();
    await kms.close();
  });

  it('Encrypt then Decrypt round-trips, with or without KeyId, and reports the key ARN', async () => {
    const plaintext = Buffer.from('canary-kms-plaintext');
    const encrypted = await sdk.send(new EncryptCommand({ KeyId: keyA.keyId, Plaintext: plaintext, EncryptionContext: CONTEXT }));
    assert.equal(encrypted.KeyId, keyA.arn);
    assert.equal(encrypted.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    assert.ok(!Buffer.from(encrypted.CiphertextBlob!).includes(plaintext), 'the blob does not hold the plaintext');
    for (const KeyId of [undefined, keyA.keyId, keyA.arn, 'alias/lockbox-a', `arn:aws:kms:us-east-1:123456789012:alias/lockbox-a`]) {
      const decrypted = await sdk.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, KeyId, EncryptionContext: CONTEXT }));
      assert.equal(Buffer.from(decrypted.Plaintext!).toString(), 'canary-kms-plaintext');
      assert.equal(decrypted.KeyId, keyA.arn);
    }
  });

  it('GenerateDataKey returns the plaintext and a blob that Decrypt opens; lengths follow KeySpec/NumberOfBytes', async () => {
    const generated = await sdk.send(new GenerateDataKeyCommand({ KeyId: 'alias/lockbox-a', KeySpec: 'AES_256', EncryptionContext: CONTEXT }));
    assert.equal(generated.Plaintext!.length, 32);
    assert.equal(generated.KeyId, keyA.arn);
    const decrypted = await sdk.send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: CONTEXT }));
    assert.deepEqual(Buffer.from(decrypted.Plaintext!), Buffer.from(generated.Plaintext!));
    assert.equal((await sdk.send(new GenerateDataKeyCommand({ KeyId: keyA.keyId, KeySpec: 'AES_128' }))).Plaintext!.length, 16);
    assert.equal((await sdk.send(new GenerateDataKeyCommand({ KeyId: keyA.keyId, NumberOfBytes: 7 }))).Plaintext!.length, 7);
    const neither = await awsError(sdk.send(new GenerateDataKeyCommand({ KeyId: keyA.keyId })));
    assert.deepEqual(neither, { name: 'ValidationException', message: 'Please specify either number of bytes or key spec.', status: 400 });
  });

  it('a blob from another key is IncorrectKeyException when KeyId names a different key', async () => {
    const { CiphertextBlob } = await sdk.send(new EncryptCommand({ KeyId: keyA.keyId, Plaintext: Buffer.from('x') }));
    const error = await awsError(sdk.send(new DecryptCommand({ CiphertextBlob, KeyId: keyB.keyId })));
    assert.deepEqual(error, { name: 'IncorrectKeyException', message: 'The key ID in the request does not identify a CMK that can perform this operation.', status: 400 });
  });

  it('a changed blob, a wrong encryption context or junk is InvalidCiphertextException', async () => {
    const { CiphertextBlob } = await sdk.send(new EncryptCommand({ KeyId: keyA.keyId, Plaintext: Buffer.from('x'), EncryptionContext: CONTEXT }));
    const flipped = Buffer.from(CiphertextBlob!);
    flipped[flipped.length - 1]! ^= 1;
    for (const [blob, context] of [[flipped, CONTEXT], [Buffer.from(CiphertextBlob!), { purpose: 'other' }], [Buffer.from(CiphertextBlob!), undefined], [Buffer.from('junk'), CONTEXT]] as const) {
      const error = await awsError(sdk.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context })));
      assert.equal(error.name, 'InvalidCiphertextException');
      assert.equal(error.status, 400);
    }
  });

  it('unknown keys and aliases are NotFoundException with the ARN', async () => {
    const missing = '11111111-2222-3333-4444-555555555555';
    assert.deepEqual(await awsError(sdk.send(new EncryptCommand({ KeyId: missing, Plaintext: Buffer.from('x') }))), {
      name: 'NotFoundException', message: `Key 'arn:aws:kms:us-east-1:123456789012:key/${missing}' does not exist`, status: 400,
    });
    assert.deepEqual(await awsError(sdk.send(new DescribeKeyCommand({ KeyId: 'alias/nope' }))), {
      name: 'NotFoundException', message: 'Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found.', status: 400,
    });
    const doomed = kms.createKey();
    const { CiphertextBlob } = await sdk.send(new EncryptCommand({ KeyId: doomed.keyId, Plaintext: Buffer.from('x') }));
    kms.deleteKey(doomed.keyId);
    assert.equal((await awsError(sdk.send(new DecryptCommand({ CiphertextBlob })))).name, 'NotFoundException');
  });

  it('key states: Disabled is DisabledException, PendingDeletion KMSInvalidStateException; DescribeKey reports both', async () => {
    const key = kms.createKey();
    const { CiphertextBlob } = await sdk.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x') }));
    kms.setKeyState(key.keyId, 'Disabled');
    assert.deepEqual(await awsError(sdk.send(new DecryptCommand({ CiphertextBlob }))), { name: 'DisabledException', message: `${key.arn} is disabled.`, status: 400 });
    const described = await sdk.send(new DescribeKeyCommand({ KeyId: key.keyId }));
    assert.equal(described.KeyMetadata?.KeyState, 'Disabled');
    assert.equal(described.KeyMetadata?.Enabled, false);
    kms.setKeyState(key.keyId, 'PendingDeletion');
    assert.equal((await awsError(sdk.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256' })))).name, 'KMSInvalidStateException');
    kms.setKeyState(key.keyId, 'Enabled');
    assert.equal((await sdk.send(new DecryptCommand({ CiphertextBlob }))).KeyId, key.arn);
  });

  it('DescribeKey returns the key metadata the SDK parses (dates included)', async () => {
    const { KeyMetadata } = await sdk.send(new DescribeKeyCommand({ KeyId: 'alias/lockbox-a' }));
    assert.equal(KeyMetadata?.KeyId, keyA.keyId);
    assert.equal(KeyMetadata?.Arn, keyA.arn);
    assert.equal(KeyMetadata?.Description, 'key A');
    assert.equal(KeyMetadata?.KeyUsage, 'ENCRYPT_DECRYPT');
    assert.ok(KeyMetadata?.CreationDate instanceof Date);
  });

  it('access: a key policy denial and denied credentials are AccessDeniedException; missing KeyId is ValidationException', async () => {
    const key = kms.createKey();
    kms.denyKey(key.keyId, ['Decrypt']);
    const { CiphertextBlob } = await sdk.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x') }));
    const denied = await awsError(sdk.send(new DecryptCommand({ CiphertextBlob })));
    assert.equal(denied.name, 'AccessDeniedException');
    assert.match(denied.message, /not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key\//);
    const stranger = client(kms, DENIED_ACCESS_KEY_ID);
    assert.equal((await awsError(stranger.send(new DescribeKeyCommand({ KeyId: keyA.keyId })))).name, 'AccessDeniedException');
    stranger.destroy();
    const noKey = await awsError(sdk.send(new EncryptCommand({ Plaintext: Buffer.from('x') } as never)));
    assert.deepEqual(noKey, { name: 'ValidationException', message: "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must not be null", status: 400 });
  });

  it('counts the operations it served, and injected faults reach the SDK with their status', async () => {
    kms.resetRequests();
    await sdk.send(new DescribeKeyCommand({ KeyId: keyA.keyId }));
    kms.failNext(500);
    const error = await awsError(sdk.send(new DescribeKeyCommand({ KeyId: keyA.keyId })));
    assert.equal(error.name, 'KMSInternalException');
    assert.equal(error.status, 500);
    assert.deepEqual(kms.operations, ['DescribeKey', 'DescribeKey']);
  });
});
