import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, parseConfigText, parseDuration, type LoadedConfig } from '../../src/config/index.js';
import type { LockboxError } from '../../src/errors.js';

const CANARY = 'canary-config-token-5d1e';
const DEFAULT_CACHE = { ttlSeconds: 300, maxEntries: 10_000, staleIfErrorSeconds: 3_600, enabled: true };

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'lockbox-config-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** A fresh directory under the test's temp dir, optionally holding files. */
let counter = 0;
async function workdir(files: Record<string, string> = {}): Promise<string> {
  const path = join(dir, `case-${++counter}`);
  await mkdir(path, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(path, name, '..'), { recursive: true });
    await writeFile(join(path, name), text);
  }
  return path;
}

const FILE = '/etc/app/lockbox.yaml';
const parse = (text: string, env: Record<string, string | undefined> = {}): Promise<LoadedConfig> => parseConfigText(text, FILE, env);

/** Expects `promise` to reject with `code`, a message containing every `parts`, and never the canary. */
async function rejects(promise: Promise<unknown>, code: string, ...parts: string[]): Promise<LockboxError> {
  let caught: LockboxError | undefined;
  await assert.rejects(promise, (error: LockboxError) => { caught = error; return true; });
  assert.equal(caught!.code, code, caught!.message);
  for (const part of parts) assert.ok(caught!.message.includes(part), `expected ${JSON.stringify(part)} in:\n${caught!.message}`);
  assert.ok(!`${caught!.message} ${caught!.hint ?? ''} ${caught!.stack}`.includes(CANARY), 'a value leaked into the error');
  return caught!;
}

describe('loadConfig: finding the file', () => {
  it('uses one env provider and the default cache when there is no file', async () => {
    const cwd = await workdir();
    assert.deepEqual(await loadConfig({ cwd, env: {} }), {
      baseDir: cwd, providers: [{ id: 'env', type: 'env', options: {} }], chain: ['env'], cache: DEFAULT_CACHE, env: {},
    });
  });

  it('reads ./lockbox.yaml, else ./lockbox.yml, from cwd', async () => {
    const both = await workdir({ 'lockbox.yaml': 'tenant: from-yaml\n', 'lockbox.yml': 'tenant: from-yml\n' });
    const loaded = await loadConfig({ cwd: both, env: {} });
    assert.equal(loaded.tenant, 'from-yaml');
    assert.equal(loaded.path, join(both, 'lockbox.yaml'));
    assert.equal(loaded.baseDir, both);
    const ymlOnly = await workdir({ 'lockbox.yml': 'tenant: from-yml\n' });
    assert.equal((await loadConfig({ cwd: ymlOnly, env: {} })).tenant, 'from-yml');
  });

  it('reads $LOCKBOX_CONFIG (relative to cwd) and takes baseDir from the file', async () => {
    const cwd = await workdir({ 'lockbox.yaml': 'tenant: ignored\n', 'conf/team.yaml': 'tenant: team\n' });
    const loaded = await loadConfig({ cwd, env: { LOCKBOX_CONFIG: 'conf/team.yaml' } });
    assert.equal(loaded.tenant, 'team');
    assert.equal(loaded.baseDir, join(cwd, 'conf'));
  });

  it('prefers an explicit path over $LOCKBOX_CONFIG', async () => {
    const cwd = await workdir({ 'a.yaml': 'tenant: a\n', 'b.yaml': 'tenant: b\n' });
    assert.equal((await loadConfig({ cwd, path: 'a.yaml', env: { LOCKBOX_CONFIG: 'b.yaml' } })).tenant, 'a');
  });

  it('fails with CONFIG_NOT_FOUND for a missing --config file, naming it', async () => {
    const cwd = await workdir({ 'lockbox.yaml': 'tenant: x\n' });
    await rejects(loadConfig({ cwd, path: 'nope.yaml', env: {} }), 'CONFIG_NOT_FOUND', join(cwd, 'nope.yaml'), 'does not exist');
  });

  it('fails with CONFIG_NOT_FOUND for a missing $LOCKBOX_CONFIG file, naming the variable', async () => {
    const cwd = await workdir();
    await rejects(loadConfig({ cwd, env: { LOCKBOX_CONFIG: join(cwd, 'gone.yaml') } }), 'CONFIG_NOT_FOUND', join(cwd, 'gone.yaml'), '$LOCKBOX_CONFIG');
  });

  it('fails with CONFIG_NOT_FOUND when --config names a directory', async () => {
    const cwd = await workdir({ 'sub/x.txt': '' });
    await rejects(loadConfig({ cwd, path: 'sub', env: {} }), 'CONFIG_NOT_FOUND', 'is a directory');
  });
});

describe('parseConfigText: valid shapes', () => {
  it('reads every key of the lockbox.yaml shape', async () => {
    const loaded = await parse(`
version: 1
providers:
  - id: mem
    type: memory
    options: { secrets: { db/password: x } }
  - id: env
    type: env
    options: { prefix: APP_ }
chain: [env, mem]
default_provider: mem
cache: { ttl: 5m, max_entries: 500, stale_if_error: 2h, enabled: false }
env:
  DB_PASSWORD: \${secret:db/password}
  PORT: 5432
tenant: acme
`);
    assert.deepEqual(loaded, {
      path: FILE,
      baseDir: '/etc/app',
      providers: [
        { id: 'mem', type: 'memory', options: { secrets: { 'db/password': 'x' } } },
        { id: 'env', type: 'env', options: { prefix: 'APP_' } },
      ],
      chain: ['env', 'mem'],
      defaultProvider: 'mem',
      cache: { ttlSeconds: 300, maxEntries: 500, staleIfErrorSeconds: 7_200, enabled: false },
      env: { DB_PASSWORD: '${secret:db/password}', PORT: '5432' },
      tenant: 'acme',
    });
  });

  it('defaults the chain to every provider in list order, and the cache and env to defaults', async () => {
    const loaded = await parse('providers:\n  - { id: b, type: memory }\n  - { id: a, type: env }\n');
    assert.deepEqual(loaded.chain, ['b', 'a']);
    assert.deepEqual(loaded.providers[0], { id: 'b', type: 'memory', options: {} });
    assert.deepEqual(loaded.cache, DEFAULT_CACHE);
    assert.deepEqual(loaded.env, {});
    assert.equal(loaded.defaultProvider, undefined);
  });

  it('reads seed 002\'s top-level secrets: block as one provider', async () => {
    const loaded = await parse('secrets:\n  type: env\n  prefix: DATIVO_\n');
    assert.deepEqual(loaded.providers, [{ id: 'env', type: 'env', options: { prefix: 'DATIVO_' } }]);
    assert.deepEqual(loaded.chain, ['env']);
  });

  it('reads seed 002\'s runner.yaml, ignoring the other runner keys', async () => {
    const loaded = await parse(`
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - { name: my_job, config: /app/jobs/my_job.yaml, cron: "0 * * * *" }
  secrets:
    type: filesystem
    secrets_dir: /secrets
`);
    assert.deepEqual(loaded.providers, [{ id: 'filesystem', type: 'filesystem', options: { secrets_dir: '/secrets' } }]);
  });

  it('falls back to the env provider for a runner.yaml without secrets: and for an empty file', async () => {
    const runner = await parse('runner:\n  mode: orchestrated\n');
    assert.deepEqual(runner.providers, [{ id: 'env', type: 'env', options: {} }]);
    const empty = await parse('');
    assert.deepEqual(empty.providers, [{ id: 'env', type: 'env', options: {} }]);
    assert.equal(empty.path, FILE);
  });
});

describe('parseConfigText: ${env:…} interpolation in provider options', () => {
  const withOptions = (options: string) => parse(`providers:\n  - id: m\n    type: memory\n    options: ${options}\n`, {
    HOST: 'db.internal', EMPTY: '', TOKEN: CANARY,
  });

  it('replaces ${VAR} and ${env:VAR}, recursively', async () => {
    const loaded = await withOptions('{ secrets: { url: "https://${HOST}/x", token: "${env:TOKEN}" } }');
    assert.deepEqual(loaded.providers[0]!.options, { secrets: { url: 'https://db.internal/x', token: CANARY } });
  });

  it('uses the :-default when the variable is unset or empty', async () => {
    const loaded = await withOptions('{ secrets: { a: "${env:UNSET:-fallback}", b: "${EMPTY:-dflt}", c: "${env:HOST:-no}" } }');
    assert.deepEqual(loaded.providers[0]!.options, { secrets: { a: 'fallback', b: 'dflt', c: 'db.internal' } });
  });

  it('keeps $${ as a literal ${ and leaves ${secret:…} alone', async () => {
    const loaded = await withOptions('{ secrets: { a: "$${HOST}", b: "${secret:db/password}" } }');
    assert.deepEqual(loaded.providers[0]!.options, { secrets: { a: '${HOST}', b: '${secret:db/password}' } });
  });

  it('interpolates the options of seed 002\'s secrets: block', async () => {
    const loaded = await parse('secrets:\n  type: env\n  prefix: "${ENV_PREFIX}_"\n', { ENV_PREFIX: 'PROD' });
    assert.deepEqual(loaded.providers[0]!.options, { prefix: 'PROD_' });
  });

  it('does not touch the env: mapping, tenant or other keys', async () => {
    const loaded = await parse('env:\n  URL: "https://${HOST}/${secret:x}"\n', { HOST: 'h' });
    assert.deepEqual(loaded.env, { URL: 'https://${HOST}/${secret:x}' });
  });

  it('fails with CONFIG_INVALID naming the key path and the variable when one is unset', async () => {
    const error = await rejects(withOptions('{ secrets: { db: "${env:DB_TOKEN}" } }'), 'CONFIG_INVALID',
      FILE, 'providers[0].options.secrets.db (line 4)', 'environment variable "DB_TOKEN" is not set');
    assert.match(error.message, /\$\{env:DB_TOKEN:-default\}/);
  });
});

describe('parseConfigText: errors', () => {
  it('reports malformed YAML as CONFIG_PARSE with file:line:col', async () => {
    await rejects(parse('providers:\n  - id: a\n    type: [memory\n'), 'CONFIG_PARSE', `${FILE}:4:1: invalid YAML`);
    await rejects(parse('tenant: a\ntenant: b\n'), 'CONFIG_PARSE', `${FILE}:2:1`, 'unique');
  });

  it('reports an unknown key with its path, line and a close match', async () => {
    await rejects(parse('tenat: acme\n'), 'CONFIG_INVALID', `${FILE}: tenat (line 1): unknown key "tenat", did you mean "tenant"?`);
    await rejects(parse('cache:\n  tll: 5m\n'), 'CONFIG_INVALID', 'cache.tll (line 2): unknown key "tll", did you mean "ttl"?');
    await rejects(parse('providers:\n  - id: m\n    type: memory\n    options: { secretz: {} }\n'), 'CONFIG_INVALID',
      'providers[0].options.secretz (line 4): unknown key "secretz", did you mean "secrets"?');
  });

  it('leaves the suggestion out when no key is close', async () => {
    const error = await rejects(parse(`zzzzzz: ${CANARY}\n`), 'CONFIG_INVALID', 'zzzzzz (line 1): unknown key "zzzzzz"');
    assert.ok(!error.message.includes('did you mean'));
  });

  it('reports an unknown provider type as UNKNOWN_PROVIDER_TYPE with its path and the known types', async () => {
    const error = await rejects(parse('providers:\n  - { id: a, type: memory }\n  - { id: b, type: nosuch }\n'),
      'UNKNOWN_PROVIDER_TYPE', `${FILE}: providers[1].type (line 3): unknown provider type "nosuch"`);
    assert.match(error.hint ?? '', /memory/);
    await rejects(parse('runner:\n  secrets:\n    type: nosuch\n'), 'UNKNOWN_PROVIDER_TYPE', 'runner.secrets.type (line 3)');
  });

  it('reports chain and default_provider ids that no provider has', async () => {
    await rejects(parse('providers:\n  - { id: a, type: memory }\nchain: [a, b]\ndefault_provider: c\n'), 'CONFIG_INVALID',
      '2 problems', 'chain[1] (line 3): unknown provider id "b" (configured ids: a)',
      'default_provider (line 4): unknown provider id "c" (configured ids: a)');
  });

  it('reports duplicate provider ids, in the list and in the chain', async () => {
    await rejects(parse('providers:\n  - { id: a, type: memory }\n  - { id: a, type: env }\n'), 'CONFIG_INVALID',
      'providers[1].id (line 3): duplicate provider id "a" (also providers[0].id)');
    await rejects(parse('providers:\n  - { id: a, type: memory }\nchain: [a, a]\n'), 'CONFIG_INVALID',
      'chain[1] (line 3): provider id "a" is listed twice');
  });

  it('reports a bad duration without echoing it', async () => {
    await rejects(parse(`cache: { ttl: ${CANARY} }\n`), 'CONFIG_INVALID', 'cache.ttl (line 1): invalid duration', '"30s"');
    await rejects(parse('cache: { stale_if_error: -5 }\n'), 'CONFIG_INVALID', 'cache.stale_if_error (line 1): invalid duration');
  });

  it('never puts an option value in the message', async () => {
    await rejects(parse(`providers:\n  - id: m\n    type: memory\n    options: { secrets: ${CANARY} }\n`), 'CONFIG_INVALID',
      'providers[0].options.secrets (line 4): expected object, got string');
    await rejects(parse(`providers:\n  - id: m\n    type: memory\n    options: { secrets: { a: [${CANARY}] } }\n`), 'CONFIG_INVALID',
      'providers[0].options.secrets.a (line 4): expected string, got array');
  });

  it('rejects providers: together with a secrets: block', async () => {
    await rejects(parse('providers:\n  - { id: a, type: memory }\nsecrets:\n  type: env\n'), 'CONFIG_INVALID',
      'secrets (line 3): use either providers: or a secrets: block, not both');
  });

  it('rejects bad ids, versions, tenants and env names, listing at most five problems', async () => {
    const error = await rejects(parse(`
version: 2
providers:
  - { id: "a b", type: memory }
tenant: a/b
env: { "1BAD": x }
cache: { max_entries: 0, enabled: "yes" }
`), 'CONFIG_INVALID', '6 problems', 'version (line 2): unsupported version: only 1 is known',
    'providers[0].id (line 4): a provider id is letters, digits, "_" and "-"', 'tenant (line 5): a tenant is one name segment',
    'env["1BAD"] (line 6): an environment variable name', 'cache.max_entries (line 7)', '… and 1 more');
    assert.ok(!error.message.includes('cache.enabled'));
  });

  it('rejects a top level that is not a mapping', async () => {
    await rejects(parse('- a\n- b\n'), 'CONFIG_INVALID', '(top level): the top level must be a mapping');
  });
});

describe('parseDuration', () => {
  it('reads seconds and s, m, h, d units', () => {
    assert.equal(parseDuration(90, 'x'), 90);
    assert.equal(parseDuration('90', 'x'), 90);
    assert.equal(parseDuration('30s', 'x'), 30);
    assert.equal(parseDuration('5m', 'x'), 300);
    assert.equal(parseDuration('1h', 'x'), 3_600);
    assert.equal(parseDuration('2d', 'x'), 172_800);
    assert.equal(parseDuration('1.5h', 'x'), 5_400);
  });

  it('fails with CONFIG_INVALID naming the key path', () => {
    assert.throws(() => parseDuration('5 minutes', 'cache.ttl'), (error: LockboxError) => {
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, /^cache\.ttl: invalid duration/);
      assert.ok(!error.message.includes('5 minutes'));
      return true;
    });
  });
});
