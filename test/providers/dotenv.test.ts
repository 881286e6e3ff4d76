import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { parseDotenv } from '../../src/providers/dotenv-parse.js';
import { create } from '../../src/providers/dotenv.js';
import { normaliseEnvName } from '../../src/providers/env.js';
import type { Provider } from '../../src/types.js';
import { providerContract } from './contract.js';

const tempDirs: string[] = [];
after(async () => { for (const dir of tempDirs) await rm(dir, { recursive: true, force: true }); });

/** Writes each `file name → text` into a fresh directory and returns the directory. */
async function envFiles(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lockbox-dotenv-'));
  tempDirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

const context = (baseDir: string) => ({ baseDir, env: {} });
const parsed = (text: string) => ({ ...parseDotenv(text) });

/**
 * dotenv lists keys (`DB_PASSWORD`), not the contract's seeded names (`db/password`, which no
 * .env key can spell), so the shared suite runs against a view without list(); see below.
 */
function withoutList(provider: Provider): Provider {
  return {
    id: provider.id, type: provider.type, capabilities: { ...provider.capabilities, list: false },
    get: (ref) => provider.get(ref), health: () => provider.health(),
  };
}

providerContract('dotenv (list excluded)', async (seed) => {
  const text = Object.entries(seed).map(([name, value]) => `${normaliseEnvName(name)}='${value}'`).join('\n');
  const dir = await envFiles({ '.env': `${text}\n` });
  return { provider: withoutList(create('dotenv', { files: '.env' }, context(dir))) };
});

describe('parseDotenv', () => {
  it('reads KEY=VALUE, export KEY=VALUE, spaces around "=" and trims unquoted values', () => {
    assert.deepEqual(parsed('A=1\nexport B=2\n  C =  three  \nD=\nexport=x\n'), { A: '1', B: '2', C: 'three', D: '', export: 'x' });
  });

  it('skips blank lines, full-line comments and invalid lines (no "=", bad key, unterminated quote)', () => {
    assert.deepEqual(parsed('# comment\n\n   # indented\nNOEQUALS\n1BAD=x\nBAD KEY=x\nU="open\nOK=yes\n'), { OK: 'yes' });
  });

  it('accepts keys with dots, dashes and underscores', () => {
    assert.deepEqual(parsed('_x=1\na.b-c_D9=2\n'), { _x: '1', 'a.b-c_D9': '2' });
  });

  it('ends an unquoted value at a "#" preceded by whitespace, and only there', () => {
    assert.deepEqual(parsed('A=value # note\nB=pa#ss\nC=#leading\nD= # only a comment\nE=tab\t# note\n'),
      { A: 'value', B: 'pa#ss', C: '#leading', D: '', E: 'tab' });
  });

  it('keeps single- and backtick-quoted values literally', () => {
    assert.deepEqual(parsed("A='  a \\n # b \"c\" '\nB=`x 'y' \"z\" \\t`\n"), { A: '  a \\n # b "c" ', B: 'x \'y\' "z" \\t' });
  });

  it('understands \\n \\r \\t \\" \\\\ in double quotes and keeps other backslashes', () => {
    assert.deepEqual(parsed('A="l1\\nl2\\r\\t\\"q\\" \\\\ \\d"\n'), { A: 'l1\nl2\r\t"q" \\ \\d' });
  });

  it('allows quoted values over several lines and a comment after the closing quote', () => {
    const text = 'KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----"  # pem\nS=\'one\ntwo\'\nNEXT=1\n';
    assert.deepEqual(parsed(text), { KEY: '-----BEGIN KEY-----\nabc\n-----END KEY-----', S: 'one\ntwo', NEXT: '1' });
  });

  it('skips a quoted value followed by other text', () => {
    assert.deepEqual(parsed('A="x" y\nB=ok\n'), { B: 'ok' });
  });

  it('accepts CRLF line ends and a byte-order mark', () => {
    assert.deepEqual(parsed('\uFEFFA=1\r\nB="two\r\nlines"\r\nC=3 # c\r\n'), { A: '1', B: 'two\nlines', C: '3' });
  });

  it('lets a later duplicate win', () => {
    assert.deepEqual(parsed('A=1\nA=2\n'), { A: '2' });
  });

  it('keeps __proto__ and constructor as ordinary keys (no prototype pollution)', () => {
    const result = parseDotenv('__proto__=canary-proto\nconstructor=c\n');
    assert.equal(Object.getPrototypeOf(result), null);
    assert.equal(result.__proto__, 'canary-proto');
    assert.equal(result.constructor, 'c');
    assert.deepEqual(Object.keys(result), ['__proto__', 'constructor']);
  });
});

describe('dotenv provider', () => {
  it('tries the exact key first, then the normalised name', async () => {
    const dir = await envFiles({ '.env': 'db_password=canary-exact\nDB_PASSWORD=canary-norm\nSTRIPE_API_KEY_V2=canary-s\n' });
    const provider = create('dotenv', { files: '.env' }, context(dir));
    assert.equal((await provider.get({ name: 'db_password' }))?.value.reveal(), 'canary-exact');
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-norm');
    assert.equal((await provider.get({ name: 'stripe/api-key.v2' }))?.value.reveal(), 'canary-s');
    assert.equal(await provider.get({ name: 'missing' }), null);
  });

  it('lets later files win and reports the winning file mtime', async () => {
    const dir = await envFiles({ 'base.env': 'A=base\nB=base-only\n', 'local.env': 'A=local\n' });
    const when = new Date('2024-05-01T00:00:00Z');
    await utimes(join(dir, 'local.env'), when, when);
    const provider = create('dotenv', { files: ['base.env', 'local.env'] }, context(dir));
    const record = await provider.get({ name: 'A' });
    assert.equal(record?.value.reveal(), 'local');
    assert.equal(record?.metadata.updatedAt.getTime(), when.getTime());
    assert.equal((await provider.get({ name: 'B' }))?.value.reveal(), 'base-only');
    assert.deepEqual([record?.metadata.version, record?.metadata.labels], ['1', ['current']]);
  });

  it('looks up {TENANT}_{KEY} before the global key, unless tenant_fallback is false', async () => {
    const dir = await envFiles({ '.env': 'ACME_DB_PASSWORD=canary-acme\nDB_PASSWORD=canary-global\n' });
    const provider = create('dotenv', { files: join(dir, '.env') }, context('/'));
    const tenant = await provider.get({ name: 'db/password', scope: 'acme' });
    assert.deepEqual([tenant?.value.reveal(), tenant?.metadata.scope], ['canary-acme', 'acme']);
    const global = await provider.get({ name: 'db/password', scope: 'globex' });
    assert.deepEqual([global?.value.reveal(), global?.metadata.scope], ['canary-global', undefined]);
    const strict = create('dotenv', { files: join(dir, '.env'), tenant_fallback: false }, context('/'));
    assert.equal(await strict.get({ name: 'db/password', scope: 'globex' }), null);
  });

  it('sees a rewritten file on the next read', async () => {
    const dir = await envFiles({ '.env': 'TOKEN=canary-one\n' });
    const provider = create('dotenv', { files: '.env' }, context(dir));
    assert.equal((await provider.get({ name: 'token' }))?.value.reveal(), 'canary-one');
    await writeFile(join(dir, '.env'), 'TOKEN=canary-two-longer\n');
    assert.equal((await provider.get({ name: 'token' }))?.value.reveal(), 'canary-two-longer');
  });

  it('lists keys, filtered by a prefix as written or normalised, and by tenant', async () => {
    const dir = await envFiles({ '.env': 'DB_PASSWORD=a\nDB_USER=b\nACME_TOKEN=c\nacme_lower=d\nlower.key=e\n' });
    const provider = create('dotenv', { files: '.env' }, context(dir));
    assert.deepEqual((await provider.list!()).map((l) => l.name), ['ACME_TOKEN', 'DB_PASSWORD', 'DB_USER', 'acme_lower', 'lower.key']);
    assert.deepEqual((await provider.list!('db/')).map((l) => l.name), ['DB_PASSWORD', 'DB_USER']);
    assert.deepEqual((await provider.list!('lower.')).map((l) => l.name), ['lower.key']);
    const scoped = await provider.list!('', 'acme');
    assert.deepEqual(scoped.map((l) => [l.name, l.scope]), [['TOKEN', 'acme']], 'tenant keys start with the upper-case tenant');
    for (const listing of scoped) assert.ok(await provider.get({ name: listing.name, scope: 'acme' }), `${listing.name} reads back`);
  });

  it('fails get with CONFIG_NOT_FOUND and reports down when a file is missing', async () => {
    const dir = await envFiles({ 'present.env': 'A=1\n' });
    const provider = create('dotenv-main', { files: ['present.env', 'absent.env'] }, context(dir));
    const missing = join(dir, 'absent.env');
    await assert.rejects(provider.get({ name: 'A' }), (error: unknown) => {
      assert.ok(error instanceof LockboxError);
      assert.equal(error.code, 'CONFIG_NOT_FOUND');
      assert.equal(error.message, `dotenv file not found: ${missing}`);
      assert.equal(error.provider, 'dotenv-main');
      return true;
    });
    const health = await provider.health();
    assert.deepEqual([health.status, health.message], ['down', `dotenv file not found: ${missing}`]);
    const healthy = await create('dotenv-main', { files: 'present.env' }, context(dir)).health();
    assert.equal(healthy.status, 'ready');
  });

  it('requires files and rejects unknown options with INVALID_INPUT', () => {
    for (const options of [{}, { files: [] }, { files: '.env', prefix: 'X' }]) {
      assert.throws(() => create('dotenv', options as never, context('/')), (error: unknown) => {
        assert.ok(error instanceof LockboxError);
        assert.equal(error.code, 'INVALID_INPUT');
        assert.match(error.message, /invalid options for provider "dotenv"/);
        return true;
      });
    }
  });

  it('is read-only, has one version and leaves #field to the manager', async () => {
    const dir = await envFiles({ '.env': `DOC='{"pass":"canary-pass"}'\n` });
    const provider = create('dotenv', { files: '.env' }, context(dir));
    assert.equal(provider.set, undefined);
    assert.equal(provider.capabilities.write, false);
    assert.equal((await provider.get({ name: 'doc', field: 'pass' }))?.value.reveal(), '{"pass":"canary-pass"}');
    assert.equal(await provider.get({ name: 'doc', version: '2' }), null);
  });
});
