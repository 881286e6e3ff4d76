/**
 * The secret-manager calls of the config-secrets service other than writing: reading
 * coordinates (one by one, or a config's worth at once), destroying managed secrets nobody
 * references any more, and loading the storage new secrets go to.
 * Values only pass from `manager.get` to the caller.
 */
import { InvalidNameError, LockboxError } from '../errors.js';
import type { SecretManager } from '../manager/secret-manager.js';
import type { SecretRecord } from '../types.js';
import type { SecretCoordinate } from './coordinates.js';
import { DEFAULT_SECRET_STORAGE_ID, deleteTombstoned, ensureDefaultStorage, findStorage, listTombstoned, type ConfigSecretsDb, type StorageRow } from './repository.js';
import { migrateToLatest } from './schema.js';

/** What the clean-up steps work with (a PlanContext is one). */
export interface ManagerContext { db: ConfigSecretsDb; manager: SecretManager }

/** A secret row about to be destroyed. */
export interface DoomedSecret { id: string; coordinate: string; providerId: string }

/** One secret to read: its coordinate, the provider of its storage and the path it fills. */
export interface SecretRead { coordinate: SecretCoordinate; providerId: string; path: string }

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

/**
 * Reads many coordinates at once: the managed ones of each provider with one `manager.getMany`,
 * external ones through readSecret. Every read runs; the first failure in `reads` order is thrown.
 */
export async function readSecrets(manager: SecretManager, reads: readonly SecretRead[]): Promise<(SecretRecord | null)[]> {
  const outcomes: Array<Promise<SecretRecord | null>> = new Array(reads.length);
  const managed = new Map<string, number[]>();
  reads.forEach((read, i) => {
    if (read.coordinate.kind !== 'managed') outcomes[i] = readSecret(manager, read.coordinate, read.providerId, read.path);
    else managed.set(read.providerId, [...(managed.get(read.providerId) ?? []), i]);
  });
  for (const [provider, indexes] of managed) {
    const batch = manager.getMany(indexes.map((i) => reads[i]!.coordinate.full), { provider });
    indexes.forEach((index, k) => { outcomes[index] = batch.then((records) => records[k] ?? null); });
  }
  const settled = await Promise.allSettled(outcomes);
  return settled.map((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });
}

/** Destroys every tombstoned managed secret nobody references; failures stay for the next run. */
export async function collectGarbage(ctx: ManagerContext): Promise<void> {
  for (const doomed of await listTombstoned(ctx.db)) {
    try {
      await destroySecret(ctx, doomed);
    } catch {
      // provider unavailable: the row stays tombstoned and is retried by the next call
    }
  }
}

/** Destroys one managed secret (already gone is fine), then deletes its tombstoned row. */
export async function destroySecret(ctx: ManagerContext, doomed: DoomedSecret): Promise<void> {
  try {
    await ctx.manager.delete(doomed.coordinate, { provider: doomed.providerId, mode: 'destroy' });
  } catch (error) {
    if (!(error instanceof LockboxError && error.code === 'NOT_FOUND')) throw error;
  }
  await deleteTombstoned(ctx.db, doomed.id);
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

function isProvider(manager: SecretManager, id: string): boolean {
  try {
    manager.provider(id);
    return true;
  } catch {
    return false;
  }
}
