/** Options, plan and summary of `migrateSecrets` (the library side of `lockbox migrate`). */
import { z } from 'zod';
import type { ErrorCode } from '../errors.js';

/** The data options of a migration (zod, strict); `onProgress` is checked apart. */
export const migrateOptionsSchema = z.object({
  /** Id of the provider to copy from; it must be able to list. */
  from: z.string().min(1, 'name the source provider id (from)'),
  /** Id of the provider to copy into; it must be writable (else CAPABILITY). */
  to: z.string().min(1, 'name the target provider id (to)'),
  /** Only secrets whose name starts with this. @default "" (all) */
  prefix: z.string().default(''),
  /** Tenant whose secrets are copied (kept as the tenant in the target). @default the manager's default scope (global when none) */
  tenant: z.string().min(1).optional(),
  /** Plan only: list what would be copied, skipped or overwritten; write nothing. @default false */
  dryRun: z.boolean().default(false),
  /** Replace secrets the target already has (a new version); otherwise they are skipped. @default false */
  overwrite: z.boolean().default(false),
  /**
   * The resume file (JSON lines of the names already copied and verified, mode 0600), or false
   * for none. @default `{checkpointDir}/migrate-{from}-to-{to}-{hash of from/to/prefix/tenant}.jsonl`
   */
  checkpointPath: z.union([z.string().min(1), z.literal(false)]).optional(),
  /** Directory of the default checkpoint file, relative to the working directory. @default ".lockbox" */
  checkpointDir: z.string().min(1).default('.lockbox'),
  /** Secrets per batch: one setMany (one transaction for the local store) and one checkpoint append each. @default 100 */
  batchSize: z.number().int().min(1).max(10_000).default(100),
  /** Most reads or writes in flight at once (remote backends). @default 8 */
  concurrency: z.number().int().min(1).max(64).default(8),
}).strict();

/** Parsed options. */
export type ParsedMigrateOptions = z.infer<typeof migrateOptionsSchema>;

/** Options of migrateSecrets (see each field of migrateOptionsSchema). */
export type MigrateOptions = z.input<typeof migrateOptionsSchema> & {
  /** Called when copying starts and after every batch. @default none */
  onProgress?: (progress: MigrateProgress) => void;
};

/**
 * What happens to one secret: `copy` (not in the target), `overwrite` (in the target, replaced
 * under `overwrite`), `skip-existing` (in the target, kept), `done` (copied and verified by an
 * earlier, interrupted run — in the checkpoint).
 */
export type MigrateAction = 'copy' | 'overwrite' | 'skip-existing' | 'done';

/** One line of the plan: a name and its action, never a value. */
export interface MigratePlanEntry {
  name: string;
  scope?: string;
  action: MigrateAction;
}

/** A secret that could not be migrated, with the error's code and message (never a value). */
export interface MigrateFailure {
  name: string;
  scope?: string;
  code: ErrorCode;
  message: string;
}

/** A secret left as it was: already in the target, or done by an earlier run. */
export interface MigrateSkip {
  name: string;
  scope?: string;
  reason: 'exists' | 'checkpoint';
}

/** Progress while copying. */
export interface MigrateProgress {
  /** Secrets to copy in this run (the plan's copy + overwrite). */
  toCopy: number;
  /** Written to the target so far. */
  copied: number;
  /** Read back from the target and found equal so far. */
  verified: number;
  /** Failed so far (read, write or verification). */
  failed: number;
  elapsedMs: number;
  /** Secrets copied per second since copying started. */
  perSecond: number;
}

/** The outcome of a migration. */
export interface MigrateSummary {
  from: string;
  to: string;
  prefix: string;
  tenant?: string;
  dryRun: boolean;
  overwrite: boolean;
  /** Secrets listed in the source (under the prefix, for the tenant). */
  total: number;
  /** Written to the target (including overwrites); 0 in a dry run. */
  copied: number;
  /** Of `copied`: secrets the target had and that were replaced. */
  overwritten: number;
  /** Read back from the target and compared equal (in constant time). */
  verified: number;
  skipped: MigrateSkip[];
  failed: MigrateFailure[];
  /** Secrets the run did not reach because it was interrupted. */
  notAttempted: number;
  /** Why the run stopped early (the backend became unreachable, credentials failed, …). */
  interrupted?: { code: ErrorCode; message: string };
  /** The plan, in a dry run (names and actions only). */
  plan?: MigratePlanEntry[];
  /** The checkpoint kept for a rerun (absent when the run completed or none is used). */
  checkpointPath?: string;
  elapsedMs: number;
}
