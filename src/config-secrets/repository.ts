/**
 * Queries over the config-secrets tables. Every function takes a Kysely instance or a
 * transaction, so the service composes them into one transaction where it needs to.
 * Nothing here sees a secret value: rows hold coordinates, paths and ids.
 */
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import { timeOrderedUuid } from './ids.js';
import { migrateToLatest, type ConfigDocumentTable, type ConfigSecretsTables, type SecretConfigTable, type SecretReferenceTable, type SecretStorageTable } from './schema.js';

/** A Kysely instance or a transaction over the config-secrets tables. */
export type ConfigSecretsDb = Kysely<ConfigSecretsTables>;
export type StorageRow = Selectable<SecretStorageTable>;
export type SecretConfigRow = Selectable<SecretConfigTable>;
export type DocumentRow = Selectable<ConfigDocumentTable>;

/** Fixed id of the storage created from the environment (seed 000 §4). */
export const DEFAULT_SECRET_STORAGE_ID = '00000000-0000-0000-0000-000000000001';
/** Scope id of the default storage (the whole instance). */
export const INSTANCE_SCOPE_ID = '00000000-0000-0000-0000-000000000000';

/** Whoever a secret reference belongs to, e.g. `{ type: 'actor', id }`. */
export interface Owner { type: string; id: string }

/** A reference with the secret it points at. */
export interface ReferenceWithSecret {
  id: string;
  path: string | null;
  secretConfigId: string;
  coordinate: string;
  managed: boolean;
  storageId: string;
  providerId: string;
}

/** One use of a secret config. */
export interface SecretUsage {
  ownerType: string;
  ownerId: string;
  path: string | null;
  /** The stored config of that owner; null when the owner has none. */
  configId: string | null;
}

/** Options of ensureDefaultStorage. */
export interface DefaultStorageOptions {
  /** Provider id secrets are written to, unless LOCKBOX_SECRET_STORAGE_PROVIDER says otherwise. */
  providerId: string;
  /** Storage type (e.g. "local"), unless LOCKBOX_SECRET_STORAGE_TYPE says otherwise. */
  storageType: string;
  /** Environment read for the two variables. @default process.env */
  env?: Record<string, string | undefined>;
  /** Recorded as created_by / updated_by. @default "lockbox" */
  actor?: string;
  /** Clock. @default () => new Date() */
  now?: () => Date;
}

/**
 * Creates the default storage (fixed id DEFAULT_SECRET_STORAGE_ID, configured_from_environment)
 * or updates its type/provider when they changed (updated_at bumped). Idempotent; migrates first.
 */
export async function ensureDefaultStorage(db: ConfigSecretsDb, options: DefaultStorageOptions): Promise<StorageRow> {
  await migrateToLatest(db);
  const env = options.env ?? process.env;
  const storageType = nonEmpty(env.LOCKBOX_SECRET_STORAGE_TYPE) ?? options.storageType;
  const providerId = nonEmpty(env.LOCKBOX_SECRET_STORAGE_PROVIDER) ?? options.providerId;
  const actor = options.actor ?? 'lockbox';
  const now = (options.now ?? (() => new Date()))().toISOString();
  return db.transaction().execute(async (trx) => {
    await trx.insertInto('secret_storage').values({
      id: DEFAULT_SECRET_STORAGE_ID, scope_type: 'instance', scope_id: INSTANCE_SCOPE_ID, descriptor: 'Default Secret Storage',
      storage_type: storageType, provider_id: providerId, configured_from_environment: 1, tombstone: 0,
      created_by: actor, updated_by: actor, created_at: now, updated_at: now,
    }).onConflict((oc) => oc.column('id').doNothing()).execute();
    const row = await findStorage(trx, DEFAULT_SECRET_STORAGE_ID) as StorageRow;
    if (row.storage_type === storageType && row.provider_id === providerId) return row;
    await trx.updateTable('secret_storage')
      .set({ storage_type: storageType, provider_id: providerId, updated_by: actor, updated_at: now })
      .where('id', '=', DEFAULT_SECRET_STORAGE_ID).execute();
    return await findStorage(trx, DEFAULT_SECRET_STORAGE_ID) as StorageRow;
  });
}

export function findStorage(db: ConfigSecretsDb, id: string): Promise<StorageRow | undefined> {
  return db.selectFrom('secret_storage').selectAll().where('id', '=', id).executeTakeFirst();
}

// ---- secret_config ----

export function findSecretConfig(db: ConfigSecretsDb, id: string): Promise<SecretConfigRow | undefined> {
  return db.selectFrom('secret_config').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findSecretConfigByCoordinate(db: ConfigSecretsDb, storageId: string, coordinate: string): Promise<SecretConfigRow | undefined> {
  return db.selectFrom('secret_config').selectAll()
    .where('secret_storage_id', '=', storageId).where('external_coordinate', '=', coordinate).executeTakeFirst();
}

/** What a new secret_config row records. */
export interface SecretConfigInput { storageId: string; coordinate: string; managed: boolean; actor: string; now: string }

/**
 * Inserts a managed row for a coordinate about to be written; undefined when the coordinate is
 * taken (the UNIQUE (storage, coordinate) constraint makes the claim atomic across writers).
 */
export async function reserveSecretConfig(db: ConfigSecretsDb, input: SecretConfigInput): Promise<string | undefined> {
  const id = timeOrderedUuid();
  const result = await db.insertInto('secret_config').values(configRow(id, input))
    .onConflict((oc) => oc.columns(['secret_storage_id', 'external_coordinate']).doNothing()).executeTakeFirst();
  return result.numInsertedOrUpdatedRows === 1n ? id : undefined;
}

/** The row of a coordinate, created when missing and revived when tombstoned. */
export async function getOrCreateSecretConfig(db: ConfigSecretsDb, input: SecretConfigInput): Promise<string> {
  const existing = await findSecretConfigByCoordinate(db, input.storageId, input.coordinate);
  if (existing) {
    if (toBoolean(existing.tombstone)) {
      await db.updateTable('secret_config').set({ tombstone: 0, updated_by: input.actor, updated_at: input.now }).where('id', '=', existing.id).execute();
    }
    return existing.id;
  }
  return (await reserveSecretConfig(db, input)) ?? (await findSecretConfigByCoordinate(db, input.storageId, input.coordinate))!.id;
}

/**
 * For secret configs that may have lost their last reference: a managed one is tombstoned
 * (its secret is destroyed after the transaction commits), an external one's row is deleted.
 */
export async function settleUnreferenced(db: ConfigSecretsDb, ids: Iterable<string>, actor: string, now: string): Promise<void> {
  for (const id of new Set(ids)) {
    const used = await db.selectFrom('secret_reference').select('id').where('secret_config_id', '=', id).executeTakeFirst();
    if (used) continue;
    const row = await findSecretConfig(db, id);
    if (!row) continue;
    if (toBoolean(row.managed)) {
      await db.updateTable('secret_config').set({ tombstone: 1, updated_by: actor, updated_at: now }).where('id', '=', id).execute();
    } else {
      await db.deleteFrom('secret_config').where('id', '=', id).execute();
    }
  }
}

/** Tombstoned managed rows nobody references, with the provider holding their secret. */
export function listTombstoned(db: ConfigSecretsDb): Promise<Array<{ id: string; coordinate: string; providerId: string }>> {
  return db.selectFrom('secret_config as c')
    .innerJoin('secret_storage as s', 's.id', 'c.secret_storage_id')
    .select(['c.id as id', 'c.external_coordinate as coordinate', 's.provider_id as providerId'])
    // A literal 1: with a bound parameter the plan (partial index on tombstone = 1) depends on its value, so SQLite re-prepares the statement on every run.
    .where('c.tombstone', '=', sql.lit(1)).where('c.managed', '=', 1)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('secret_reference as r').select('r.id').whereRef('r.secret_config_id', '=', 'c.id'))))
    .execute();
}

/** Deletes a row once its secret is destroyed, unless it was revived or referenced meanwhile. */
export async function deleteTombstoned(db: ConfigSecretsDb, id: string): Promise<void> {
  await db.deleteFrom('secret_config').where('id', '=', id).where('tombstone', '=', sql.lit(1))
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('secret_reference').select('id').where('secret_config_id', '=', id))))
    .execute();
}

export async function deleteSecretConfigRow(db: ConfigSecretsDb, id: string): Promise<void> {
  await db.deleteFrom('secret_config').where('id', '=', id).execute();
}

// ---- secret_reference ----

/** Every reference of an owner, with its secret's coordinate and provider. */
export function listOwnerReferences(db: ConfigSecretsDb, owner: Owner): Promise<ReferenceWithSecret[]> {
  return referenceQuery(db).where('r.scope_type', '=', owner.type).where('r.scope_id', '=', owner.id).execute().then((rows) => rows.map(toReference));
}

/** One reference, only when it belongs to the owner. */
export async function findOwnerReference(db: ConfigSecretsDb, owner: Owner, id: string): Promise<ReferenceWithSecret | undefined> {
  const row = await referenceQuery(db).where('r.id', '=', id).where('r.scope_type', '=', owner.type).where('r.scope_id', '=', owner.id).executeTakeFirst();
  return row && toReference(row);
}

/**
 * Makes the owner's references match `bindings` (path → secret config): an existing reference
 * at a path is kept (same id) and re-pointed when its secret changed; new paths get a new
 * reference; references at paths no longer present are deleted (dangling cleanup).
 * Returns the reference id of each path and the secret configs that lost a reference.
 */
export async function bindReferences(db: ConfigSecretsDb, owner: Owner, bindings: Map<string, string>, now: string): Promise<{ referenceIds: Map<string, string>; released: string[] }> {
  const existing = new Map((await listOwnerReferences(db, owner)).filter((r) => r.path !== null).map((r) => [r.path!, r]));
  const referenceIds = new Map<string, string>();
  const released: string[] = [];
  const inserts: Insertable<SecretReferenceTable>[] = [];
  for (const [path, secretConfigId] of bindings) {
    const current = existing.get(path);
    if (current) {
      referenceIds.set(path, current.id);
      if (current.secretConfigId === secretConfigId) continue;
      await db.updateTable('secret_reference').set({ secret_config_id: secretConfigId, updated_at: now }).where('id', '=', current.id).execute();
      released.push(current.secretConfigId);
    } else {
      const id = timeOrderedUuid();
      inserts.push({ id, secret_config_id: secretConfigId, scope_type: owner.type, scope_id: owner.id, hydration_path: path, created_at: now, updated_at: now });
      referenceIds.set(path, id);
    }
  }
  // New references in one statement (chunks stay well under SQLite's 32,766 bound parameters).
  for (let i = 0; i < inserts.length; i += 500) await db.insertInto('secret_reference').values(inserts.slice(i, i + 500)).execute();
  for (const [path, reference] of existing) {
    if (bindings.has(path)) continue;
    await db.deleteFrom('secret_reference').where('id', '=', reference.id).execute();
    released.push(reference.secretConfigId);
  }
  return { referenceIds, released };
}

/** Deletes every reference of an owner; returns the secret configs they pointed at. */
export async function deleteOwnerReferences(db: ConfigSecretsDb, owner: Owner): Promise<string[]> {
  const references = await listOwnerReferences(db, owner);
  await db.deleteFrom('secret_reference').where('scope_type', '=', owner.type).where('scope_id', '=', owner.id).execute();
  return references.map((r) => r.secretConfigId);
}

/** Who uses a secret config: owner, path and the owner's stored config. */
export async function usagesOf(db: ConfigSecretsDb, secretConfigId: string): Promise<SecretUsage[]> {
  const rows = await db.selectFrom('secret_reference as r')
    .leftJoin('config_document as d', (join) => join.onRef('d.owner_type', '=', 'r.scope_type').onRef('d.owner_id', '=', 'r.scope_id'))
    .select(['r.scope_type as ownerType', 'r.scope_id as ownerId', 'r.hydration_path as path', 'd.id as configId'])
    .where('r.secret_config_id', '=', secretConfigId)
    .orderBy('r.scope_type').orderBy('r.scope_id').orderBy('r.hydration_path')
    .execute();
  return rows.map((row) => ({ ownerType: row.ownerType, ownerId: row.ownerId, path: row.path, configId: row.configId ?? null }));
}

// ---- config_document ----

export async function insertDocument(db: ConfigSecretsDb, row: Insertable<ConfigDocumentTable>): Promise<void> {
  await db.insertInto('config_document').values(row).execute();
}

export function findDocument(db: ConfigSecretsDb, id: string): Promise<DocumentRow | undefined> {
  return db.selectFrom('config_document').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findDocumentByOwner(db: ConfigSecretsDb, owner: Owner): Promise<DocumentRow | undefined> {
  return db.selectFrom('config_document').selectAll().where('owner_type', '=', owner.type).where('owner_id', '=', owner.id).executeTakeFirst();
}

/** `UPDATE … SET revision = revision + 1 WHERE id = ? AND revision = ?`; false when another update won. */
export async function bumpRevision(db: ConfigSecretsDb, id: string, expectedRevision: number, changes: { updated_by: string; updated_at: string; spec?: string }): Promise<boolean> {
  const result = await db.updateTable('config_document')
    .set((eb) => ({ ...changes, revision: eb('revision', '+', 1) }))
    .where('id', '=', id).where('revision', '=', expectedRevision).executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function setPartialConfig(db: ConfigSecretsDb, id: string, partialConfig: unknown): Promise<void> {
  await db.updateTable('config_document').set({ partial_config: JSON.stringify(partialConfig) }).where('id', '=', id).execute();
}

export async function deleteDocument(db: ConfigSecretsDb, id: string): Promise<boolean> {
  const result = await db.deleteFrom('config_document').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows === 1n;
}

/** Ids of configs whose expiry is at or before `now` (ISO text sorts as time). */
export async function listExpiredDocuments(db: ConfigSecretsDb, now: string): Promise<string[]> {
  const rows = await db.selectFrom('config_document').select('id').where('expires_at', 'is not', null).where('expires_at', '<=', now).execute();
  return rows.map((r) => r.id);
}

/** True for 0/1 and false/true alike (SQLite vs PostgreSQL). */
export function toBoolean(value: number | boolean): boolean {
  return value === true || value === 1;
}

/** True when a database error is a UNIQUE / PRIMARY KEY violation (SQLite or PostgreSQL). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

function referenceQuery(db: ConfigSecretsDb) {
  return db.selectFrom('secret_reference as r')
    .innerJoin('secret_config as c', 'c.id', 'r.secret_config_id')
    .innerJoin('secret_storage as s', 's.id', 'c.secret_storage_id')
    .select(['r.id as id', 'r.hydration_path as path', 'c.id as secretConfigId', 'c.external_coordinate as coordinate', 'c.managed as managed', 's.id as storageId', 's.provider_id as providerId'])
    .orderBy('r.hydration_path');
}

function toReference(row: Omit<ReferenceWithSecret, 'managed'> & { managed: number | boolean }): ReferenceWithSecret {
  return { ...row, managed: toBoolean(row.managed) };
}

/** The secret_config row of a new coordinate. */
export function configRow(id: string, input: SecretConfigInput): Insertable<SecretConfigTable> {
  return {
    id, secret_storage_id: input.storageId, descriptor: input.coordinate, external_coordinate: input.coordinate,
    managed: input.managed ? 1 : 0, tombstone: 0, created_by: input.actor, updated_by: input.actor, created_at: input.now, updated_at: input.now,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
