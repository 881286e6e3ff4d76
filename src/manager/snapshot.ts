/**
 * The last-known-good snapshot: one file (mode 0600) holding the values the manager resolved
 * recently, sealed with AES-256-GCM under a key derived (HKDF-SHA256, its own info string) from
 * the master key. The manager serves from it only when every provider that could answer failed
 * transiently and the entry is inside the staleness window — never for not-found or denied.
 * A snapshot that cannot be opened is reported (SNAPSHOT_INVALID) and ignored, never fatal.
 * The file format is in snapshot-file.ts.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { keyIdOf } from '../crypto/master-key.js';
import { LockboxError, type ErrorCode } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type { SecretRecord, SecretRef } from '../types.js';
import {
  SnapshotFormatError, deriveSnapshotRootKey, openSnapshot, sealSnapshot, writeAtomically, type SnapshotEntry,
} from './snapshot-file.js';
import { durationMsSchema } from './watch-config.js';

/** The `snapshot:` section of lockbox.yaml (max_age in milliseconds after parsing). */
export const snapshotConfigSchema = z.object({
  /** @default true (when the section is present) */
  enabled: z.boolean().default(true),
  /** The snapshot file, relative to lockbox.yaml. @default ".lockbox/lkg.snapshot" */
  path: z.string().min(1).default('.lockbox/lkg.snapshot'),
  /** Oldest entry that may still be served. @default "24h" */
  max_age: durationMsSchema('24h'),
}).strict();
export type SnapshotConfig = z.output<typeof snapshotConfigSchema>;

export interface SnapshotOptions {
  /** Absolute path of the snapshot file. */
  path: string;
  /** Gives the master key; the buffer returned is zeroed once the snapshot key is derived from it (return a copy). */
  masterKey: () => Buffer | Promise<Buffer>;
  /** Oldest entry that may still be served, in ms. @default 86400000 (24 h) */
  maxAgeMs?: number;
  /** Delay between a change and the file write, so that a burst of reads costs one write. @default 1000 */
  writeDelayMs?: number;
  /** Most entries kept (least recently confirmed dropped first). @default 10000 */
  maxEntries?: number;
  /** Told about a snapshot that cannot be opened (SNAPSHOT_INVALID), a missing key or a failed write. @default none (see status()) */
  onProblem?: (error: LockboxError) => void;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** What lookup() serves: the record and how old it is. */
export interface SnapshotHit { record: SecretRecord; ageMs: number; recordedAt: Date }

/** For health(): the file's state, and whether and how old values were served from it. */
export interface SnapshotStatus {
  path: string;
  state: 'not-loaded' | 'empty' | 'ok' | 'invalid' | 'unavailable';
  entries: number;
  problem?: { code: ErrorCode; message: string };
  /** True once a value was served from the snapshot. */
  servedFrom: boolean;
  /** Age in ms of the oldest value served. */
  ageMs?: number;
  /** One line for a health report; never a value. */
  message?: string;
}

/** A re-confirmed, unchanged value is rewritten only when its stored time is at least this old. */
const REFRESH_MS = 60_000;

/** Remembers resolved values and serves them while every provider is unreachable. */
export class LastKnownGoodSnapshot {
  readonly path: string;
  readonly #options: SnapshotOptions;
  readonly #maxAge: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, SnapshotEntry>();
  readonly #recorded = new WeakSet<SecretRecord>();
  #rootKey?: Buffer;
  #keyId?: string;
  #loading?: Promise<void>;
  #state: SnapshotStatus['state'] = 'not-loaded';
  #problem?: LockboxError;
  #served?: number;
  #dirty = false;
  #timer?: NodeJS.Timeout;
  #disposed = false;

  constructor(options: SnapshotOptions) {
    this.path = options.path;
    this.#options = options;
    this.#maxAge = options.maxAgeMs ?? 86_400_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Remembers a value a provider returned for `ref` (call after every successful read). A record
   * object seen before (a cache hit or a stale-if-error answer) does not count as a new
   * confirmation, so an entry's age is the time since a provider last returned it.
   */
  record(ref: SecretRef, record: SecretRecord): void {
    if (this.#disposed || this.#recorded.has(record)) return;
    this.#recorded.add(record);
    const key = snapshotKey(ref);
    const value = record.value.reveal();
    const now = this.#now();
    const old = this.#entries.get(key);
    const changed = !old || old.value !== value || old.version !== record.metadata.version || old.provider !== record.provider;
    const { metadata } = record;
    this.#entries.delete(key);
    this.#entries.set(key, {
      key, value, provider: record.provider, name: metadata.name, scope: metadata.scope, version: metadata.version,
      labels: metadata.labels, createdAt: metadata.createdAt.getTime(), updatedAt: metadata.updatedAt.getTime(),
      expiresAt: metadata.expiresAt?.getTime(), tags: metadata.tags, recordedAt: now,
    });
    if (this.#entries.size > (this.#options.maxEntries ?? 10_000)) this.#entries.delete(this.#entries.keys().next().value!);
    if (changed || now - old.recordedAt >= REFRESH_MS) this.#markDirty();
  }

  /** Drops the entry of `ref` (call when the chain answered not-found, or after a delete). */
  forget(ref: SecretRef): void {
    if (this.#entries.delete(snapshotKey(ref))) this.#markDirty();
  }

  /**
   * The remembered record of `ref` when it is inside the staleness window and not expired.
   * With `unreachable` (ids of the providers that just failed transiently), only an entry
   * whose provider is one of them is served.
   */
  async lookup(ref: SecretRef, options: { unreachable?: Iterable<string> } = {}): Promise<SnapshotHit | undefined> {
    await this.#ensureLoaded();
    const entry = this.#entries.get(snapshotKey(ref));
    if (!entry || (options.unreachable && !new Set(options.unreachable).has(entry.provider))) return undefined;
    const now = this.#now();
    const ageMs = Math.max(0, now - entry.recordedAt);
    if (ageMs > this.#maxAge || (entry.expiresAt !== undefined && entry.expiresAt <= now)) return undefined;
    this.#served = Math.max(this.#served ?? 0, ageMs);
    const metadata = {
      name: entry.name, scope: entry.scope, version: entry.version, labels: [...entry.labels], createdAt: new Date(entry.createdAt),
      updatedAt: new Date(entry.updatedAt), expiresAt: entry.expiresAt === undefined ? undefined : new Date(entry.expiresAt), tags: { ...entry.tags },
    };
    return { record: { provider: entry.provider, value: new SecretValue(entry.value), metadata }, ageMs, recordedAt: new Date(entry.recordedAt) };
  }

  /** Loads the file now (otherwise done by the first lookup or write), so that a problem shows in status(). */
  open(): Promise<void> {
    return this.#ensureLoaded();
  }

  status(): SnapshotStatus {
    const problem = this.#problem ? { code: this.#problem.code, message: this.#problem.message } : undefined;
    const served = this.#served === undefined ? undefined : `values served from the last-known-good snapshot (oldest ${formatAge(this.#served)} old)`;
    return {
      path: this.path, state: this.#state, entries: this.#entries.size, problem, servedFrom: this.#served !== undefined, ageMs: this.#served,
      message: [served, problem && `${problem.code}: ${problem.message}`].filter(Boolean).join('; ') || undefined,
    };
  }

  /** Writes pending changes now (atomically: temp file, fsync, rename). Failures are reported, not thrown. */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#dirty) return;
    await this.#ensureLoaded();
    if (!this.#dirty || !this.#rootKey) return;
    this.#dirty = false;
    try {
      this.#write();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.#report(new LockboxError('STORE_ERROR', `the last-known-good snapshot ${this.path} could not be written (${typeof code === 'string' ? code : 'error'})`, {
        cause: error, hint: 'check the directory\'s permissions and free disk space; lockbox keeps working without it',
      }));
    }
  }

  /** Writes what is pending, then zeroes the key and drops every value from memory. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    await this.flush();
    this.#disposed = true;
    this.#rootKey?.fill(0);
    this.#rootKey = undefined;
    this.#entries.clear();
  }

  #markDirty(): void {
    this.#dirty = true;
    if (this.#timer || this.#disposed) return;
    this.#timer = setTimeout(() => { this.#timer = undefined; void this.flush(); }, this.#options.writeDelayMs ?? 1000);
    this.#timer.unref();
  }

  #ensureLoaded(): Promise<void> {
    this.#loading ??= this.#load();
    return this.#loading;
  }

  async #load(): Promise<void> {
    try {
      const master = await this.#options.masterKey();
      try {
        this.#rootKey = deriveSnapshotRootKey(master);
        this.#keyId = keyIdOf(master);
      } finally {
        master.fill(0);
      }
    } catch (error) {
      this.#state = 'unavailable';
      this.#report(error instanceof LockboxError ? error : new LockboxError('MASTER_KEY_MISSING', 'the master key for the last-known-good snapshot could not be loaded', { cause: error }));
      return;
    }
    let sealed: Buffer;
    try {
      sealed = readFileSync(this.path);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOENT') { this.#state = 'empty'; return; }
      return this.#invalid(`cannot be read (${code ?? 'error'})`, error);
    }
    let entries: SnapshotEntry[];
    try {
      entries = openSnapshot(sealed, this.#rootKey!, this.#keyId!);
    } catch (error) {
      return this.#invalid(error instanceof SnapshotFormatError ? error.message : 'failed authentication (tampered with or corrupt)', error);
    }
    for (const entry of entries) if (!this.#entries.has(entry.key)) this.#entries.set(entry.key, entry);
    this.#state = 'ok';
  }

  #write(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (now - entry.recordedAt > this.#maxAge || (entry.expiresAt !== undefined && entry.expiresAt <= now)) this.#entries.delete(key);
    }
    writeAtomically(this.path, sealSnapshot([...this.#entries.values()], this.#rootKey!, this.#keyId!));
    this.#state = 'ok';
    if (this.#problem?.code === 'SNAPSHOT_INVALID' || this.#problem?.code === 'STORE_ERROR') this.#problem = undefined;
  }

  #invalid(reason: string, cause: unknown): void {
    this.#state = 'invalid';
    this.#report(new LockboxError('SNAPSHOT_INVALID', `the last-known-good snapshot ${this.path} ${reason}; it is ignored`, {
      cause, hint: 'it is replaced at the next successful read; delete the file to start afresh',
    }));
  }

  #report(error: LockboxError): void {
    this.#problem = error;
    try {
      this.#options.onProblem?.(error);
    } catch {
      // a failing handler must not break reads
    }
  }
}

/** The entry key of a ref: provider as asked (none = the chain), scope, name, version; `#field` is applied after. */
export function snapshotKey(ref: SecretRef): string {
  return `${ref.provider ?? ''}\0${ref.scope ?? ''}\0${ref.name}\0${ref.version ?? 'current'}`;
}

function formatAge(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}
