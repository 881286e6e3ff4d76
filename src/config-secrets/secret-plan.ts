/**
 * The secret-manager side of writing a config: turns the processed secret fields of a config
 * into bindings (path → coordinate), writing raw values to reserved managed coordinates first,
 * and binds them to reference rows in the metadata transaction. What a failed call wrote is
 * destroyed again. Values only pass from a processed raw node to `manager.setMany`.
 */
import { LockboxError } from '../errors.js';
import type { SecretManager } from '../manager/secret-manager.js';
import type { SecretValue } from '../secret-value.js';
import {
  EPHEMERAL_SCOPE_ID, managedCoordinateSource, newManagedCoordinate, nextVersion, parseCoordinate, type ManagedCoordinate, type SecretCoordinate,
} from './coordinates.js';
import { pointerNode } from './nodes.js';
import {
  bindReferences, configRow, findOwnerReference, findSecretConfigByCoordinate, findStorage, getOrCreateSecretConfig, reserveSecretConfig,
  settleUnreferenced, toBoolean,
  type ConfigSecretsDb, type Owner, type ReferenceWithSecret, type StorageRow,
} from './repository.js';
import { timeOrderedUuid } from './ids.js';
import { destroySecret, readSecret } from './secret-io.js';
import type { Statements } from './statements.js';
import type { ProcessedSecret } from './transform.js';
import { findPointers, replaceAtPaths } from './transform.js';

/** What the planning and clean-up steps work with. */
export interface PlanContext {
  db: ConfigSecretsDb;
  manager: SecretManager;
  /** The storage new managed secrets are written to. */
  storage: StorageRow;
  prefix: string;
  actor: string;
  now: Date;
  /** The service's prepared statements over `db`. */
  statements: Statements;
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

/** A raw value still to be written: its path and, on update, the managed coordinate it supersedes. */
export interface RawSecret { path: string; value: SecretValue; previous?: ManagedCoordinate }

/** What planSecrets needs of a config. */
export interface PlanInput { processed: ProcessedSecret[]; owner: Owner; scope: ConfigScope; persisted: Map<string, PersistedPointer>; expiresAt?: Date }

/**
 * Binds every processed secret field to a coordinate. Raw values are written first, each to a
 * reserved managed coordinate (the next version of the path's managed coordinate, else a new
 * one), all in one `manager.setMany` (one local-store transaction); coordinates and reference
 * ids are checked to exist first. On any failure, what was written is destroyed again.
 */
export async function planSecrets(ctx: PlanContext, input: PlanInput): Promise<SecretPlan> {
  const { bindings, raw } = await bindGivenSecrets(ctx, input);
  const plan: SecretPlan = { bindings, written: [] };
  try {
    const reserved = await reserveCoordinates(ctx, input.scope, raw);
    reserved.forEach((r) => plan.written.push({ secretConfigId: r.id, coordinate: r.coordinate, providerId: ctx.storage.provider_id }));
    if (raw.length > 0) {
      const options = input.expiresAt === undefined ? undefined : { expiresAt: input.expiresAt };
      await ctx.manager.setMany(raw.map((entry, i) => ({ name: reserved[i]!.coordinate, value: entry.value, options })), { provider: ctx.storage.provider_id });
    }
    raw.forEach((entry, i) => plan.bindings.push({ path: entry.path, coordinate: reserved[i]!.coordinate, managed: true, storageId: ctx.storage.id, secretConfigId: reserved[i]!.id }));
    return plan;
  } catch (error) {
    await rollbackPlan(ctx, plan);
    throw error;
  }
}

/**
 * The first half of planSecrets, which writes nothing: binds masks, reference ids and
 * coordinates (each checked to exist), and lists the raw values still to be written.
 */
export async function bindGivenSecrets(ctx: PlanContext, input: Omit<PlanInput, 'scope' | 'expiresAt'>): Promise<{ bindings: Binding[]; raw: RawSecret[] }> {
  const bindings: Binding[] = [];
  const raw: RawSecret[] = [];
  for (const { path, node } of input.processed) {
    const old = input.persisted.get(path);
    if (node.kind === 'raw') {
      const previous = old?.managed ? safeParse(old.coordinate) : undefined;
      raw.push({ path, value: node.value, previous: previous?.kind === 'managed' ? previous : undefined });
    } else if (node.kind === 'masked') {
      if (!old) throw new LockboxError('SECRET_NODE_INVALID', `secret field ${path} holds the mask, but a masked value has nothing stored to keep`, { hint: 'send the secret value (or a {"_secret": …} pointer) for this field' });
      bindings.push({ path, coordinate: old.coordinate, managed: old.managed, storageId: old.storageId ?? ctx.storage.id, secretConfigId: old.secretConfigId });
    } else if (node.kind === 'reference') {
      const reference = await requireReference(ctx, input.owner, node.referenceId, path);
      bindings.push({ path, coordinate: reference.coordinate, managed: reference.managed, storageId: reference.storageId, secretConfigId: reference.secretConfigId });
    } else if (node.kind === 'coordinate') {
      if (node.referenceId !== undefined) await requireReference(ctx, input.owner, node.referenceId, path);
      const storage = node.storageId === undefined ? ctx.storage : await requireStorage(ctx, node.storageId, path);
      await requireSecret(ctx, node.coordinate, storage, path);
      bindings.push({ path, coordinate: node.coordinate.full, managed: node.coordinate.kind === 'managed', storageId: storage.id });
    }
  }
  return { bindings, raw };
}

/**
 * Reserves a secret_config row per raw value: the next version of the path's managed
 * coordinate (checked one by one: a racing update may hold it), or a fresh coordinate
 * (reserved together; a clash of UUIDs falls back to the one-by-one path).
 */
async function reserveCoordinates(ctx: PlanContext, scope: ConfigScope, raw: Array<{ path: string; previous?: ManagedCoordinate }>): Promise<Array<{ id: string; coordinate: string }>> {
  const reserved: Array<{ id: string; coordinate: string } | undefined> = new Array(raw.length);
  const fresh = raw.map((entry, i) => ({ i, entry })).filter(({ entry }) => entry.previous === undefined);
  if (fresh.length > 0) {
    const now = ctx.now.toISOString();
    const next = freshCoordinates(ctx, scope);
    const rows = fresh.map(() => configRow(timeOrderedUuid(), { storageId: ctx.storage.id, coordinate: next().full, managed: true, actor: ctx.actor, now }));
    const inserted = await ctx.statements.reserveSecretConfigs(ctx.db, rows);
    fresh.forEach(({ i }, k) => { if (inserted.has(rows[k]!.id)) reserved[i] = { id: rows[k]!.id, coordinate: rows[k]!.external_coordinate }; });
  }
  for (let i = 0; i < raw.length; i++) {
    reserved[i] ??= await reserveCoordinate(ctx, scope, raw[i]!.previous, raw[i]!.path);
  }
  return reserved as Array<{ id: string; coordinate: string }>;
}

/** Picks a coordinate that nobody holds and claims its secret_config row (atomic across writers). */
export async function reserveCoordinate(ctx: PlanContext, scope: ConfigScope, previous: ManagedCoordinate | undefined, path: string): Promise<{ id: string; coordinate: string }> {
  let candidate = previous ? nextVersion(previous) : freshCoordinate(ctx, scope);
  for (let attempt = 0; attempt < 64; attempt++) {
    const inProvider = await ctx.manager.get(candidate.full, { provider: ctx.storage.provider_id });
    if (inProvider === null) {
      const id = await reserveSecretConfig(ctx.db, { storageId: ctx.storage.id, coordinate: candidate.full, managed: true, actor: ctx.actor, now: ctx.now.toISOString() });
      if (id !== undefined) return { id, coordinate: candidate.full };
    }
    candidate = previous ? nextVersion(candidate) : freshCoordinate(ctx, scope);
  }
  throw new LockboxError('CONFLICT', `no free coordinate version found for ${path} after ${previous?.full ?? 'a new coordinate'}`, { hint: 'retry the call' });
}

/** A new managed coordinate (version 1) in a config's scope; ephemeral scopes use the all-zero id. */
export function freshCoordinate(ctx: Pick<PlanContext, 'prefix'>, scope: ConfigScope): ManagedCoordinate {
  return newManagedCoordinate({ scopeType: scope.type, scopeId: isEphemeral(scope) ? EPHEMERAL_SCOPE_ID : scope.id, prefix: ctx.prefix });
}

/** freshCoordinate for many coordinates of one scope (the parts are checked once). */
export function freshCoordinates(ctx: Pick<PlanContext, 'prefix'>, scope: ConfigScope): () => ManagedCoordinate {
  return managedCoordinateSource({ scopeType: scope.type, scopeId: isEphemeral(scope) ? EPHEMERAL_SCOPE_ID : scope.id, prefix: ctx.prefix });
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

/**
 * Binds each path to its secret_config row and the owner's references; secrets that lost their
 * last user (incl. legacy managed coordinates no longer pointed at) are settled. Returns the partial config.
 */
export async function bindPlan(trx: ConfigSecretsDb, ctx: PlanContext, owner: Owner, plan: SecretPlan, config: Record<string, unknown>, legacy: string[]): Promise<unknown> {
  const now = ctx.now.toISOString();
  const rows = new Map<string, string>();
  for (const b of plan.bindings) rows.set(b.path, b.secretConfigId ?? await getOrCreateSecretConfig(trx, { storageId: b.storageId, coordinate: b.coordinate, managed: b.managed, actor: ctx.actor, now }));
  const { referenceIds, released } = await bindReferences(trx, owner, rows, now);
  const bound = new Set(plan.bindings.map((b) => b.coordinate));
  for (const coordinate of legacy.filter((c) => !bound.has(c))) released.push(await getOrCreateSecretConfig(trx, { storageId: ctx.storage.id, coordinate, managed: true, actor: ctx.actor, now }));
  await settleUnreferenced(trx, released, ctx.actor, now);
  return replaceAtPaths(config, new Map(plan.bindings.map((b) => [b.path, pointerNode(b.coordinate, referenceIds.get(b.path))])));
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

/** True for the ephemeral scope: type `ephemeral`, or the all-zero scope id. */
export function isEphemeral(scope: ConfigScope): boolean {
  return scope.type === 'ephemeral' || scope.id === EPHEMERAL_SCOPE_ID;
}

/** Managed coordinates of legacy pointers (a `_secret` with no reference row). */
export function legacyCoordinates(pointers: Map<string, PersistedPointer>): string[] {
  return [...pointers.values()].filter((p) => p.managed && p.secretConfigId === undefined).map((p) => p.coordinate);
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
