/**
 * The audit log: validates each entry (strict schema, never a value), fills its time and request
 * id, and hands it to every sink. `append` resolves once every sink has stored the entry (for the
 * file sink: written and fsynced) and rejects with AUDIT_WRITE_FAILED when one could not.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { toAuditEntry, type AuditAction, type AuditEntryInput } from './event.js';
import type { AuditSink } from './sinks.js';

/** What an operation does when its audit event cannot be written. */
export const auditFailureModeSchema = z.enum(['fail', 'warn']);
export type AuditFailureMode = z.infer<typeof auditFailureModeSchema>;

/** Actions that only read: with `on_failure: warn` these go on (with a warning) when audit fails. */
export const READ_ACTIONS: ReadonlySet<AuditAction> = new Set<AuditAction>(['read', 'list', 'versions', 'snapshot_fallback']);

/**
 * True when an operation must fail because its audit event could not be written: always in mode
 * `fail`; in mode `warn`, for every action except the read paths (READ_ACTIONS).
 */
export function shouldFail(action: AuditAction, mode: AuditFailureMode = 'fail'): boolean {
  return mode === 'fail' || !READ_ACTIONS.has(action);
}

export interface AuditLogOptions {
  /** Where entries go, e.g. `[jsonlFileSink('.lockbox/audit.jsonl')]`. @default [] (entries are validated, then dropped) */
  sinks?: AuditSink[];
  /** Clock for entries given without `time`. @default () => new Date() */
  now?: () => Date;
  /** Request id for entries given without one. @default crypto.randomUUID */
  newRequestId?: () => string;
}

/** Appends audit entries to its sinks. */
export class AuditLog {
  readonly sinks: readonly AuditSink[];
  readonly #now: (() => Date) | undefined;
  readonly #newRequestId: () => string;
  #closed = false;
  #lastMs = Number.NaN;
  #lastIso = '';

  constructor(options: AuditLogOptions = {}) {
    this.sinks = [...(options.sinks ?? [])];
    this.#now = options.now;
    this.#newRequestId = options.newRequestId ?? randomUUID;
  }

  /** Creates a log and opens its sinks, so that an unwritable destination fails now, not on the first operation. */
  static async open(options: AuditLogOptions = {}): Promise<AuditLog> {
    const log = new AuditLog(options);
    try {
      await Promise.all(log.sinks.map((sink) => sink.open?.()));
    } catch (error) {
      await log.close().catch(() => {});
      throw asWriteFailure(error);
    }
    return log;
  }

  /**
   * Validates the entry (INVALID_INPUT naming the bad fields — an unknown field such as `value`
   * is one) and stores it in every sink. Rejects with AUDIT_WRITE_FAILED when a sink fails; the
   * caller then fails the operation, or only warns for a read when `shouldFail` says so.
   */
  async append(input: AuditEntryInput): Promise<void> {
    if (this.#closed) throw new LockboxError('AUDIT_WRITE_FAILED', 'cannot write the audit log: it is closed');
    const entry = toAuditEntry(input, this.#isoNow, this.#newRequestId);
    if (this.sinks.length === 1) {
      try {
        return await this.sinks[0]!.write(entry);
      } catch (error) {
        throw asWriteFailure(error);
      }
    }
    const results = await Promise.allSettled(this.sinks.map((sink) => sink.write(entry)));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw asWriteFailure(failure.reason);
  }

  /** The clock as ISO text; the default clock reuses the text within one millisecond. */
  readonly #isoNow = (): string => {
    if (this.#now) return this.#now().toISOString();
    const ms = Date.now();
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastIso = new Date(ms).toISOString();
    }
    return this.#lastIso;
  };

  /** Resolves once every entry appended so far is stored by every sink. */
  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.flush()));
  }

  /** Drains every sink (no appended entry is lost) and closes them; later appends reject. */
  async close(): Promise<void> {
    this.#closed = true;
    const results = await Promise.allSettled(this.sinks.map((sink) => sink.close()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw asWriteFailure(failure.reason);
  }
}

/** Sink errors are already AUDIT_WRITE_FAILED; anything else is wrapped as one. */
function asWriteFailure(error: unknown): LockboxError {
  if (error instanceof LockboxError && error.code === 'AUDIT_WRITE_FAILED') return error;
  return new LockboxError('AUDIT_WRITE_FAILED', `cannot write the audit log: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}
