/**
 * The copying part of a migration, batch by batch: read the source values through the manager
 * (access control, audit and masking apply), write them to the target (setMany where the target
 * has it, else a few writes in flight), read each copy back below the cache and compare it with
 * the source in constant time, then append the verified names to the checkpoint.
 */
import { LockboxError, isTransient, type ErrorCode } from '../errors.js';
import type { SecretManager } from '../manager/secret-manager.js';
import type { Provider, SecretRecord, SecretRef } from '../types.js';
import type { MigrationCheckpoint } from './checkpoint.js';
import { forEachBounded } from './plan.js';
import type { MigrateFailure, MigratePlanEntry, MigrateProgress, MigrateSummary, ParsedMigrateOptions } from './types.js';

/** A source value in hand, waiting to be written. */
interface Item {
  entry: MigratePlanEntry;
  record: SecretRecord;
}

/**
 * Codes after which every further secret would fail the same way: the run stops (and can be
 * resumed) instead of failing thousands of secrets one by one. Transient errors stop it too.
 */
const HALTING_CODES = new Set<ErrorCode>([
  'AUTH_FAILED', 'SDK_MISSING', 'STORE_ERROR', 'MASTER_KEY_MISSING', 'MASTER_KEY_INVALID', 'AUDIT_WRITE_FAILED', 'CONFIG_INVALID',
]);

/** Pause before a copy that read back different is read once more. */
const VERIFY_RETRY_MS = 200;

/** One run of copies; `outcome()` gives the counts for the summary. */
export class CopyRun {
  readonly #manager: SecretManager;
  readonly #target: Provider;
  readonly #options: ParsedMigrateOptions;
  readonly #checkpoint: MigrationCheckpoint | undefined;
  readonly #onProgress: ((progress: MigrateProgress) => void) | undefined;
  readonly #failed: MigrateFailure[] = [];
  #interrupted: { code: ErrorCode; message: string } | undefined;
  #toCopy = 0;
  #processed = 0;
  #copied = 0;
  #overwritten = 0;
  #verified = 0;
  #started = 0;
  /** True once a name was appended to the checkpoint. */
  recordedAny = false;

  /** `target` is the target provider below the manager's cache (read-backs). */
  constructor(manager: SecretManager, target: Provider, options: ParsedMigrateOptions, checkpoint: MigrationCheckpoint | undefined, onProgress?: (progress: MigrateProgress) => void) {
    this.#manager = manager;
    this.#target = target;
    this.#options = options;
    this.#checkpoint = checkpoint;
    this.#onProgress = onProgress;
  }

  /** Copies every entry (each `copy` or `overwrite`), batch after batch, until done or interrupted. */
  async copy(entries: readonly MigratePlanEntry[]): Promise<void> {
    this.#toCopy = entries.length;
    this.#started = performance.now();
    this.#report();
    for (let start = 0; start < entries.length && this.#interrupted === undefined; start += this.#options.batchSize) {
      const items = await this.#read(entries.slice(start, start + this.#options.batchSize));
      const written = await this.#write(items);
      const verified = await this.#verify(written);
      this.#checkpoint?.record(verified.map(({ entry }) => entry));
      if (verified.length > 0 && this.#checkpoint) this.recordedAny = true;
      this.#report();
    }
  }

  /** Counts and failures for the summary. */
  outcome(): Pick<MigrateSummary, 'copied' | 'overwritten' | 'verified' | 'failed' | 'notAttempted' | 'interrupted'> {
    const outcome: ReturnType<CopyRun['outcome']> = {
      copied: this.#copied, overwritten: this.#overwritten, verified: this.#verified, failed: this.#failed,
      notAttempted: this.#toCopy - this.#processed,
    };
    if (this.#interrupted) outcome.interrupted = this.#interrupted;
    return outcome;
  }

  /** Reads the source values of a batch through the manager (a few in flight). */
  async #read(entries: MigratePlanEntry[]): Promise<Item[]> {
    const items: Array<Item | undefined> = new Array(entries.length);
    await forEachBounded(entries, this.#options.concurrency, async (entry, index) => {
      if (this.#interrupted) return;
      try {
        const record = await this.#manager.get({ name: entry.name, provider: this.#options.from, scope: entry.scope });
        // A provider's own tenant fallback may answer with a global value: that is not this secret.
        if (!record || record.metadata.scope !== entry.scope) throw vanished(entry, this.#options.from);
        items[index] = { entry, record };
      } catch (error) {
        this.#fail(entry, error, 'read');
      }
    });
    return items.filter((item): item is Item => item !== undefined);
  }

  /** Writes a batch: one setMany where the target has it (failures isolated one by one), else single writes. */
  async #write(items: Item[]): Promise<Item[]> {
    if (items.length === 0 || this.#interrupted) return [];
    if (this.#target.setMany && items.length > 1) {
      try {
        await this.#manager.setMany(items.map(({ entry, record }) => ({ name: entry.name, value: record.value, options: writeOptions(entry, record) })), { provider: this.#options.to });
        for (const item of items) this.#written(item);
        return items;
      } catch (error) {
        // The batch is all-or-nothing: nothing of it was written. A halting error stops the run;
        // any other is looked for by writing the batch one secret at a time.
        if (halts(error)) {
          this.#halt(error);
          return [];
        }
      }
    }
    const written: Array<Item | undefined> = new Array(items.length);
    await forEachBounded(items, this.#options.concurrency, async (item, index) => {
      if (this.#interrupted) return;
      try {
        await this.#manager.set({ name: item.entry.name, provider: this.#options.to, scope: item.entry.scope }, item.record.value, writeOptions(item.entry, item.record));
        this.#written(item);
        written[index] = item;
      } catch (error) {
        this.#fail(item.entry, error, 'write');
      }
    });
    return written.filter((item): item is Item => item !== undefined);
  }

  /**
   * Reads every written copy back from the target (below the cache) and compares it in constant
   * time. A copy that reads back different (or missing) is read once more after a short pause —
   * a backend that is only eventually consistent (AWS may serve the previous version for a
   * moment) must not fail a good copy — and only then is MIGRATE_VERIFY_FAILED.
   */
  async #verify(items: Item[]): Promise<Item[]> {
    if (items.length === 0) return [];
    const copies = await this.#readBack(items, true);
    const verified: Item[] = [];
    const suspects: Item[] = [];
    items.forEach((item, index) => {
      const copy = copies[index];
      if (copy !== null && copy !== undefined && 'error' in copy) this.#fail(item.entry, copy.error, 'read back', false);
      else if (copy?.value.equals(item.record.value)) verified.push(item);
      else suspects.push(item);
      if (copy && !('error' in copy)) copy.value.dispose();
    });
    if (suspects.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, VERIFY_RETRY_MS));
      const again = await this.#readBack(suspects, false);
      suspects.forEach((item, index) => {
        const copy = again[index];
        if (copy !== null && copy !== undefined && 'error' in copy) this.#fail(item.entry, copy.error, 'read back', false);
        else if (copy?.value.equals(item.record.value)) verified.push(item);
        else this.#fail(item.entry, mismatch(item.entry, this.#options, !copy), 'verify', false);
        if (copy && !('error' in copy)) copy.value.dispose();
      });
    }
    this.#verified += verified.length;
    return verified;
  }

  /** The current version of each item in the target: one getMany where the target has it, else a few gets in flight. */
  async #readBack(items: Item[], batch: boolean): Promise<Array<SecretRecord | null | { error: unknown }>> {
    const refs: SecretRef[] = items.map(({ entry }) => ({ name: entry.name, scope: entry.scope }));
    if (batch && this.#target.getMany && items.length > 1) {
      try {
        return await this.#target.getMany(refs);
      } catch {
        // Read them one by one to tell which failed.
      }
    }
    const copies: Array<SecretRecord | null | { error: unknown }> = new Array(items.length);
    await forEachBounded(refs, this.#options.concurrency, async (ref, index) => {
      copies[index] = await this.#target.get(ref).catch((error: unknown) => ({ error }));
    });
    return copies;
  }

  #written(item: Item): void {
    this.#processed++;
    this.#copied++;
    if (item.entry.action === 'overwrite') this.#overwritten++;
  }

  /** Records a failed secret; `counts` is false for copies already counted as processed (verification). */
  #fail(entry: MigratePlanEntry, error: unknown, stage: string, counts = true): void {
    if (counts) this.#processed++;
    const lockbox = error instanceof LockboxError ? error : undefined;
    const message = lockbox ? lockbox.describe() : `${stage} failed: unexpected ${error instanceof Error ? error.name : typeof error}`;
    this.#failed.push({ name: entry.name, ...(entry.scope === undefined ? {} : { scope: entry.scope }), code: lockbox?.code ?? 'PROVIDER_ERROR', message });
    if (halts(error)) this.#halt(error);
  }

  #halt(error: unknown): void {
    if (this.#interrupted) return;
    const lockbox = error instanceof LockboxError ? error : undefined;
    this.#interrupted = { code: lockbox?.code ?? 'PROVIDER_ERROR', message: lockbox ? lockbox.describe() : 'unexpected error' };
  }

  #report(): void {
    if (!this.#onProgress) return;
    const elapsedMs = performance.now() - this.#started;
    this.#onProgress({
      toCopy: this.#toCopy, copied: this.#copied, verified: this.#verified, failed: this.#failed.length,
      elapsedMs, perSecond: elapsedMs > 0 ? (this.#copied * 1000) / elapsedMs : 0,
    });
  }
}

/** Tags and expiry travel with the value; versions and labels are the target's own. */
function writeOptions(entry: MigratePlanEntry, record: SecretRecord): { scope?: string; tags?: Record<string, string>; expiresAt?: Date } {
  const options: { scope?: string; tags?: Record<string, string>; expiresAt?: Date } = {};
  if (entry.scope !== undefined) options.scope = entry.scope;
  if (Object.keys(record.metadata.tags).length > 0) options.tags = { ...record.metadata.tags };
  if (record.metadata.expiresAt !== undefined) options.expiresAt = record.metadata.expiresAt;
  return options;
}

function halts(error: unknown): boolean {
  if (!(error instanceof LockboxError)) return isTransient(error);
  return error.transient || HALTING_CODES.has(error.code);
}

function label(entry: MigratePlanEntry): string {
  return `${entry.scope ? `[${entry.scope}] ` : ''}${entry.name}`;
}

function vanished(entry: MigratePlanEntry, from: string): LockboxError {
  return new LockboxError('NOT_FOUND', `secret ${label(entry)} was listed by provider "${from}" but is gone (deleted or expired during the migration)`, {
    provider: from, hint: 'nothing to copy; rerun to pick up changes',
  });
}

function mismatch(entry: MigratePlanEntry, options: ParsedMigrateOptions, missing: boolean): LockboxError {
  const what = missing
    ? `secret ${label(entry)} was written to provider "${options.to}" but reading it back found nothing`
    : `secret ${label(entry)} read back from provider "${options.to}" does not match the value in "${options.from}"`;
  return new LockboxError('MIGRATE_VERIFY_FAILED', what, {
    provider: options.to,
    hint: 'the target changed the value or another writer replaced it; compare both with `lockbox get`, then rerun with --overwrite',
  });
}
