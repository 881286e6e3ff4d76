import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, scratch, type CliResult } from './run-cli.js';

function ok(result: CliResult): CliResult {
  assert.equal(result.status, 0, `exit ${result.status}; stderr: ${result.stderr}`);
  return result;
}

function failsWith(result: CliResult, code: string, message: string): void {
  assert.equal(result.status, 1, `expected exit 1; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  assert.equal(result.stderr, `lockbox: ${code}: ${message}\n`);
}

const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

describe('lockbox rotate (real processes)', () => {
  const { dir, cleanup } = scratch();
  const cli = (args: string[], input?: string) => runCli(args, { cwd: dir, input });
  const value = (name: string) => ok(cli(['get', name])).stdout.replace(/\n$/, '');
  before(() => ok(cli(['init'])));
  after(cleanup);

  it('rotate NAME --generate=N --charset: a new generated current value; the old one stays as @previous', () => {
    ok(cli(['set', 'db/password'], 'canary-cli-old'));
    const rotated = ok(cli(['rotate', 'db/password', '--generate=40', '--charset', 'lower,digits']));
    assert.match(rotated.stdout, /^rotated db\/password: now version \d+ \(the old value stays readable as db\/password@previous\)\n$/);
    assert.ok(!rotated.stdout.includes('canary') && rotated.stderr === '');
    assert.match(value('db/password'), /^[a-z0-9]{40}$/);
    assert.equal(value('db/password@previous'), 'canary-cli-old');
  });

  it('rotate NAME --from-file, and generator options --exclude / --exclude-ambiguous', () => {
    writeFileSync(join(dir, 'next.txt'), 'canary-from-file\n');
    ok(cli(['rotate', 'file/key', '--from-file', 'next.txt']));
    assert.equal(value('file/key'), 'canary-from-file');
    ok(cli(['rotate', 'file/key', '--generate=200', '--exclude=-abc', '--exclude-ambiguous', '--charset', 'lower,upper,digits,symbols']));
    const generated = value('file/key');
    assert.equal(generated.length, 200);
    for (const c of '-abc0Oo1lI|') assert.ok(!generated.includes(c), `"${c}" was excluded`);
    assert.equal(value('file/key@previous'), 'canary-from-file');
  });

  it('refuses impossible generators and bad arguments with one line naming the problem', () => {
    failsWith(cli(['rotate', 'db/password', '--generate=2', '--charset', 'lower,upper,digits']), 'GENERATOR_INVALID',
      'length 2 cannot hold one character of each of 3 required classes (lower, upper, digits) — use a length of at least 3 or require fewer classes');
    failsWith(cli(['rotate', 'db/password', '--charset', 'lower,emoji']), 'INVALID_ARGUMENT',
      '--charset "lower,emoji" names an unknown class "emoji" — use a comma list of lower, upper, digits, symbols');
    failsWith(cli(['rotate', 'db/password', '--exclude', 'abcdefghijklmnopqrstuvwxyz', '--charset', 'lower']), 'GENERATOR_INVALID',
      'every character is excluded: nothing is left to generate from — exclude fewer characters or add a class');
    failsWith(cli(['rotate']), 'INVALID_ARGUMENT', 'name the secret to rotate, or use --due — e.g. lockbox rotate db/password --generate=32');
    failsWith(cli(['rotate', 'db/password', '--due']), 'INVALID_ARGUMENT', '--due rotates every secret that is due and takes no NAME — run lockbox rotate --due, or lockbox rotate NAME');
    failsWith(cli(['rotate', 'db/password', '--dry-run']), 'INVALID_ARGUMENT', '--dry-run goes with --due — run lockbox rotate --due --dry-run');
    failsWith(cli(['rotate', 'db/password', '--every', 'monthly']), 'INVALID_INPUT',
      'rotation.every "monthly" is not a positive duration — use a number of seconds or a number with a unit ms, s, m, h, d or w (e.g. "30d", "12h")');
  });

  it('rotate NAME --every sets the policy without changing the value; repeated, it changes nothing; "off" removes it', () => {
    ok(cli(['set', 'svc/token'], 'canary-svc'));
    const set = ok(cli(['rotate', 'svc/token', '--every', '30d']));
    assert.match(set.stdout, new RegExp(`^svc/token: rotate every 30d; next due ${ISO}\\n$`));
    assert.equal(value('svc/token'), 'canary-svc');
    const again = ok(cli(['rotate', 'svc/token', '--every', '30d']));
    assert.match(again.stdout, new RegExp(`^svc/token: rotate every 30d \\(unchanged\\); next due ${ISO}\\n$`));
    const tags = JSON.parse(ok(cli(['get', 'svc/token', '--json'])).stdout).tags;
    assert.equal(tags['lockbox.rotation.every'], '30d');
    ok(cli(['set', 'tmp/policy'], 'canary-tmp'));
    ok(cli(['rotate', 'tmp/policy', '--every', '1d']));
    assert.equal(ok(cli(['rotate', 'tmp/policy', '--every', 'off'])).stdout, 'tmp/policy: rotation policy removed\n');
    assert.equal(JSON.parse(ok(cli(['get', 'tmp/policy', '--json'])).stdout).tags['lockbox.rotation.every'], undefined);
  });

  it('rotate --due --dry-run lists what is due and rotates nothing', () => {
    ok(cli(['set', 'old/key', '--tag', 'lockbox.rotation.every=30d', '--tag', 'lockbox.rotation.last=2020-01-01T00:00:00Z'], 'canary-overdue'));
    const dry = ok(cli(['rotate', '--due', '--dry-run']));
    assert.match(dry.stdout, new RegExp([
      'due old/key: due since 2020-01-31T00:00:00.000Z',
      `not-due svc/token: next due ${ISO}`,
      'dry run: 1 due, 1 not due, 0 failed',
    ].join('\\n') + '\\n$'));
    assert.equal(value('old/key'), 'canary-overdue');
  });

  it('rotate --due rotates what is due, prints a line per secret and totals, and exits 1 when one failed', () => {
    ok(cli(['set', 'bad/key', '--tag', 'lockbox.rotation.every=soon'], 'canary-bad'));
    const run = cli(['rotate', '--due']);
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, new RegExp(`^${[
      'failed bad/key: INVALID_INPUT: tag lockbox\\.rotation\\.every "soon" is not a positive duration',
      'rotated old/key: version \\d+',
      `not-due svc/token: next due ${ISO}`,
      '1 rotated, 1 not due, 1 failed',
    ].join('\\n')}\\n$`));
    assert.ok(!run.stdout.includes('canary'));
    assert.match(value('old/key'), /^[A-Za-z0-9]{32}$/);
    assert.equal(value('old/key@previous'), 'canary-overdue');
    assert.equal(JSON.parse(ok(cli(['get', 'old/key', '--json'])).stdout).tags['lockbox.rotation.every'], '30d');

    ok(cli(['rotate', 'bad/key', '--every', 'off']));
    const json = JSON.parse(ok(cli(['rotate', '--due', '--json'])).stdout);
    assert.deepEqual([json.rotated, json.notDue, json.failed], [0, 2, 0]);
    assert.deepEqual(json.entries.map((e: { name: string; status: string }) => [e.name, e.status]), [['old/key', 'not-due'], ['svc/token', 'not-due']]);
  });

  it('rotate NAME --every with --generate rotates now and stores the policy and its generator for later due rotations', () => {
    ok(cli(['set', 'pin/code'], 'canary-pin'));
    const out = ok(cli(['rotate', 'pin/code', '--every', '12h', '--generate=8', '--charset', 'digits']));
    assert.match(out.stdout, /^rotated pin\/code: now version \d+ \(the old value stays readable as pin\/code@previous\); rotate every 12h\n$/);
    assert.match(value('pin/code'), /^[0-9]{8}$/);
    ok(cli(['rotate', 'pin/code']));
    assert.match(value('pin/code'), /^[0-9]{8}$/, 'a later rotation uses the stored generator');
  });
});

describe('lockbox rotate with a default tenant in lockbox.yaml', () => {
  const { dir, cleanup } = scratch();
  const cli = (args: string[], input?: string) => runCli(args, { cwd: dir, input });
  before(() => {
    ok(cli(['init']));
    appendFileSync(join(dir, 'lockbox.yaml'), 'tenant: acme\n');
  });
  after(cleanup);

  it('rotates the tenant\'s secret, like get and set address it', () => {
    ok(cli(['set', 'svc/key'], 'canary-tenant-old'));
    ok(cli(['rotate', 'svc/key', '--generate=20']));
    assert.equal(ok(cli(['get', 'svc/key@previous'])).stdout, 'canary-tenant-old\n');
    assert.equal(ok(cli(['get', 'svc/key@previous', '--tenant', 'acme'])).stdout, 'canary-tenant-old\n');
    assert.equal(ok(cli(['list'])).stdout.trim().split('\n').length, 1);
  });
});
