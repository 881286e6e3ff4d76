/**
 * The worker thread of the local store's writes (see write-thread.ts): opens its own connection
 * to the store with the master key it was given, then runs each batch of writes it is sent as
 * one transaction (SqliteStore.setMany) and answers with the new versions' metadata. It never
 * sends a value back; an error is sent as its code, message and hint only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LockboxError } from '../errors.js';
import { Keyring, KeyringMismatchError } from '../crypto/keyring.js';
import { SecretValue } from '../secret-value.js';
import type { SecretMetadata } from '../types.js';
import { openStoreDatabase } from './schema.js';
import { SqliteStore } from './sqlite-store.js';
import type { WorkerReply } from '../workers/worker-client.js';
import type { WriteError, WriteRequest, WriteThreadData } from './write-thread.js';

const { path, key, keyId, providerId } = workerData as WriteThreadData;
let store: SqliteStore | undefined;
let openError: unknown;
const keyring = new Keyring({ key: Buffer.from(key), keyId, source: 'the local provider' });
key.fill(0);
try {
  store = new SqliteStore(openStoreDatabase(path, keyring), keyring, providerId, 0);
} catch (error) {
  keyring.zero();
  openError = error;
}

parentPort!.on('message', ({ id, entries }: WriteRequest & { id: number }) => {
  let reply: WorkerReply<SecretMetadata[], WriteError>;
  if (entries === null) {
    store?.close();
    reply = { id, result: [] };
  } else {
    try {
      if (store === undefined) throw openError;
      reply = { id, result: store.setMany(entries.map(({ ref, value, opts }) => ({ ref, value: new SecretValue(value), opts }))) };
    } catch (error) {
      reply = { id, error: describe(error) };
    }
  }
  parentPort!.postMessage(reply);
});

function describe(error: unknown): WriteError {
  if (error instanceof LockboxError) {
    return { code: error.code, message: error.message, hint: error.hint, transient: error.transient, keyringMismatch: error instanceof KeyringMismatchError };
  }
  const sqliteCode = (error as { code?: unknown } | null)?.code;
  return { sqliteCode: typeof sqliteCode === 'string' ? sqliteCode : undefined, message: error instanceof Error ? error.message : 'unknown error' };
}
