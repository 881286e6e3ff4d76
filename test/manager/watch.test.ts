import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProviderUnavailableError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { SecretWatcher, managerWatchSource, nextPollDelay, watchConfigSchema, type WatchErrorContext } from '../../src/manager/watch.js';
import { create as createMemory } from '../../src/providers/memory.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider, SecretRecord, SecretRef } from '../../src/types.js';
import { flaky } from './helpers.js';

/** Timers the test fires by hand: no waiting, no timing. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  const delays: number[] = [];
  let next = 0;
  return {
    delays,
    get pending() { return pending.size; },
    setTimeout(run: () => void, ms: number) { delays.push(ms); pending.set(++next, run); return next; },
    clearTimeout(handle: unknown) { pending.delete(handle as number); },
    /** Runs every timer due now (one poll of every polled secret). */
    fire() { const due = [...pending.values()]; pending.clear(); for (const run of due) run(); },
  };
}

const versionOf = (r: SecretRecord | null) => (r ? r.metadata.version : null);
const valueOf = (r: SecretRecord | null) => (r ? r.value.reveal() : null);

/** A memory store read directly, plus a watcher over it with manual timers. */
function setup(options: { onError?: (e: unknown, c: WatchErrorContext) => void } = {}) {
  const store = createMemory('mem', { secrets: { 'db/password': 'canary-v1' } });
  const timers = manualTimers();
  const watcher = new SecretWatcher({ read: (ref) => store.get(ref) }, { timers, onError: options.onError });
  const write = (value: string, name = 'db/password') => store.set!({ name }, new SecretValue(value));
  const poll = async () => { timers.fire(); await watcher.settled(); };
  return { store, timers, watcher, write, poll };
}

describe('SecretWatcher: polling', () => {
  it('delivers each new version once, in order, with the version before it', async () => {
    const { watcher, write, poll } = setup();
    const calls: Array<[string | null, string | null]> = [];
    const stop = watcher.watch('db/password', (next, prev) => { calls.push([versionOf(next), versionOf(prev)]); });
    await stop.ready;
    await poll();
    assert.deepEqual(calls, [], 'the value at subscription is the baseline, not a change');
    await write('canary-v2');
    await poll();
    await poll();
    await write('canary-v3');
    await write('canary-v4');
    await poll();
    assert.deepEqual(calls, [['2', '1'], ['4', '2']]);
    watcher.dispose();
  });

  it('waits for a slow listener: no overlap, no reordering, no duplicates', async () => {
    const { watcher, write } = setup();
    const seen: string[] = [];
    let running = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const stop = watcher.watch('db/password', async (next) => {
      running++;
      assert.equal(running, 1, 'a listener is never called again before its previous call settled');
      seen.push(valueOf(next)!);
      if (seen.length === 1) await gate;
      running--;
    });
    await stop.ready;
    // check() resolves once the read is done; it does not wait for the (blocked) listener
    await write('canary-v2');
    await watcher.check();
    await write('canary-v3');
    await watcher.check();
    await write('canary-v4');
    await watcher.check();
    assert.deepEqual(seen, ['canary-v2'], 'later versions wait in the queue');
    release();
    await watcher.settled();
    assert.deepEqual(seen, ['canary-v2', 'canary-v3', 'canary-v4']);
    watcher.dispose();
  });

  it('asks for poll delays of interval ± jitter, unref\'d', async () => {
    assert.equal(nextPollDelay(30_000, 0.1, () => 0), 27_000);
    assert.equal(nextPollDelay(30_000, 0.1, () => 0.999_999), 33_000);
    assert.equal(nextPollDelay(1_000, 0, () => 0.7), 1_000);
    const store = createMemory('mem', { secrets: { a: 'canary-a' } });
    const timers = manualTimers();
    const watcher = new SecretWatcher({ read: (ref) => store.get(ref) }, { timers, pollIntervalMs: 10_000, jitter: 0.2 });
    await watcher.watch('a', () => {}).ready;
    for (let i = 0; i < 50; i++) { timers.fire(); await watcher.settled(); }
    assert.equal(timers.delays.length, 51);
    assert.ok(timers.delays.every((d) => d >= 8_000 && d <= 12_000), `delays: ${timers.delays.join(', ')}`);
    assert.ok(new Set(timers.delays).size > 1, 'the delays vary');
    watcher.dispose();
    // real timers are unref'd: a watcher never keeps a process alive
    const handles: NodeJS.Timeout[] = [];
    const real = new SecretWatcher({ read: (ref) => store.get(ref) }, {
      timers: { setTimeout: (run, ms) => { const h = setTimeout(run, ms); handles.push(h); return h; }, clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
    });
    try {
      await real.watch('a', () => {}).ready;
      assert.equal(handles.length, 1);
      assert.equal(handles[0]!.hasRef(), false);
    } finally {
      real.dispose();
    }
  });

  it('sees a value change in a single-version backend (same version id) and a deletion', async () => {
    let value: string | null = 'canary-file-1';
    const read = async (ref: SecretRef): Promise<SecretRecord | null> => value === null ? null : {
      provider: 'file', value: new SecretValue(value),
      metadata: { name: ref.name, version: '1', labels: ['current'], createdAt: new Date(0), updatedAt: new Date(0), tags: {} },
    };
    const timers = manualTimers();
    const watcher = new SecretWatcher({ read }, { timers });
    const seen: Array<string | null> = [];
    await watcher.watch('tls/key', (next) => { seen.push(valueOf(next)); }).ready;
    value = 'canary-file-2';
    timers.fire(); await watcher.settled();
    value = null;
    timers.fire(); await watcher.settled();
    assert.deepEqual(seen, ['canary-file-2', null]);
    watcher.dispose();
  });

  it('delivers a version the caller missed between its read and watch (initial)', async () => {
    const { watcher, store, write } = setup();
    const held = await store.get({ name: 'db/password' });
    await write('canary-v2');
    const calls: Array<[string | null, string | null]> = [];
    await watcher.watch('db/password', (n, p) => { calls.push([versionOf(n), versionOf(p)]); }, { initial: held }).ready;
    await watcher.settled();
    assert.deepEqual(calls, [['2', '1']]);
    watcher.dispose();
  });

  it('onChange gets every change of every watched secret', async () => {
    const { watcher, write, poll } = setup();
    await write('canary-other', 'api/key');
    const events: string[] = [];
    watcher.onChange(({ ref, next }) => { events.push(`${ref.name}@${versionOf(next)}`); });
    await Promise.all([watcher.watch('db/password', () => {}).ready, watcher.watch('api/key', () => {}).ready]);
    await write('canary-v2');
    await write('canary-other-2', 'api/key');
    await poll();
    assert.deepEqual(events.sort(), ['api/key@2', 'db/password@2']);
    watcher.dispose();
  });
});

describe('SecretWatcher: failures', () => {
  it('keeps the last value on transient read failures, reports each run of failures once, and retries', async () => {
    const provider = flaky('remote', { 'db/password': 'canary-v1' });
    const timers = manualTimers();
    const errors: Array<{ code: string; context: WatchErrorContext }> = [];
    const watcher = new SecretWatcher({ read: (ref) => provider.get(ref) }, {
      timers, onError: (error, context) => { errors.push({ code: (error as { code: string }).code, context }); },
    });
    const calls: Array<[string | null, string | null]> = [];
    await watcher.watch('db/password', (n, p) => { calls.push([valueOf(n), valueOf(p)]); }).ready;
    provider.failWith = new ProviderUnavailableError('remote', 'connection refused');
    for (let i = 0; i < 3; i++) { timers.fire(); await watcher.settled(); }
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'PROVIDER_UNAVAILABLE');
    assert.deepEqual([errors[0]!.context.source, errors[0]!.context.ref?.name], ['read', 'db/password']);
    assert.deepEqual(calls, [], 'a failure is not a change');
    assert.equal(timers.pending, 1, 'the next poll is scheduled');
    provider.failWith = undefined;
    await provider.set!({ name: 'db/password' }, new SecretValue('canary-v2'));
    timers.fire(); await watcher.settled();
    assert.deepEqual(calls, [['canary-v2', 'canary-v1']]);
    watcher.dispose();
  });

  it('reports a throwing listener and keeps delivering to it', async () => {
    const errors: WatchErrorContext[] = [];
    const { watcher, write, poll } = setup({ onError: (_e, context) => { errors.push(context); } });
    const seen: string[] = [];
    await watcher.watch('db/password', (next) => {
      seen.push(versionOf(next)!);
      if (seen.length === 1) throw new Error('listener bug');
    }).ready;
    await write('canary-v2');
    await poll();
    await write('canary-v3');
    await poll();
    assert.deepEqual(seen, ['2', '3']);
    assert.deepEqual(errors.map((e) => [e.source, e.ref?.name]), [['listener', 'db/password']]);
    watcher.dispose();
  });
});

describe('SecretWatcher: native watch, unsubscribe and dispose', () => {
  /** A provider that notifies: emit() calls every subscriber with a version hint. */
  function notifyingProvider() {
    const inner = createMemory('push', { secrets: { 'db/password': 'canary-v1' } });
    const subscribers = new Set<(version?: string) => void>();
    const provider: Provider & { emit(version?: string): void; subscribers: Set<unknown> } = {
      id: 'push', type: 'test-push', capabilities: { ...inner.capabilities, watch: true },
      get: (ref) => inner.get(ref), set: (ref, value) => inner.set!(ref, value), health: () => inner.health(),
      watch(_ref, onVersion) { subscribers.add(onVersion); return () => { subscribers.delete(onVersion); }; },
      emit(version) { for (const s of subscribers) s(version); },
      subscribers,
    };
    return provider;
  }

  it('re-reads on a provider notification instead of polling; duplicate hints deliver once', async () => {
    const provider = notifyingProvider();
    const manager = new SecretManager({ providers: [provider] });
    const timers = manualTimers();
    const watcher = new SecretWatcher(managerWatchSource(manager), { timers });
    const seen: string[] = [];
    await watcher.watch('db/password', (next) => { seen.push(valueOf(next)!); }).ready;
    assert.equal(timers.pending, 0, 'nothing is polled');
    assert.equal(provider.subscribers.size, 1);
    await provider.set!({ name: 'db/password' }, new SecretValue('canary-v2'));
    provider.emit('2');
    provider.emit('2');
    provider.emit();
    await watcher.settled();
    assert.deepEqual(seen, ['canary-v2']);
    assert.equal((await manager.get('db/password'))?.value.reveal(), 'canary-v2', 'the manager\'s cache agrees with the listener');
    watcher.dispose();
    assert.equal(provider.subscribers.size, 0, 'dispose ends the provider subscription');
  });

  it('through a cached manager, a poll inside the cache TTL still sees a change', async () => {
    const store = createMemory('mem', { secrets: { 'db/password': 'canary-v1' } });
    const manager = new SecretManager({ providers: [store], cache: { ttlMs: 3_600_000 } });
    assert.equal((await manager.get('db/password'))?.value.reveal(), 'canary-v1');
    const timers = manualTimers();
    const watcher = new SecretWatcher(managerWatchSource(manager), { timers });
    const seen: string[] = [];
    await watcher.watch('db/password', (next) => { seen.push(valueOf(next)!); }).ready;
    await store.set!({ name: 'db/password' }, new SecretValue('canary-v2')); // behind the manager's back
    timers.fire(); await watcher.settled();
    assert.deepEqual(seen, ['canary-v2']);
    assert.equal((await manager.get('db/password'))?.value.reveal(), 'canary-v2');
    watcher.dispose();
  });

  it('unsubscribe stops deliveries and the poll of a secret nobody watches any more', async () => {
    const { watcher, write, poll, timers } = setup();
    const a: string[] = [];
    const b: string[] = [];
    const stopA = watcher.watch('db/password', (n) => { a.push(versionOf(n)!); });
    const stopB = watcher.watch('db/password', (n) => { b.push(versionOf(n)!); });
    await stopA.ready;
    assert.equal(watcher.size, 1, 'two watchers of one secret share one poll');
    stopA();
    await write('canary-v2');
    await poll();
    assert.deepEqual([a, b], [[], ['2']]);
    stopB();
    assert.equal(watcher.size, 0);
    assert.equal(timers.pending, 0);
    watcher.dispose();
  });

  it('dispose stops everything; watching afterwards is an error', async () => {
    const { watcher, write, timers } = setup();
    const seen: string[] = [];
    await watcher.watch('db/password', (n) => { seen.push(versionOf(n)!); }).ready;
    watcher.dispose();
    assert.equal(timers.pending, 0);
    await write('canary-v2');
    timers.fire();
    await watcher.settled();
    assert.deepEqual(seen, []);
    assert.throws(() => watcher.watch('db/password', () => {}), { code: 'INVALID_INPUT', message: 'the watcher is disposed' });
  });

  it('rejects an invalid name, interval, and a bad watch: config section', () => {
    const { watcher } = setup();
    assert.throws(() => watcher.watch('../etc', () => {}), { code: 'INVALID_NAME' });
    assert.throws(() => new SecretWatcher({ read: async () => null }, { pollIntervalMs: 0 }), { code: 'INVALID_INPUT', message: /pollIntervalMs must be > 0/ });
    assert.deepEqual(watchConfigSchema.parse({}), { poll_interval: 30_000, jitter: 0.1 });
    assert.deepEqual(watchConfigSchema.parse({ poll_interval: '500ms', jitter: 0 }), { poll_interval: 500, jitter: 0 });
    const bad = watchConfigSchema.safeParse({ poll_interval: 'soon' });
    assert.ok(!bad.success && /invalid duration/.test(bad.error.issues[0]!.message));
    watcher.dispose();
  });
});
