/**
 * `migrateSecrets`: copies the secrets of one configured provider into another (seed 002's
 * migration guide, as one command). Lists the source, plans (copy / skip-existing / overwrite),
 * copies in batches (the target's setMany where it has one: one transaction per batch for the
 * local store), reads every copy back from the target and compares it with the source in
 * constant time, and records each verified name in a checkpoint so that an interrupted run
 * resumes where it stopped. Values never appear in the plan, the summary, progress or errors.
 */
import { resolve } from 'node:path';
import { CapabilityError, LockboxError } from '../errors.js';
import { CachedProvider } from '../manager/cache.js';
import type { SecretManager } from '../manager/secret-manager.js';
import { assertValidScope } from '../names.js';
import type { Provider } from '../types.js';
import { checkpointFileFor, MigrationCheckpoint, type MigrationKey } from './checkpoint.js';
import { CopyRun } from './copy.js';
import { planMigration } from './plan.js';
import {
  migrateOptionsSchema, type MigrateOptions, type MigrateSummary, type ParsedMigrateOptions,
} from './types.js';

/**
 * Copies every secret of provider `from` (under `prefix`, for `tenant`) into provider `to`.
 * Throws before writing anything for: UNKNOWN_PROVIDER, CAPABILITY (a read-only target, or a
 * source that cannot list), INVALID_INPUT (bad options, from = to, a checkpoint of another
 * migration) and a failed listing. Per-secret failures (including MIGRATE_VERIFY_FAILED when a
 * copy does not read back equal) are collected in the summary; a failure that would fail every
 * further secret (unreachable backend, rejected credentials, timeout, store error) stops the run
 * (`interrupted`) and keeps the checkpoint for a rerun.
 */
export async function migrateSecrets(manager: SecretManager, options: MigrateOptions): Promise<MigrateSummary> {
  const started = performance.now();
  const { onProgress, ...rest } = options;
  const parsed = parseOptions(rest);
  const source = manager.provider(parsed.from);
  const target = manager.provider(parsed.to);
  checkProviders(parsed, source, target);
  const key: MigrationKey = { from: parsed.from, to: parsed.to, prefix: parsed.prefix, tenant: parsed.tenant };
  const checkpointPath = parsed.checkpointPath === false
    ? undefined
    : resolve(parsed.checkpointPath ?? checkpointFileFor(resolve(parsed.checkpointDir), key));
  const checkpoint = checkpointPath === undefined ? undefined : MigrationCheckpoint.read(checkpointPath, key);

  const plan = await planMigration(manager, target, parsed, checkpoint);
  const summary: MigrateSummary = {
    from: parsed.from, to: parsed.to, prefix: parsed.prefix, tenant: parsed.tenant, dryRun: parsed.dryRun, overwrite: parsed.overwrite,
    total: plan.length, copied: 0, overwritten: 0, verified: 0, skipped: [], failed: [], notAttempted: 0, elapsedMs: 0,
  };
  for (const entry of plan) {
    if (entry.action === 'skip-existing' || entry.action === 'done') {
      summary.skipped.push({ name: entry.name, scope: entry.scope, reason: entry.action === 'done' ? 'checkpoint' : 'exists' });
    }
  }
  if (parsed.dryRun) {
    summary.plan = plan;
    summary.elapsedMs = performance.now() - started;
    return summary;
  }

  const run = new CopyRun(manager, uncached(target), parsed, checkpoint, onProgress);
  try {
    await run.copy(plan.filter((entry) => entry.action === 'copy' || entry.action === 'overwrite'));
  } finally {
    checkpoint?.close();
  }
  Object.assign(summary, run.outcome());
  const complete = summary.failed.length === 0 && summary.interrupted === undefined;
  if (checkpoint && complete) checkpoint.remove();
  else if (checkpoint && (checkpoint.done.size > 0 || run.recordedAny)) summary.checkpointPath = checkpoint.path;
  summary.elapsedMs = performance.now() - started;
  return summary;
}

/** True when the summary reports no failed secret and no interruption. */
export function migrationSucceeded(summary: MigrateSummary): boolean {
  return summary.failed.length === 0 && summary.interrupted === undefined;
}

function parseOptions(options: Omit<MigrateOptions, 'onProgress'>): ParsedMigrateOptions {
  const result = migrateOptionsSchema.safeParse(options);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`).join('; ');
    throw new LockboxError('INVALID_INPUT', `invalid migrate options: ${problems}`);
  }
  if (result.data.tenant !== undefined) assertValidScope(result.data.tenant);
  if (result.data.from === result.data.to) {
    throw new LockboxError('INVALID_INPUT', `cannot migrate provider "${result.data.from}" into itself`, {
      hint: 'name two different provider ids with from and to',
    });
  }
  return result.data;
}

function checkProviders(options: ParsedMigrateOptions, source: Provider, target: Provider): void {
  if (!target.capabilities.write || !target.set) {
    throw new CapabilityError(target.id, 'writes', `"${target.id}" is a read-only ${target.type} provider; migrate into a writable one (local, vault, aws, gcp, azure, kubernetes)`);
  }
  if (!source.list) {
    throw new CapabilityError(source.id, 'listing', `migrate lists "${options.from}" to know what to copy; this ${source.type} provider cannot list`);
  }
}

/**
 * The target below the manager's cache, for read-backs: a write through the manager drops the
 * cached entry, but a read below the cache can never be answered by a cached (or stale-if-error)
 * value, whatever else happens in the process.
 */
function uncached(provider: Provider): Provider {
  return provider instanceof CachedProvider ? provider.inner : provider;
}
