/**
 * The local store's writes on a worker thread (local provider option `write_thread: worker`).
 * better-sqlite3 is synchronous: sealing and inserting a batch of versions, and the commit's
 * fsync, stop the event loop. With a write thread they run on another core while the main thread
 * goes on (serving reads, validating the next request), so a server's bulk writes overlap with
 * the rest of its work. Reads stay on the main thread's connection (WAL: they see every committed
 * write). Names and options are checked on the calling thread first, so those errors are the
 * same as without the thread.
 */
import { LockboxError, type ErrorCode } from '../errors.js';
import { KeyringMismatchError } from '../crypto/keyring.js';
import type { MasterKey } from '../crypto/master-key.js';
import type { SecretMetadata, SecretRef, SetEntry, SetOptions } from '../types.js';
import { WorkerClient } from '../workers/worker-client.js';

/** What the worker is started with. */
export interface WriteThreadData { path: string; key: Uint8Array; keyId: string; providerId: string }
/** One batch of writes (`entries: null` closes the store). */
export interface WriteRequest { entries: Array<{ ref: SecretRef; value: string; opts?: SetOptions }> | null }
/** A failed batch, as the worker describes it (never a value). */
export interface WriteError { code?: ErrorCode; sqliteCode?: string; message: string; hint?: string; transient?: boolean; keyringMismatch?: boolean }

/** A worker holding its own connection to one store. */
export class StoreWriteThread {
  readonly #client: WorkerClient<WriteRequest, SecretMetadata[], WriteError>;

  /** Starts the worker; `masterKey` is copied to it (the caller keeps and zeroes its own). */
  constructor(path: string, masterKey: MasterKey, providerId: string) {
    const key = Uint8Array.from(masterKey.key);
    try {
      this.#client = new WorkerClient({
        from: import.meta.url, name: 'write-worker', workerData: { path, key, keyId: masterKey.keyId, providerId } satisfies WriteThreadData,
        toError: (error) => toError(error, providerId),
        stopped: (cause) => new LockboxError('STORE_ERROR', 'the local store\'s write thread has stopped', {
          provider: providerId, cause, hint: 'the provider was disposed, or its worker thread failed: create the provider again',
        }),
      });
    } finally {
      key.fill(0); // workerData was copied to the worker
    }
  }

  /** True once the worker has stopped (closed, or failed): start a new one to write again. */
  get stopped(): boolean {
    return this.#client.stopped;
  }

  /** Writes the entries in one transaction on the worker; resolves once it has committed. */
  setMany(entries: readonly SetEntry[]): Promise<SecretMetadata[]> {
    return this.#client.request({ entries: entries.map(({ ref, value, opts }) => ({ ref: { name: ref.name, ...(ref.scope ? { scope: ref.scope } : {}) }, value: value.reveal(), opts })) });
  }

  /** Closes the worker's connection and stops it; later writes fail with STORE_ERROR. */
  close(): Promise<void> {
    return this.#client.close({ entries: null });
  }
}

function toError({ code, sqliteCode, message, hint, transient, keyringMismatch }: WriteError, provider: string): Error {
  if (keyringMismatch) return new KeyringMismatchError(code === 'SECRET_TAMPERED' ? code : 'STORE_ERROR', message, { provider, hint });
  if (code !== undefined) return new LockboxError(code, message, { provider, hint, transient });
  return Object.assign(new Error(message), { code: sqliteCode }); // an SQLite error: the provider maps it as it maps its own
}
