/**
 * The config-secrets tables (seed 000 §1, §9) as Kysely migrations, so the same schema runs on
 * SQLite (the default, see createConfigSecretsDatabase) and later on PostgreSQL. Dates are ISO
 * text; booleans are written as 0/1 (read back as 0/1 on SQLite, true/false on PostgreSQL).
 */
import { resolve } from 'node:path';
import { createPrivateFile, restrictSidecarFiles, sqliteAddon } from '../store/sqlite-files.js';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type ColumnType, type CreateTableBuilder, type Migration, type MigrationProvider } from 'kysely';
import { LockboxError } from '../errors.js';

/** A boolean column: 0/1 written; 0/1 (SQLite) or true/false (PostgreSQL) read. */
export type DbBoolean = ColumnType<number | boolean, number, number>;

/** Where secrets are kept: one lockbox provider (seed 000 §1 `secret_storage`). */
export interface SecretStorageTable {
  id: string;
  scope_type: string;
  scope_id: string;
  descriptor: string;
  storage_type: string;
  /** Id of the lockbox provider secrets of this storage are written to and read from. */
  provider_id: string;
  configured_from_environment: DbBoolean;
  tombstone: DbBoolean;
  created_by: string;
  updated_by: string;
  created_at: string;
  updated_at: string;
}

/** One secret (one coordinate) in one storage (seed 000 §1 `secret_config`, §9 managed flag). */
export interface SecretConfigTable {
  id: string;
  secret_storage_id: string;
  descriptor: string;
  external_coordinate: string;
  /** 1 when lockbox wrote the secret and owns it; external secrets are never written or deleted. */
  managed: DbBoolean;
  /** 1 when no one references the secret any more and it waits to be destroyed. */
  tombstone: DbBoolean;
  created_by: string;
  updated_by: string;
  created_at: string;
  updated_at: string;
}

/** One use of a secret by an owner at a hydration path (seed 000 §1 `secret_reference`). */
export interface SecretReferenceTable {
  id: string;
  secret_config_id: string;
  /** The owner, e.g. `actor`. */
  scope_type: string;
  scope_id: string;
  hydration_path: string | null;
  created_at: string;
  updated_at: string;
}

/** A stored partial config: secret fields hold pointers, never values. */
export interface ConfigDocumentTable {
  id: string;
  scope_type: string;
  scope_id: string;
  owner_type: string;
  owner_id: string;
  /** The JSON Schema spec, as JSON text. */
  spec: string;
  /** The partial config, as JSON text. */
  partial_config: string;
  /** Optimistic concurrency: bumped by every update. */
  revision: number;
  /** Set for ephemeral configs: purged (with their secrets) from then on. */
  expires_at: string | null;
  created_by: string;
  updated_by: string;
  created_at: string;
  updated_at: string;
}

/** Every table of the module, for `Kysely<ConfigSecretsTables>`. */
export interface ConfigSecretsTables {
  secret_storage: SecretStorageTable;
  secret_config: SecretConfigTable;
  secret_reference: SecretReferenceTable;
  config_document: ConfigDocumentTable;
}

/** The migrations, oldest first. Names sort in order. */
export const CONFIG_SECRETS_MIGRATIONS: Record<string, Migration> = {
  '0001_config_secrets_tables': { up: createTables },
  '0002_partial_indexes': { up: partialIndexes },
};

/** The migration bookkeeping tables (own names, so other Kysely users of the same file do not collide). */
export const MIGRATION_TABLE = 'config_secrets_migration';
export const MIGRATION_LOCK_TABLE = 'config_secrets_migration_lock';

/** Applies every pending migration; running it again does nothing. Throws STORE_ERROR on failure. */
export async function migrateToLatest(db: Kysely<ConfigSecretsTables>): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => CONFIG_SECRETS_MIGRATIONS };
  const migrator = new Migrator({ db, provider, migrationTableName: MIGRATION_TABLE, migrationLockTableName: MIGRATION_LOCK_TABLE });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'setup';
    throw new LockboxError('STORE_ERROR', `config-secrets migration ${failed} failed: ${error instanceof Error ? error.message : 'unknown error'}`, {
      cause: error,
      hint: 'check that the database is writable and not a newer lockbox schema',
    });
  }
}

/**
 * Opens (creating with mode 0600) an SQLite file for the config-secrets tables: WAL,
 * synchronous=FULL, foreign keys on. Call migrateToLatest before use (the service does).
 * The local store's own file may be given once that store exists.
 */
export function createConfigSecretsDatabase(path: string): Kysely<ConfigSecretsTables> {
  const file = resolve(path);
  let sqlite: Database.Database | undefined;
  try {
    createPrivateFile(file);
    sqlite = new Database(file, { timeout: 5000, nativeBinding: sqliteAddon() });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('secure_delete = ON');
    restrictSidecarFiles(file);
  } catch (error) {
    sqlite?.close();
    throw new LockboxError('STORE_ERROR', `the config-secrets database ${file} could not be opened: ${error instanceof Error ? error.message : 'unknown error'}`, { cause: error });
  }
  return new Kysely<ConfigSecretsTables>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
}

/**
 * Kysely prepares every query anew; preparing costs more than running a small statement, so the
 * handle given to Kysely keeps the last 256 prepared statements by SQL text.
 */
function withStatementCache(sqlite: Database.Database): Database.Database {
  const cache = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let statement = cache.get(sql);
    if (statement) {
      cache.delete(sql);
    } else {
      statement = sqlite.prepare(sql);
      if (cache.size >= 256) cache.delete(cache.keys().next().value as string);
    }
    cache.set(sql, statement);
    return statement;
  };
  return new Proxy(sqlite, {
    get(target, property) {
      if (property === 'prepare') return prepare;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function createTables(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('secret_storage').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope_type', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('descriptor', 'text', (c) => c.notNull())
    .addColumn('storage_type', 'text', (c) => c.notNull())
    .addColumn('provider_id', 'text', (c) => c.notNull())
    .addColumn('configured_from_environment', 'boolean', (c) => c.notNull().defaultTo(sql`false`))
    .addColumn('tombstone', 'boolean', (c) => c.notNull().defaultTo(sql`false`))
    .$call(audited)
    .addUniqueConstraint('secret_storage_scope_type_descriptor_key', ['scope_id', 'scope_type', 'storage_type', 'descriptor'])
    .execute();

  await db.schema.createTable('secret_config').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('secret_storage_id', 'text', (c) => c.notNull().references('secret_storage.id'))
    .addColumn('descriptor', 'text', (c) => c.notNull())
    .addColumn('external_coordinate', 'text', (c) => c.notNull())
    .addColumn('managed', 'boolean', (c) => c.notNull().defaultTo(sql`true`))
    .addColumn('tombstone', 'boolean', (c) => c.notNull().defaultTo(sql`false`))
    .$call(audited)
    .addUniqueConstraint('secret_config_storage_coordinate_key', ['secret_storage_id', 'external_coordinate'])
    .execute();
  await db.schema.createIndex('secret_config_tombstone_idx').ifNotExists().on('secret_config').column('tombstone').execute();

  await db.schema.createTable('secret_reference').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('secret_config_id', 'text', (c) => c.notNull().references('secret_config.id'))
    .addColumn('scope_type', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('hydration_path', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // An expression index: Kysely's builder takes columns only, so this one is raw SQL.
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS secret_reference_scope_type_scope_id_hydration_path_idx
    ON secret_reference (scope_type, scope_id, coalesce(hydration_path, ''))`.execute(db);
  await db.schema.createIndex('secret_reference_secret_config_id_idx').ifNotExists().on('secret_reference').column('secret_config_id').execute();

  await db.schema.createTable('config_document').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope_type', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('owner_type', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('partial_config', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .$call(audited)
    .execute();
  // One config per owner: references are keyed by (owner, path), so two configs of one owner would collide.
  await db.schema.createIndex('config_document_owner_idx').ifNotExists().unique().on('config_document').columns(['owner_type', 'owner_id']).execute();
  await db.schema.createIndex('config_document_expires_at_idx').ifNotExists().on('config_document').column('expires_at').execute();
}

/**
 * The tombstone and expiry indexes only ever serve look-ups of tombstoned rows and of configs
 * that expire; as partial indexes they hold just those rows, so the common insert (a live
 * secret, a config that never expires) no longer writes an index entry for them.
 */
async function partialIndexes(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('secret_config_tombstone_idx').ifExists().execute();
  await db.schema.createIndex('secret_config_tombstoned_idx').ifNotExists().on('secret_config').column('tombstone').where(sql.ref('tombstone'), '=', 1).execute();
  await db.schema.dropIndex('config_document_expires_at_idx').ifExists().execute();
  await db.schema.createIndex('config_document_expiring_idx').ifNotExists().on('config_document').column('expires_at').where(sql.ref('expires_at'), 'is not', null).execute();
}

/** created_by, updated_by, created_at, updated_at. */
function audited<TB extends string, C extends string>(table: CreateTableBuilder<TB, C>) {
  return table
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull());
}


