/**
 * The local provider with `write_thread: worker`: writes run on a worker thread with its own
 * connection, reads on the calling thread. It must behave as the main-thread provider does —
 * the same contract, the same versions and metadata, the same errors — and leak no value.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { LockboxError } from '../../src/errors.js';
import { BULK_WRITE_ENTRIES, create, generateMasterKey, type LocalProvider } from '../../src/providers/local.js';
import { SecretValue } from '../../src/secret-value.js';
import { providerContract } from '../providers/contract.js';
import { WorkerClient } from '../../src/workers/worker-client.js';
import { runCli, scratch } from '../cli/run-cli.js';

const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

function open(dir: string, key: string, writeThread: 'main' | 'worker'): LocalProvider {
  return create('local', { write_thread: writeThread }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
}

function fresh(writeThread: 'main' | 'worker' = 'worker'): { dir: string; key: string; provider: LocalProvider } {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-write-thread-'));
  dirs.push(dir);
  const key = generateMasterKey();
  return { dir, key, provider: open(dir, key, writeThread) };
}

/** The error a promise rejects with; fails when it resolves. */
async function failure(promise: Promise<unknown>): Promise<LockboxError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
  return error;
}

providerContract('local (write_thread: worker)', async (seed) => {
  const { dir, provider } = fresh();
  for (const [name, value] of Object.entries(seed)) await provider.set({ name }, new SecretValue(value));
  return { provider, cleanup: async () => { await provider.dispose(); rmSync(dir, { recursive: true, force: true }); } };
});

describe('local store: writes on a worker thread', () => {
  it('writes the same versions and metadata as the main thread, readable at once on the calling thread', async () => {
    const results: unknown[] = [];
    const expiresAt = new Date(Date.now() + 3_600_000);
    for (const mode of ['main', 'worker'] as const) {
      const { provider } = fresh(mode);
      const written = await provider.setMany([
        { ref: { name: 'db/password' }, value: new SecretValue('canary-thread-1'), opts: { tags: { team: 'core' } } },
        { ref: { name: 'db/password' }, value: new SecretValue('canary-thread-2') },
        { ref: { name: 'api/key', scope: 'acme' }, value: new SecretValue('canary-thread-3'), opts: { expiresAt } },
      ]);
      const staged = await provider.set({ name: 'db/password' }, new SecretValue('canary-thread-4'), { pending: true });
      assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-thread-2');
      assert.equal((await provider.get({ name: 'db/password', version: 'pending' }))?.value.reveal(), 'canary-thread-4');
      assert.equal((await provider.get({ name: 'api/key', scope: 'acme' }))?.value.reveal(), 'canary-thread-3');
      const shape = (m: { name: string; scope?: string; version: string; labels: string[]; tags: Record<string, string>; expiresAt?: Date; createdAt: Date }) =>
        ({ name: m.name, scope: m.scope, version: m.version, labels: m.labels, tags: m.tags, expiresAt: m.expiresAt?.getTime(), dated: m.createdAt instanceof Date });
      results.push({ written: written.map(shape), staged: shape(staged), versions: (await provider.versions({ name: 'db/password' })).map((v) => [v.version, v.labels]) });
      await provider.dispose();
    }
    assert.deepEqual(results[1], results[0]);
  });

  it('refuses a bad name or bad options on the calling thread, with the same code and message as without the thread', async () => {
    for (const [entries, code, message] of [
      [[{ ref: { name: '../escape' }, value: new SecretValue('canary-bad-1') }], 'INVALID_NAME', /^invalid secret name "\.\.\/escape"/],
      [[{ ref: { name: 'ok' }, value: new SecretValue('canary-bad-2'), opts: { expiresAt: new Date(Number.NaN) } }], 'INVALID_INPUT', /^invalid options for set: expiresAt: Invalid date$/],
    ] as const) {
      const errors = [];
      for (const mode of ['main', 'worker'] as const) {
        const { provider } = fresh(mode);
        errors.push(await failure(provider.setMany([...entries])));
        assert.deepEqual(await provider.list(), [], 'nothing written');
        await provider.dispose();
      }
      for (const error of errors) {
        assert.equal(error.code, code);
        assert.match(error.message, message);
        assert.ok(!/canary-/.test(`${error.describe()}\n${error.stack}`), 'no value in the error');
      }
      assert.equal(errors[1]!.message, errors[0]!.message);
    }
  });

  it('a write the database refuses is STORE_ERROR naming the store and SQLite\'s reason, all or nothing, without the value', async () => {
    const { dir, key, provider } = fresh();
    await provider.set({ name: 'before' }, new SecretValue('canary-before'));
    const raw = new Database(join(dir, '.lockbox', 'store.db'));
    raw.exec("CREATE TRIGGER refuse BEFORE INSERT ON versions WHEN NEW.name = 'refused' BEGIN SELECT RAISE(ABORT, 'the disk says no'); END");
    raw.close();
    const error = await failure(provider.setMany([
      { ref: { name: 'accepted' }, value: new SecretValue('canary-accepted') },
      { ref: { name: 'refused' }, value: new SecretValue('canary-refused') },
    ]));
    assert.equal(error.code, 'STORE_ERROR');
    assert.match(error.message, /^the local store .*store\.db failed: the disk says no$/);
    assert.ok(!/canary-/.test(`${error.describe()}\n${error.stack}`), 'no value in the error');
    assert.deepEqual((await provider.list()).map((l) => l.name), ['before'], 'the batch wrote nothing');
    await provider.dispose();
    const reopened = open(dir, key, 'main');
    assert.equal((await reopened.get({ name: 'before' }))?.value.reveal(), 'canary-before');
    await reopened.dispose();
  });

  it('dispose stops the thread; the provider opens again (with a new thread) on the next write', async () => {
    const { provider } = fresh();
    await provider.set({ name: 'one' }, new SecretValue('canary-one'));
    await provider.dispose();
    await provider.set({ name: 'two' }, new SecretValue('canary-two'));
    assert.deepEqual((await provider.list()).map((l) => l.name), ['one', 'two']);
    await provider.dispose();
  });

  it('concurrent batches from many callers all commit, each version numbered once', async () => {
    const { provider } = fresh();
    await Promise.all(Array.from({ length: 20 }, (_, n) => provider.setMany(Array.from({ length: 10 }, (_, i) => ({ ref: { name: `shared/${i}` }, value: new SecretValue(`canary-${n}-${i}`) })))));
    for (let i = 0; i < 10; i++) {
      const versions = (await provider.versions({ name: `shared/${i}` })).map((v) => Number(v.version));
      assert.deepEqual(versions, Array.from({ length: 20 }, (_, k) => k + 1));
    }
    await provider.dispose();
  });

  it('auto (the default): a setMany of 64 secrets or more runs on the thread; smaller writes stay on the calling thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockbox-write-thread-'));
    dirs.push(dir);
    const provider = create('local', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: generateMasterKey() } });
    const batch = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ ref: { name: `${prefix}/${i}` }, value: new SecretValue(`canary-${prefix}-${i}`) }));
    await provider.set({ name: 'single' }, new SecretValue('canary-single'));
    await provider.setMany(batch(BULK_WRITE_ENTRIES - 1, 'small'));
    assert.equal(provider.writeThreadRunning, false, 'no thread for a single write or a small batch');
    const written = await provider.setMany(batch(BULK_WRITE_ENTRIES, 'bulk'));
    assert.equal(provider.writeThreadRunning, true, 'a bulk write started the thread');
    assert.equal(written.length, BULK_WRITE_ENTRIES);
    await provider.set({ name: 'single' }, new SecretValue('canary-single-2'));
    assert.deepEqual((await provider.versions({ name: 'single' })).map((v) => v.version), ['1', '2'], 'both paths number versions in one sequence');
    assert.equal((await provider.get({ name: `bulk/${BULK_WRITE_ENTRIES - 1}` }))?.value.reveal(), `canary-bulk-${BULK_WRITE_ENTRIES - 1}`);
    assert.equal((await provider.get({ name: 'small/0' }))?.value.reveal(), 'canary-small-0');
    await provider.dispose();
    assert.equal(provider.writeThreadRunning, false, 'dispose stops it');
  });

  it('a worker file missing from the install is STORE_ERROR naming where it was looked for, with the fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockbox-write-thread-'));
    dirs.push(dir);
    const start = () => new WorkerClient({
      from: pathToFileURL(join(dir, 'write-thread.js')).href, name: 'write-worker', workerData: {},
      toError: () => new Error('unused'), stopped: () => new LockboxError('STORE_ERROR', 'stopped'),
    });
    assert.throws(start, (error: unknown) => {
      assert.ok(error instanceof LockboxError);
      assert.equal(error.code, 'STORE_ERROR');
      assert.equal(error.message, `the worker write-worker is missing beside ${dir}/`);
      assert.equal(error.hint, 'reinstall lockbox (npm ci builds it), or turn the worker option off (write_thread: main)');
      return true;
    });
  });

  it('the option is checked: an unknown value is refused with the choices', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockbox-write-thread-'));
    dirs.push(dir);
    assert.throws(() => create('local', { write_thread: 'fiber' as 'main' }, { baseDir: dir, env: {} }), /write_thread[\s\S]*'auto' \| 'main' \| 'worker'/);
  });
});

describe('local store: writes on a worker thread from the CLI (real processes)', () => {
  it('lockbox set with write_thread: worker in lockbox.yaml writes through the bundled worker; get reads it back', () => {
    const { dir, cleanup } = scratch();
    try {
      assert.equal(runCli(['init'], { cwd: dir }).status, 0);
      const config = join(dir, 'lockbox.yaml');
      writeFileSync(config, readFileSync(config, 'utf8').replace('      path: .lockbox/store.db\n', '      path: .lockbox/store.db\n      write_thread: worker\n'));
      assert.match(readFileSync(config, 'utf8'), /write_thread: worker/);
      const set = runCli(['set', 'db/password'], { cwd: dir, input: 'canary-cli-thread\n' });
      assert.equal(set.status, 0, set.stderr);
      assert.equal(set.stdout, 'set db/password: version 1\n');
      const get = runCli(['get', 'db/password'], { cwd: dir });
      assert.equal(get.stdout, 'canary-cli-thread\n');
      const bad = runCli(['set', '../escape'], { cwd: dir, input: 'canary-cli-bad\n' });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /^lockbox: INVALID_NAME: invalid reference "\.\.\/escape": invalid secret name/);
      for (const output of [set.stdout, set.stderr, bad.stdout, bad.stderr]) assert.ok(!output.includes('canary-cli'), 'no value in the output');
    } finally {
      cleanup();
    }
  });
});
