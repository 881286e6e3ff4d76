/**
 * The manager's guard: access control and audit around every manager operation, in one place.
 * It sits at the manager rather than as a Provider wrapper because the principal, the request id
 * and the manager-level actions (rotate, rollback, key rotation) are not visible at the provider
 * interface, and the cache's synchronous fast path must be guarded too.
 *
 * Reads are audited in batches by default: identical reads (same principal, secret, provider,
 * version and outcome) within one flush interval become one event with a `count`, written when
 * the interval ends, on `flush()` and on `close()` — so no event is lost on a clean shutdown,
 * and a cached read costs a map increment instead of an append. Every other operation awaits
 * its event: when it cannot be written, the operation fails with AUDIT_WRITE_FAILED.
 */
import { AccessDeniedError, decide, type Action, type CompiledPolicy } from '../access/index.js';
import { AuditLog, shouldFail, type AuditAction, type AuditEntryInput, type AuditFailureMode } from '../audit/index.js';
import { LockboxError } from '../errors.js';

/** What the guard of a manager does. */
export interface GuardOptions {
  /** Who is asking: a user, service or role name. @default currentPrincipal() (LOCKBOX_PRINCIPAL or the OS user) */
  principal: string;
  /** A compiled `access:` policy; none = every operation is allowed. @default undefined */
  policy?: CompiledPolicy;
  /** Where events go; none = no audit. @default undefined */
  audit?: AuditLog;
  /** `fail`: an operation whose event cannot be written fails; `warn`: read paths only warn. @default "fail" */
  onFailure?: AuditFailureMode;
  /** `batched`: reads are coalesced and written every flush interval; `sync`: each read awaits its event. @default "batched" */
  reads?: 'batched' | 'sync';
  /** How often batched read events are written, in milliseconds. @default 1000 */
  flushIntervalMs?: number;
  /** Where warnings go (mode `warn`). @default process.emitWarning */
  warn?: (message: string) => void;
}

/** The secret an operation is about. */
export interface GuardTarget {
  name?: string;
  scope?: string;
  provider?: string;
  version?: string;
}

/** The access action each audited operation needs. */
const ACCESS_ACTION: Record<Exclude<AuditAction, 'policy_denial' | 'snapshot_fallback'>, Action> = {
  read: 'read', list: 'list', versions: 'list', write: 'write', delete: 'delete', undelete: 'delete',
  destroy: 'delete', rotate: 'rotate', rollback: 'rotate', key_rotation: 'admin',
};
type GuardedAction = keyof typeof ACCESS_ACTION;

export type { GuardedAction };

interface PendingRead { entry: AuditEntryInput; count: number }
/** Per name, for global reads answered by the cache fast path: the decision and the reads since the last flush. */
interface FastSlot { allowed: boolean; provider: string; count: number; firstAt: number }

/** Checks access and records audit events for one manager. */
export class OperationGuard {
  readonly principal: string;
  readonly #policy?: CompiledPolicy;
  readonly #audit?: AuditLog;
  readonly #mode: AuditFailureMode;
  readonly #batchReads: boolean;
  readonly #flushIntervalMs: number;
  readonly #warn: (message: string) => void;
  /** Memoised decisions: `action \0 scope \0 name` → allowed. */
  readonly #decisions = new Map<string, boolean>();
  readonly #pendingReads = new Map<string, PendingRead>();
  readonly #fastSlots = new Map<string, FastSlot>();
  #timer?: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();
  /** A batched write that failed: the next operation fails with it (mode `fail`). */
  #failure?: LockboxError;

  constructor(options: GuardOptions) {
    this.principal = options.principal;
    this.#policy = options.policy;
    this.#audit = options.audit;
    this.#mode = options.onFailure ?? 'fail';
    this.#batchReads = (options.reads ?? 'batched') === 'batched';
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#warn = options.warn ?? ((message) => process.emitWarning(message, 'LockboxAuditWarning'));
  }

  /** True when the guard does nothing (no policy, no audit): the manager skips it. */
  get inactive(): boolean {
    return this.#policy === undefined && this.#audit === undefined;
  }

  /** The policy in force, if any (for `lockbox policy check`). */
  get policy(): CompiledPolicy | undefined {
    return this.#policy;
  }

  /**
   * Throws AccessDeniedError when the policy denies `action` on the secret (after recording the
   * denial). Synchronous and memoised, so the cache's fast path can ask it.
   */
  check(action: GuardedAction, target: GuardTarget): void {
    if (this.#failure) throw this.#failure;
    // A list names a prefix, not a secret: the manager filters its results with `allows` instead.
    if (this.#policy === undefined || target.name === undefined || action === 'list') return;
    const key = `${action}\0${target.scope ?? ''}\0${target.name}`;
    let allowed = this.#decisions.get(key);
    if (allowed === undefined) {
      allowed = decide(this.#policy, this.#request(action, target)).allowed;
      if (this.#decisions.size > 10_000) this.#decisions.clear();
      this.#decisions.set(key, allowed);
    }
    if (allowed) return;
    const decision = decide(this.#policy, this.#request(action, target));
    const denial = new AccessDeniedError(decision.request, decision.reason);
    this.#recordDenial(action, target, denial);
    throw denial;
  }

  /**
   * The cache fast path's guard for a global read of `name` answered by `provider`: one map
   * look-up and a counter. Returns false when the read must take the general path (denied, a
   * pending failure, or sync audit), which then throws or records as usual.
   */
  fastRead(name: string, provider: string): boolean {
    if (this.#failure !== undefined || (this.#audit !== undefined && !this.#batchReads)) return false;
    const slot = this.#slot(name, provider);
    if (!slot.allowed) return false;
    this.#count(slot);
    return true;
  }

  #slot(name: string, provider: string): FastSlot {
    let slot = this.#fastSlots.get(name);
    if (slot === undefined || slot.provider !== provider) {
      const allowed = this.#policy === undefined || decide(this.#policy, this.#request('read', { name })).allowed;
      if (this.#fastSlots.size > 10_000) this.#fastSlots.clear();
      slot = { allowed, provider, count: 0, firstAt: 0 };
      this.#fastSlots.set(name, slot);
    }
    return slot;
  }

  #count(slot: FastSlot): void {
    if (this.#audit !== undefined && slot.count++ === 0) {
      slot.firstAt = Date.now();
      this.#scheduleFlush();
    }
  }

  /** True when the policy allows the action (no denial is recorded): for filtering list results. */
  allows(action: GuardedAction, target: GuardTarget): boolean {
    return this.#policy === undefined || target.name === undefined || decide(this.#policy, this.#request(action, target)).allowed;
  }

  /**
   * Records a read's outcome (a not-found read is a failure with NOT_FOUND; a denied one is
   * `denied`). Batched (the default): counted now, written at the next flush. Sync: resolves once
   * written; rejects with AUDIT_WRITE_FAILED unless mode is `warn`.
   */
  recordRead(target: GuardTarget, error?: unknown): Promise<void> | undefined {
    if (this.#audit === undefined) return undefined;
    if (!this.#batchReads) return this.record('read', target, error);
    if (error === undefined && target.scope === undefined && target.version === undefined && target.provider !== undefined && target.name !== undefined) {
      this.#count(this.#slot(target.name, target.provider)); // the same event as the fast path's reads of this name
      return undefined;
    }
    const errorCode = error instanceof LockboxError ? error.code : undefined;
    const key = `${target.provider ?? ''}\0${target.scope ?? ''}\0${target.name ?? ''}\0${target.version ?? ''}\0${errorCode ?? (error === undefined ? '' : '?')}`;
    const pending = this.#pendingReads.get(key);
    if (pending) {
      pending.count++;
      return undefined;
    }
    this.#pendingReads.set(key, { entry: { ...this.#entry('read', target, error), time: new Date() }, count: 1 });
    this.#scheduleFlush();
    return undefined;
  }

  #scheduleFlush(): void {
    this.#timer ??= setTimeout(() => { this.#timer = undefined; void this.flush().catch(() => {}); }, this.#flushIntervalMs).unref();
  }

  /**
   * Writes one event now: success, or the error's outcome and code. Rejects with
   * AUDIT_WRITE_FAILED when it cannot be written (unless mode `warn` lets a read path go on).
   */
  record(action: AuditAction, target: GuardTarget, error?: unknown): Promise<void> {
    return this.#append(this.#entry(action, target, error));
  }

  /**
   * Runs an operation: checks access, runs it, then awaits its event (success, or failure with the
   * error's code). `describe` adds what is known only after (provider, version).
   */
  async run<T>(action: GuardedAction, target: GuardTarget, operation: () => Promise<T>, describe?: (result: T) => GuardTarget): Promise<T> {
    this.check(action, target);
    let result: T;
    try {
      result = await operation();
    } catch (error) {
      await this.record(action, target, error);
      throw error;
    }
    await this.record(action, describe ? { ...target, ...describe(result) } : target);
    return result;
  }

  /** Records that a value was served from the last-known-good snapshot. */
  recordSnapshotFallback(target: GuardTarget): Promise<void> {
    return this.record('snapshot_fallback', target);
  }

  /** Writes every batched read event now. */
  async flush(): Promise<void> {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    const batch = [...this.#pendingReads.values()];
    this.#pendingReads.clear();
    for (const [name, slot] of this.#fastSlots) {
      if (slot.count === 0) continue;
      batch.push({ entry: { ...this.#entry('read', { name, provider: slot.provider }), time: new Date(slot.firstAt) }, count: slot.count });
      slot.count = 0;
    }
    batch.sort((a, b) => (a.entry.time as Date).getTime() - (b.entry.time as Date).getTime());
    const previous = this.#flushing;
    this.#flushing = (async () => {
      await previous;
      for (const { entry, count } of batch) await this.#append(count > 1 ? { ...entry, count } : entry, true);
    })();
    await this.#flushing;
    if (this.#audit) await this.#audit.flush();
  }

  /** Flushes batched reads and closes the audit log. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.#audit?.close();
    }
  }

  #request(action: GuardedAction, target: GuardTarget) {
    return { principal: this.principal, action: ACCESS_ACTION[action], secret: target.name!, ...(target.scope !== undefined ? { tenant: target.scope } : {}) };
  }

  #entry(action: AuditAction, target: GuardTarget, error?: unknown): AuditEntryInput {
    const code = error instanceof LockboxError ? error.code : undefined;
    const outcome = error === undefined ? 'success' : code === 'ACCESS_DENIED' ? 'denied' : 'failure';
    const entry: AuditEntryInput = { principal: this.principal, action, outcome };
    if (code !== undefined) entry.errorCode = code;
    if (target.provider !== undefined) entry.provider = target.provider;
    if (target.scope !== undefined) entry.scope = target.scope;
    if (target.name !== undefined) entry.name = target.name;
    if (target.version !== undefined && /^[A-Za-z0-9._-]{1,64}$/.test(target.version)) entry.version = target.version;
    return entry;
  }

  #recordDenial(action: GuardedAction, target: GuardTarget, denial: LockboxError): void {
    if (this.#audit === undefined) return;
    if (action === 'read' && this.#batchReads) this.recordRead(target, denial);
    else void this.record(action, target, denial).catch(() => {});
  }

  async #append(entry: AuditEntryInput, batched = false): Promise<void> {
    if (this.#audit === undefined) return;
    try {
      await this.#audit.append(entry);
    } catch (error) {
      const failure = error instanceof LockboxError ? error : new LockboxError('AUDIT_WRITE_FAILED', 'cannot write the audit log', { cause: error });
      if (!shouldFail(entry.action, this.#mode)) {
        this.#warn(`lockbox: audit event for ${entry.action} ${entry.name ?? ''} not written (${failure.message}); continuing (audit.on_failure: warn)`);
        return;
      }
      if (batched) this.#failure = failure;
      throw failure;
    }
  }
}
