import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateMasterKey, keyIdOf } from '../../src/crypto/master-key.js';
import { EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY } from '../emulators/aws-json.js';
import { startKmsEmulator, type KmsEmulator } from '../emulators/aws-kms.js';
import { BIN, runCli, scratch, type CliResult } from './run-cli.js';

const CANARY = 'canary-keys-cli-value';
const outputs: string[] = [];
const keysSeen: string[] = [];

/** Exit 0; the output joins the leak scan unless it is a value `get` printed on purpose. */
function ok(result: CliResult, printsValue = false): CliResult {
  outputs.push(printsValue ? '' : result.stdout, result.stderr);
  assert.equal(result.status, 0, `exit ${result.status}; stderr: ${result.stderr}`);
  return result;
}

/** One stderr line `lockbox: CODE: message — hint`, a non-zero exit. */
function failsWith(result: CliResult, code: string, message: RegExp, exit = 1): string {
  outputs.push(result.stdout, result.stderr);
  assert.equal(result.status, exit, `stdout: ${result.stdout} stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected: ${result.stderr}`);
  assert.ok(lines[0]!.startsWith(`lockbox: ${code}: `), result.stderr);
  assert.match(lines[0]!, message);
  assert.ok(lines[0]!.includes(' — '), 'the line names a fix after " — "');
  return lines[0]!;
}

/** The CLI as a child process without blocking this process (the KMS emulator answers meanwhile). */
function runCliAsync(args: string[], options: { cwd: string; input?: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env, LOCKBOX_MASTER_KEY: undefined, LOCKBOX_CONFIG: undefined, LOCKBOX_PRINCIPAL: undefined,
    AWS_ACCESS_KEY_ID: EMULATOR_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: EMULATOR_SECRET_ACCESS_KEY,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...options.env,
  };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

after(() => {
  for (const output of outputs) {
    assert.ok(!output.includes(CANARY), `a value leaked: ${output}`);
    for (const key of keysSeen) assert.ok(!output.includes(key), `key material leaked: ${output}`);
  }
});

describe('lockbox keys (key file store)', () => {
  const { dir, cleanup } = scratch();
  const cli = (args: string[], input?: string, env?: Record<string, string | undefined>) => runCli(args, { cwd: dir, input, env });
  const keyFile = join(dir, '.lockbox', 'master.key');
  const keyText = () => readFileSync(keyFile, 'utf8').trim();
  before(() => {
    ok(cli(['init']));
    ok(cli(['set', 'db/password'], CANARY));
    ok(cli(['set', 'api/token', '--tenant', 'acme'], `${CANARY}-acme`));
    keysSeen.push(keyText());
  });
  after(cleanup);

  it('status names the source, the active key id and versions per key id — never the key', () => {
    const id = keyIdOf(Buffer.from(keyText(), 'base64'));
    const text = ok(cli(['keys', 'status'])).stdout;
    assert.match(text, new RegExp(`^key source: {2}environment variable LOCKBOX_MASTER_KEY, else key file .*\\.lockbox/master\\.key$`, 'm'));
    assert.match(text, new RegExp(`^active key: {2}${id}$`, 'm'));
    assert.match(text, new RegExp(`^configured key: ${id} — opens the store$`, 'm'));
    assert.match(text, new RegExp(`^ {2}${id} +2 {2}active$`, 'm'));
    const json = JSON.parse(ok(cli(['keys', 'status', '--json'])).stdout);
    assert.equal(json.provider, 'local');
    assert.equal(json.activeKeyId, id);
    assert.deepEqual(json.keys, [{ keyId: id, versions: 2, active: true }]);
    assert.deepEqual(json.configuredKey, { opens: true, keyId: id });
  });

  it('rotate re-wraps under a new key file key; values read back; the old key is MASTER_KEY_INVALID', () => {
    const oldKey = keyText();
    const oldId = keyIdOf(Buffer.from(oldKey, 'base64'));
    const result = ok(cli(['keys', 'rotate']));
    const newId = keyIdOf(Buffer.from(keyText(), 'base64'));
    keysSeen.push(keyText());
    assert.match(result.stdout, new RegExp(`^rotated the master key of .*store\\.db: key id ${oldId} → ${newId}\nre-wrapped 2 data key\\(s\\); no value was re-encrypted\nthe new key is in .*master\\.key \\(mode 0600\\); the old key no longer opens the store\n$`));
    assert.equal(ok(cli(['get', 'db/password']), true).stdout, `${CANARY}\n`);
    assert.equal(ok(cli(['get', 'api/token', '--tenant', 'acme']), true).stdout, `${CANARY}-acme\n`);
    failsWith(cli(['get', 'db/password'], undefined, { LOCKBOX_MASTER_KEY: oldKey }), 'MASTER_KEY_INVALID', /cannot open the store with this master key/);
    assert.equal(JSON.parse(ok(cli(['keys', 'status', '--json'])).stdout).activeKeyId, newId);
  });

  it('rotate --new-key-env / --new-key-file / --json take the new key given', () => {
    const fromEnv = generateMasterKey();
    const json = JSON.parse(ok(cli(['keys', 'rotate', '--json', '--new-key-env', 'NEXT_KEY'], undefined, { NEXT_KEY: fromEnv })).stdout);
    keysSeen.push(fromEnv);
    assert.equal(json.toKeyId, keyIdOf(Buffer.from(fromEnv, 'base64')));
    assert.equal(json.rewrapped, 2);
    assert.equal(json.resumed, false);
    assert.equal(keyText(), fromEnv);
    const fromFile = generateMasterKey();
    keysSeen.push(fromFile);
    writeFileSync(join(dir, 'next.key'), fromFile);
    ok(cli(['keys', 'rotate', '--new-key-file', 'next.key']));
    assert.equal(keyText(), fromFile);
    assert.equal(ok(cli(['get', 'db/password']), true).stdout, `${CANARY}\n`);
  });

  it('an interrupted rotation: status says so, secrets stay readable, the next rotate finishes it', () => {
    const killed = cli(['keys', 'rotate', '--batch-size', '1'], undefined, { LOCKBOX_TEST_KILL_AT: 'batch-committed' });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const status = cli(['keys', 'status']);
    assert.match(ok(status).stdout, /^rotation: {4}IN PROGRESS from [0-9a-f]{16} to [0-9a-f]{16} since .*, 1 version\(s\) left — run `lockbox keys rotate` to finish it$/m);
    assert.equal(ok(cli(['get', 'db/password']), true).stdout, `${CANARY}\n`);
    assert.equal(ok(cli(['get', 'api/token', '--tenant', 'acme']), true).stdout, `${CANARY}-acme\n`);
    failsWith(cli(['keys', 'rotate', '--new-key-env', 'K'], undefined, { K: generateMasterKey() }), 'INVALID_ARGUMENT',
      /a rotation to master key id [0-9a-f]{16} is in progress; the new key given has id [0-9a-f]{16} — run `lockbox keys rotate` without a new key to finish it first/);
    assert.match(ok(cli(['keys', 'rotate'])).stdout, /^finished the interrupted rotation of .*\nre-wrapped 1 data key\(s\)/);
    keysSeen.push(keyText());
    assert.doesNotMatch(ok(cli(['keys', 'status'])).stdout, /IN PROGRESS/);
    assert.equal(ok(cli(['get', 'db/password']), true).stdout, `${CANARY}\n`);
  });

  it('bad input: one line with the code and a fix', () => {
    failsWith(cli(['keys', 'rotate', '--batch-size', '0']), 'INVALID_ARGUMENT', /--batch-size "0" is not a number from 1 to 100000/);
    failsWith(cli(['keys', 'rotate', '--new-key-file', 'missing.key']), 'MASTER_KEY_MISSING', /the new master key file .*missing\.key does not exist/);
    failsWith(cli(['keys', 'rotate', '--kms-key-id', 'alias/x']), 'INVALID_ARGUMENT', /--kms-key-id applies only when the master key comes from AWS KMS/);
    failsWith(cli(['keys', 'status', '--provider', 'env']), 'INVALID_ARGUMENT', /provider "env" is of type env; lockbox keys works on local stores — local providers: local/);
    failsWith(cli(['keys', 'status', '--provider', 'nope']), 'UNKNOWN_PROVIDER', /no provider with id "nope" — configured providers: local, env/);
    const empty = scratch();
    failsWith(runCli(['keys', 'status'], { cwd: empty.dir }), 'INVALID_ARGUMENT', /no local provider is configured, so there is no master key to manage — run `lockbox init`/);
    empty.cleanup();
    assert.ok(!existsSync(join(dir, '.lockbox', 'master.key.next')));
  });
});

describe('lockbox keys and the command source', () => {
  const { dir, cleanup } = scratch();
  after(cleanup);
  const config = (command: string[]) => writeFileSync(join(dir, 'lockbox.yaml'), `providers:\n  - id: vaulted\n    type: local\n    options:\n      master_key:\n        source: command\n        command: ${JSON.stringify(command)}\nchain: [vaulted]\n`);

  it('reads the key from the command; a failing command is MASTER_KEY_MISSING naming it, never its output', () => {
    const key = generateMasterKey();
    keysSeen.push(key);
    config([process.execPath, '-e', 'process.stdout.write(process.env.VAULT_KEY || "")']);
    ok(runCli(['set', 'db/password'], { cwd: dir, input: CANARY, env: { VAULT_KEY: key } }));
    assert.equal(ok(runCli(['get', 'db/password'], { cwd: dir, env: { VAULT_KEY: key } }), true).stdout, `${CANARY}\n`);
    config([process.execPath, '-e', 'process.stdout.write(process.env.VAULT_KEY); process.exit(2)']);
    failsWith(runCli(['get', 'db/password'], { cwd: dir, env: { VAULT_KEY: key } }), 'MASTER_KEY_MISSING',
      /^lockbox: MASTER_KEY_MISSING: the master key command ".*" exited with code 2 — run the command yourself/);
    const status = runCli(['keys', 'status'], { cwd: dir, env: { VAULT_KEY: key } });
    outputs.push(status.stdout, status.stderr);
    assert.equal(status.status, 1, 'status exits 1 when the configured key does not open the store');
    assert.match(status.stdout, /^configured key: does not open the store — MASTER_KEY_MISSING: the master key command ".*" exited with code 2/m);
    assert.match(status.stdout, /^ {2}[0-9a-f]{16} +1 {2}active$/m, 'the bookkeeping is shown without the key');
    config([process.execPath, '-e', 'process.stdout.write(process.env.VAULT_KEY)']);
    failsWith(runCli(['keys', 'rotate'], { cwd: dir, env: { VAULT_KEY: key } }), 'INVALID_ARGUMENT', /the master key comes from the command ".*", which lockbox cannot write a new key to — give the new key with --new-key-env/);
    const next = generateMasterKey();
    keysSeen.push(next);
    const rotated = ok(runCli(['keys', 'rotate', '--new-key-env', 'NEXT'], { cwd: dir, env: { VAULT_KEY: key, NEXT: next } }));
    assert.match(rotated.stderr, new RegExp(`^next: put the value of NEXT \\(key id ${keyIdOf(Buffer.from(next, 'base64'))}\\) in where the command ".*" reads it: the old key no longer opens the store\n$`));
    assert.equal(ok(runCli(['get', 'db/password'], { cwd: dir, env: { VAULT_KEY: next } }), true).stdout, `${CANARY}\n`);
  });
});

describe('lockbox keys and AWS KMS (emulator)', () => {
  const { dir, cleanup } = scratch();
  let kms: KmsEmulator;
  let keyA: { keyId: string; arn: string };
  before(async () => {
    kms = await startKmsEmulator();
    keyA = kms.createKey({ alias: 'alias/lockbox' });
  });
  after(async () => {
    await kms.close();
    cleanup();
  });
  const config = (kmsKeyId: string) => writeFileSync(join(dir, 'lockbox.yaml'), `providers:\n  - id: local\n    type: local\n    options:\n      master_key: { source: kms, kms_key_id: "${kmsKeyId}", region: us-east-1, endpoint: "${kms.url}", retries: 0 }\nchain: [local]\n`);
  const cli = (args: string[], input?: string) => runCliAsync(args, { cwd: dir, input });

  it('sets and gets through a KMS-wrapped master key; status names the KMS key; rotate replaces the wrapped key', async () => {
    config('alias/lockbox');
    ok(await cli(['set', 'db/password'], CANARY));
    assert.equal(ok(await cli(['get', 'db/password']), true).stdout, `${CANARY}\n`);
    const status = ok(await cli(['keys', 'status'])).stdout;
    assert.match(status, /^key source: {2}AWS KMS key "alias\/lockbox" \(wrapped key file .*master\.key\.kms\)$/m);
    assert.match(status, new RegExp(`^kms key: {5}${keyA.arn} \\(Enabled\\)$`, 'm'));
    const blob = readFileSync(join(dir, '.lockbox', 'master.key.kms'), 'utf8');
    assert.match(ok(await cli(['keys', 'rotate'])).stdout, /^rotated the master key .*\nre-wrapped 1 data key\(s\)/);
    assert.notEqual(readFileSync(join(dir, '.lockbox', 'master.key.kms'), 'utf8'), blob);
    assert.equal(ok(await cli(['get', 'db/password']), true).stdout, `${CANARY}\n`);
  });

  it('a wrong KMS key and a missing one are KMS_ERROR naming the key id', async () => {
    const other = kms.createKey();
    config(other.keyId);
    failsWith(await cli(['get', 'db/password']), 'KMS_ERROR',
      new RegExp(`^lockbox: KMS_ERROR: AWS KMS Decrypt with key "${other.keyId}" failed: IncorrectKeyException \\(HTTP 400\\): .* — the wrapped master key file was made with another KMS key`));
    kms.deleteKey(other.keyId);
    failsWith(await cli(['get', 'db/password']), 'KMS_ERROR', new RegExp(`AWS KMS Decrypt with key "${other.keyId}" failed: NotFoundException \\(HTTP 400\\): Key '.*${other.keyId}' does not exist — check master_key.kms_key_id and the region`));
    kms.setKeyState(keyA.keyId, 'Disabled');
    config('alias/lockbox');
    failsWith(await cli(['get', 'db/password']), 'KMS_ERROR', /failed: DisabledException \(HTTP 400\): .* is disabled\. — the KMS key is disabled: enable it/);
    kms.setKeyState(keyA.keyId, 'Enabled');
  });
});
