/**
 * The local store's writes on a worker thread (local provider option `write_thread: worker`).
 * better-sqlite3 is synchronous: sealing and inserting a batch of versions, and the commit's
 * fsync, stop the event loop. With a write thread they run on another core while the main thread
 * goes on (serving reads, validating the next request), so a server's bulk writes overlap with
 * the rest of its work. Reads stay on the main thread's connection (WAL: they see every committed
 * write). Names and options are checked on the calling thread first, so those errors are the
 * same as without the thread.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { LockboxError, type ErrorCode } from '../errors.js';
import { KeyringMismatchError } from '../crypto/keyring.js';
import type { MasterKey } from '../crypto/master-key.js';
import type { SecretMetadata, SecretRef, SetEntry, SetOptions } from '../types.js';

/** What the worker is started with. */
export interface WriteThreadData { path: string; key: Uint8Array; keyId: string; providerId: string }
/** One batch of writes (`entries: null` closes the store). */
export interface WriteRequest { id: number; entries: Array<{ ref: SecretRef; value: string; opts?: SetOptions }> | null }
/** The answer to a request. */
export interface WriteReply {
  id: number;
  written?: SecretMetadata[];
  error?: { code?: ErrorCode; sqliteCode?: string; message: string; hint?: string; transient?: boolean; keyringMismatch?: boolean };
}

/** A worker holding its own connection to one store. */
export class StoreWriteThread {
  readonly #worker: Worker;
  readonly #providerId: string;
  readonly #pending = new Map<number, { resolve: (written: SecretMetadata[]) => void; reject: (error: unknown) => void }>();
  #nextId = 1;
  #stopped?: LockboxError;

  /** Starts the worker; `masterKey` is copied to it (the caller keeps and zeroes its own). */
  constructor(path: string, masterKey: MasterKey, providerId: string) {
    this.#providerId = providerId;
    const key = Uint8Array.from(masterKey.key);
    const data: WriteThreadData = { path, key, keyId: masterKey.keyId, providerId };
    try {
      this.#worker = startWorker(data); // workerData is copied to the worker here
    } finally {
      key.fill(0);
    }
    this.#worker.on('message', (reply: WriteReply) => this.#settle(reply));
    this.#worker.on('error', (error) => this.#stop(error));
    this.#worker.on('exit', () => this.#stop(undefined));
    this.#worker.unref();
  }

  /** True once the worker has stopped (closed, or failed): start a new one to write again. */
  get stopped(): boolean {
    return this.#stopped !== undefined;
  }

  /** Writes the entries in one transaction on the worker; resolves once it has committed. */
  setMany(entries: readonly SetEntry[]): Promise<SecretMetadata[]> {
    return this.#request(entries.map(({ ref, value, opts }) => ({ ref: { name: ref.name, ...(ref.scope ? { scope: ref.scope } : {}) }, value: value.reveal(), opts })));
  }

  /** Closes the worker's connection and stops it; later writes fail with STORE_ERROR. */
  async close(): Promise<void> {
    if (this.#stopped !== undefined) return;
    await this.#request(null).catch(() => undefined);
    this.#stopped = stopped(this.#providerId);
    await this.#worker.terminate();
  }

  #request(entries: WriteRequest['entries']): Promise<SecretMetadata[]> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ id, entries } satisfies WriteRequest);
    });
  }

  #settle(reply: WriteReply): void {
    const waiter = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (waiter === undefined) return;
    if (reply.error === undefined) waiter.resolve(reply.written ?? []);
    else waiter.reject(this.#error(reply.error));
  }

  #error({ code, sqliteCode, message, hint, transient, keyringMismatch }: NonNullable<WriteReply['error']>): Error {
    if (keyringMismatch) return new KeyringMismatchError(code === 'SECRET_TAMPERED' ? code : 'STORE_ERROR', message, { provider: this.#providerId, hint });
    if (code !== undefined) return new LockboxError(code, message, { provider: this.#providerId, hint, transient });
    return Object.assign(new Error(message), { code: sqliteCode }); // an SQLite error: the provider maps it as it maps its own
  }

  #stop(cause: unknown): void {
    this.#stopped ??= stopped(this.#providerId, cause);
    for (const waiter of this.#pending.values()) waiter.reject(this.#stopped);
    this.#pending.clear();
  }
}

/**
 * The worker's entry: write-worker.js beside this module (the library, built by tsc), else
 * write-worker.cjs (beside the CLI bundle, dist/cli.cjs); from a source checkout (run through
 * tsx) write-worker-tsx.mjs, which registers tsx in the worker before loading the .ts entry.
 */
function startWorker(workerData: WriteThreadData): Worker {
  const here = import.meta.url;
  let entry = new URL(here.endsWith('.ts') ? './write-worker-tsx.mjs' : './write-worker.js', here);
  if (!here.endsWith('.ts') && !existsSync(entry)) entry = new URL('./write-worker.cjs', here);
  if (!existsSync(entry)) {
    throw new LockboxError('STORE_ERROR', `the local store's write worker ${entry.pathname} is missing`, {
      provider: workerData.providerId, hint: 'set the local provider\'s write_thread to main, or reinstall lockbox (npm ci builds it)',
    });
  }
  return new Worker(entry, { workerData });
}

function stopped(provider: string, cause?: unknown): LockboxError {
  return new LockboxError('STORE_ERROR', 'the local store\'s write thread has stopped', {
    provider, cause, hint: 'the provider was disposed, or its worker thread failed: create the provider again',
  });
}
