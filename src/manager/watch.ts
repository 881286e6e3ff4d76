/**
 * Live updates: a SecretWatcher hands each new version of a watched secret to every listener
 * once, in order. Secrets whose providers have the `watch` capability are re-read when the
 * provider signals a change; all others are polled on an interval with jitter. Every read goes
 * past the cache (a poll inside the TTL must still see a change) — see docs/live-updates.md.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { LockboxError } from '../errors.js';
import { assertValidName } from '../names.js';
import type { SecretRecord, SecretRef } from '../types.js';
import { Delivery } from './watch-delivery.js';
import type { WatchSource } from './watch-source.js';

export { durationMsSchema, watchConfigSchema, type WatchConfig } from './watch-config.js';
export { managerWatchSource, type WatchSource, type WatchableManager } from './watch-source.js';

/** Called with the new record (null: the secret is gone) and the one before it. */
export type ChangeListener = (next: SecretRecord | null, prev: SecretRecord | null) => void | Promise<void>;
/** One change of one watched secret, as `onChange` listeners get it. */
export interface ChangeEvent { ref: SecretRef; next: SecretRecord | null; prev: SecretRecord | null }
export type ChangeEventListener = (event: ChangeEvent) => void | Promise<void>;
/** Where a reported error came from: a read, a listener, or a provider's watch subscription. */
export interface WatchErrorContext { ref?: SecretRef; source: 'read' | 'listener' | 'subscribe' }
/** Stops one subscription; `ready` settles once the secret's first read has been attempted. */
export type Unsubscribe = (() => void) & { ready: Promise<void> };

export interface WatcherOptions {
  /** Time between two polls of a secret whose provider cannot notify. @default 30000 */
  pollIntervalMs?: number;
  /** Each delay is pollIntervalMs × (1 ± jitter), uniformly, so that processes spread out. @default 0.1 */
  jitter?: number;
  /** Gets read failures (reported once per run of failures with the same code) and listener errors. @default a process warning naming the error code only */
  onError?: (error: unknown, context: WatchErrorContext) => void;
  /** Random source in [0, 1), for tests. @default Math.random */
  random?: () => number;
  /** Timer functions, for tests; handles with unref() are unref'd. @default globalThis's */
  timers?: { setTimeout(run: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
}

export interface WatchOptions {
  /** The record the caller already holds: when the first read finds another version, it is delivered (prev = this). @default undefined */
  initial?: SecretRecord | null;
}

/** A delay in [interval × (1 − jitter), interval × (1 + jitter)]. */
export function nextPollDelay(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(intervalMs * (1 - jitter + 2 * jitter * random())));
}

/**
 * Watches secrets through a WatchSource. Guarantees, per listener: each new version once, in the
 * order the watcher saw them, the next call only after the previous one (and its promise) settled.
 * A failed read keeps the last value and is retried; a throwing listener is reported, not fatal.
 */
export class SecretWatcher {
  readonly #source: WatchSource;
  readonly #interval: number;
  readonly #jitter: number;
  readonly #onError: NonNullable<WatcherOptions['onError']>;
  readonly #random: () => number;
  readonly #timers: NonNullable<WatcherOptions['timers']>;
  readonly #tracked = new Map<string, Tracked>();
  readonly #changeListeners = new Set<Delivery<ChangeEvent>>();
  /** Per-watcher HMAC key: values are compared by keyed fingerprint, never kept for comparison. */
  readonly #fingerprintKey = randomBytes(32);
  #disposed = false;

  constructor(source: WatchSource, options: WatcherOptions = {}) {
    this.#source = source;
    this.#interval = options.pollIntervalMs ?? 30_000;
    this.#jitter = options.jitter ?? 0.1;
    if (!(this.#interval > 0) || !(this.#jitter >= 0 && this.#jitter < 1)) {
      throw new LockboxError('INVALID_INPUT', 'pollIntervalMs must be > 0 and jitter in [0, 1)');
    }
    this.#onError = options.onError ?? defaultOnError;
    this.#random = options.random ?? Math.random;
    this.#timers = options.timers ?? { setTimeout: (run, ms) => setTimeout(run, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  /** Calls `listener(next, prev)` for each new version of one secret until unsubscribed. */
  watch(address: string | SecretRef, listener: ChangeListener, options: WatchOptions = {}): Unsubscribe {
    if (this.#disposed) throw new LockboxError('INVALID_INPUT', 'the watcher is disposed');
    const ref: SecretRef = typeof address === 'string' ? { name: address } : { ...address };
    assertValidName(ref.name);
    const tracked = this.#track(ref);
    const delivery = new Delivery<[SecretRecord | null, SecretRecord | null]>(
      ([next, prev]) => listener(next, prev), (error) => this.#report(error, { ref, source: 'listener' }));
    const initial = options.initial === undefined ? undefined : this.#observe(options.initial);
    const subscriber: Subscriber = { delivery, initial };
    tracked.subscribers.add(subscriber);
    if (tracked.last) this.#deliverInitial(subscriber, tracked.last);
    const unsubscribe = (): void => {
      delivery.stop();
      tracked.subscribers.delete(subscriber);
      if (tracked.subscribers.size === 0) this.#untrack(tracked);
    };
    return Object.assign(unsubscribe, { ready: tracked.ready });
  }

  /** Calls `listener` for every change of every secret watched with `watch`. */
  onChange(listener: ChangeEventListener): Unsubscribe {
    if (this.#disposed) throw new LockboxError('INVALID_INPUT', 'the watcher is disposed');
    const delivery = new Delivery<ChangeEvent>(listener, (error, event) => this.#report(error, { ref: event.ref, source: 'listener' }));
    this.#changeListeners.add(delivery);
    const unsubscribe = (): void => { delivery.stop(); this.#changeListeners.delete(delivery); };
    return Object.assign(unsubscribe, { ready: Promise.resolve() });
  }

  /** Reads now the watched secrets with this name (every watched secret when omitted), e.g. after a write. */
  async check(name?: string): Promise<void> {
    const due = [...this.#tracked.values()].filter((t) => name === undefined || t.ref.name === name);
    await Promise.all(due.map((t) => this.#check(t)));
  }

  /** Settles when no read is running and every listener has been called with what is queued. */
  async settled(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      const reads = [...this.#tracked.values()].map((t) => t.reading).filter((p) => p !== undefined);
      const deliveries = [...this.#tracked.values()].flatMap((t) => [...t.subscribers].map((s) => s.delivery));
      const busy = [...deliveries, ...this.#changeListeners].map((d) => d.idle()).filter((p) => p !== undefined);
      if (reads.length === 0 && busy.length === 0) return;
      await Promise.all([...reads, ...busy]);
    }
  }

  /** Number of secrets being watched. */
  get size(): number {
    return this.#tracked.size;
  }

  /** Stops every poll, subscription and pending delivery. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const tracked of [...this.#tracked.values()]) {
      for (const subscriber of tracked.subscribers) subscriber.delivery.stop();
      this.#untrack(tracked);
    }
    for (const delivery of this.#changeListeners) delivery.stop();
    this.#changeListeners.clear();
    this.#fingerprintKey.fill(0);
  }

  #track(ref: SecretRef): Tracked {
    const key = refKey(ref);
    const existing = this.#tracked.get(key);
    if (existing) return existing;
    const tracked: Tracked = { key, ref, subscribers: new Set(), again: false, seen: [], ready: Promise.resolve() };
    this.#tracked.set(key, tracked);
    try {
      tracked.stopNative = this.#source.subscribe?.(ref, () => { void this.#check(tracked); });
    } catch (error) {
      this.#report(error, { ref, source: 'subscribe' });
    }
    tracked.ready = this.#check(tracked);
    return tracked;
  }

  #untrack(tracked: Tracked): void {
    if (this.#tracked.get(tracked.key) === tracked) this.#tracked.delete(tracked.key);
    if (tracked.timer !== undefined) this.#timers.clearTimeout(tracked.timer);
    tracked.timer = undefined;
    try {
      tracked.stopNative?.();
    } catch (error) {
      this.#report(error, { ref: tracked.ref, source: 'subscribe' });
    }
    tracked.stopNative = undefined;
  }

  /** One read at a time per secret: a check asked for during a read runs once more after it. */
  #check(tracked: Tracked): Promise<void> {
    if (!this.#isLive(tracked)) return Promise.resolve();
    if (tracked.reading) {
      tracked.again = true;
      return tracked.reading;
    }
    const reading = (async () => {
      do {
        tracked.again = false;
        await this.#readOnce(tracked);
      } while (tracked.again && this.#isLive(tracked));
    })().finally(() => {
      tracked.reading = undefined;
      if (this.#isLive(tracked) && (tracked.stopNative === undefined || tracked.failing)) this.#schedule(tracked);
    });
    tracked.reading = reading;
    return reading;
  }

  async #readOnce(tracked: Tracked): Promise<void> {
    let record: SecretRecord | null;
    try {
      record = await this.#source.read(tracked.ref);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const label = typeof code === 'string' ? code : 'error';
      if (tracked.failing !== label) this.#report(error, { ref: tracked.ref, source: 'read' });
      tracked.failing = label;
      return;
    }
    tracked.failing = undefined;
    if (!this.#isLive(tracked)) return;
    const observed = this.#observe(record);
    const last = tracked.last;
    if (last === undefined) {
      tracked.last = observed;
      remember(tracked, observed);
      for (const subscriber of tracked.subscribers) this.#deliverInitial(subscriber, observed);
      return;
    }
    if (observed.identity === last.identity || isStaleReplica(tracked, observed, last)) return;
    tracked.last = observed;
    remember(tracked, observed);
    for (const subscriber of tracked.subscribers) subscriber.delivery.push([observed.record, last.record]);
    for (const delivery of this.#changeListeners) delivery.push({ ref: tracked.ref, next: observed.record, prev: last.record });
  }

  #deliverInitial(subscriber: Subscriber, observed: Observed): void {
    const initial = subscriber.initial;
    subscriber.initial = undefined;
    if (initial && initial.identity !== observed.identity) subscriber.delivery.push([observed.record, initial.record]);
  }

  #schedule(tracked: Tracked): void {
    if (tracked.timer !== undefined) this.#timers.clearTimeout(tracked.timer);
    const handle = this.#timers.setTimeout(() => {
      tracked.timer = undefined;
      if (this.#isLive(tracked)) void this.#check(tracked);
    }, nextPollDelay(this.#interval, this.#jitter, this.#random));
    (handle as { unref?: () => void } | undefined)?.unref?.();
    tracked.timer = handle;
  }

  #isLive(tracked: Tracked): boolean {
    return !this.#disposed && this.#tracked.get(tracked.key) === tracked;
  }

  /** Provider, scope and version, plus a keyed fingerprint of the value (single-version backends keep version "1"). */
  #observe(record: SecretRecord | null): Observed {
    if (record === null) return { record, identity: 'absent' };
    const mac = createHmac('sha256', this.#fingerprintKey).update(record.value.reveal()).digest('base64');
    return { record, identity: `${record.provider}\0${record.metadata.scope ?? ''}\0${record.metadata.version}\0${mac}` };
  }

  #report(error: unknown, context: WatchErrorContext): void {
    try {
      this.#onError(error, context);
    } catch {
      // an error handler that throws must not stop the poller
    }
  }
}

interface Observed { record: SecretRecord | null; identity: string }
interface Subscriber { delivery: Delivery<[SecretRecord | null, SecretRecord | null]>; initial?: Observed }
interface Tracked {
  key: string;
  ref: SecretRef;
  subscribers: Set<Subscriber>;
  last?: Observed;
  /** Recent identities with their versions, to spot a lagging replica answering an old version. */
  seen: Array<{ identity: string; version?: number }>;
  timer?: unknown;
  stopNative?: () => void;
  reading?: Promise<void>;
  again: boolean;
  /** Code of the current run of read failures (reported once), undefined after a success. */
  failing?: string;
  ready: Promise<void>;
}

function refKey(ref: SecretRef): string {
  return `${ref.provider ?? ''}\0${ref.scope ?? ''}\0${ref.name}\0${ref.version ?? 'current'}\0${ref.field ?? ''}`;
}

function versionNumber(observed: Observed): number | undefined {
  const version = observed.record?.metadata.version;
  return version !== undefined && /^\d{1,15}$/.test(version) ? Number(version) : undefined;
}

function remember(tracked: Tracked, observed: Observed): void {
  tracked.seen.push({ identity: observed.identity, version: versionNumber(observed) });
  if (tracked.seen.length > 16) tracked.seen.shift();
}

/** An answer seen before whose version number is lower than the last one: a replica lagging behind, not news. */
function isStaleReplica(tracked: Tracked, observed: Observed, last: Observed): boolean {
  const next = versionNumber(observed);
  const current = versionNumber(last);
  if (next === undefined || current === undefined || next >= current) return false;
  return tracked.seen.some((s) => s.identity === observed.identity);
}

function defaultOnError(error: unknown, context: WatchErrorContext): void {
  const code = (error as { code?: unknown }).code;
  const label = error instanceof LockboxError ? error.code : typeof code === 'string' ? code : (error as { name?: string }).name ?? 'error';
  process.emitWarning(`lockbox watch: ${context.source} of ${context.ref?.name ?? 'a change'} failed (${label})`, 'LockboxWatchWarning');
}
