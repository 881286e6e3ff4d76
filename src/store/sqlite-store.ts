/**
 * The encrypted SQLite store behind the `local` provider. Every statement is prepared once at
 * open; a read is one SELECT (one primary-key probe) plus one AES-GCM open when the version's
 * data key is cached (two when not); a write is one IMMEDIATE transaction (one fsync).
 */
import type Database from 'better-sqlite3';
import { LockboxError, NotFoundError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, SecretListing, SecretMetadata, SecretRecord, SecretRef, SecretVersion, SetOptions,
} from '../types.js';
import {
  DataKeyCache, dataKeyAad, envelopeWrappedKey, newDataKey, openEnvelope, sealEnvelope, sealWithDataKey, sharedDataKeyAad,
  unwrapVersionKey, valueAad, WRAPPED_KEY_BYTES,
} from '../crypto/envelope.js';
import { Keyring, KeyringMismatchError } from '../crypto/keyring.js';
import type { MasterKey } from '../crypto/master-key.js';
import { checkName, checkScope } from './checked-names.js';
import { promotePending } from './promote.js';
import { checkWrite, EMPTY_OPTIONS } from './set-options.js';
import { SQL, type OpenedDatabase } from './schema.js';
import { notFound, tampered } from './store-errors.js';
import { labelsOf, parseVersion, rowMetadata, type VersionRow } from './version-rows.js';

/** Writes between two opportunistic purges of expired versions. */
export const PURGE_EVERY_WRITES = 100;

type Statement = Database.Statement<unknown[], unknown>;


/** The open store: synchronous methods, wrapped by the async `local` provider. */
export class SqliteStore {
  readonly #db: Database.Database;
  readonly #storeId: string;
  readonly #keyring: Keyring;
  readonly #providerId: string;
  readonly #cache: DataKeyCache;
  readonly #q: Record<keyof typeof SQL, Statement>;
  readonly #writeMany: Database.Transaction<(items: ReadonlyArray<readonly [string, string, Buffer, number, SetOptions]>, now: number) => Array<{ version: number; envelope: Buffer; dataKey: Buffer }>>;
  readonly #readMany: Database.Transaction<(refs: readonly SecretRef[]) => Array<SecretRecord | null>>;
  #writes = 0;

  /** `keys`: pass `opened.keyring` (it holds both keys while a key rotation is in progress). */
  constructor(opened: OpenedDatabase, keys: MasterKey | Keyring, providerId: string, dataKeyCacheSize: number) {
    const db = opened.db;
    this.#db = db;
    this.#storeId = opened.storeId;
    this.#keyring = Keyring.from(keys);
    this.#providerId = providerId;
    this.#cache = new DataKeyCache(dataKeyCacheSize);
    const readers = new Set(['readCurrent', 'readPrevious', 'readPending', 'readNumbered', 'latest', 'list', 'history']);
    const flags = new Set(['exists', 'anyExpired', 'activeKeyId']);
    this.#q = Object.fromEntries(Object.entries(SQL).map(([key, sql]) => {
      const statement = db.prepare(sql);
      return [key, readers.has(key) ? statement.raw() : flags.has(key) ? statement.pluck() : statement];
    })) as Record<keyof typeof SQL, Statement>;
    this.#writeMany = db.transaction((items, now) => {
      this.#assertActiveKey();
      // A batch shares one data key (one wrap instead of one per version); a single write has its own.
      const { key: masterKey, keyId } = this.#keyring.active;
      const shared = items.length > 1 ? newDataKey(masterKey, sharedDataKeyAad(this.#storeId, keyId)) : undefined;
      try {
        return items.map(([scope, name, plaintext, staged, opts]) => this.#insertVersion(scope, name, plaintext, staged, opts, now, shared));
      } catch (error) {
        shared?.dataKey.fill(0);
        throw error;
      }
    });
    this.#readMany = db.transaction((refs) => refs.map((ref) => this.get(ref)));
  }

  /** Random id of this store, bound into every AAD. */
  get storeId(): string {
    return this.#storeId;
  }

  /** The master key new versions are sealed under (the write thread starts with a copy). */
  get activeMasterKey(): MasterKey {
    return this.#keyring.active;
  }

  get(ref: SecretRef): SecretRecord | null {
    const name = checkName(ref.name);
    const scope = ref.scope ? checkScope(ref.scope) : '';
    const selector = ref.version === undefined ? 'current' : String(ref.version);
    let row: VersionRow | undefined;
    let labels: string[];
    if (selector === 'current') {
      row = this.#q.readCurrent.get(scope, name) as VersionRow | undefined;
      labels = ['current'];
    } else if (selector === 'previous' || selector === 'pending') {
      row = (selector === 'previous' ? this.#q.readPrevious : this.#q.readPending).get(scope, name) as VersionRow | undefined;
      labels = [selector];
    } else {
      row = this.#q.readNumbered.get(scope, name, parseVersion(selector)) as VersionRow | undefined;
      labels = row ? labelsOf(row[0], row[8], row[9], row[10]) : [];
    }
    if (row === undefined || row[3] !== null || row[4] !== null) return null;
    const expiresAt = row[2];
    if (expiresAt !== null && expiresAt <= Date.now()) return null;
    const plaintext = this.#open(scope, name, row);
    const value = new SecretValue(plaintext.toString('utf8'));
    plaintext.fill(0);
    return { provider: this.#providerId, value, metadata: rowMetadata(name, ref.scope || undefined, row, labels) };
  }

  /**
   * Reads several secrets in ONE read transaction (one WAL snapshot, so the answers are
   * consistent with each other): one entry per ref, in order, null where `get` gives null.
   */
  getMany(refs: readonly SecretRef[]): Array<SecretRecord | null> {
    return refs.length === 1 ? [this.get(refs[0]!)] : this.#readMany(refs);
  }

  set(ref: SecretRef, value: SecretValue, opts: SetOptions = EMPTY_OPTIONS): SecretMetadata {
    return this.setMany([{ ref, value, opts }])[0]!;
  }

  /** Writes several new versions in ONE transaction (one fsync): all are written or none. */
  setMany(entries: Array<{ ref: SecretRef; value: SecretValue; opts?: SetOptions }>): SecretMetadata[] {
    const items = entries.map(({ ref, value, opts = EMPTY_OPTIONS }) => ({ ref, ...checkWrite(ref, opts), value, opts }));
    const now = Date.now();
    const plaintexts = items.map((item) => Buffer.from(item.value.reveal(), 'utf8'));
    let written: Array<{ version: number; envelope: Buffer; dataKey: Buffer }>;
    try {
      written = this.#writeMany.immediate(items.map((item, i) => [item.scope, item.name, plaintexts[i]!, item.opts.pending ? 1 : 0, item.opts] as const), now);
    } finally {
      for (const plaintext of plaintexts) plaintext.fill(0);
    }
    return written.map((w, i) => {
      const { ref, name, opts } = items[i]!;
      if (this.#cache.capacity > 0) this.#cache.set(w.envelope.toString('latin1', 0, WRAPPED_KEY_BYTES), w.dataKey);
      else w.dataKey.fill(0);
      if (++this.#writes % PURGE_EVERY_WRITES === 0) this.purgeQuietly();
      return {
        name, scope: ref.scope || undefined, version: String(w.version), labels: [opts.pending ? 'pending' : 'current'],
        createdAt: new Date(now), updatedAt: new Date(now), expiresAt: opts.expiresAt, tags: { ...(opts.tags ?? {}) },
      };
    });
  }

  list(prefix = '', scope?: string): SecretListing[] {
    const rows = this.#q.list.all(scope ? checkScope(scope) : '', prefix.length, prefix) as Array<[string, number, number, number | null, number | null, string | null, number | null]>;
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
      const { changes } = version === undefined ? this.#q.destroyAll.run(scope, name) : this.#q.destroyOne.run(now, scope, name, version);
      if (changes === 0) throw notFound(ref, this.#providerId, version);
      this.#cache.clear();
      this.#checkpoint();
      return;
    }
    if (opts.mode !== undefined && opts.mode !== 'soft') throw new LockboxError('INVALID_INPUT', `unknown delete mode "${String(opts.mode)}"; use "soft" or "destroy"`);
    const { changes } = version === undefined ? this.#q.softDelete.run(now, scope, name) : this.#q.softDeleteOne.run(now, scope, name, version);
    if (changes === 0 && (version !== undefined || !this.#q.exists.get(scope, name))) throw notFound(ref, this.#providerId, version);
  }

  /** Brings back every soft-deleted version of a secret. */
  undelete(ref: SecretRef): void {
    const name = checkName(ref.name);
    const scope = ref.scope ? checkScope(ref.scope) : '';
    const { changes } = this.#q.undeleteAll.run(scope, name);
    if (changes === 0 && !this.#q.exists.get(scope, name)) throw notFound(ref, this.#providerId);
  }

  versions(ref: SecretRef): SecretVersion[] {
    const name = checkName(ref.name);
    const rows = this.#q.history.all(ref.scope ? checkScope(ref.scope) : '', name) as Array<[number, number, number, number | null, number | null, number | null]>;
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

  /** Makes the pending version current without writing a new one (rotation's promotion): see promotePending. */
  promote(ref: SecretRef, version: string): SecretMetadata {
    const name = checkName(ref.name);
    const scope = ref.scope ? checkScope(ref.scope) : '';
    const target = this.#resolveVersion(scope, name, version);
    return promotePending({ db: this.#db, readNumbered: this.#q.readNumbered, providerId: this.#providerId }, ref, scope, name, target);
  }

  /** Erases the ciphertexts (and wrapped keys) of every version whose expiry has passed. */
  purgeExpired(now = Date.now()): number {
    if (!this.#q.anyExpired.get(now)) return 0;
    const { changes } = this.#q.purge.run(now, now);
    if (changes > 0) {
      this.#cache.clear();
      this.#checkpoint();
    }
    return changes;
  }

  /** purgeExpired for the opportunistic calls (at open, after writes): a busy store only delays it. */
  purgeQuietly(): void {
    try {
      this.purgeExpired();
    } catch {
      // the write already committed; the next purge picks the expired versions up
    }
  }

  /** A cheap live check of the connection. */
  ping(): void {
    this.#db.prepare('SELECT count(*) FROM meta').pluck().get();
  }

  /** Zeroes cached data keys and the master keys, and closes the connection. */
  close(): void {
    this.#cache.clear();
    this.#keyring.zero();
    if (this.#db.open) this.#db.close();
  }

  #insertVersion(scope: string, name: string, plaintext: Buffer, staged: number, opts: SetOptions, now: number, shared?: { dataKey: Buffer; wrapped: Buffer }) {
    const [latest, anyDeleted] = this.#q.latest.get(scope, name) as [number | null, number | null];
    const version = (latest ?? 0) + 1;
    const { key: masterKey, keyId } = this.#keyring.active;
    const aad = valueAad(this.#storeId, scope, name, version);
    const { envelope, dataKey } = shared === undefined
      ? sealEnvelope(masterKey, plaintext, aad, dataKeyAad(this.#storeId, scope, name, version, keyId))
      : { envelope: sealWithDataKey(shared.dataKey, shared.wrapped, plaintext, aad), dataKey: shared.dataKey };
    try {
      const tags = opts.tags && Object.keys(opts.tags).length > 0 ? JSON.stringify(opts.tags) : null;
      this.#q.insert.run(scope, name, version, staged, now, opts.expiresAt?.getTime() ?? null, tags, keyId, envelope);
      if (anyDeleted !== null) this.#q.undeleteAll.run(scope, name);
      return { version, envelope, dataKey };
    } catch (error) {
      dataKey.fill(0);
      throw error;
    }
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
      const masterKey = this.#keyring.get(keyId);
      if (masterKey === undefined) throw this.#unknownKey(name, scope, version, keyId);
      try {
        dataKey = unwrapVersionKey(masterKey.key, envelopeWrappedKey(envelope), dataKeyAad(this.#storeId, scope, name, version, masterKey.keyId), sharedDataKeyAad(this.#storeId, masterKey.keyId)).dataKey;
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
    const statement = selector === 'current' ? this.#q.readCurrent : selector === 'previous' ? this.#q.readPrevious : this.#q.readPending;
    const row = statement.get(scope, name) as VersionRow | undefined;
    if (!row) throw new NotFoundError(`${name} version ${selector}`, { provider: this.#providerId });
    return row[0];
  }

  /**
   * A row wrapped by a key this keyring does not hold. When the store's meta names that key (as
   * its key or a rotation's), another process rotated the master key since this one opened the
   * store: a KeyringMismatchError, so the provider reloads its keyring. Otherwise it was tampered.
   */
  #unknownKey(name: string, scope: string, version: number, keyId: string | null): LockboxError {
    const why = `its data key is wrapped by another master key (key id ${String(keyId)})`;
    const named = keyId !== null && this.#db.prepare("SELECT 1 FROM meta WHERE (key = 'key_id' AND value = ?) OR (key = 'rotation' AND instr(value, ?) > 0)").pluck().get(keyId, keyId) !== undefined;
    if (!named) return tampered(this.#providerId, name, scope, version, why);
    const where = scope ? ` (tenant ${scope})` : '';
    return new KeyringMismatchError('SECRET_TAMPERED', `secret ${name} version ${version} failed authentication${where}: ${why}`, {
      provider: this.#providerId, hint: 'the master key was rotated: open the store with the new key',
    });
  }

  /** Refuses to seal under a key that is no longer the store's (another process rotated it). */
  #assertActiveKey(): void {
    const storeKeyId = this.#q.activeKeyId.get() as string | undefined;
    if (storeKeyId !== undefined && storeKeyId !== this.#keyring.active.keyId) {
      throw new KeyringMismatchError('STORE_ERROR', `the store's master key was rotated to key id ${storeKeyId} while it was open with key id ${this.#keyring.active.keyId}`, {
        provider: this.#providerId, hint: 'reopen the store (the local provider does so by itself)',
      });
    }
  }

  #checkpoint(): void {
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // best effort: a busy reader only delays when old WAL frames are overwritten
    }
  }
}

