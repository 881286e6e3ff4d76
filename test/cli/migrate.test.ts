/**
 * `lockbox migrate` as a real process — seed 002's `--from filesystem --to vault --tenant acme`
 * against the Vault emulator started in this process: the dry-run plan writes nothing, a run
 * copies, verifies and reports, a failed secret keeps the checkpoint and a rerun resumes, a
 * third run skips what exists, --overwrite replaces, a read-only target is CAPABILITY. Values
 * are canaries that must never appear on stdout or stderr. Also the progress text itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { progressReporter } from '../../src/cli/commands/migrate.js';
import { generateMasterKey } from '../../src/providers/local.js';
import { create as createVault } from '../../src/providers/vault.js';
import type { Provider } from '../../src/types.js';
import { startVaultEmulator, type VaultEmulator } from '../emulators/vault.js';
import { BIN, scratch, type CliResult } from './run-cli.js';

const { dir, cleanup } = scratch();
const masterKey = generateMasterKey();
const outputs: string[] = [];
let vault: VaultEmulator;
let check: Provider;

const STRIPE = JSON.stringify({ api_key: 'sk_live_canary-stripe' });
const TOO_LARGE = `canary-too-large-${'x'.repeat(6000)}`;

before(async () => {
  vault = await startVaultEmulator({ maxRequestBytes: 4096 });
  check = createVault('check', { url: vault.url, token: vault.rootToken }, { baseDir: dir, env: {} });
  mkdirSync(join(dir, 'secrets', 'acme'), { recursive: true });
  writeFileSync(join(dir, 'secrets', 'acme', 'stripe.json'), STRIPE);
  writeFileSync(join(dir, 'secrets', 'acme', 'postgres.env'), 'DB_PASSWORD=canary-db-password\n');
  writeFileSync(join(dir, 'secrets', 'acme', 'big.txt'), TOO_LARGE);
  writeFileSync(join(dir, 'secrets', 'shared.txt'), 'canary-global-value');
  writeFileSync(join(dir, 'lockbox.yaml'), [
    'providers:',
    '  - id: filesystem',
    '    type: file',
    '    options: { secrets_dir: ./secrets }',
    '  - id: vault',
    '    type: vault',
    `    options: { url: "${vault.url}", retry_base_ms: 1 }`,
    '',
  ].join('\n'));
});
after(async () => {
  await vault.close();
  cleanup();
  for (const output of outputs) assert.ok(!output.includes('canary'), `a value leaked:\n${output}`);
});

describe('lockbox migrate --from filesystem --to vault --tenant acme', () => {
  it('--dry-run prints the plan (names and actions) and writes nothing', async () => {
    const result = await cli(['migrate', '--from', 'filesystem', '--to', 'vault', '--tenant', 'acme', '--dry-run']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, [
      'copy       [acme] big',
      'copy       [acme] postgres',
      'copy       [acme] stripe',
      'dry run, nothing written: filesystem → vault (tenant acme): 3 to copy, 0 to overwrite, 0 to skip (already in vault), 0 done by an earlier run',
      '',
    ].join('\n'));
    assert.deepEqual(await check.list!('', 'acme'), []);
    assert.equal(existsSync(join(dir, '.lockbox')), false, 'no checkpoint either');
  });

  it('copies and verifies; a secret the target refuses fails (exit 1) and the checkpoint (0600) is kept', async () => {
    const result = await cli(['migrate', '--from', 'filesystem', '--to', 'vault', '--tenant', 'acme']);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stdout, /^failed {3}\[acme\] big {2}VALUE_TOO_LARGE: provider "vault": .*HTTP 413/m);
    assert.match(result.stdout, /^migrated filesystem → vault \(tenant acme\): 2 copied, 2 verified, 0 skipped, 1 failed in \d+\.\d s$/m);
    assert.match(result.stdout, /^rerun the same command to retry the failed ones \(checkpoint: .*\.lockbox\/migrate-filesystem-to-vault-[0-9a-f]{16}\.jsonl\)$/m);
    assert.match(result.stderr, /^copied 2\/3 \(66\.7%\) \d+\/s, 1 failed$/m, 'plain progress lines when stderr is not a terminal');
    assert.equal((await check.get({ name: 'stripe', scope: 'acme' }))?.value.reveal(), STRIPE);
    // The file provider reads a .env file as a JSON object of its keys (seed 002); that is the value copied.
    assert.equal((await check.get({ name: 'postgres', scope: 'acme' }))?.value.reveal(), '{"DB_PASSWORD":"canary-db-password"}');
    const [checkpoint] = readdirSync(join(dir, '.lockbox'));
    assert.equal(statSync(join(dir, '.lockbox', checkpoint!)).mode & 0o777, 0o600);
    assert.ok(!readFileSync(join(dir, '.lockbox', checkpoint!), 'utf8').includes('canary'));
  });

  it('a rerun resumes: what the checkpoint records is not copied again; a completed run removes the checkpoint', async () => {
    writeFileSync(join(dir, 'secrets', 'acme', 'big.txt'), 'canary-small-now');
    const result = await cli(['migrate', '--from', 'filesystem', '--to', 'vault', '--tenant', 'acme']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^migrated filesystem → vault \(tenant acme\): 1 copied, 1 verified, 0 skipped \(\+2 done by an earlier run\), 0 failed/m);
    assert.match(result.stderr, /^copied 1\/1 \(100\.0%\) \d+\/s$/m);
    assert.deepEqual(readdirSync(join(dir, '.lockbox')), []);
    assert.equal((await check.versions!({ name: 'stripe', scope: 'acme' })).length, 1, 'not written twice');
  });

  it('skips what the target has (listed on stdout); --overwrite replaces it, --json gives the summary', async () => {
    const skipped = await cli(['migrate', '--from', 'filesystem', '--to', 'vault', '--tenant', 'acme']);
    assert.equal(skipped.status, 0);
    assert.match(skipped.stdout, /^skipped {2}\[acme\] stripe {2}\(already in vault; --overwrite replaces it\)$/m);
    assert.match(skipped.stdout, /: 0 copied, 0 verified, 3 skipped, 0 failed/);
    assert.equal(skipped.stderr, '', 'no progress when there is nothing to copy');

    const replaced = await cli(['migrate', '--from', 'filesystem', '--to', 'vault', '--tenant', 'acme', '--overwrite', '--json']);
    assert.equal(replaced.status, 0, replaced.stderr);
    const summary = JSON.parse(replaced.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [summary.from, summary.to, summary.tenant, summary.total, summary.copied, summary.overwritten, summary.verified, summary.skipped, summary.failed],
      ['filesystem', 'vault', 'acme', 3, 3, 3, 3, [], []],
    );
    assert.equal((await check.versions!({ name: 'stripe', scope: 'acme' })).length, 2);
  });

  it('a read-only target is CAPABILITY naming it (exit 1); a missing --to is a usage error (exit 2)', async () => {
    const readOnly = await cli(['migrate', '--from', 'vault', '--to', 'filesystem', '--tenant', 'acme']);
    assert.equal(readOnly.status, 1);
    assert.match(readOnly.stderr, /^lockbox: CAPABILITY: provider "filesystem" does not support writes — "filesystem" is a read-only file provider/);
    const usage = await cli(['migrate', '--from', 'filesystem']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /required option '--to <id>' not specified/);
  });
});

describe('migrate progress', () => {
  const progress = (copied: number, toCopy: number, failed = 0) => ({ toCopy, copied, verified: copied, failed, elapsedMs: 1000, perSecond: copied });

  it('on a terminal: one line redrawn with \\r (at most every 100 ms, always at the end), then a newline', () => {
    let written = '';
    let clock = 0;
    const reporter = progressReporter({ write: (text) => { written += text; }, tty: true, now: () => clock });
    reporter.update(progress(0, 10_000));
    clock = 50;
    reporter.update(progress(100, 10_000)); // too soon: not drawn
    clock = 200;
    reporter.update(progress(120, 10_000));
    reporter.update(progress(10_000, 10_000)); // the end: always drawn
    reporter.finish();
    assert.equal(written, '\rcopied 0/10000 (0.0%) 0/s\rcopied 120/10000 (1.2%) 120/s\rcopied 10000/10000 (100.0%) 10000/s\n');
  });

  it('otherwise: a plain line per 10% (or per 1000 secrets when that comes first)', () => {
    const lines: string[] = [];
    const small = progressReporter({ write: (text) => { lines.push(text); }, tty: false });
    for (let copied = 0; copied <= 500; copied += 50) small.update(progress(copied, 500));
    assert.deepEqual(lines.map((l) => l.split(' ')[1]), ['50/500', '100/500', '150/500', '200/500', '250/500', '300/500', '350/500', '400/500', '450/500', '500/500']);
    lines.length = 0;
    const large = progressReporter({ write: (text) => { lines.push(text); }, tty: false });
    for (let copied = 0; copied <= 50_000; copied += 100) large.update(progress(copied, 50_000));
    assert.equal(lines.length, 50);
    assert.equal(lines[0], 'copied 1000/50000 (2.0%) 1000/s\n');
  });
});

/** Runs the CLI without blocking this process (the emulator answers from here); records the output for the leak scan. */
function cli(args: string[]): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env, LOCKBOX_CONFIG: undefined, LOCKBOX_MASTER_KEY: masterKey, VAULT_TOKEN: vault.rootToken, CI: 'true',
  };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (status, signal) => {
      outputs.push(stdout, stderr);
      resolve({ status, signal, stdout, stderr });
    });
  });
}
