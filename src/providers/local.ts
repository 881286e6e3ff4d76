/**
 * The `local` provider: lockbox's default backend, an embedded SQLite file (WAL,
 * synchronous=FULL, mode 0600) whose values are sealed with envelope encryption
 * (see docs/local-store.md). The store opens on first use and keeps one connection.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { storeError } from './local-init.js';
import { generateMasterKey, type MasterKey } from '../crypto/master-key.js';
import { Keyring, KeyringMismatchError } from '../crypto/keyring.js';
import {
  loadKey, loadKeySync, masterKeySourceSchema, resolveKeySource, type KeySource, type LoadedMasterKey,
} from '../crypto/keyring-sources.js';
import type { SecretValue } from '../secret-value.js';
import { openStoreDatabase } from '../store/schema.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { checkWrite } from '../store/set-options.js';
import { StoreWriteThread } from '../store/write-thread.js';
import type {
  DeleteOptions, HealthStatus, Provider, ProviderCapabilities, Scope, SecretListing, SecretMetadata,
  SecretRecord, SecretRef, SecretVersion, SetEntry, SetOptions,
} from '../types.js';
import type { ProviderContext } from './registry.js';

export { generateMasterKey };
export { initLocalStore, type InitLocalStoreOptions, type InitLocalStoreResult } from './local-init.js';

export const optionsSchema = z.object({
  /** The SQLite file, relative to the config file's directory. @default ".lockbox/store.db" */
  path: z.string().min(1).default('.lockbox/store.db'),
  /** Key file (base64 of 32 bytes), read when the env variable is unset. @default ".lockbox/master.key" */
  master_key_file: z.string().min(1).default('.lockbox/master.key'),
  /** Environment variable holding the master key (base64 of 32 bytes). @default "LOCKBOX_MASTER_KEY" */
  master_key_env: z.string().min(1).default('LOCKBOX_MASTER_KEY'),
  /**
   * Where the master key comes from (docs/keys.md): `{ source: env, variable }`,
   * `{ source: file, path }`, `{ source: command, command, timeout_ms }` (a password manager's
   * CLI, run without a shell) or `{ source: kms, kms_key_id, region, endpoint, wrapped_key_file }`
   * (AWS KMS wraps the master key). When set, master_key_env and master_key_file are not used.
   * @default the variable master_key_env when it is set, else the file master_key_file
   */
  master_key: masterKeySourceSchema.optional(),
  /**
   * How many unwrapped data keys to keep in memory (plaintext keys, zeroed on eviction and
   * dispose) so that a repeat read does one AES-GCM open instead of two; 0 disables. @default 1024
   */
  data_key_cache_size: z.number().int().min(0).max(1_000_000).default(1024),
  /**
   * Where writes run. `auto`: a bulk write (a setMany of at least 64 secrets, e.g. a batch of
   * config-secrets creates) on a worker thread with its own connection — sealing, inserting and
   * the commit's fsync then do not stop the event loop — and every smaller write on the calling
   * thread (no thread is started for them). `worker`: every write on the worker. `main`: every
   * write on the calling thread. Reads always run on the calling thread.
   * @default "auto"
   */
  write_thread: z.enum(['auto', 'main', 'worker']).default('auto'),
}).strict();

/** Entries from which a setMany is a bulk write (write_thread "auto"). */
export const BULK_WRITE_ENTRIES = 64;

/** Options of the local encrypted store (see the TSDoc of each field of optionsSchema). */
export type LocalOptions = z.input<typeof optionsSchema>;

/** Builds the provider; nothing is opened until the first call. */
export function create(id: string, options: LocalOptions = {}, context?: ProviderContext): LocalProvider {
  return new LocalProvider(id, optionsSchema.parse(options), context ?? { baseDir: process.cwd(), env: process.env });
}

/** The local provider; `undelete` and `purgeExpired` come on top of the Provider interface. */
export class LocalProvider implements Provider {
  readonly type = 'local';
  readonly capabilities: ProviderCapabilities = { write: true, delete: true, list: true, versions: true, watch: false };
  /** Absolute path of the SQLite file. */
  readonly path: string;
  /** Absolute path of the key file. */
  readonly masterKeyFile: string;
  readonly #options: z.infer<typeof optionsSchema>;
  readonly #env: Record<string, string | undefined>;
  readonly #keySource: KeySource;
  #store: SqliteStore | undefined;
  #opening: Promise<SqliteStore> | undefined;
  /** The write thread (see write_thread), started with the store's active master key. */
  #thread: StoreWriteThread | undefined;

  constructor(readonly id: string, options: z.infer<typeof optionsSchema>, context: ProviderContext) {
    this.#options = options;
    this.#env = context.env;
    this.path = resolve(context.baseDir, options.path);
    this.#keySource = resolveKeySource(options, context.baseDir);
    this.masterKeyFile = this.#keySource.source === 'file' ? this.#keySource.path : resolve(context.baseDir, options.master_key_file);
  }

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    const store = this.#store ?? await this.#open();
    try {
      return store.get(ref);
    } catch (error) {
      if (error instanceof KeyringMismatchError) return this.#afterReopen((reopened) => reopened.get(ref));
      throw storeError(error, this.path, this.id);
    }
  }

  /** Several reads in one read transaction (one consistent snapshot): one entry per ref, in order, null where `get` gives null. */
  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    return this.#call((store) => store.getMany(refs));
  }

  async list(prefix?: string, scope?: Scope): Promise<SecretListing[]> {
    return this.#call((store) => store.list(prefix, scope));
  }

  async set(ref: SecretRef, value: SecretValue, opts?: SetOptions): Promise<SecretMetadata> {
    if (this.#onThread(1)) return (await this.#writeOnThread([{ ref, value, opts }]))[0]!;
    return this.#call((store) => store.set(ref, value, opts));
  }

  /** Several writes in one transaction (one fsync): all or none. */
  async setMany(entries: Array<{ ref: SecretRef; value: SecretValue; opts?: SetOptions }>): Promise<SecretMetadata[]> {
    if (this.#onThread(entries.length)) return this.#writeOnThread(entries);
    return this.#call((store) => store.setMany(entries));
  }

  async delete(ref: SecretRef, opts?: DeleteOptions): Promise<void> {
    return this.#call((store) => store.delete(ref, opts));
  }

  async undelete(ref: SecretRef): Promise<void> {
    return this.#call((store) => store.undelete(ref));
  }

  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    return this.#call((store) => store.versions(ref));
  }

  /** Makes the pending version current in one transaction (see Provider.promote). */
  async promote(ref: SecretRef, version: string): Promise<SecretMetadata> {
    return this.#call((store) => store.promote(ref, version));
  }

  /** Erases the values of expired versions now (also done at open and every 100 writes). */
  async purgeExpired(): Promise<number> {
    return this.#call((store) => store.purgeExpired());
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    try {
      await this.#call((store) => store.ping());
      return { provider: this.id, status: 'ready', latencyMs: performance.now() - started };
    } catch (error) {
      const message = error instanceof LockboxError ? error.describe() : 'the local store failed';
      return { provider: this.id, status: 'down', latencyMs: performance.now() - started, message };
    }
  }

  /** Closes the connection (and the write thread) and zeroes the master key and cached data keys. */
  async dispose(): Promise<void> {
    this.#store?.close();
    this.#store = undefined;
    await this.#closeThread();
  }

  /** True while the write thread (see write_thread) is running: started by the first write it takes, stopped by dispose. */
  get writeThreadRunning(): boolean {
    return this.#thread !== undefined && !this.#thread.stopped;
  }

  /** Whether a write of `entries` secrets goes to the write thread (see write_thread). */
  #onThread(entries: number): boolean {
    const mode = this.#options.write_thread;
    return mode === 'worker' || (mode === 'auto' && entries >= BULK_WRITE_ENTRIES);
  }

  /** A write on the write thread: checked here, written by the thread (started on the first such write). */
  async #writeOnThread(entries: readonly SetEntry[]): Promise<SecretMetadata[]> {
    const store = this.#store ?? await this.#open();
    try {
      for (const { ref, opts } of entries) checkWrite(ref, opts);
      if (this.#thread?.stopped) this.#thread = undefined;
      this.#thread ??= new StoreWriteThread(this.path, store.activeMasterKey, this.id);
      return await this.#thread.setMany(entries);
    } catch (error) {
      if (!(error instanceof KeyringMismatchError)) throw storeError(error, this.path, this.id);
      // Another process rotated the master key: reopen with the new key here; the thread restarts with it.
      return this.#afterReopen((store) => store.setMany([...entries]));
    }
  }

  async #closeThread(): Promise<void> {
    const thread = this.#thread;
    this.#thread = undefined;
    await thread?.close();
  }

  async #call<T>(operation: (store: SqliteStore) => T): Promise<T> {
    const store = this.#store ?? await this.#open();
    try {
      return operation(store);
    } catch (error) {
      if (error instanceof KeyringMismatchError) return this.#afterReopen(operation);
      throw storeError(error, this.path, this.id);
    }
  }

  /** Another process rotated the master key while the store was open: reload the keyring once and retry. */
  async #afterReopen<T>(operation: (store: SqliteStore) => T): Promise<T> {
    this.#store?.close();
    this.#store = undefined;
    await this.#closeThread();
    const store = await this.#open();
    try {
      return operation(store);
    } catch (error) {
      throw storeError(error, this.path, this.id);
    }
  }

  /** Opens the store: synchronously for env and file keys, once (shared) for command and KMS keys. */
  #open(): SqliteStore | Promise<SqliteStore> {
    let loaded: LoadedMasterKey | undefined;
    try {
      loaded = loadKeySync(this.#keySource, this.#env);
    } catch (error) {
      throw storeError(error, this.path, this.id);
    }
    if (loaded) return this.#openWith(loaded.key);
    this.#opening ??= loadKey(this.#keySource, { env: this.#env, storePath: this.path, providerId: this.id })
      .then((key) => this.#openWith(key.key))
      .finally(() => { this.#opening = undefined; });
    return this.#opening;
  }

  #openWith(masterKey: MasterKey): SqliteStore {
    const keyring = new Keyring(masterKey);
    let opened: ReturnType<typeof openStoreDatabase> | undefined;
    try {
      opened = openStoreDatabase(this.path, keyring);
      const store = new SqliteStore(opened, keyring, this.id, this.#options.data_key_cache_size);
      store.purgeQuietly();
      this.#store = store;
      return store;
    } catch (error) {
      opened?.db.close();
      keyring.zero();
      throw storeError(error, this.path, this.id);
    }
  }
}
