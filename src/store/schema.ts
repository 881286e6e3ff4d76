/**
 * The local store's SQLite file: creation with mode 0600, durability pragmas, schema, and the
 * meta table (store id + key check) that lets a wrong master key be refused on open.
 */
import { randomUUID } from 'node:crypto';
import { createPrivateFile, restrictSidecarFiles, sqliteAddon } from './sqlite-files.js';
import Database from 'better-sqlite3';
import { LockboxError } from '../errors.js';
import { sealKeyCheck, verifyKeyCheck } from '../crypto/envelope.js';
import { Keyring } from '../crypto/keyring.js';
import type { MasterKey } from '../crypto/master-key.js';
import { addRotationKeys } from './key-meta.js';

/** Version of the schema below, kept in meta.schema_version. */
export const SCHEMA_VERSION = 1;

/**
 * One row per version. The sealed material is one blob (`envelope`, layout in
 * docs/local-store.md) because better-sqlite3 pays an allocation per blob column read.
 * Labels are derived, not stored: current = the highest version written
 * without `pending` (staged = 0), previous = the next one down, pending = the highest staged one.
 * That keeps a read of `current` to one B-tree probe of the primary key.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
  scope TEXT NOT NULL,           -- tenant; '' for global secrets
  name TEXT NOT NULL,
  version INTEGER NOT NULL,      -- 1, 2, 3 … per (scope, name)
  staged INTEGER NOT NULL,       -- 1 when written as pending
  created_at INTEGER NOT NULL,   -- ms since the epoch
  expires_at INTEGER,            -- ms; unreadable (and later purged) from then on
  deleted_at INTEGER,            -- soft delete (undelete clears it)
  destroyed_at INTEGER,          -- value erased by destroy or expiry purge
  tags TEXT,                     -- JSON object; NULL when there are none
  key_id TEXT,                   -- id of the master key that wrapped the data key
  envelope BLOB,                 -- wrapped data key (60) | iv (12) | tag (16) | ciphertext
  PRIMARY KEY (scope, name, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS versions_expiring ON versions (expires_at)
  WHERE expires_at IS NOT NULL AND envelope IS NOT NULL;
`;

const COLUMNS = 'version, created_at, expires_at, deleted_at, destroyed_at, tags, key_id, envelope';
const ERASED = 'key_id = NULL, envelope = NULL';
const top = (staged: number, offset: number) =>
  `SELECT ${COLUMNS} FROM versions WHERE scope = ? AND name = ? AND staged = ${staged} ORDER BY version DESC LIMIT 1${offset ? ` OFFSET ${offset}` : ''}`;
const label = (staged: number, offset: number) =>
  `(SELECT l.version FROM versions l WHERE l.scope = v.scope AND l.name = v.name AND l.staged = ${staged} ORDER BY l.version DESC LIMIT 1${offset ? ` OFFSET ${offset}` : ''})`;

/**
 * Every statement the store runs, prepared once at open. Row readers return
 * [version, created_at, expires_at, deleted_at, destroyed_at, tags, key_id, envelope, …];
 * readNumbered adds the current, previous and pending version numbers.
 */
export const SQL = {
  readCurrent: top(0, 0),
  readPrevious: top(0, 1),
  readPending: top(1, 0),
  readNumbered: `SELECT ${COLUMNS}, ${label(0, 0)}, ${label(0, 1)}, ${label(1, 0)} FROM versions v WHERE v.scope = ? AND v.name = ? AND v.version = ?`,
  latest: 'SELECT max(version), max(deleted_at) FROM versions WHERE scope = ? AND name = ?',
  list: 'SELECT name, max(version), created_at, expires_at, deleted_at, tags, destroyed_at FROM versions WHERE scope = ? AND staged = 0 AND substr(name, 1, ?) = ? GROUP BY name ORDER BY name',
  history: 'SELECT version, staged, created_at, expires_at, deleted_at, destroyed_at FROM versions WHERE scope = ? AND name = ? ORDER BY version',
  exists: 'SELECT 1 FROM versions WHERE scope = ? AND name = ? LIMIT 1',
  anyExpired: 'SELECT 1 FROM versions WHERE expires_at <= ? AND envelope IS NOT NULL LIMIT 1',
  insert: 'INSERT INTO versions (scope, name, version, staged, created_at, expires_at, tags, key_id, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  undeleteAll: 'UPDATE versions SET deleted_at = NULL WHERE scope = ? AND name = ? AND deleted_at IS NOT NULL',
  softDelete: 'UPDATE versions SET deleted_at = ? WHERE scope = ? AND name = ? AND deleted_at IS NULL',
  softDeleteOne: 'UPDATE versions SET deleted_at = coalesce(deleted_at, ?) WHERE scope = ? AND name = ? AND version = ?',
  destroyAll: 'DELETE FROM versions WHERE scope = ? AND name = ?',
  destroyOne: `UPDATE versions SET ${ERASED}, destroyed_at = coalesce(destroyed_at, ?) WHERE scope = ? AND name = ? AND version = ?`,
  purge: `UPDATE versions SET ${ERASED}, destroyed_at = ? WHERE expires_at <= ? AND envelope IS NOT NULL`,
  activeKeyId: "SELECT value FROM meta WHERE key = 'key_id'",
} as const;

/** A store file opened, checked against the master key, and ready for statements. */
export interface OpenedDatabase {
  db: Database.Database;
  storeId: string;
  /** True when this open created the store (meta rows, key check). */
  created: boolean;
  /**
   * The keys that open the store, the active one being the store's (meta key_id): the key given,
   * plus — while a key rotation is in progress — the other key of the rotation (src/store/key-meta.ts).
   */
  keyring: Keyring;
}

/**
 * Opens (creating if needed) the store at `path`: the file is created 0600 before SQLite opens
 * it, WAL + synchronous=FULL are set, the schema is created once, and the key-check row is
 * verified — a wrong key is MASTER_KEY_INVALID before anything else is read. A Keyring given is
 * the one returned (extended and activated); the caller zeroes it.
 */
export function openStoreDatabase(path: string, keys: MasterKey | Keyring): OpenedDatabase {
  const keyring = Keyring.from(keys);
  createPrivateFile(path);
  const db = new Database(path, { timeout: 5000, nativeBinding: sqliteAddon() });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('secure_delete = ON');
    db.pragma('trusted_schema = OFF');
    const opened = initialize(db, keyring);
    restrictSidecarFiles(path);
    return { db, keyring, ...opened };
  } catch (error) {
    db.close();
    throw error;
  }
}

function initialize(db: Database.Database, keyring: Keyring): { storeId: string; created: boolean } {
  const existing = readMeta(db);
  if (existing) return verify(existing, keyring);
  const masterKey = keyring.active;
  return db.transaction(() => {
    const raced = readMeta(db);
    if (raced) return verify(raced, keyring);
    const foreign = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT IN ('meta', 'versions')").pluck().get() as number;
    if (foreign > 0) {
      throw new LockboxError('STORE_ERROR', 'the file is an SQLite database but not a lockbox store', {
        hint: 'point the local provider\'s path at a new file or an existing lockbox store',
      });
    }
    db.exec(DDL);
    const storeId = randomUUID();
    const insert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    insert.run('store_id', storeId);
    insert.run('schema_version', String(SCHEMA_VERSION));
    insert.run('created_at', new Date().toISOString());
    insert.run('key_id', masterKey.keyId);
    insert.run('key_check', sealKeyCheck(masterKey.key, storeId).toString('base64'));
    return { storeId, created: true };
  }).immediate();
}

function readMeta(db: Database.Database): Map<string, string> | undefined {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").pluck().get();
  if (!hasMeta) return undefined;
  const rows = db.prepare('SELECT key, value FROM meta').raw().all() as Array<[string, string]>;
  const meta = new Map(rows);
  return meta.has('store_id') ? meta : undefined;
}

function verify(meta: Map<string, string>, keyring: Keyring): { storeId: string; created: boolean } {
  const storeId = meta.get('store_id') as string;
  const schemaVersion = Number(meta.get('schema_version'));
  if (!(schemaVersion <= SCHEMA_VERSION)) {
    throw new LockboxError('STORE_ERROR', `the store has schema version ${meta.get('schema_version')}; this lockbox reads up to ${SCHEMA_VERSION}`, {
      hint: 'upgrade lockbox to open this store',
    });
  }
  const keyCheck = Buffer.from(meta.get('key_check') ?? '', 'base64');
  addRotationKeys(keyring, meta, storeId);
  const active = keyring.get(meta.get('key_id') ?? keyring.active.keyId);
  if (active === undefined || !verifyKeyCheck(active.key, storeId, keyCheck)) {
    throw new LockboxError('MASTER_KEY_INVALID', 'cannot open the store with this master key', {
      hint: 'set LOCKBOX_MASTER_KEY or master_key_file to the key this store was created with',
    });
  }
  keyring.activate(active.keyId);
  return { storeId, created: false };
}
