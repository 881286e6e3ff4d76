/** Rotation's promotion in the SQLite store: the pending version becomes current, no new version written. */
import type Database from 'better-sqlite3';
import { LockboxError } from '../errors.js';
import type { SecretMetadata, SecretRef } from '../types.js';
import { notFound } from './store-errors.js';
import { labelsOf, rowMetadata, type VersionRow } from './version-rows.js';

/** What promotion uses of the open store. */
export interface PromoteContext {
  db: Database.Database;
  /** The prepared `readNumbered` statement (a row with its current, previous and pending numbers). */
  readNumbered: Database.Statement<unknown[], unknown>;
  providerId: string;
}

/**
 * Makes the pending version `target` of (`scope`, `name`) current without writing a new one: its
 * row is unstaged, so it is the highest unstaged version (current) and the old current the next
 * one down (previous). Older staged rows it supersedes get `staged = 2`: no label any more,
 * still readable by number. Idempotent for the current version; one IMMEDIATE transaction.
 */
export function promotePending(store: PromoteContext, ref: SecretRef, scope: string, name: string, target: number): SecretMetadata {
  const readLabelled = () => store.readNumbered.get(scope, name, target) as VersionRow | undefined;
  const row = store.db.transaction(() => {
    const before = readLabelled();
    if (before === undefined || before[3] !== null || before[4] !== null || (before[2] !== null && before[2] <= Date.now())) {
      throw notFound(ref, store.providerId, target);
    }
    const [current, , pending] = [before[8], before[9], before[10]];
    if (current === target) return before;
    if (pending !== target) {
      throw new LockboxError('INVALID_INPUT', `version ${target} of ${name} is not pending, so it cannot be promoted`, {
        provider: store.providerId, hint: 'promote the version labelled pending (lockbox versions NAME)',
      });
    }
    if (current !== null && current !== undefined && current > target) {
      throw new LockboxError('CONFLICT', `version ${target} of ${name} was staged before the current version ${current} was written`, {
        provider: store.providerId, hint: 'stage a new pending version and promote that one',
      });
    }
    store.db.prepare('UPDATE versions SET staged = CASE WHEN version = ? THEN 0 ELSE 2 END WHERE scope = ? AND name = ? AND staged = 1').run(target, scope, name);
    return readLabelled()!;
  }).immediate();
  return rowMetadata(name, ref.scope || undefined, row, labelsOf(target, row[8], row[9], row[10]));
}
