import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, scratch } from './run-cli.js';

const SPEC = {
  type: 'object',
  required: ['host'],
  properties: {
    host: { type: 'string' },
    password: { type: 'string', airbyte_secret: true },
    tunnel: { type: 'object', properties: { key: { type: 'string', 'x-secret': true } } },
  },
};
const CANARY_PASSWORD = 'canary-cfg-pw-5521';
const CANARY_KEY = 'canary-cfg-key-9902';
const MANAGED = /^lockbox_workspace_ws1_secret_[0-9a-f-]{36}_v1$/;

describe('lockbox config split | hydrate | mask (files)', () => {
  const { dir, cleanup } = scratch();
  const cli = (args: string[], input?: string) => runCli(args, { cwd: dir, input });
  const write = (name: string, value: unknown) => writeFileSync(join(dir, name), JSON.stringify(value));
  before(() => {
    assert.equal(cli(['init']).status, 0);
    write('spec.json', SPEC);
    write('config.json', { host: 'db', password: CANARY_PASSWORD, tunnel: { key: CANARY_KEY } });
  });
  after(cleanup);

  it('split writes the secret fields and prints pointers; hydrate restores the config; mask hides them', () => {
    const split = cli(['config', 'split', 'spec.json', 'config.json', '--scope-id', 'ws1']);
    assert.equal(split.status, 0, split.stderr);
    assert.ok(!split.stdout.includes(CANARY_PASSWORD) && !split.stdout.includes(CANARY_KEY));
    const partial = JSON.parse(split.stdout);
    assert.equal(partial.host, 'db');
    assert.match(partial.password._secret, MANAGED);
    assert.match(partial.tunnel.key._secret, MANAGED);
    assert.equal(cli(['get', partial.password._secret]).stdout, `${CANARY_PASSWORD}\n`);
    write('partial.json', partial);
    const hydrated = cli(['config', 'hydrate', 'partial.json', '-o', 'full.json']);
    assert.equal(hydrated.status, 0, hydrated.stderr);
    assert.equal(statSync(join(dir, 'full.json')).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'full.json'), 'utf8')), { host: 'db', password: CANARY_PASSWORD, tunnel: { key: CANARY_KEY } });
    for (const file of ['config.json', 'partial.json']) {
      const masked = cli(['config', 'mask', 'spec.json', file]);
      assert.deepEqual(JSON.parse(masked.stdout), { host: 'db', password: '**********', tunnel: { key: '**********' } });
    }
  });

  it('keeps existing pointers and external secret_coordinate:: names, never writing them', () => {
    assert.equal(cli(['set', 'ext/password'], 'external-value').status, 0);
    write('external.json', { host: 'db', password: 'secret_coordinate::ext/password' });
    const split = cli(['config', 'split', 'spec.json', 'external.json']);
    assert.equal(split.status, 0, split.stderr);
    assert.deepEqual(JSON.parse(split.stdout).password, { _secret: 'ext/password' });
    assert.match(cli(['versions', 'ext/password']).stdout, /^v1\t[^\n]*current\n$/);
  });

  it('rejects bad input with the error code, before anything is written', () => {
    const before = cli(['list']).stdout;
    const cases: Array<[unknown, string, RegExp]> = [
      [{ host: 5, password: CANARY_PASSWORD }, 'SPEC_VALIDATION', /\$\.host: must be string/],
      [{ host: 'h', password: null }, 'SECRET_NODE_INVALID', /\$\.password is null/],
      [{ host: 'h', password: [CANARY_PASSWORD] }, 'SECRET_NODE_INVALID', /\$\.password/],
      [{ host: 'h', password: { _secret: 'lockbox_workspace_x_secret_abc' } }, 'INVALID_COORDINATE', /must .*end.*_v<version>|_v<version>/],
      [{ host: 'h', password: 'secret_coordinate::no/such/secret' }, 'NOT_FOUND', /no\/such\/secret/],
      [{ host: 'h', password: '**********' }, 'SECRET_NODE_INVALID', /masked value has nothing stored/],
    ];
    for (const [config, code, message] of cases) {
      write('bad.json', config);
      const result = cli(['config', 'split', 'spec.json', 'bad.json']);
      assert.equal(result.status, 1, `${code}: ${result.stderr}`);
      assert.ok(result.stderr.startsWith(`lockbox: ${code}: `), result.stderr);
      assert.match(result.stderr, message);
      assert.ok(!result.stderr.includes(CANARY_PASSWORD), 'no value in the error');
    }
    assert.equal(cli(['list']).stdout, before, 'nothing was written');
  });
});
