import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, scratch, type CliResult } from './run-cli.js';

const mode = (path: string) => statSync(path).mode & 0o777;
function ok(result: CliResult): CliResult {
  assert.equal(result.status, 0, `exit ${result.status}; stderr: ${result.stderr}`);
  return result;
}
function failsWith(result: CliResult, code: string, message: RegExp, exit = 1): void {
  assert.equal(result.status, exit, `expected exit ${exit}; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got: ${result.stderr}`);
  assert.ok(lines[0]!.startsWith(`lockbox: ${code}: `), result.stderr);
  assert.match(lines[0]!, message);
}

describe('lockbox CLI (real processes)', () => {
  const { dir, cleanup } = scratch();
  const cli = (args: string[], input?: string, env?: Record<string, string | undefined>) => runCli(args, { cwd: dir, input, env });
  before(() => ok(cli(['init'])));
  after(cleanup);

  it('init writes the config, a 0600 key file and store, and ignores them in git', () => {
    assert.ok(existsSync(join(dir, 'lockbox.yaml')));
    assert.equal(mode(join(dir, '.lockbox/master.key')), 0o600);
    assert.equal(mode(join(dir, '.lockbox/store.db')), 0o600);
    assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^\.lockbox\/$/m);
    const again = ok(cli(['init']));
    assert.match(again.stdout, /already initialised/);
  });

  it('set reads stdin without echoing; get prints the value; --json adds metadata', () => {
    const set = ok(cli(['set', 'db/password'], 's3cr3t\n'));
    assert.match(set.stdout, /set db\/password: version 1/);
    assert.ok(!set.stdout.includes('s3cr3t') && !set.stderr.includes('s3cr3t'));
    assert.equal(ok(cli(['get', 'db/password'])).stdout, 's3cr3t\n');
    const json = JSON.parse(ok(cli(['get', 'db/password', '--json'])).stdout);
    assert.equal(json.value, 's3cr3t');
    assert.equal(json.version, '1');
    assert.deepEqual(json.labels, ['current']);
  });

  it('set --generate, --from-file, --tag and --ttl', () => {
    ok(cli(['set', 'gen/a', '--generate=24']));
    assert.equal(ok(cli(['get', 'gen/a'])).stdout.trim().length, 24);
    writeFileSync(join(dir, 'value.txt'), 'from-file\n');
    ok(cli(['set', '--tag', 'team=core', 'file/a', '--from-file', 'value.txt', '--tag', 'env=prod', '--ttl', '1h']));
    const json = JSON.parse(ok(cli(['get', 'file/a', '--json'])).stdout);
    assert.equal(json.value, 'from-file');
    assert.deepEqual(json.tags, { team: 'core', env: 'prod' });
    assert.ok(Date.parse(json.expiresAt) > Date.now());
  });

  it('versions, rollback, rotate, delete and undelete', () => {
    ok(cli(['set', 'rot/key'], 'one'));
    ok(cli(['set', 'rot/key'], 'two'));
    assert.match(ok(cli(['versions', 'rot/key'])).stdout, /^v1\t.*\tprevious\nv2\t.*\tcurrent\n$/);
    ok(cli(['rollback', 'rot/key']));
    assert.equal(ok(cli(['get', 'rot/key'])).stdout, 'one\n');
    assert.equal(ok(cli(['get', 'rot/key', '--version', '2'])).stdout, 'two\n');
    assert.equal(ok(cli(['get', 'rot/key@previous'])).stdout, 'two\n');
    ok(cli(['rotate', 'rot/key']));
    assert.equal(ok(cli(['get', 'rot/key@previous'])).stdout, 'one\n');
    ok(cli(['delete', 'rot/key']));
    failsWith(cli(['get', 'rot/key']), 'NOT_FOUND', /secret rot\/key not found/);
    ok(cli(['undelete', 'rot/key']));
    assert.equal(cli(['get', 'rot/key']).status, 0);
    assert.match(ok(cli(['list', 'rot/'])).stdout, /^rot\/key\tlocal/m);
  });

  it('run passes the mapped secret, masks the output, and passes exit codes through', () => {
    ok(cli(['set', 'db/password'], 'hunter2-canary'));
    const masked = ok(cli(['run', '--', 'node', '-e', 'console.log(process.env.DB_PASSWORD); console.error("e:" + process.env.DB_PASSWORD)']));
    assert.equal(masked.stdout, '[REDACTED]\n');
    assert.equal(masked.stderr, 'e:[REDACTED]\n');
    const unmasked = ok(cli(['run', '--no-mask', '--', 'node', '-e', 'console.log(process.env.DB_PASSWORD)']));
    assert.equal(unmasked.stdout, 'hunter2-canary\n');
    assert.equal(cli(['run', '--', 'node', '-e', 'process.exit(3)']).status, 3);
    const killed = cli(['run', '--', 'node', '-e', 'process.kill(process.pid, "SIGTERM")']);
    assert.equal(killed.signal, 'SIGTERM');
  });

  it('resolve writes yaml, json and env; -o writes a 0600 file; check names problems without values', () => {
    ok(cli(['set', 'api/key'], 'resolved-canary'));
    writeFileSync(join(dir, 'app.yaml'), 'api:\n  key: ${secret:api/key}\n  url: https://x/$${literal}\n');
    assert.equal(ok(cli(['resolve', 'app.yaml'])).stdout, 'api:\n  key: resolved-canary\n  url: https://x/${literal}\n');
    assert.deepEqual(JSON.parse(ok(cli(['resolve', 'app.yaml', '--format', 'json'])).stdout), { api: { key: 'resolved-canary', url: 'https://x/${literal}' } });
    writeFileSync(join(dir, 'flat.json'), '{"KEY":"${secret:api/key}","N":"a b"}');
    assert.equal(ok(cli(['resolve', 'flat.json', '--format', 'env'])).stdout, 'KEY=resolved-canary\nN="a b"\n');
    ok(cli(['resolve', 'app.yaml', '-o', 'out.yaml']));
    assert.equal(mode(join(dir, 'out.yaml')), 0o600);
    const checked = ok(cli(['check', 'app.yaml']));
    assert.ok(!checked.stdout.includes('resolved-canary'));
    assert.match(checked.stdout, /all 1 references in app.yaml resolve/);
    writeFileSync(join(dir, 'broken.yaml'), 'a: ${secret:api/key}\nb: ${secret:no/such}\n');
    const broken = cli(['check', 'broken.yaml']);
    assert.match(broken.stdout, /FAIL\s+no\/such\s+missing/);
    assert.ok(!broken.stdout.includes('resolved-canary'));
    failsWith(broken, 'UNRESOLVED_REFERENCES', /1 of 2 references in broken.yaml cannot be resolved/);
  });

  it('--tenant reads the tenant value first, then the global one; --field and #field pick JSON fields', () => {
    ok(cli(['set', 'svc/token', '--tenant', 'acme'], 'acme-token'));
    ok(cli(['set', 'svc/token'], 'global-token'));
    assert.equal(ok(cli(['get', 'svc/token', '--tenant', 'acme'])).stdout, 'acme-token\n');
    assert.equal(ok(cli(['get', 'svc/token', '--tenant', 'globex'])).stdout, 'global-token\n');
    assert.equal(ok(cli(['get', 'svc/token'])).stdout, 'global-token\n');
    ok(cli(['set', 'svc/json'], '{"user":"u1","nested":{"pass":"p1"}}'));
    assert.equal(ok(cli(['get', 'svc/json', '--field', 'user'])).stdout, 'u1\n');
    assert.equal(ok(cli(['get', 'svc/json#/nested/pass'])).stdout, 'p1\n');
  });

  it('falls back along the chain to the env provider, which is read-only', () => {
    assert.equal(ok(cli(['get', 'app/token'], undefined, { APP_TOKEN: 'from-env' })).stdout, 'from-env\n');
    const json = JSON.parse(ok(cli(['get', 'app/token', '--json'], undefined, { APP_TOKEN: 'from-env' })).stdout);
    assert.equal(json.provider, 'env');
    const refused = cli(['set', 'app/token', '--provider', 'env'], 'x');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^lockbox: CAPABILITY: provider "env" does not support writes — /);
  });

  it('health reports every provider', () => {
    const health = ok(cli(['health']));
    assert.match(health.stdout, /^ready\s+local/m);
    assert.match(health.stdout, /^ready\s+env/m);
  });
});
