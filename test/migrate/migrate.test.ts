/**
 * migrateSecrets with real providers: two local store files, the Vault emulator over HTTP, a
 * file tree with tenant folders; dry run, skip vs overwrite, resume after an interruption,
 * read-back verification and a read-only target. Values are canaries that must never show up
 * in a summary, a progress report or an error.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { checkpointFileFor, migrateSecrets, migrationSucceeded, type MigrateProgress } from '../../src/migrate/index.js';
import { create as createEnv } from '../../src/providers/env.js';
import { create as createFile } from '../../src/providers/file.js';
import { create as createLocal, generateMasterKey } from '../../src/providers/local.js';
import { create as createVault } from '../../src/providers/vault.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider, SecretMetadata, SecretRecord, SecretRef, SetEntry, SetOptions } from '../../src/types.js';
import { startVaultEmulator, type VaultEmulator } from '../emulators/vault.js';

const dir = mkdtempSync(join(tmpdir(), 'lockbox-migrate-'));
const key = generateMasterKey();
const env = { LOCKBOX_MASTER_KEY: key };
let seq = 0;
let vault: VaultEmulator;

before(async () => { vault = await startVaultEmulator(); });
after(async () => {
  await vault.close();
  rmSync(dir, { recursive: true, force: true });
});

const canary = (i: number | string): string => `canary-migrate-${i}-value`;
const local = (id: string, file: string): Provider => createLocal(id, { path: join(dir, file) }, { baseDir: dir, env });
/** A fresh pair of local stores and a checkpoint directory of their own. */
function pair(): { a: string; b: string; checkpointDir: string } {
  const n = ++seq;
  return { a: `a-${n}.db`, b: `b-${n}.db`, checkpointDir: join(dir, `ckpt-${n}`) };
}

/** Seeds `count` secrets (app/000 …) into a provider through a manager. */
async function seed(provider: Provider, count: number, scope?: string): Promise<void> {
  const manager = new SecretManager({ providers: [provider], cache: false });
  await manager.setMany(Array.from({ length: count }, (_, i) => ({
    name: `app/${String(i).padStart(3, '0')}`, value: canary(`${scope ?? 'g'}-${i}`), options: { scope, tags: { team: 'payments' } },
  })));
  await manager.dispose();
}

/** No canary anywhere in what a user may see. */
function assertNoCanary(...texts: unknown[]): void {
  for (const text of texts) {
    const serialised = typeof text === 'string' ? text : JSON.stringify(text);
    assert.ok(!serialised.includes('canary-'), `a value leaked: ${serialised.slice(0, 200)}`);
  }
}

function rejectsCode(code: string, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LockboxError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    assertNoCanary(error.message, error.hint ?? '');
    return true;
  };
}

describe('migrateSecrets', () => {
  it('copies every secret local → local across two store files, reads each back, and removes its checkpoint', async () => {
    const { a, b, checkpointDir } = pair();
    await seed(local('src', a), 250);
    const manager = new SecretManager({ providers: [local('src', a), local('dst', b)] });
    const progress: MigrateProgress[] = [];
    const summary = await migrateSecrets(manager, { from: 'src', to: 'dst', checkpointDir, batchSize: 100, onProgress: (p) => progress.push(p) });
    assert.equal(summary.total, 250);
    assert.equal(summary.copied, 250);
    assert.equal(summary.verified, 250);
    assert.deepEqual([summary.skipped, summary.failed, summary.notAttempted], [[], [], 0]);
    assert.ok(migrationSucceeded(summary));
    assert.equal(summary.checkpointPath, undefined);
    assert.equal(existsSync(checkpointFileFor(checkpointDir, { from: 'src', to: 'dst', prefix: '' })), false);
    // One report before copying, one per batch of 100.
    assert.deepEqual(progress.map((p) => p.copied), [0, 100, 200, 250]);
    assert.ok(progress.every((p) => p.toCopy === 250));
    const copy = await manager.get('app/137', { provider: 'dst' });
    assert.equal(copy?.value.reveal(), canary('g-137'));
    assert.deepEqual(copy?.metadata.tags, { team: 'payments' });
    assertNoCanary(summary, progress);
    await manager.dispose();
  });

  it('copies local → vault (emulator) for a tenant, under a prefix, through the Vault HTTP API', async () => {
    const { a } = pair();
    await seed(local('local', a), 12, 'acme');
    const source = createLocal('local', { path: join(dir, a) }, { baseDir: dir, env });
    await new SecretManager({ providers: [source], cache: false }).set('other/x', canary('other'), { scope: 'acme' });
    await source.dispose!();
    const target = createVault('vault', { url: vault.url, token: vault.rootToken, namespace: `migrate-${seq}`, retry_base_ms: 1 }, { baseDir: dir, env: {} });
    const manager = new SecretManager({ providers: [source, target] });
    const summary = await migrateSecrets(manager, { from: 'local', to: 'vault', tenant: 'acme', prefix: 'app/', checkpointPath: false });
    assert.deepEqual([summary.total, summary.copied, summary.verified, summary.failed.length], [12, 12, 12, 0]);
    const check = createVault('check', { url: vault.url, token: vault.rootToken, namespace: `migrate-${seq}` }, { baseDir: dir, env: {} });
    assert.equal((await check.get({ name: 'app/005', scope: 'acme' }))?.value.reveal(), canary('acme-5'));
    assert.equal(await check.get({ name: 'other/x', scope: 'acme' }), null, 'outside the prefix: not copied');
    assert.equal(await check.get({ name: 'app/005' }), null, 'the tenant stays the tenant');
    await manager.dispose();
  });

  it('copies a file tree → local for one tenant only (seed 002 folders), keeping the tenant', async () => {
    const root = join(dir, `secrets-${++seq}`);
    mkdirSync(join(root, 'acme'), { recursive: true });
    mkdirSync(join(root, 'globex'), { recursive: true });
    writeFileSync(join(root, 'acme', 'stripe.json'), JSON.stringify({ api_key: canary('stripe') }));
    writeFileSync(join(root, 'acme', 'postgres.env'), `DB_PASSWORD=${canary('db')}\n`);
    writeFileSync(join(root, 'globex', 'stripe.json'), JSON.stringify({ api_key: canary('globex') }));
    writeFileSync(join(root, 'shared.txt'), canary('shared'));
    const files = createFile('filesystem', { secrets_dir: root }, { baseDir: dir, env: {} });
    const { b, checkpointDir } = pair();
    const manager = new SecretManager({ providers: [files, local('local', b)] });
    const summary = await migrateSecrets(manager, { from: 'filesystem', to: 'local', tenant: 'acme', checkpointDir });
    assert.deepEqual([summary.total, summary.copied, summary.verified], [2, 2, 2]);
    const source = await files.get({ name: 'stripe', scope: 'acme' });
    const copied = await manager.get({ name: 'stripe', provider: 'local', scope: 'acme' });
    assert.ok(copied && source && copied.value.equals(source.value));
    assert.equal(copied.metadata.scope, 'acme');
    assert.deepEqual((await manager.list('', { provider: 'local', scope: 'acme' })).map((l) => l.name), ['postgres', 'stripe']);
    assert.deepEqual(await manager.list('', { provider: 'local', scope: 'globex' }), []);
    assert.deepEqual(await manager.list('', { provider: 'local' }), [], 'global secrets are not part of a tenant migration');
    await manager.dispose();
  });

  it('dry run: the plan (names and actions) and nothing written — no copy, no checkpoint', async () => {
    const { a, b, checkpointDir } = pair();
    await seed(local('src', a), 3);
    const before = new SecretManager({ providers: [local('dst', b)] });
    await before.set('app/001', 'old-value');
    await before.dispose();
    const manager = new SecretManager({ providers: [local('src', a), local('dst', b)] });
    const summary = await migrateSecrets(manager, { from: 'src', to: 'dst', dryRun: true, checkpointDir });
    assert.deepEqual(summary.plan, [
      { name: 'app/000', action: 'copy' }, { name: 'app/001', action: 'skip-existing' }, { name: 'app/002', action: 'copy' },
    ]);
    assert.equal(summary.copied, 0);
    assert.deepEqual(summary.skipped, [{ name: 'app/001', scope: undefined, reason: 'exists' }]);
    assert.deepEqual((await manager.list('', { provider: 'dst' })).map((l) => l.name), ['app/001']);
    assert.equal(existsSync(checkpointDir), false);
    const overwrite = await migrateSecrets(manager, { from: 'src', to: 'dst', dryRun: true, overwrite: true, checkpointDir });
    assert.equal(overwrite.plan?.[1]?.action, 'overwrite');
    assertNoCanary(summary, overwrite);
    await manager.dispose();
  });

  it('skips secrets the target has (reported), and replaces them with overwrite', async () => {
    const { a, b, checkpointDir } = pair();
    await seed(local('src', a), 3);
    const manager = new SecretManager({ providers: [local('src', a), local('dst', b)] });
    await manager.set('app/002', 'kept-value', { provider: 'dst' });
    const skipped = await migrateSecrets(manager, { from: 'src', to: 'dst', checkpointDir });
    assert.deepEqual([skipped.copied, skipped.verified], [2, 2]);
    assert.deepEqual(skipped.skipped, [{ name: 'app/002', scope: undefined, reason: 'exists' }]);
    assert.equal((await manager.get('app/002', { provider: 'dst' }))?.value.reveal(), 'kept-value');
    const replaced = await migrateSecrets(manager, { from: 'src', to: 'dst', overwrite: true, checkpointDir });
    assert.deepEqual([replaced.copied, replaced.overwritten, replaced.verified, replaced.skipped.length], [3, 3, 3, 0]);
    const copy = await manager.get('app/002', { provider: 'dst' });
    assert.equal(copy?.value.reveal(), canary('g-2'));
    assert.equal(copy?.metadata.version, '2', 'overwrite writes a new version; the old one stays as previous');
    await manager.dispose();
  });

  it('resumes after an interruption: the rerun skips what the checkpoint (0600, names only) records', async () => {
    const { a, b, checkpointDir } = pair();
    await seed(local('src', a), 45);
    const failing = failAfter(local('dst', b), 20);
    const first = new SecretManager({ providers: [local('src', a), failing] });
    const interrupted = await migrateSecrets(first, { from: 'src', to: 'dst', batchSize: 10, checkpointDir });
    await first.dispose();
    assert.equal(interrupted.interrupted?.code, 'PROVIDER_UNAVAILABLE');
    assert.match(interrupted.interrupted?.message ?? '', /provider "dst" is unavailable/);
    assert.deepEqual([interrupted.copied, interrupted.verified, interrupted.notAttempted], [20, 20, 25]);
    assert.equal(migrationSucceeded(interrupted), false);
    const checkpoint = interrupted.checkpointPath!;
    assert.equal(statSync(checkpoint).mode & 0o777, 0o600);
    const lines = readFileSync(checkpoint, 'utf8').trim().split('\n');
    assert.equal(lines.length, 21, 'a header and one line per verified secret');
    assertNoCanary(readFileSync(checkpoint, 'utf8'), interrupted);

    // The rerun (with overwrite, so that only the checkpoint explains what is skipped).
    const second = new SecretManager({ providers: [local('src', a), local('dst', b)] });
    const resumed = await migrateSecrets(second, { from: 'src', to: 'dst', batchSize: 10, overwrite: true, checkpointDir });
    assert.deepEqual([resumed.copied, resumed.verified, resumed.failed.length], [25, 25, 0]);
    assert.equal(resumed.skipped.length, 20);
    assert.ok(resumed.skipped.every((s) => s.reason === 'checkpoint'));
    assert.equal((await second.get('app/005', { provider: 'dst' }))?.metadata.version, '1', 'done before: not written again');
    assert.equal((await second.get('app/044', { provider: 'dst' }))?.value.reveal(), canary('g-44'));
    assert.equal(existsSync(checkpoint), false, 'a completed run removes its checkpoint');
    await second.dispose();
  });

  it('a copy that does not read back equal is MIGRATE_VERIFY_FAILED naming the secret (never the value)', async () => {
    const { a, b, checkpointDir } = pair();
    await seed(local('src', a), 3);
    const lying = alterReads(local('dst', b), 'app/001');
    const manager = new SecretManager({ providers: [local('src', a), lying] });
    const summary = await migrateSecrets(manager, { from: 'src', to: 'dst', checkpointDir });
    assert.deepEqual([summary.copied, summary.verified], [3, 2]);
    assert.equal(summary.failed.length, 1);
    const failure = summary.failed[0]!;
    assert.equal(failure.code, 'MIGRATE_VERIFY_FAILED');
    assert.equal(failure.name, 'app/001');
    assert.match(failure.message, /secret app\/001 read back from provider "dst" does not match the value in "src"/);
    assertNoCanary(summary);
    assert.ok(summary.checkpointPath && existsSync(summary.checkpointPath), 'kept so that a rerun retries only the failed one');
    await manager.dispose();
  });

  it('a copy that reads back stale once (an eventually consistent backend) is read again and verified', async () => {
    const { a, b, checkpointDir } = pair();
    await seed(local('src', a), 3);
    let stale = 1;
    const lagging = alterReads(local('dst', b), 'app/002', () => stale-- > 0);
    const manager = new SecretManager({ providers: [local('src', a), lagging] });
    const summary = await migrateSecrets(manager, { from: 'src', to: 'dst', checkpointDir });
    assert.deepEqual([summary.copied, summary.verified, summary.failed], [3, 3, []]);
    await manager.dispose();
  });

  it('refuses a read-only target with CAPABILITY naming it, before reading anything', async () => {
    const { a } = pair();
    const manager = new SecretManager({ providers: [local('src', a), createEnv('env', { prefix: 'LOCKBOX_TEST_' })] });
    await assert.rejects(migrateSecrets(manager, { from: 'src', to: 'env', checkpointPath: false }),
      rejectsCode('CAPABILITY', /^provider "env" does not support writes$/));
    await assert.rejects(migrateSecrets(manager, { from: 'src', to: 'nowhere', checkpointPath: false }), rejectsCode('UNKNOWN_PROVIDER', /no provider with id "nowhere"/));
    await assert.rejects(migrateSecrets(manager, { from: 'src', to: 'src', checkpointPath: false }), rejectsCode('INVALID_INPUT', /cannot migrate provider "src" into itself/));
    await manager.dispose();
  });
});

/** The provider, whose writes fail (PROVIDER_UNAVAILABLE, transient) once `limit` secrets were written. */
function failAfter(inner: Provider, limit: number): Provider {
  let writes = 0;
  const unavailable = (): LockboxError => new LockboxError('PROVIDER_UNAVAILABLE', `provider "${inner.id}" is unavailable: injected failure`, { provider: inner.id, transient: true });
  return {
    id: inner.id, type: inner.type, capabilities: inner.capabilities,
    get: (ref: SecretRef) => inner.get(ref),
    list: (prefix?: string, scope?: string) => inner.list!(prefix, scope),
    health: () => inner.health(),
    dispose: () => inner.dispose!(),
    set: async (ref: SecretRef, value: SecretValue, opts?: SetOptions): Promise<SecretMetadata> => {
      if (writes >= limit) throw unavailable();
      writes++;
      return inner.set!(ref, value, opts);
    },
    setMany: async (entries: SetEntry[]): Promise<SecretMetadata[]> => {
      if (writes + entries.length > limit) throw unavailable();
      writes += entries.length;
      return inner.setMany!(entries);
    },
  };
}

/** The provider, whose reads of `name` answer a different value while `altered()` says so (a backend that altered it). */
function alterReads(inner: Provider, name: string, altered: () => boolean = () => true): Provider {
  return {
    id: inner.id, type: inner.type, capabilities: inner.capabilities,
    get: async (ref: SecretRef): Promise<SecretRecord | null> => {
      const record = await inner.get(ref);
      return record && ref.name === name && altered() ? { ...record, value: new SecretValue(`${record.value.reveal()} `) } : record;
    },
    list: (prefix?: string, scope?: string) => inner.list!(prefix, scope),
    health: () => inner.health(),
    dispose: () => inner.dispose!(),
    set: (ref: SecretRef, value: SecretValue, opts?: SetOptions) => inner.set!(ref, value, opts),
    setMany: (entries: SetEntry[]) => inner.setMany!(entries),
  };
}
