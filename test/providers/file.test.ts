import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LockboxError } from '../../src/errors.js';
import { extractField } from '../../src/json-field.js';
import { create } from '../../src/providers/file.js';
import { providerContract } from './contract.js';

const tempDirs: string[] = [];
after(async () => { for (const dir of tempDirs) await rm(dir, { recursive: true, force: true }); });

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lockbox-file-'));
  tempDirs.push(dir);
  return dir;
}

/** Writes `relative path → content` under a fresh directory and returns the directory. */
async function secretsDir(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

const context = { baseDir: '/', env: {} };

/**
 * Calls get(name) in a child process — as user `nobody` when the tests run as root, since root
 * ignores file permissions — and returns the error it threw.
 */
function readAsUnprivilegedUser(dir: string, name: string): { code: string; message: string; hint: string } {
  const script = `import(${JSON.stringify(PROVIDER_MODULE)})
    .then((m) => m.create('files', { secrets_dir: process.env.DIR }).get({ name: process.env.NAME }))
    .then(() => console.log('{}'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })));`;
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: process.cwd(), encoding: 'utf8', env: { ...process.env, DIR: dir, NAME: name }, ...asNobody,
  });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as { code: string; message: string; hint: string };
}
const PROVIDER_MODULE = fileURLToPath(new URL('../../src/providers/file.ts', import.meta.url));

function expectLockboxError(code: string, message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

providerContract('file', async (seed) => {
  const dir = await secretsDir({
    'db/password': `${seed['db/password']}\n`,
    'db/user': seed['db/user'] as string,
    'stripe/api-key.txt': `${seed['stripe/api-key']}\r\n`,
    'json-doc.json': seed['json-doc'] as string,
  });
  return { provider: create('files', { secrets_dir: dir }, context) };
});

describe('file provider', () => {
  it('tries the exact name, then .json, .env, .txt, .key, skipping directories', async () => {
    const dir = await secretsDir({
      'a': 'exact', 'a.json': '"json"', 'b.json': '"json"', 'b.txt': 'text', 'c.env': 'C=1', 'c.txt': 'text',
      'd.txt': 'text', 'd.key': 'key', 'e.key': 'key', 'f/inner': 'x', 'f.txt': 'f-text',
    });
    const provider = create('files', { secrets_dir: dir }, context);
    const read = async (name: string) => (await provider.get({ name }))?.value.reveal();
    assert.equal(await read('a'), 'exact');
    assert.equal(await read('b'), '"json"');
    assert.equal(await read('c'), '{"C":"1"}');
    assert.equal(await read('d'), 'text');
    assert.equal(await read('e'), 'key');
    assert.equal(await read('f'), 'f-text', 'a directory named f is not a secret');
    assert.equal(await read('b.txt'), 'text', 'a name with its extension reads that file');
    assert.equal(await provider.get({ name: 'g' }), null);
  });

  it('strips exactly one trailing newline from plain text, and none from JSON', async () => {
    const dir = await secretsDir({
      'one.txt': 'canary-one\n', 'two.txt': 'canary-two\n\n', 'crlf.key': 'canary-crlf\r\n', 'bare': 'canary-bare',
      'doc.json': '{"a":1}\n',
    });
    const provider = create('files', { secrets_dir: dir }, context);
    const read = async (name: string) => (await provider.get({ name }))?.value.reveal();
    assert.equal(await read('one'), 'canary-one');
    assert.equal(await read('two'), 'canary-two\n');
    assert.equal(await read('crlf'), 'canary-crlf');
    assert.equal(await read('bare'), 'canary-bare');
    assert.equal(await read('doc'), '{"a":1}\n');
  });

  it('returns invalid JSON in a .json file as text', async () => {
    const dir = await secretsDir({ 'broken.json': '{not json' });
    const provider = create('files', { secrets_dir: dir }, context);
    assert.equal((await provider.get({ name: 'broken' }))?.value.reveal(), '{not json');
  });

  it('turns a .env file into a JSON object, so the manager can pick #DB_PASSWORD', async () => {
    const dir = await secretsDir({ 'acme/postgres.env': '# db\nDB_HOST=postgres.example.com\nexport DB_PASSWORD="canary-pw"\n' });
    const provider = create('files', { secrets_dir: dir }, context);
    const record = await provider.get({ name: 'postgres', scope: 'acme', field: 'DB_PASSWORD' });
    assert.ok(record);
    assert.deepEqual(JSON.parse(record.value.reveal()), { DB_HOST: 'postgres.example.com', DB_PASSWORD: 'canary-pw' });
    assert.equal(extractField(record.value, 'DB_PASSWORD', 'postgres').reveal(), 'canary-pw');
  });

  it('reads the tenant directory first, then the global file; tenant_fallback: false stops there', async () => {
    const dir = await secretsDir({ 'acme/stripe.json': '{"k":"canary-acme"}', 'stripe.json': '{"k":"canary-global"}' });
    const provider = create('files', { secrets_dir: dir }, context);
    const tenant = await provider.get({ name: 'stripe', scope: 'acme' });
    assert.equal(tenant?.value.reveal(), '{"k":"canary-acme"}');
    assert.equal(tenant?.metadata.scope, 'acme');
    const global = await provider.get({ name: 'stripe', scope: 'globex' });
    assert.equal(global?.value.reveal(), '{"k":"canary-global"}');
    assert.equal(global?.metadata.scope, undefined);
    const strict = create('files', { secrets_dir: dir, tenant_fallback: false }, context);
    assert.equal(await strict.get({ name: 'stripe', scope: 'globex' }), null);
    assert.equal((await strict.get({ name: 'stripe', scope: 'acme' }))?.value.reveal(), '{"k":"canary-acme"}');
  });

  it('reports the file mtime, version "1" and the current label', async () => {
    const dir = await secretsDir({ 'token.txt': 'canary' });
    const when = new Date('2024-03-01T12:00:00Z');
    await utimes(join(dir, 'token.txt'), when, when);
    const record = await create('files', { secrets_dir: dir }, context).get({ name: 'token' });
    assert.equal(record?.metadata.updatedAt.getTime(), when.getTime());
    assert.equal(record?.metadata.version, '1');
    assert.deepEqual(record?.metadata.labels, ['current']);
    assert.equal(await create('files', { secrets_dir: dir }, context).get({ name: 'token', version: 'previous' }), null);
  });

  it('resolves a relative secrets_dir against the context baseDir', async () => {
    const base = await secretsDir({ 'secrets/token': 'canary-rel' });
    const provider = create('files', { secrets_dir: './secrets' }, { baseDir: base, env: {} });
    assert.equal((await provider.get({ name: 'token' }))?.value.reveal(), 'canary-rel');
  });

  it('reads a Kubernetes mounted secret through its ..data symlinks, and sees a rotation', async () => {
    const dir = await secretsDir({ 'db/..2024_01_01/password': 'canary-old\n', 'db/..2024_02_01/password': 'canary-new\n' });
    await symlink('..2024_01_01', join(dir, 'db/..data'));
    await symlink('..data/password', join(dir, 'db/password'));
    const provider = create('k8s', { secrets_dir: dir }, context);
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-old');
    assert.deepEqual((await provider.list!()).map((l) => l.name), ['db/password']);
    await symlink('..2024_02_01', join(dir, 'db/..data_tmp'));
    await rename(join(dir, 'db/..data_tmp'), join(dir, 'db/..data'));
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-new');
  });

  it('refuses symlinks that lead outside secrets_dir, without leaking the target value', async () => {
    const outside = await secretsDir({ 'stolen.txt': 'canary-outside', 'dir/file': 'canary-outside' });
    const dir = await secretsDir({ 'ok.txt': 'fine' });
    await symlink(join(outside, 'stolen.txt'), join(dir, 'leak'));
    await symlink(join(outside, 'dir'), join(dir, 'linked'));
    const provider = create('files', { secrets_dir: dir }, context);
    for (const name of ['leak', 'linked/file']) {
      await assert.rejects(provider.get({ name }), (error: unknown) => {
        expectLockboxError('INVALID_INPUT', /refusing to read secret ".+": .+ leads outside secrets_dir/)(error);
        assert.ok(!(error as Error).message.includes('canary-outside'));
        return true;
      });
    }
    assert.deepEqual((await provider.list!()).map((l) => l.name), ['ok'], 'list skips them');
  });

  it('lists names without extensions, skipping dotfiles, with tenant files as tenant/name', async () => {
    const dir = await secretsDir({
      'stripe.json': '{}', 'nessie-uri.txt': 'x', 'cert.pem': 'x', '.hidden': 'x', 'acme/api_key.txt': 'x',
      'acme/postgres.env': 'A=1', 'acme/postgres.txt': 'dup', 'bad name.txt': 'x',
    });
    const provider = create('files', { secrets_dir: dir }, context);
    assert.deepEqual((await provider.list!()).map((l) => l.name),
      ['acme/api_key', 'acme/postgres', 'cert.pem', 'nessie-uri', 'stripe']);
    assert.deepEqual((await provider.list!('acme/')).map((l) => l.name), ['acme/api_key', 'acme/postgres']);
    const scoped = await provider.list!('', 'acme');
    assert.deepEqual(scoped.map((l) => [l.name, l.scope, l.version]), [['api_key', 'acme', '1'], ['postgres', 'acme', '1']]);
    for (const listing of await provider.list!()) assert.ok(await provider.get({ name: listing.name }), `${listing.name} reads back`);
    assert.deepEqual(await provider.list!('', 'globex'), []);
  });

  it('reports down, reads nothing and lists nothing when secrets_dir is missing', async () => {
    const dir = join(await tempDir(), 'absent');
    const provider = create('files', { secrets_dir: dir }, context);
    const health = await provider.health();
    assert.equal(health.status, 'down');
    assert.equal(health.message, `secrets_dir ${dir} does not exist`);
    assert.equal(await provider.get({ name: 'token' }), null);
    assert.deepEqual(await provider.list!(), []);
  });

  it('reports down when secrets_dir is a file', async () => {
    const dir = await secretsDir({ 'plain': 'x' });
    const health = await create('files', { secrets_dir: join(dir, 'plain') }, context).health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /is not a directory/);
  });

  it('reports an unreadable file as STORE_ERROR with a permissions hint', async () => {
    const dir = await secretsDir({ 'locked.txt': 'canary-locked' });
    await chmod(dir, 0o755);
    await chmod(join(dir, 'locked.txt'), 0o000);
    const error = readAsUnprivilegedUser(dir, 'locked');
    assert.equal(error.code, 'STORE_ERROR');
    assert.equal(error.message, `cannot read ${join(dir, 'locked.txt')}: permission denied`);
    assert.match(error.hint, /check the file permissions \(ls -l .*locked\.txt\)/);
    assert.ok(!JSON.stringify(error).includes('canary-locked'));
  });

  it('rejects an unknown option with INVALID_INPUT', () => {
    assert.throws(() => create('files', { prefix: 'X' } as never, context), expectLockboxError('INVALID_INPUT', /prefix/));
  });
});
