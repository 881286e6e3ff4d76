/** `lockbox migrate` as a library call: copy every secret of one provider into another, verified and resumable. */
export { migrateSecrets, migrationSucceeded } from './migrate.js';
export { countActions } from './plan.js';
export { checkpointFileFor } from './checkpoint.js';
export {
  migrateOptionsSchema,
  type MigrateAction, type MigrateFailure, type MigrateOptions, type MigratePlanEntry, type MigrateProgress,
  type MigrateSkip, type MigrateSummary,
} from './types.js';
