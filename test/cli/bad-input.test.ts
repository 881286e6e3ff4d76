import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli, scratch, type CliResult } from './run-cli.js';

const CANARY = 'canary-Zq81-never-print-me';
const CANARY_JSON_FREE = 'canary-plain-value-77';

describe('CLI bad input: one line, the error code, a non-zero exit, no secret value', () => {
  const { dir, cleanup } = scratch();
  const outputs: string[] = [];
  const cli = (args: string[], input?: string, env?: Record<string, string | undefined>) => {
    const result = runCli(args, { cwd: dir, input, env });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const failsWith = (result: CliResult, code: string, message: RegExp, exit = 1) => {
    assert.equal(result.status, exit, `stdout: ${result.stdout} stderr: ${result.stderr}`);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line expected: ${result.stderr}`);
    assert.ok(lines[0]!.startsWith(`lockbox: ${code}: `), result.stderr);
    assert.match(lines[0]!, message);
    assert.ok(lines[0]!.includes(' — '), 'the line names a fix after " — "');
  };
  before(() => {
    assert.equal(runCli(['init'], { cwd: dir }).status, 0);
    assert.equal(runCli(['set', 'db/password'], { cwd: dir, input: CANARY }).status, 0);
    assert.equal(runCli(['set', 'plain'], { cwd: dir, input: CANARY_JSON_FREE }).status, 0);
    assert.equal(runCli(['set', 'other'], { cwd: dir, input: 'other-value' }).status, 0);
  });
  after(() => {
    for (const output of outputs) {
      assert.ok(!output.includes(CANARY), `canary leaked: ${output}`);
      assert.ok(!output.includes(CANARY_JSON_FREE), `canary leaked: ${output}`);
    }
    cleanup();
  });

  it('invalid names', () => {
    failsWith(cli(['get', '../x']), 'INVALID_NAME', /invalid secret name "\.\.\/x": "\.\." segments are not allowed/);
    failsWith(cli(['get', '/abs']), 'INVALID_NAME', /a name cannot start with "\/"/);
    failsWith(cli(['set', 'a//b'], 'v'), 'INVALID_NAME', /empty segment/);
    failsWith(cli(['get', 'x'.repeat(513)]), 'INVALID_NAME', /longer than 512 bytes/);
  });

  it('an unknown provider id', () => {
    failsWith(cli(['get', 'db/password', '--provider', 'nope']), 'UNKNOWN_PROVIDER', /no provider with id "nope" — configured providers: local, env/);
  });

  it('an unknown provider type, an unknown config key, malformed YAML', () => {
    writeFileSync(join(dir, 'bad-type.yaml'), 'providers:\n  - id: x\n    type: nosuch\n');
    failsWith(cli(['get', 'a', '--config', 'bad-type.yaml']), 'UNKNOWN_PROVIDER_TYPE', /unknown provider type "nosuch"/);
    writeFileSync(join(dir, 'bad-key.yaml'), 'providers:\n  - id: e\n    type: env\ncahce: {}\n');
    failsWith(cli(['get', 'a', '--config', 'bad-key.yaml']), 'CONFIG_INVALID', /bad-key\.yaml.*cahce/);
    writeFileSync(join(dir, 'bad.yaml'), 'providers: [\n  - id: x\n');
    failsWith(cli(['get', 'a', '--config', 'bad.yaml']), 'CONFIG_PARSE', /bad\.yaml/);
    failsWith(cli(['get', 'a', '--config', 'missing.yaml']), 'CONFIG_NOT_FOUND', /missing\.yaml/);
  });

  it('an unbalanced ${ in a file to resolve', () => {
    writeFileSync(join(dir, 'unbalanced.yaml'), 'a: ${secret:db/password\n');
    failsWith(cli(['resolve', 'unbalanced.yaml']), 'INVALID_REFERENCE', /unbalanced|no closing/i);
  });

  it('#field into a non-JSON value', () => {
    failsWith(cli(['get', 'plain#user']), 'FIELD_NOT_JSON', /cannot read field "user" of secret plain#user: its value is not a JSON object/);
  });

  it('the wrong master key: nothing partial printed', () => {
    const result = cli(['get', 'db/password'], undefined, { LOCKBOX_MASTER_KEY: randomBytes(32).toString('base64') });
    failsWith(result, 'MASTER_KEY_INVALID', /cannot open the store with this master key/);
    assert.equal(result.stdout, '');
  });

  it('set with no stdin and no value', () => {
    failsWith(cli(['set', 'x']), 'NO_VALUE', /no value given/);
  });

  it('a run command that does not exist', () => {
    failsWith(cli(['run', '--', 'no-such-command-xyz']), 'COMMAND_NOT_FOUND', /command not found: no-such-command-xyz/, 127);
  });

  it('an unknown option is a usage error (exit 2)', () => {
    const result = cli(['get', 'a', '--bogus']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown option '--bogus'/);
  });

  it('the key file is never printed and the store file holds no plaintext', () => {
    const store = readFileSync(join(dir, '.lockbox/store.db'));
    assert.ok(!store.includes(Buffer.from(CANARY)));
  });
  // Last: it breaks db/password for the tests after it.
  it('a tampered store row fails for that secret only', () => {
    const db = new Database(join(dir, '.lockbox/store.db'));
    const row = db.prepare("select envelope from versions where name = 'db/password' and version = 1").get() as { envelope: Buffer } | undefined;
    assert.ok(row, 'found the stored version of db/password');
    row.envelope[row.envelope.length - 1] = row.envelope[row.envelope.length - 1]! ^ 0xff; // the envelope ends with the ciphertext
    db.prepare("update versions set envelope = ? where name = 'db/password' and version = 1").run(row.envelope);
    db.close();
    failsWith(cli(['get', 'db/password']), 'SECRET_TAMPERED', /db\/password/);
    assert.equal(cli(['get', 'other']).stdout, 'other-value\n');
  });

});
