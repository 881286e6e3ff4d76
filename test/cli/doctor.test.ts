/**
 * `lockbox doctor` and `lockbox health` as real processes against emulators started in this
 * process (Vault, AWS Secrets Manager) and a closed port: a rejected token is an authentication
 * problem, a denied key a permission problem, a closed port a reachability problem — each with
 * seed 002's troubleshooting commands — and credentials never appear in the output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DENIED_ACCESS_KEY_ID, EMULATOR_ACCESS_KEY_ID } from '../emulators/aws-json.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../emulators/aws-secrets-manager.js';
import { startVaultEmulator, type VaultEmulator } from '../emulators/vault.js';
import { BIN, scratch, type CliResult } from './run-cli.js';

const BAD_TOKEN = 'canary-bad-vault-token';
const AWS_SECRET = 'canary-aws-secret-access-key';
let vault: VaultEmulator;
let aws: SecretsManagerEmulator;
let closedPort: number;
const { dir, cleanup } = scratch();

before(async () => {
  vault = await startVaultEmulator();
  aws = await startSecretsManagerEmulator();
  closedPort = await freePort();
  mkdirSync(join(dir, 'secrets', 'acme'), { recursive: true });
  writeFileSync(join(dir, 'secrets', 'acme', 'stripe.json'), '{"api_key":"canary-file-value"}');
  writeFileSync(join(dir, 'lockbox.yaml'), [
    'providers:',
    '  - id: vault',
    '    type: vault',
    `    options: { url: "${vault.url}", retry_base_ms: 1 }`,
    '  - id: vault-down',
    '    type: vault',
    `    options: { url: "http://127.0.0.1:${closedPort}", token: "${BAD_TOKEN}", retries: 0 }`,
    '  - id: aws',
    '    type: aws',
    `    options: { region_name: us-east-1, endpoint: "${aws.url}", prefix: dativo/, retry_base_ms: 1 }`,
    '  - id: filesystem',
    '    type: file',
    '    options: { secrets_dir: ./secrets }',
    '',
  ].join('\n'));
});
after(async () => {
  await vault.close();
  await aws.close();
  cleanup();
});

describe('lockbox doctor', () => {
  it('tells an authentication, a reachability and a permission problem apart, with seed 002\'s checks; exit 1', async () => {
    const result = await cli(['doctor', '--tenant', 'acme'], { VAULT_TOKEN: BAD_TOKEN, AWS_ACCESS_KEY_ID: DENIED_ACCESS_KEY_ID });
    assert.equal(result.status, 1, result.stderr);
    const vaultPart = section(result.stdout, 'vault (vault)');
    assert.match(vaultPart, /: authentication problem/);
    assert.match(vaultPart, /configuration\s+ok\s+url http:\/\/127\.0\.0\.1:\d+.*credentials: token from VAULT_TOKEN \(environment\)/);
    assert.match(vaultPart, /reachability\s+ok/);
    assert.match(vaultPart, /authentication\s+FAILED\s+AUTH_FAILED: provider "vault": Vault rejected the token/);
    assert.match(vaultPart, /permission\s+skipped/);
    assert.ok(vaultPart.includes(`- Test vault connection: vault status -address=${vault.url}`), vaultPart);
    assert.match(vaultPart, /- Check token: vault token lookup/);

    const downPart = section(result.stdout, 'vault-down (vault)');
    assert.match(downPart, /: reachability problem/);
    assert.match(downPart, /reachability\s+FAILED\s+PROVIDER_UNAVAILABLE: .*cannot reach Vault at http:\/\/127\.0\.0\.1:/);
    assert.match(downPart, /authentication\s+skipped/);
    assert.ok(downPart.includes(`- Test vault connection: vault status -address=http://127.0.0.1:${closedPort}`), downPart);
    assert.match(downPart, /credentials: token from lockbox\.yaml \(token\)/);

    const awsPart = section(result.stdout, 'aws (aws)');
    assert.match(awsPart, /: permission problem/);
    assert.match(awsPart, /credentials: access key from AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY \(environment\); region us-east-1 \(region_name\)/);
    assert.match(awsPart, /authentication\s+ok/);
    assert.match(awsPart, /permission\s+FAILED\s+PERMISSION_DENIED/);
    assert.match(awsPart, /- Check credentials: aws sts get-caller-identity/);
    assert.match(awsPart, /- Test secret access: aws secretsmanager get-secret-value --secret-id dativo\/acme --region us-east-1/);

    assert.match(section(result.stdout, 'filesystem (file)'), /: ok[\s\S]*permission\s+ok\s+listed 1 secret of tenant acme/);
    assert.match(result.stdout, /doctor: 3 of 4 providers have problems \(vault, vault-down, aws\)/);
    for (const secret of [BAD_TOKEN, AWS_SECRET, 'canary-file-value']) assert.ok(!(result.stdout + result.stderr).includes(secret), `${secret} leaked`);
  });

  it('an unknown access key is an authentication problem: check credentials with aws sts get-caller-identity', async () => {
    const result = await cli(['doctor', '--provider', 'aws'], { AWS_ACCESS_KEY_ID: 'AKIDUNKNOWNKEY' });
    assert.equal(result.status, 1);
    assert.match(result.stdout, /aws \(aws\): authentication problem/);
    assert.match(result.stdout, /authentication\s+FAILED\s+AUTH_FAILED/);
    assert.match(result.stdout, /- Check credentials: aws sts get-caller-identity/);
    assert.match(result.stdout, /- Check authentication: AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the IAM role/);
  });

  it('exit 0 and every check ok when credentials work (--json carries the same diagnosis)', async () => {
    const text = await cli(['doctor', '--provider', 'vault'], { VAULT_TOKEN: vault.rootToken });
    assert.equal(text.status, 0, text.stdout);
    assert.match(text.stdout, /vault \(vault\): ok/);
    assert.match(text.stdout, /permission\s+ok\s+listed 0 secrets/);
    assert.match(text.stdout, /doctor: the provider is ready/);

    const json = await cli(['doctor', '--json', '--provider', 'aws'], { AWS_ACCESS_KEY_ID: EMULATOR_ACCESS_KEY_ID });
    assert.equal(json.status, 0, json.stdout);
    const report = JSON.parse(json.stdout) as { ok: boolean; providers: Array<{ id: string; ok: boolean; checks: Array<{ check: string; result: string }>; advice: string[] }> };
    assert.equal(report.ok, true);
    assert.deepEqual(report.providers.map((p) => [p.id, p.ok, p.checks.map((c) => `${c.check}:${c.result}`), p.advice]), [
      ['aws', true, ['configuration:ok', 'reachability:ok', 'authentication:ok', 'permission:ok'], []],
    ]);
  });

  it('--json of a problem names its kind, code and the advice', async () => {
    const result = await cli(['doctor', '--json', '--provider', 'vault-down']);
    assert.equal(result.status, 1);
    const report = JSON.parse(result.stdout) as { ok: boolean; providers: Array<{ problem: { kind: string; code: string }; advice: string[] }> };
    assert.equal(report.ok, false);
    assert.deepEqual({ ...report.providers[0]!.problem, message: undefined }, { kind: 'reachability', code: 'PROVIDER_UNAVAILABLE', message: undefined });
    assert.ok(report.providers[0]!.advice.some((line) => line.startsWith('Test vault connection: vault status -address=')));
  });

  it('a local store that does not exist yet is a warning, and doctor does not create it', async () => {
    const fresh = scratch();
    try {
      writeFileSync(join(fresh.dir, 'lockbox.yaml'), 'providers:\n  - id: local\n    type: local\n');
      const result = await cli(['doctor'], { LOCKBOX_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') }, fresh.dir);
      assert.equal(result.status, 0, result.stdout);
      assert.match(result.stdout, /credentials: master key from LOCKBOX_MASTER_KEY \(environment\)/);
      assert.match(result.stdout, /reachability\s+WARNING\s+the store .*store\.db does not exist yet/);
      assert.equal(existsSync(join(fresh.dir, '.lockbox', 'store.db')), false);
    } finally {
      fresh.cleanup();
    }
  });

  it('a broken lockbox.yaml is a configuration problem (exit 1), not a crash', async () => {
    const broken = scratch();
    try {
      writeFileSync(join(broken.dir, 'lockbox.yaml'), 'providers:\n  - id: v\n    type: vault\n    options: { urll: x }\n');
      const result = await cli(['doctor'], {}, broken.dir);
      assert.equal(result.status, 1);
      assert.match(result.stdout, /^configuration\s+FAILED\s+CONFIG_INVALID: /);
    } finally {
      broken.cleanup();
    }
  });
});

describe('lockbox health', () => {
  it('adds the type\'s first checks under a provider that is down, and points to lockbox doctor', async () => {
    const result = await cli(['health'], { VAULT_TOKEN: vault.rootToken, AWS_ACCESS_KEY_ID: EMULATOR_ACCESS_KEY_ID });
    assert.equal(result.status, 1);
    assert.match(result.stdout, /^ready\s+vault\s/m);
    assert.match(result.stdout, /^down\s+vault-down\s/m);
    assert.ok(result.stdout.includes(`check: Test vault connection: vault status -address=http://127.0.0.1:${closedPort}`), result.stdout);
    assert.match(result.stdout, /run `lockbox doctor`/);
    assert.ok(!result.stdout.includes(BAD_TOKEN));
  });
});

/** The lines of one provider's block in doctor's text output. */
function section(stdout: string, heading: string): string {
  const start = stdout.indexOf(`\n${heading}:`);
  assert.ok(start >= 0, `no section ${heading} in:\n${stdout}`);
  const end = stdout.indexOf('\n\n', start + 1);
  return stdout.slice(start, end < 0 ? undefined : end);
}

/** Runs the CLI without blocking this process (the emulators answer from here). */
function cli(args: string[], extraEnv: Record<string, string> = {}, cwd = dir): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env, LOCKBOX_MASTER_KEY: undefined, LOCKBOX_CONFIG: undefined, VAULT_TOKEN: undefined, AWS_PROFILE: undefined,
    AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_SESSION_TOKEN: undefined, ...extraEnv,
  };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** A port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
