/**
 * The secret-manager side of the config-secrets service: turns the processed secret fields of
 * a config into bindings (path → coordinate), writing raw values to new managed coordinates
 * first; reads coordinates; and destroys managed secrets nobody references any more.
 * Values only pass from a processed raw node to `manager.set`, and from `manager.get` to the caller.
 */
import type { z } from 'zod';
import { InvalidNameError, LockboxError } from '../errors.js';
import type { SecretManager } from '../manager/secret-manager.js';
import type { SecretRecord } from '../types.js';
import type { SecretValue } from '../secret-value.js';
import {
  EPHEMERAL_SCOPE_ID, newManagedCoordinate, nextVersion, parseCoordinate, type ManagedCoordinate, type SecretCoordinate,
} from './coordinates.js';
import {
  DEFAULT_SECRET_STORAGE_ID, deleteTombstoned, ensureDefaultStorage, findOwnerReference, findSecretConfigByCoordinate,
  findStorage, listTombstoned, reserveSecretConfig, reserveSecretConfigs, toBoolean,
  type ConfigSecretsDb, type Owner, type ReferenceWithSecret, type SecretConfigRow, type SecretUsage, type StorageRow,
} from './repository.js';
import { migrateToLatest } from './schema.js';
import type { ProcessedSecret } from './transform.js';
import { findPointers } from './transform.js';

/** What the planning and clean-up steps work with. */
export interface PlanContext {
  db: ConfigSecretsDb;
  manager: SecretManager;
  /** The storage new managed secrets are written to. */
  storage: StorageRow;
  prefix: string;
  actor: string;
  now: Date;
}

/** The scope a config (and the coordinates of its new secrets) belongs to. */
export interface ConfigScope { type: string; id: string }

/** What a secret path of a config points at. */
export interface Binding {
  path: string;
  coordinate: string;
  managed: boolean;
  storageId: string;
  /** Known when the row exists (reserved for a write, or persisted); else found or created in the transaction. */
  secretConfigId?: string;
}

/** What a path pointed at before this call (from its reference, or a legacy `_secret` pointer). */
export interface PersistedPointer { coordinate: string; managed: boolean; storageId?: string; secretConfigId?: string }

/** The outcome of planSecrets. */
export interface SecretPlan {
  bindings: Binding[];
  /** Managed secrets this call wrote (destroyed again if the call fails). */
  written: Array<{ secretConfigId: string; coordinate: string; providerId: string }>;
}

/** A secret row about to be destroyed. */
export interface DoomedSecret { id: string; coordinate: string; providerId: string }

/**
 * Binds every processed secret field to a coordinate. Raw values are written first, each to a
 * reserved managed coordinate (the next version of the path's managed coordinate, else a new
 * one); coordinates and reference ids are checked to exist. On any failure, what was written
 * is destroyed again.
 */
export async function planSecrets(
  ctx: PlanContext,
  input: { processed: ProcessedSecret[]; owner: Owner; scope: ConfigScope; persisted: Map<string, PersistedPointer>; expiresAt?: Date },
): Promise<SecretPlan> {
  const plan: SecretPlan = { bindings: [], written: [] };
  const raw: Array<{ path: string; value: SecretValue; previous?: ManagedCoordinate }> = [];
  try {
    for (const { path, node } of input.processed) {
      const old = input.persisted.get(path);
      if (node.kind === 'raw') {
        const previous = old?.managed ? safeParse(old.coordinate) : undefined;
        raw.push({ path, value: node.value, previous: previous?.kind === 'managed' ? previous : undefined });
      } else if (node.kind === 'masked') {
        if (!old) throw new LockboxError('SECRET_NODE_INVALID', `secret field ${path} holds the mask, but a masked value has nothing stored to keep`, { hint: 'send the secret value (or a {"_secret": …} pointer) for this field' });
        plan.bindings.push({ path, coordinate: old.coordinate, managed: old.managed, storageId: old.storageId ?? ctx.storage.id, secretConfigId: old.secretConfigId });
      } else if (node.kind === 'reference') {
        const reference = await requireReference(ctx, input.owner, node.referenceId, path);
        plan.bindings.push({ path, coordinate: reference.coordinate, managed: reference.managed, storageId: reference.storageId, secretConfigId: reference.secretConfigId });
      } else if (node.kind === 'coordinate') {
        if (node.referenceId !== undefined) await requireReference(ctx, input.owner, node.referenceId, path);
        const storage = node.storageId === undefined ? ctx.storage : await requireStorage(ctx, node.storageId, path);
        await requireSecret(ctx, node.coordinate, storage, path);
        plan.bindings.push({ path, coordinate: node.coordinate.full, managed: node.coordinate.kind === 'managed', storageId: storage.id });
      }
    }
    // Raw values: reserve every coordinate (fresh ones in one transaction), then write them all
    // in one batch — one transaction in the local store.
    const reserved = await reserveCoordinates(ctx, input.scope, raw);
    reserved.forEach((r) => plan.written.push({ secretConfigId: r.id, coordinate: r.coordinate, providerId: ctx.storage.provider_id }));
    if (raw.length > 0) {
      await ctx.manager.setMany(raw.map((entry, i) => ({ name: reserved[i]!.coordinate, value: entry.value, options: { expiresAt: input.expiresAt } })), { provider: ctx.storage.provider_id });
    }
    raw.forEach((entry, i) => plan.bindings.push({ path: entry.path, coordinate: reserved[i]!.coordinate, managed: true, storageId: ctx.storage.id, secretConfigId: reserved[i]!.id }));
    return plan;
  } catch (error) {
    await rollbackPlan(ctx, plan);
    throw error;
  }
}

/**
 * Reserves a secret_config row per raw value: the next version of the path's managed
 * coordinate (checked one by one: a racing update may hold it), or a fresh random coordinate
 * (reserved together in one transaction; a clash of random UUIDs falls back to the one-by-one path).
 */
async function reserveCoordinates(
  ctx: PlanContext, scope: ConfigScope, raw: Array<{ path: string; previous?: ManagedCoordinate }>,
): Promise<Array<{ id: string; coordinate: string }>> {
  const reserved: Array<{ id: string; coordinate: string } | undefined> = new Array(raw.length);
  const fresh = raw.map((entry, i) => ({ i, entry })).filter(({ entry }) => entry.previous === undefined);
  if (fresh.length > 0) {
    const now = ctx.now.toISOString();
    const coordinates = fresh.map(() => newManagedCoordinate({ scopeType: scope.type, scopeId: isEphemeral(scope) ? EPHEMERAL_SCOPE_ID : scope.id, prefix: ctx.prefix }).full);
    const ids = await reserveSecretConfigs(ctx.db, coordinates.map((coordinate) => ({ storageId: ctx.storage.id, coordinate, managed: true, actor: ctx.actor, now })));
    fresh.forEach(({ i }, k) => { if (ids[k] !== undefined) reserved[i] = { id: ids[k]!, coordinate: coordinates[k]! }; });
  }
  for (let i = 0; i < raw.length; i++) {
    reserved[i] ??= await reserveCoordinate(ctx, scope, raw[i]!.previous, raw[i]!.path);
  }
  return reserved as Array<{ id: string; coordinate: string }>;
}

/** Destroys the secrets a failed call wrote and drops their reserved rows. */
export async function rollbackPlan(ctx: PlanContext, plan: SecretPlan): Promise<void> {
  if (plan.written.length === 0) return;
  await ctx.db.updateTable('secret_config').set({ tombstone: 1 }).where('id', 'in', plan.written.map((w) => w.secretConfigId)).execute();
  for (const written of plan.written) {
    try {
      await destroySecret(ctx, { id: written.secretConfigId, coordinate: written.coordinate, providerId: written.providerId });
    } catch {
      // the row stays tombstoned: the next clean-up retries the destroy
    }
  }
}

/** What each secret path of a stored config points at: its reference first, else a legacy `_secret`. */
export function persistedPointers(partialConfig: unknown, references: ReferenceWithSecret[]): Map<string, PersistedPointer> {
  const pointers = new Map<string, PersistedPointer>();
  const byId = new Map(references.map((r) => [r.id, r]));
  const fromReference = (r: ReferenceWithSecret): PersistedPointer => ({ coordinate: r.coordinate, managed: r.managed, storageId: r.storageId, secretConfigId: r.secretConfigId });
  for (const reference of references) if (reference.path !== null) pointers.set(reference.path, fromReference(reference));
  for (const [path, pointer] of findPointers(partialConfig)) {
    if (pointers.has(path)) continue;
    const reference = pointer.referenceId === undefined ? undefined : byId.get(pointer.referenceId);
    if (reference) pointers.set(path, fromReference(reference));
    else if (pointer.coordinate !== undefined) pointers.set(path, { coordinate: pointer.coordinate, managed: safeParse(pointer.coordinate)?.kind === 'managed' });
  }
  return pointers;
}

/**
 * Reads a coordinate: a managed one from its storage's provider, an external one through the
 * manager's chain (or `provider:name` when the prefix is a configured provider id).
 */
export async function readSecret(manager: SecretManager, coordinate: SecretCoordinate, providerId: string, path: string): Promise<SecretRecord | null> {
  if (coordinate.kind === 'managed') return manager.get(coordinate.full, { provider: providerId });
  const colon = coordinate.full.indexOf(':');
  const provider = colon > 0 && isProvider(manager, coordinate.full.slice(0, colon)) ? coordinate.full.slice(0, colon) : undefined;
  const name = provider === undefined ? coordinate.full : coordinate.full.slice(colon + 1);
  try {
    return await manager.get(name, provider === undefined ? {} : { provider });
  } catch (error) {
    if (!(error instanceof InvalidNameError)) throw error;
    throw new LockboxError('INVALID_COORDINATE', `external coordinate "${coordinate.full}" at ${path} is not a secret name lockbox can read (${error.message})`, {
      hint: 'an external coordinate is a secret name, optionally prefixed by a configured provider id ("vault:team/key")',
    });
  }
}

/** Destroys every tombstoned managed secret nobody references; failures stay for the next run. */
export async function collectGarbage(ctx: PlanContext): Promise<void> {
  for (const doomed of await listTombstoned(ctx.db)) {
    try {
      await destroySecret(ctx, doomed);
    } catch {
      // provider unavailable: the row stays tombstoned and is retried by the next call
    }
  }
}

/** Destroys one managed secret (already gone is fine), then deletes its tombstoned row. */
export async function destroySecret(ctx: PlanContext, doomed: DoomedSecret): Promise<void> {
  try {
    await ctx.manager.delete(doomed.coordinate, { provider: doomed.providerId, mode: 'destroy' });
  } catch (error) {
    if (!(error instanceof LockboxError && error.code === 'NOT_FOUND')) throw error;
  }
  await deleteTombstoned(ctx.db, doomed.id);
}

/** True for the ephemeral scope: type `ephemeral`, or the all-zero scope id. */
export function isEphemeral(scope: ConfigScope): boolean {
  return scope.type === 'ephemeral' || scope.id === EPHEMERAL_SCOPE_ID;
}

/** Managed coordinates of legacy pointers (a `_secret` with no reference row). */
export function legacyCoordinates(pointers: Map<string, PersistedPointer>): string[] {
  return [...pointers.values()].filter((p) => p.managed && p.secretConfigId === undefined).map((p) => p.coordinate);
}

/**
 * The storage a service writes to: migrations applied (unless disabled), and the default storage
 * created from the manager's first writable provider when it does not exist yet.
 */
export async function loadStorage(o: { db: ConfigSecretsDb; manager: SecretManager; storageId: string; migrate: boolean }): Promise<StorageRow> {
  if (o.migrate) await migrateToLatest(o.db);
  const row = await findStorage(o.db, o.storageId);
  if (row) return row;
  if (o.storageId !== DEFAULT_SECRET_STORAGE_ID) throw new LockboxError('NOT_FOUND', `secret storage ${o.storageId} not found`);
  const writer = o.manager.chain.map((id) => o.manager.provider(id)).find((p) => p.capabilities.write);
  if (!writer) throw new LockboxError('CAPABILITY', 'config secrets need a writable provider in the chain to store secrets', { hint: 'add a `local` provider (run `lockbox init`)' });
  return ensureDefaultStorage(o.db, { providerId: writer.id, storageType: writer.type });
}

/** SECRET_IN_USE naming every owner and path that uses a secret config. */
export function inUse(row: SecretConfigRow, users: SecretUsage[]): LockboxError {
  const list = users.map((u) => `${u.ownerType}/${u.ownerId} at ${u.path ?? '(no path)'}${u.configId ? ` (config ${u.configId})` : ''}`).join(', ');
  return new LockboxError('SECRET_IN_USE', `secret config ${row.id} (${row.external_coordinate}) is used by ${list}`, { hint: 'update or delete those configs first' });
}

/** One transaction; if it fails, the secrets this call wrote are destroyed (no orphans) and the error mapped. */
export async function commitOrRollback(ctx: PlanContext, plan: SecretPlan, work: (trx: ConfigSecretsDb) => Promise<void>, mapError: (error: unknown) => unknown = (e) => e): Promise<void> {
  try {
    await ctx.db.transaction().execute(work);
  } catch (error) {
    await rollbackPlan(ctx, plan);
    throw mapError(error);
  }
}

/** Validates input with zod; INVALID_INPUT names the fields (zod issue texts carry no values). */
export function parse<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new LockboxError('INVALID_INPUT', `invalid ${what}: ${detail}`);
}

export function notFound(id: string): LockboxError {
  return new LockboxError('NOT_FOUND', `config ${id} not found`);
}

export function conflict(id: string, expected: number): LockboxError {
  return new LockboxError('CONFLICT', `config ${id} changed since revision ${expected} (another update won)`, { hint: 're-read the config and retry' });
}

export function ownerTaken(owner: Owner, configId?: string): LockboxError {
  return new LockboxError('ALREADY_EXISTS', `${owner.type}/${owner.id} already has a config${configId ? ` (${configId})` : ''}`, { hint: 'update that config instead' });
}

/** Picks a coordinate that nobody holds and claims its secret_config row (atomic across writers). */
async function reserveCoordinate(ctx: PlanContext, scope: ConfigScope, previous: ManagedCoordinate | undefined, path: string): Promise<{ id: string; coordinate: string }> {
  const fresh = () => newManagedCoordinate({ scopeType: scope.type, scopeId: isEphemeral(scope) ? EPHEMERAL_SCOPE_ID : scope.id, prefix: ctx.prefix });
  let candidate = previous ? nextVersion(previous) : fresh();
  for (let attempt = 0; attempt < 64; attempt++) {
    const inProvider = await ctx.manager.get(candidate.full, { provider: ctx.storage.provider_id });
    if (inProvider === null) {
      const id = await reserveSecretConfig(ctx.db, { storageId: ctx.storage.id, coordinate: candidate.full, managed: true, actor: ctx.actor, now: ctx.now.toISOString() });
      if (id !== undefined) return { id, coordinate: candidate.full };
    }
    candidate = previous ? nextVersion(candidate) : fresh();
  }
  throw new LockboxError('CONFLICT', `no free coordinate version found for ${path} after ${previous?.full ?? 'a new coordinate'}`, { hint: 'retry the call' });
}

async function requireReference(ctx: PlanContext, owner: Owner, referenceId: string, path: string): Promise<ReferenceWithSecret> {
  const reference = await findOwnerReference(ctx.db, owner, referenceId);
  if (!reference) {
    throw new LockboxError('SECRET_REFERENCE_NOT_FOUND', `secret field ${path} names _secret_reference_id ${referenceId}, which is not a secret reference of ${owner.type}/${owner.id}`, {
      hint: 'send the secret value, or the {"_secret": …} pointer lockbox returned for this config',
    });
  }
  return reference;
}

async function requireStorage(ctx: PlanContext, storageId: string, path: string): Promise<StorageRow> {
  const storage = await findStorage(ctx.db, storageId);
  if (!storage || toBoolean(storage.tombstone)) throw new LockboxError('NOT_FOUND', `secret storage ${storageId} named at ${path} not found`);
  return storage;
}

/** A coordinate given in a config must exist: a managed one known to lockbox or its provider, an external one readable. */
async function requireSecret(ctx: PlanContext, coordinate: SecretCoordinate, storage: StorageRow, path: string): Promise<void> {
  if (coordinate.kind === 'managed') {
    const row = await findSecretConfigByCoordinate(ctx.db, storage.id, coordinate.full);
    if (row && !toBoolean(row.tombstone)) return;
  }
  const record = await readSecret(ctx.manager, coordinate, storage.provider_id, path);
  if (record === null) {
    throw new LockboxError('NOT_FOUND', `secret ${coordinate.full} named at ${path} not found`, {
      hint: coordinate.kind === 'external' ? 'an external secret must exist before a config points at it; lockbox never creates it' : 'send the coordinate exactly as lockbox returned it',
    });
  }
}

function safeParse(coordinate: string): SecretCoordinate | undefined {
  try {
    return parseCoordinate(coordinate);
  } catch {
    return undefined;
  }
}

function isProvider(manager: SecretManager, id: string): boolean {
  try {
    manager.provider(id);
    return true;
  } catch {
    return false;
  }
}
