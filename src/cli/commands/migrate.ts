/**
 * `lockbox migrate --from ID --to ID [--prefix P] [--tenant T] [--dry-run] [--overwrite] [--json]`:
 * copies every secret of one configured provider into another (src/migrate). Progress goes to
 * stderr (a bar on a terminal, a plain line per 10% or 1000 secrets otherwise), the plan or the
 * summary to stdout. Names, actions and counts only: values are never printed. Exit 1 when any
 * secret failed or the run was interrupted (rerun the same command to resume).
 */
import { join } from 'node:path';
import { countActions, migrateSecrets, migrationSucceeded, type MigrateProgress, type MigrateSummary } from '../../migrate/index.js';
import { withContext, type GlobalOptions } from '../context.js';
import { out, outJson } from '../io.js';

/** Options of `lockbox migrate` (global --tenant and --json apply). */
export interface MigrateCommandOptions extends GlobalOptions {
  from: string;
  to: string;
  prefix?: string;
  dryRun?: boolean;
  overwrite?: boolean;
}

/** Most skipped names listed one per line (the JSON output lists all). */
const LISTED_SKIPS = 50;

export async function migrate(options: MigrateCommandOptions): Promise<void> {
  await withContext(options, async ({ config, manager }) => {
    const progress = progressReporter({ write: (text) => process.stderr.write(text), tty: process.stderr.isTTY === true && !isCi() });
    let summary: MigrateSummary;
    try {
      summary = await migrateSecrets(manager, {
        from: options.from, to: options.to, prefix: options.prefix ?? '', tenant: options.tenant ?? config.tenant,
        dryRun: options.dryRun === true, overwrite: options.overwrite === true,
        checkpointDir: join(config.baseDir, '.lockbox'), onProgress: progress.update,
      });
    } finally {
      progress.finish();
    }
    if (options.json) outJson(summary);
    else if (summary.dryRun) printPlan(summary);
    else printSummary(summary);
    if (!migrationSucceeded(summary)) process.exitCode = 1;
  });
}

/** Where progress goes and how. */
export interface ProgressOptions {
  write: (text: string) => void;
  /** A terminal: one line redrawn with \r. Otherwise plain lines. */
  tty: boolean;
  /** Clock, for tests. @default performance.now */
  now?: () => number;
}

/**
 * Progress text: `copied 120/10000 (1.2%) 980/s`. On a terminal the line is redrawn (at most
 * every 100 ms, and at the end); otherwise one line per 10% or per 1000 secrets, whichever
 * comes first. Nothing is written when there is nothing to copy.
 */
export function progressReporter(options: ProgressOptions): { update: (progress: MigrateProgress) => void; finish: () => void } {
  const now = options.now ?? (() => performance.now());
  let drawn = false;
  let lastDraw = -Infinity;
  let lastWidth = 0;
  let nextMark = 0;
  return {
    update(progress) {
      if (progress.toCopy === 0) return;
      const line = progressLine(progress);
      const complete = progress.copied + progress.failed >= progress.toCopy;
      if (options.tty) {
        if (!complete && now() - lastDraw < 100) return;
        lastDraw = now();
        options.write(`\r${line.padEnd(lastWidth)}`);
        lastWidth = line.length;
        drawn = true;
        return;
      }
      const step = Math.max(1, Math.min(1000, Math.ceil(progress.toCopy / 10)));
      if (nextMark === 0) nextMark = step;
      if (progress.copied < nextMark && !complete) return;
      while (nextMark <= progress.copied) nextMark += step;
      options.write(`${line}\n`);
    },
    finish() {
      if (drawn) options.write('\n');
      drawn = false;
    },
  };
}

/** `copied 120/10000 (1.2%) 980/s` (+ failures). */
export function progressLine(progress: MigrateProgress): string {
  const percent = progress.toCopy === 0 ? 100 : (progress.copied * 100) / progress.toCopy;
  const failed = progress.failed > 0 ? `, ${progress.failed} failed` : '';
  return `copied ${progress.copied}/${progress.toCopy} (${percent.toFixed(1)}%) ${Math.round(progress.perSecond)}/s${failed}`;
}

function printPlan(summary: MigrateSummary): void {
  const words = { copy: 'copy', overwrite: 'overwrite', 'skip-existing': 'skip', done: 'done' } as const;
  const notes = {
    copy: '', overwrite: `  (in ${summary.to}: replaced)`, 'skip-existing': `  (already in ${summary.to}; --overwrite replaces it)`, done: '  (copied by an interrupted run)',
  } as const;
  for (const entry of summary.plan ?? []) out(`${words[entry.action].padEnd(10)} ${label(entry)}${notes[entry.action]}`);
  const counts = countActions(summary.plan ?? []);
  out(`dry run, nothing written: ${route(summary)}: ${counts.copy} to copy, ${counts.overwrite} to overwrite, ${counts['skip-existing']} to skip (already in ${summary.to}), ${counts.done} done by an earlier run`);
}

function printSummary(summary: MigrateSummary): void {
  const existing = summary.skipped.filter((skip) => skip.reason === 'exists');
  for (const skip of existing.slice(0, LISTED_SKIPS)) out(`skipped  ${label(skip)}  (already in ${summary.to}; --overwrite replaces it)`);
  if (existing.length > LISTED_SKIPS) out(`skipped  … and ${existing.length - LISTED_SKIPS} more (--json lists every one)`);
  for (const failure of summary.failed) out(`failed   ${label(failure)}  ${failure.code}: ${failure.message}`);
  const resumed = summary.skipped.length - existing.length;
  const parts = [
    `${summary.copied} copied${summary.overwritten > 0 ? ` (${summary.overwritten} overwritten)` : ''}`,
    `${summary.verified} verified`,
    `${existing.length} skipped${resumed > 0 ? ` (+${resumed} done by an earlier run)` : ''}`,
    `${summary.failed.length} failed`,
  ];
  out(`migrated ${route(summary)}: ${parts.join(', ')} in ${(summary.elapsedMs / 1000).toFixed(1)} s`);
  if (summary.interrupted) {
    out(`interrupted: ${summary.interrupted.code}: ${summary.interrupted.message}; ${summary.notAttempted} not attempted — fix it and rerun the same command to resume`);
  } else if (summary.checkpointPath) {
    out(`rerun the same command to retry the failed ones (checkpoint: ${summary.checkpointPath})`);
  }
}

function route(summary: MigrateSummary): string {
  return `${summary.from} → ${summary.to}${summary.tenant ? ` (tenant ${summary.tenant})` : ''}${summary.prefix ? ` under ${summary.prefix}` : ''}`;
}

function label(entry: { name: string; scope?: string }): string {
  return entry.scope ? `[${entry.scope}] ${entry.name}` : entry.name;
}

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}
