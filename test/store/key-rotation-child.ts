/**
 * Child process of key-rotation.test.ts: rotates the master key of the local store in the
 * directory argv[2] (batches of argv[3] rows) and prints the result as JSON. The parent sets
 * LOCKBOX_TEST_KILL_AT=<step>, so the rotation SIGKILLs itself at that step (src/store/rewrap.ts).
 * With KMS_ENDPOINT and KMS_KEY_ID set, the store's key source is AWS KMS (the parent's emulator).
 */
import { join } from 'node:path';
import { resolveKeySource } from '../../src/crypto/keyring-sources.js';
import { optionsSchema } from '../../src/providers/local.js';
import { rotateMasterKey } from '../../src/store/master-key-rotation.js';

const [dir, batch] = process.argv.slice(2);
if (!dir || !batch) throw new Error('usage: key-rotation-child.ts <dir> <batch size>');
const endpoint = process.env.KMS_ENDPOINT;
const options = endpoint
  ? { master_key: { source: 'kms', kms_key_id: process.env.KMS_KEY_ID, endpoint, region: 'us-east-1', retries: 0 } }
  : {};
const result = await rotateMasterKey({
  storePath: join(dir, '.lockbox', 'store.db'),
  source: resolveKeySource(optionsSchema.parse(options), dir),
  env: process.env,
  batchSize: Number(batch),
});
process.stdout.write(`${JSON.stringify(result)}\n`);
