import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockboxError, ProviderUnavailableError, isTransient } from '../../src/errors.js';
import { CachedProvider } from '../../src/manager/cache.js';
import { LastKnownGoodSnapshot, snapshotConfigSchema, type SnapshotOptions } from '../../src/manager/snapshot.js';
import type { Provider, SecretRecord, SecretRef } from '../../src/types.js';
import { flaky, manualClock, type FlakyProvider } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'lockbox-snapshot-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = () => join(root, `case-${++counter}`, '.lockbox', 'lkg.snapshot');
const masterKey = randomBytes(32);
const down = () => new ProviderUnavailableError('remote', 'connection refused');

function open(path: string, options: Partial<SnapshotOptions> = {}): LastKnownGoodSnapshot {
  return new LastKnownGoodSnapshot({ path, masterKey: () => Buffer.from(masterKey), writeDelayMs: 60_000, ...options });
}

/**
 * The manager's #get in miniature, with exactly the lines the lead adds: record after a found
 * value, lookup (with the providers that failed transiently) when nothing was found and a
 * failure was transient, forget on not-found.
 */
async function get(chain: Provider[], snapshot: LastKnownGoodSnapshot, ref: SecretRef): Promise<SecretRecord | null> {
  const unreachable: string[] = [];
  let transientFailure: unknown;
  for (const provider of chain) {
    let record: SecretRecord | null;
    try {
      record = await provider.get(ref);
    } catch (error) {
      if (!isTransient(error)) throw error;
      transientFailure ??= error;
      unreachable.push(provider.id);
      continue;
    }
    if (!record) continue;
    snapshot.record(ref, record);
    return record;
  }
  if (transientFailure) {
    const saved = await snapshot.lookup(ref, { unreachable });
    if (saved) return saved.record;
    throw transientFailure;
  }
  snapshot.forget(ref);
  return null;
}

/** A provider with one secret read once (recorded, flushed), then taken down; and a new snapshot over the file. */
async function recordedThenDown(options: Partial<SnapshotOptions> = {}): Promise<{ remote: FlakyProvider; path: string; reopen: (o?: Partial<SnapshotOptions>) => LastKnownGoodSnapshot }> {
  const path = freshPath();
  const remote = flaky('remote', { 'db/password': 'canary-lkg-1' });
  const first = open(path, options);
  await get([remote], first, { name: 'db/password' });
  await first.dispose();
  remote.failWith = down();
  return { remote, path, reopen: (o = {}) => open(path, { ...options, ...o }) };
}

describe('last-known-good snapshot', () => {
  it('round trip: serves a value recorded by an earlier process when every provider is down, and says so', async () => {
    const { remote, path, reopen } = await recordedThenDown();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    assert.ok(!readFileSync(path).includes('canary-lkg-1'), 'the file holds no plaintext');
    const snapshot = reopen();
    const record = await get([remote], snapshot, { name: 'db/password' });
    assert.equal(record?.value.reveal(), 'canary-lkg-1');
    assert.deepEqual([record?.provider, record?.metadata.version, record?.metadata.labels], ['remote', '1', ['current']]);
    const status = snapshot.status();
    assert.deepEqual([status.state, status.entries, status.servedFrom, status.problem], ['ok', 1, true, undefined]);
    assert.match(status.message!, /^values served from the last-known-good snapshot \(oldest \d+s old\)$/);
    await snapshot.dispose();
  });

  it('writes after a burst of reads (debounced), atomically, and on dispose', async () => {
    const path = freshPath();
    const remote = flaky('remote', { a: 'canary-a', b: 'canary-b' });
    const snapshot = open(path);
    await get([remote], snapshot, { name: 'a' });
    await get([remote], snapshot, { name: 'b' });
    assert.equal(existsSync(path), false, 'nothing written before the delay');
    await snapshot.flush();
    assert.equal(existsSync(path), true);
    remote.failWith = down();
    const later = open(path);
    assert.equal((await get([remote], later, { name: 'b' }))?.value.reveal(), 'canary-b');
    await later.dispose();
  });

  it('a cached answer replayed is no new confirmation: the age runs from the provider\'s answer', async () => {
    const clock = manualClock(Date.parse('2026-01-01T00:00:00Z'));
    const path = freshPath();
    const cached = new CachedProvider(flaky('remote', { a: 'canary-a' }), { ttlMs: 3_600_000, now: clock.now });
    const snapshot = open(path, { now: clock.now });
    await get([cached], snapshot, { name: 'a' });
    clock.advance(600_000);
    await get([cached], snapshot, { name: 'a' }); // a cache hit: the same record object
    assert.equal((await snapshot.lookup({ name: 'a' }))?.ageMs, 600_000);
    await snapshot.dispose();
  });

  it('serves nothing older than max_age', async () => {
    const clock = manualClock(Date.parse('2026-01-01T00:00:00Z'));
    const { remote, reopen } = await recordedThenDown({ now: clock.now, maxAgeMs: 3_600_000 });
    clock.advance(3_600_000);
    const snapshot = reopen();
    assert.equal((await snapshot.lookup({ name: 'db/password' }))?.ageMs, 3_600_000, 'inside the window (inclusive)');
    clock.advance(1);
    await assert.rejects(get([remote], snapshot, { name: 'db/password' }), { code: 'PROVIDER_UNAVAILABLE' });
  });

  it('a tampered file is SNAPSHOT_INVALID, reported and ignored — not fatal — and replaced by the next good read', async () => {
    const { remote, path, reopen } = await recordedThenDown();
    const bytes = readFileSync(path);
    bytes[bytes.length - 3]! ^= 0x01;
    writeFileSync(path, bytes);
    const problems: LockboxError[] = [];
    const snapshot = reopen({ onProblem: (e) => problems.push(e) });
    await assert.rejects(get([remote], snapshot, { name: 'db/password' }), { code: 'PROVIDER_UNAVAILABLE' });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.code, 'SNAPSHOT_INVALID');
    assert.equal(problems[0]!.message, `the last-known-good snapshot ${path} failed authentication (tampered with or corrupt); it is ignored`);
    const status = snapshot.status();
    assert.deepEqual([status.state, status.problem?.code], ['invalid', 'SNAPSHOT_INVALID']);
    assert.match(status.message!, /^SNAPSHOT_INVALID: the last-known-good snapshot .* failed authentication/);
    assert.ok(!status.message!.includes('canary'));
    remote.failWith = undefined;
    await get([remote], snapshot, { name: 'db/password' });
    await snapshot.dispose();
    remote.failWith = down();
    assert.equal((await get([remote], open(path), { name: 'db/password' }))?.value.reveal(), 'canary-lkg-1');
  });

  it('a truncated or foreign file is SNAPSHOT_INVALID naming the problem', async () => {
    const { path, reopen } = await recordedThenDown();
    writeFileSync(path, 'not a snapshot');
    const snapshot = reopen();
    await snapshot.open();
    assert.equal(snapshot.status().problem?.code, 'SNAPSHOT_INVALID');
    assert.equal(snapshot.status().problem?.message, `the last-known-good snapshot ${path} is not a lockbox snapshot (corrupt or truncated); it is ignored`);
  });

  it('another master key cannot open it: SNAPSHOT_INVALID naming both key ids, never the keys', async () => {
    const { remote, reopen } = await recordedThenDown();
    const otherKey = randomBytes(32);
    const snapshot = reopen({ masterKey: () => Buffer.from(otherKey) });
    await assert.rejects(get([remote], snapshot, { name: 'db/password' }), { code: 'PROVIDER_UNAVAILABLE' });
    const problem = snapshot.status().problem!;
    assert.equal(problem.code, 'SNAPSHOT_INVALID');
    assert.match(problem.message, /was sealed under another master key \(id [0-9a-f]{16}; the current key is [0-9a-f]{16}\); it is ignored$/);
    assert.ok(!problem.message.includes(masterKey.toString('base64')) && !problem.message.includes(otherKey.toString('base64')));
  });

  it('without a master key it is unavailable (reported), and reads still work', async () => {
    const path = freshPath();
    const remote = flaky('remote', { a: 'canary-a' });
    const snapshot = open(path, { masterKey: () => { throw new LockboxError('MASTER_KEY_MISSING', 'no master key: LOCKBOX_MASTER_KEY is not set'); } });
    assert.equal((await get([remote], snapshot, { name: 'a' }))?.value.reveal(), 'canary-a');
    await snapshot.flush();
    assert.deepEqual([snapshot.status().state, snapshot.status().problem?.code, existsSync(path)], ['unavailable', 'MASTER_KEY_MISSING', false]);
  });
});

describe('last-known-good snapshot: never for not-found or denied', () => {
  it('a secret the provider now says is gone is forgotten, not served later', async () => {
    const path = freshPath();
    const remote = flaky('remote', { 'db/password': 'canary-deleted' });
    const snapshot = open(path);
    await get([remote], snapshot, { name: 'db/password' });
    await remote.delete!({ name: 'db/password' });
    assert.equal(await get([remote], snapshot, { name: 'db/password' }), null);
    remote.failWith = down();
    await assert.rejects(get([remote], snapshot, { name: 'db/password' }), { code: 'PROVIDER_UNAVAILABLE' });
    await snapshot.dispose();
  });

  it('a denied read throws the denial even with an entry in the window', async () => {
    const { remote, reopen } = await recordedThenDown();
    remote.failWith = new LockboxError('PERMISSION_DENIED', 'provider "remote" refused the read (HTTP 403)', { provider: 'remote' });
    await assert.rejects(get([remote], reopen(), { name: 'db/password' }), { code: 'PERMISSION_DENIED' });
  });

  it('an entry is served only when the provider that gave it is among the unreachable ones', async () => {
    const path = freshPath();
    const remote = flaky('remote', {});
    const env = flaky('env', { 'db/password': 'canary-from-env' }, true);
    const snapshot = open(path);
    await get([remote, env], snapshot, { name: 'db/password' }); // remote: not found; env answers
    remote.failWith = down();
    env.get = async () => null; // env no longer has it: a real not-found from the provider that gave it
    await assert.rejects(get([remote, env], snapshot, { name: 'db/password' }), { code: 'PROVIDER_UNAVAILABLE' });
    await snapshot.dispose();
  });

  it('the snapshot: section of lockbox.yaml', () => {
    assert.deepEqual(snapshotConfigSchema.parse({}), { enabled: true, path: '.lockbox/lkg.snapshot', max_age: 86_400_000 });
    assert.equal(snapshotConfigSchema.parse({ max_age: '30m' }).max_age, 1_800_000);
    const bad = snapshotConfigSchema.safeParse({ max_age: 'forever' });
    assert.ok(!bad.success && /invalid duration/.test(bad.error.issues[0]!.message));
    assert.ok(!snapshotConfigSchema.safeParse({ pth: 'x' }).success, 'unknown keys are errors');
  });
});
