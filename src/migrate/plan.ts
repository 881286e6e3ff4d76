/**
 * Planning a migration: list the source (under the prefix, for the tenant), learn which names the
 * target already holds (one list call where the target can list, else one read per name), and
 * give each secret its action. Reads names only, never values.
 */
import type { SecretManager } from '../manager/secret-manager.js';
import type { Provider } from '../types.js';
import type { MigrationCheckpoint } from './checkpoint.js';
import type { MigratePlanEntry, ParsedMigrateOptions } from './types.js';

/** The plan of a migration, in the source's name order. */
export async function planMigration(
  manager: SecretManager, target: Provider, options: ParsedMigrateOptions, checkpoint: MigrationCheckpoint | undefined,
): Promise<MigratePlanEntry[]> {
  const listed = await manager.list(options.prefix, { scope: options.tenant, provider: options.from });
  // Only this tenant's secrets: a provider's own tenant fallback must not drag global ones in.
  const sources = listed.filter((listing) => belongs(listing.scope, options.tenant))
    .map((listing) => ({ name: listing.name, scope: listing.scope ?? options.tenant }));
  const existing = await existingNames(manager, target, options, sources);
  return sources.map(({ name, scope }): MigratePlanEntry => {
    const entry: MigratePlanEntry = scope === undefined ? { name, action: 'copy' } : { name, scope, action: 'copy' };
    if (checkpoint?.has(scope, name)) entry.action = 'done';
    else if (existing.has(keyOf(scope, name))) entry.action = options.overwrite ? 'overwrite' : 'skip-existing';
    return entry;
  });
}

/** Counts of each action. */
export function countActions(plan: readonly MigratePlanEntry[]): Record<MigratePlanEntry['action'], number> {
  const counts = { copy: 0, overwrite: 0, 'skip-existing': 0, done: 0 };
  for (const entry of plan) counts[entry.action]++;
  return counts;
}

/** `scope\0name`: how names are matched between source, target and checkpoint. */
export function keyOf(scope: string | undefined, name: string): string {
  return `${scope ?? ''}\u0000${name}`;
}

/** The names (keyOf) the target holds among `sources`. */
async function existingNames(
  manager: SecretManager, target: Provider, options: ParsedMigrateOptions, sources: Array<{ name: string; scope?: string }>,
): Promise<Set<string>> {
  if (sources.length === 0) return new Set();
  if (target.list) {
    const listed = await manager.list(options.prefix, { scope: options.tenant, provider: options.to });
    return new Set(listed.filter((listing) => belongs(listing.scope, options.tenant))
      .map((listing) => keyOf(listing.scope ?? options.tenant, listing.name)));
  }
  // A target that cannot list: one read per name, a few at a time (through the cache: a write
  // through the manager invalidates the entry before it is read back).
  const found = new Set<string>();
  await forEachBounded(sources, options.concurrency, async ({ name, scope }) => {
    const record = await target.get({ name, scope });
    if (record && record.metadata.scope === scope) found.add(keyOf(scope, name));
  });
  return found;
}

/**
 * True when a listing belongs to the migrated tenant. Without a tenant the manager's default
 * scope applied to the listing, so every listing belongs; a listing without a scope is taken to
 * be the tenant's own.
 */
function belongs(scope: string | undefined, tenant: string | undefined): boolean {
  return tenant === undefined || scope === undefined || scope === tenant;
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
