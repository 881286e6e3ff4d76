/**
 * The encrypted SQLite store behind the `local` provider. Every statement is prepared once at
 * open; a read is one SELECT (one primary-key probe) plus one AES-GCM open when the version's
 * data key is cached (two when not); a write is one IMMEDIATE transaction (one fsync).
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { LockboxError, NotFoundError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, SecretListing, SecretMetadata, SecretRecord, SecretRef, SecretVersion, SetOptions,
} from '../types.js';
import {
  DataKeyCache, dataKeyAad, envelopeWrappedKey, generateDataKey, openEnvelope, sealEnvelope, unwrapDataKey, valueAad,
  WRAPPED_KEY_BYTES,
} from '../crypto/envelope.js';
import type { MasterKey } from '../crypto/master-key.js';
import type { OpenedDatabase } from './schema.js';

/** Writes between two opportunistic purges of expired versions. */
export const PURGE_EVERY_WRITES = 100;

const COLUMNS = 'version, created_at, expires_at, deleted_at, destroyed_at, tags, key_id, envelope';
/** [version, created_at, expires_at, deleted_at, destroyed_at, tags, key_id, envelope, …labels] */
type VersionRow = [number, number, number | null, number | null, number | null, string | null, string | null, Buffer | null, ...(number | null)[]];
type Statement = Database.Statement<unknown[], unknown>;

const setOptionsSchema = z.object({
  expiresAt: z.date().refine((d) => !Number.isNaN(d.getTime()), 'expiresAt is not a valid date').optional(),
  tags: z.record(z.string()).optional(),
  pending: z.boolean().optional(),
}).strict();

/** The open store: synchronous methods, wrapped by the async `local` provider. */
export class SqliteStore {
  readonly #db: Database.Database;
  readonly #storeId: string;
  readonly #masterKey: MasterKey;
  readonly #providerId: string;
  readonly #cache: DataKeyCache;
  readonly #readCurrent: Statement;
  readonly #readPrevious: Statement;
  readonly #readPending: Statement;
  readonly #readNumbered: Statement;
  readonly #latest: Statement;
  readonly #insert: Statement;
  readonly #undeleteAll: Statement;
  readonly #softDelete: Statement;
  readonly #softDeleteOne: Statement;
  readonly #destroyAll: Statement;
  readonly #destroyOne: Statement;
  readonly #exists: Statement;
  readonly #list: Statement;
  readonly #history: Statement;
  readonly #anyExpired: Statement;
  readonly #purge: Statement;
  readonly #write: Database.Transaction<(scope: string, name: string, plaintext: Buffer, staged: number, opts: SetOptions, now: number) => { version: number; envelope: Buffer; dataKey: Buffer }>;
  #writes = 0;

  constructor(opened: OpenedDatabase, masterKey: MasterKey, providerId: string, dataKeyCacheSize: number) {
    const db = opened.db;
    this.#db = db;
    this.#storeId = opened.storeId;
    this.#masterKey = masterKey;
    this.#providerId = providerId;
    this.#cache = new DataKeyCache(dataKeyCacheSize);
    const top = (staged: number, offset: number) =>
      db.prepare(`SELECT ${COLUMNS} FROM versions WHERE scope = ? AND name = ? AND staged = ${staged} ORDER BY version DESC LIMIT 1${offset ? ` OFFSET ${offset}` : ''}`).raw();
    this.#readCurrent = top(0, 0);
    this.#readPrevious = top(0, 1);
    this.#readPending = top(1, 0);
    const label = (staged: number, offset: number) =>
      `(SELECT l.version FROM versions l WHERE l.scope = v.scope AND l.name = v.name AND l.staged = ${staged} ORDER BY l.version DESC LIMIT 1${offset ? ` OFFSET ${offset}` : ''})`;
    this.#readNumbered = db.prepare(`SELECT ${COLUMNS}, ${label(0, 0)}, ${label(0, 1)}, ${label(1, 0)} FROM versions v WHERE v.scope = ? AND v.name = ? AND v.version = ?`).raw();
    this.#latest = db.prepare('SELECT max(version), max(deleted_at) FROM versions WHERE scope = ? AND name = ?').raw();
    this.#insert = db.prepare('INSERT INTO versions (scope, name, version, staged, created_at, expires_at, tags, key_id, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.#undeleteAll = db.prepare('UPDATE versions SET deleted_at = NULL WHERE scope = ? AND name = ? AND deleted_at IS NOT NULL');
    this.#softDelete = db.prepare('UPDATE versions SET deleted_at = ? WHERE scope = ? AND name = ? AND deleted_at IS NULL');
    this.#softDeleteOne = db.prepare('UPDATE versions SET deleted_at = coalesce(deleted_at, ?) WHERE scope = ? AND name = ? AND version = ?');
    this.#destroyAll = db.prepare('DELETE FROM versions WHERE scope = ? AND name = ?');
    this.#destroyOne = db.prepare(`UPDATE versions SET ${ERASED}, destroyed_at = coalesce(destroyed_at, ?) WHERE scope = ? AND name = ? AND version = ?`);
    this.#exists = db.prepare('SELECT 1 FROM versions WHERE scope = ? AND name = ? LIMIT 1').pluck();
    this.#list = db.prepare('SELECT name, max(version), created_at, expires_at, deleted_at, tags, destroyed_at FROM versions WHERE scope = ? AND staged = 0 AND substr(name, 1, ?) = ? GROUP BY name ORDER BY name').raw();
    this.#history = db.prepare('SELECT version, staged, created_at, expires_at, deleted_at, destroyed_at FROM versions WHERE scope = ? AND name = ? ORDER BY version').raw();
    this.#anyExpired = db.prepare('SELECT 1 FROM versions WHERE expires_at <= ? AND envelope IS NOT NULL LIMIT 1').pluck();
    this.#purge = db.prepare(`UPDATE versions SET ${ERASED}, destroyed_at = ? WHERE expires_at <= ? AND envelope IS NOT NULL`);
    this.#write = db.transaction((scope, name, plaintext, staged, opts, now) => this.#insertVersion(scope, name, plaintext, staged, opts, now));
  }

  /** Random id of this store, bound into every AAD. */
  get storeId(): string {
    return this.#storeId;
  }

  get(ref: SecretRef): SecretRecord | null {
    const name = checkName(ref.name);
    const scope = ref.scope ? checkScope(ref.scope) : '';
    const selector = ref.version === undefined ? 'current' : String(ref.version);
    let row: VersionRow | undefined;
    let labels: string[];
    if (selector === 'current') {
      row = this.#readCurrent.get(scope, name) as VersionRow | undefined;
      labels = ['current'];
    } else if (selector === 'previous' || selector === 'pending') {
      row = (selector === 'previous' ? this.#readPrevious : this.#readPending).get(scope, name) as VersionRow | undefined;
      labels = [selector];
    } else {
      row = this.#readNumbered.get(scope, name, parseVersion(selector)) as VersionRow | undefined;
      labels = row ? labelsOf(row[0], row[8], row[9], row[10]) : [];
    }
    if (row === undefined || row[3] !== null || row[4] !== null) return null;
    const expiresAt = row[2];
    if (expiresAt !== null && expiresAt <= Date.now()) return null;
    const plaintext = this.#open(scope, name, row);
    const value = new SecretValue(plaintext.toString('utf8'));
    plaintext.fill(0);
    const createdAt = row[1];
    return {
      provider: this.#providerId,
      value,
      metadata: {
        name, scope: ref.scope || undefined, version: String(row[0]), labels,
        createdAt: new Date(createdAt), updatedAt: new Date(createdAt),
        expiresAt: expiresAt === null ? undefined : new Date(expiresAt),
        tags: row[5] === null ? {} : JSON.parse(row[5]) as Record<string, string>,
      },
    };
  }

  set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): SecretMetadata {
    const name = checkName(ref.name);
    const scope = ref.scope ? checkScope(ref.scope) : '';
    const parsed = setOptionsSchema.safeParse(opts);
    if (!parsed.success) {
      throw new LockboxError('INVALID_INPUT', `invalid options for set: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const plaintext = Buffer.from(value.reveal(), 'utf8');
    const now = Date.now();
    let written: { version: number; envelope: Buffer; dataKey: Buffer };
    try {
      written = this.#write.immediate(scope, name, plaintext, opts.pending ? 1 : 0, opts, now);
    } finally {
      plaintext.fill(0);
    }
    if (this.#cache.capacity > 0) this.#cache.set(written.envelope.toString('latin1', 0, WRAPPED_KEY_BYTES), written.dataKey);
    else written.dataKey.fill(0);
    if (++this.#writes % PURGE_EVERY_WRITES === 0) this.purgeExpired();
    return {
      name, scope: ref.scope || undefined, version: String(written.version), labels: [opts.pending ? 'pending' : 'current'],
      createdAt: new Date(now), updatedAt: new Date(now), expiresAt: opts.expiresAt, tags: { ...(opts.tags ?? {}) },
    };
  }

  list(prefix = '', scope?: string): SecretListing[] {
    const rows = this.#list.all(scope ? checkScope(scope) : '', prefix.length, prefix) as Array<[string, number, number, number | null, number | null, string | null, number | null]>;
    const now = Date.now();
    const listings: SecretListing[] = [];
    for (const [name, version, createdAt, expiresAt, deletedAt, tags, destroyedAt] of rows) {
      if (deletedAt !== null || destroyedAt !== null || (expiresAt !== null && expiresAt <= now)) continue;
      listings.push({ name, scope: scope || undefined, version: String(version), updatedAt: new Date(createdAt), tags: tags === null ? {} : JSON.parse(tags) });
    }
    return listings;
  }

  /** Soft delete (default: hides, undelete brings back) or destroy (erases ciphertexts). */
  delete(ref: SecretRef, opts: DeleteOptions = {}): void {
    const name = checkName(ref.name);
    const scope = ref.scope ? checkScope(ref.scope) : '';
    const version = opts.version === undefined ? undefined : this.#resolveVersion(scope, name, opts.version);
    const now = Date.now();
    if (opts.mode === 'destroy') {
      const { changes } = version === undefined ? this.#destroyAll.run(scope, name) : this.#destroyOne.run(now, scope, name, version);
      if (changes === 0) throw notFound(ref, this.#providerId, version);
      this.#cache.clear();
      this.#checkpoint();
      return;
    }
    if (opts.mode !== undefined && opts.mode !== 'soft') throw new LockboxError('INVALID_INPUT', `unknown delete mode "${String(opts.mode)}"; use "soft" or "destroy"`);
    const { changes } = version === undefined ? this.#softDelete.run(now, scope, name) : this.#softDeleteOne.run(now, scope, name, version);
    if (changes === 0 && (version !== undefined || !this.#exists.get(scope, name))) throw notFound(ref, this.#providerId, version);
  }

  /** Brings back every soft-deleted version of a secret. */
  undelete(ref: SecretRef): void {
    const name = checkName(ref.name);
    const scope = ref.scope ? checkScope(ref.scope) : '';
    const { changes } = this.#undeleteAll.run(scope, name);
    if (changes === 0 && !this.#exists.get(scope, name)) throw notFound(ref, this.#providerId);
  }

  versions(ref: SecretRef): SecretVersion[] {
    const name = checkName(ref.name);
    const rows = this.#history.all(ref.scope ? checkScope(ref.scope) : '', name) as Array<[number, number, number, number | null, number | null, number | null]>;
    const unstaged = rows.filter((r) => r[1] === 0);
    const current = unstaged.at(-1)?.[0] ?? null;
    const previous = unstaged.at(-2)?.[0] ?? null;
    const pending = rows.filter((r) => r[1] === 1).at(-1)?.[0] ?? null;
    return rows.map(([version, , createdAt, expiresAt, deletedAt, destroyedAt]) => ({
      version: String(version), labels: labelsOf(version, current, previous, pending), createdAt: new Date(createdAt),
      expiresAt: expiresAt === null ? undefined : new Date(expiresAt),
      deletedAt: deletedAt === null ? undefined : new Date(deletedAt), destroyed: destroyedAt !== null,
    }));
  }

  /** Erases the ciphertexts (and wrapped keys) of every version whose expiry has passed. */
  purgeExpired(now = Date.now()): number {
    if (!this.#anyExpired.get(now)) return 0;
    const { changes } = this.#purge.run(now, now);
    if (changes > 0) {
      this.#cache.clear();
      this.#checkpoint();
    }
    return changes;
  }

  /** A cheap live check of the connection. */
  ping(): void {
    this.#db.prepare('SELECT count(*) FROM meta').pluck().get();
  }

  /** Zeroes cached data keys and the master key, and closes the connection. */
  close(): void {
    this.#cache.clear();
    this.#masterKey.key.fill(0);
    if (this.#db.open) this.#db.close();
  }

  #insertVersion(scope: string, name: string, plaintext: Buffer, staged: number, opts: SetOptions, now: number) {
    const [latest, anyDeleted] = this.#latest.get(scope, name) as [number | null, number | null];
    const version = (latest ?? 0) + 1;
    const { key: masterKey, keyId } = this.#masterKey;
    const dataKey = generateDataKey();
    const envelope = sealEnvelope(masterKey, dataKey, plaintext, valueAad(this.#storeId, scope, name, version), dataKeyAad(this.#storeId, scope, name, version, keyId));
    const tags = opts.tags && Object.keys(opts.tags).length > 0 ? JSON.stringify(opts.tags) : null;
    this.#insert.run(scope, name, version, staged, now, opts.expiresAt?.getTime() ?? null, tags, keyId, envelope);
    if (anyDeleted !== null) this.#undeleteAll.run(scope, name);
    return { version, envelope, dataKey };
  }

  /** Opens a row's value: the data key from the cache or unwrapped, then one AES-GCM open. */
  #open(scope: string, name: string, row: VersionRow): Buffer {
    const version = row[0];
    const keyId = row[6];
    const envelope = row[7];
    if (envelope === null) throw tampered(this.#providerId, name, scope, version, 'its envelope is missing');
    const cacheKey = envelope.toString('latin1', 0, WRAPPED_KEY_BYTES);
    let dataKey = this.#cache.get(cacheKey);
    if (dataKey === undefined) {
      if (keyId !== this.#masterKey.keyId) throw tampered(this.#providerId, name, scope, version, `its data key is wrapped by another master key (key id ${String(keyId)})`);
      try {
        dataKey = unwrapDataKey(this.#masterKey.key, envelopeWrappedKey(envelope), dataKeyAad(this.#storeId, scope, name, version, keyId));
      } catch (error) {
        throw tampered(this.#providerId, name, scope, version, 'its wrapped data key was changed or moved', error);
      }
      this.#cache.set(cacheKey, dataKey);
    }
    try {
      return openEnvelope(dataKey, envelope, valueAad(this.#storeId, scope, name, version));
    } catch (error) {
      throw tampered(this.#providerId, name, scope, version, 'its ciphertext, IV or tag was changed or moved from another row', error);
    } finally {
      if (this.#cache.capacity === 0) dataKey.fill(0);
    }
  }

  #resolveVersion(scope: string, name: string, selector: string): number {
    if (selector !== 'current' && selector !== 'previous' && selector !== 'pending') return parseVersion(selector);
    const statement = selector === 'current' ? this.#readCurrent : selector === 'previous' ? this.#readPrevious : this.#readPending;
    const row = statement.get(scope, name) as VersionRow | undefined;
    if (!row) throw new NotFoundError(`${name} version ${selector}`, { provider: this.#providerId });
    return row[0];
  }

  #checkpoint(): void {
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // best effort: a busy reader only delays when old WAL frames are overwritten
    }
  }
}

/** Columns cleared when a version's value is erased. */
const ERASED = 'key_id = NULL, envelope = NULL';
/** Names and scopes already checked (validation is the costliest JS on the read path). */
const validNames = new Set<string>();
const validScopes = new Set<string>();

function checkName(name: string): string {
  return validNames.has(name) ? name : remember(validNames, assertValidName(name));
}

function checkScope(scope: string): string {
  return validScopes.has(scope) ? scope : remember(validScopes, assertValidScope(scope));
}

function remember(checked: Set<string>, value: string): string {
  if (checked.size >= 4096) checked.clear();
  checked.add(value);
  return value;
}

function parseVersion(selector: string): number {
  const version = /^[1-9][0-9]{0,14}$/.test(selector) ? Number(selector) : NaN;
  if (!Number.isSafeInteger(version)) {
    throw new LockboxError('INVALID_INPUT', `invalid version "${selector.slice(0, 40)}": use a number (1, 2, …) or current, previous, pending`);
  }
  return version;
}

function labelsOf(version: number, current: number | null | undefined, previous: number | null | undefined, pending: number | null | undefined): string[] {
  const labels: string[] = [];
  if (version === current) labels.push('current');
  if (version === previous) labels.push('previous');
  if (version === pending) labels.push('pending');
  return labels;
}

function tampered(provider: string, name: string, scope: string, version: number, why: string, cause?: unknown): LockboxError {
  const where = scope ? ` (tenant ${scope})` : '';
  return new LockboxError('SECRET_TAMPERED', `secret ${name} version ${version} failed authentication${where}: ${why}`, {
    hint: 'restore the store from a backup, or destroy this version and set the secret again',
    provider,
    cause,
  });
}

function notFound(ref: SecretRef, provider: string, version?: number): NotFoundError {
  const where = ref.scope ? ` (tenant ${ref.scope})` : '';
  return new NotFoundError(`${ref.name}${version === undefined ? '' : ` version ${version}`}${where}`, { provider });
}
