/**
 * The main-thread side of lockbox's worker threads (the local store's writes, the config-secrets
 * database's batch writes): requests by id, one reply each; the worker keeps the process alive
 * only while a request is in flight; once it stops (closed, or failed) every request fails with
 * the error the owner describes.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { LockboxError } from '../errors.js';

/** A reply: the request's id and its result, or an error as the worker described it. */
export interface WorkerReply<R, E> { id: number; result?: R; error?: E }

/** What a WorkerClient needs to know about its worker. */
export interface WorkerClientOptions<E> {
  /** The caller's `import.meta.url` and the entry's file name without extension, resolved beside it (see workerEntry). */
  from: string;
  name: string;
  workerData: object;
  /** Turns an error reply into the error the request rejects with. */
  toError: (error: E) => Error;
  /** The error of a request made after the worker stopped. */
  stopped: (cause?: unknown) => LockboxError;
}

/** One worker thread, answering requests in order. */
export class WorkerClient<Q, R, E> {
  readonly #worker: Worker;
  readonly #options: WorkerClientOptions<E>;
  readonly #pending = new Map<number, { resolve: (result: R) => void; reject: (error: unknown) => void }>();
  #nextId = 1;
  #stopped?: LockboxError;

  /** Starts the worker (workerData is copied to it now). Throws STORE_ERROR when its entry file is missing. */
  constructor(options: WorkerClientOptions<E>) {
    this.#options = options;
    const { entry, tsxEntry } = workerEntry(options.from, options.name);
    this.#worker = new Worker(entry, { workerData: { ...options.workerData, tsxEntry } });
    this.#worker.on('message', (reply: WorkerReply<R, E>) => this.#settle(reply));
    this.#worker.on('error', (error) => this.#stop(error));
    this.#worker.on('exit', () => this.#stop(undefined));
    this.#worker.unref();
  }

  /** True once the worker has stopped (closed, or failed). */
  get stopped(): boolean {
    return this.#stopped !== undefined;
  }

  /** Sends `payload` (as `{ id, ...payload }`); resolves with the reply's result. */
  request(payload: Q): Promise<R> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ id, ...payload });
    });
  }

  /** Sends `payload` as the last request (the worker closes what it holds), then stops the worker. */
  async close(payload: Q): Promise<void> {
    if (this.#stopped !== undefined) return;
    await this.request(payload).catch(() => undefined);
    this.#stopped = this.#options.stopped();
    await this.#worker.terminate();
  }

  #settle(reply: WorkerReply<R, E>): void {
    const waiter = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (waiter === undefined) return;
    if (reply.error === undefined) waiter.resolve(reply.result as R);
    else waiter.reject(this.#options.toError(reply.error));
  }

  #stop(cause: unknown): void {
    this.#stopped ??= this.#options.stopped(cause);
    for (const waiter of this.#pending.values()) waiter.reject(this.#stopped);
    this.#pending.clear();
  }
}

/**
 * A worker's entry: `<name>.js` beside the calling module (the library, built by tsc), else
 * `<name>.cjs` beside it (the CLI bundle, dist/cli.cjs); from a source checkout (run through
 * tsx) src/workers/tsx-entry.mjs, which registers tsx in the worker and loads `<name>.ts`.
 */
function workerEntry(from: string, name: string): { entry: URL; tsxEntry?: string } {
  if (from.endsWith('.ts')) return { entry: new URL('./tsx-entry.mjs', import.meta.url), tsxEntry: new URL(`./${name}.ts`, from).href };
  for (const extension of ['.js', '.cjs']) {
    const entry = new URL(`./${name}${extension}`, from);
    if (existsSync(entry)) return { entry };
  }
  throw new LockboxError('STORE_ERROR', `the worker ${name} is missing beside ${new URL('.', from).pathname}`, {
    hint: 'reinstall lockbox (npm ci builds it), or turn the worker option off (write_thread: main)',
  });
}
