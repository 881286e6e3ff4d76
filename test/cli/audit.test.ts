/** `lockbox audit`, `lockbox audit verify` and `lockbox policy check` as real processes. */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, scratch } from './run-cli.js';

const CANARY = 'canary-cli-audit-81f0';
const ACCESS = `
access:
  roles:
    reader: [{ allow: [read, list], secrets: ["db/**"] }]
    admin: [{ allow: [read, list, write, delete, rotate, admin], secrets: ["**"] }]
  principals:
    alice: [admin]
    bob: [reader]
`;

describe('lockbox audit and policy', () => {
  const { dir, cleanup } = scratch();
  const as = (principal: string) => ({ cwd: dir, env: { LOCKBOX_PRINCIPAL: principal } });
  before(() => {
    assert.equal(runCli(['init'], { cwd: dir }).status, 0);
    appendFileSync(join(dir, 'lockbox.yaml'), ACCESS);
    assert.equal(runCli(['set', 'db/password'], { ...as('alice'), input: CANARY }).status, 0);
    assert.equal(runCli(['set', 'stripe/key'], { ...as('alice'), input: CANARY }).status, 0);
  });
  after(cleanup);

  it('enforces the policy in lockbox.yaml: a denied read exits 1 with ACCESS_DENIED and the fix', () => {
    const denied = runCli(['get', 'stripe/key'], as('bob'));
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /^lockbox: ACCESS_DENIED: access denied: bob may not read stripe\/key .* — `lockbox policy check bob read stripe\/key` explains/m);
    const allowed = runCli(['get', 'db/password'], as('bob'));
    assert.equal(allowed.status, 0);
    assert.equal(allowed.stdout.trim(), CANARY);
  });

  it('lists who did what, filtered by principal, action and secret — never a value', () => {
    const all = runCli(['audit'], { cwd: dir });
    assert.equal(all.status, 0, all.stderr);
    assert.ok(!all.stdout.includes(CANARY));
    const bob = runCli(['audit', '--principal', 'bob', '--since', '1h', '--json'], { cwd: dir });
    const events = JSON.parse(bob.stdout) as Array<{ action: string; outcome: string; name: string; errorCode?: string }>;
    assert.ok(events.some((e) => e.action === 'read' && e.outcome === 'denied' && e.name === 'stripe/key' && e.errorCode === 'ACCESS_DENIED'));
    assert.ok(events.some((e) => e.action === 'read' && e.outcome === 'success' && e.name === 'db/password'));
    const writes = runCli(['audit', '--action', 'write', '--secret', 'db/*'], { cwd: dir });
    assert.match(writes.stdout, /alice\s+write\s+success db\/password@1\s+provider=local/);
    assert.doesNotMatch(writes.stdout, /stripe/);
    const bad = runCli(['audit', '--action', 'fly'], { cwd: dir });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /INVALID_ARGUMENT: unknown audit action "fly" — use one of: read, list/);
  });

  it('verify says "intact" with the count, and names the first broken line after tampering', () => {
    const ok = runCli(['audit', 'verify'], { cwd: dir });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^audit log intact: \d+ events/);
    const path = join(dir, '.lockbox', 'audit.jsonl');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace('"principal":"bob"', '"principal":"eve"'));
    const edited = runCli(['audit', 'verify'], { cwd: dir });
    assert.equal(edited.status, 1);
    assert.match(edited.stdout, /^audit log NOT intact: line \d+: /);
    const lines = original.split('\n').filter(Boolean);
    writeFileSync(path, [lines[0], ...lines.slice(2)].join('\n') + '\n');
    const deleted = runCli(['audit', 'verify', '--json'], { cwd: dir });
    assert.equal(deleted.status, 1);
    assert.deepEqual(JSON.parse(deleted.stdout).line, 2);
    writeFileSync(path, original);
  });

  it('policy check explains allow and deny with the deciding rule', () => {
    const allow = runCli(['policy', 'check', 'bob', 'read', 'db/password'], { cwd: dir });
    assert.equal(allow.status, 0);
    assert.equal(allow.stdout.trim(), 'allow: bob may read db/password (role reader, rule 1: allow read on db/**)');
    const deny = runCli(['policy', 'check', 'bob', 'write', 'db/password'], { cwd: dir });
    assert.equal(deny.status, 1);
    assert.match(deny.stdout, /^deny: bob may not write db\/password \(no rule allows write/);
    const nobody = runCli(['policy', 'check', 'carol', 'read', 'db/password'], { cwd: dir });
    assert.match(nobody.stdout, /principal carol has no roles: not listed under access.principals; default deny/);
    const badAction = runCli(['policy', 'check', 'bob', 'fly', 'db/password'], { cwd: dir });
    assert.equal(badAction.status, 1);
    assert.match(badAction.stderr, /INVALID_ARGUMENT: unknown action "fly" — use one of: read, list, write, delete, rotate, admin/);
  });

  it('checks key rotation as the admin action on _lockbox/keys/<provider> and audits it as key_rotation', () => {
    const denied = runCli(['keys', 'rotate'], as('bob'));
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /ACCESS_DENIED: access denied: bob may not admin _lockbox\/keys\/local/);
    const rotated = runCli(['keys', 'rotate'], as('alice'));
    assert.equal(rotated.status, 0, rotated.stderr);
    const events = JSON.parse(runCli(['audit', '--action', 'key_rotation', '--json'], { cwd: dir }).stdout) as Array<{ principal: string; outcome: string; name: string }>;
    assert.deepEqual(events.map((e) => [e.principal, e.outcome, e.name]), [['bob', 'denied', '_lockbox/keys/local'], ['alice', 'success', '_lockbox/keys/local']]);
    assert.equal(runCli(['get', 'db/password'], as('alice')).stdout.trim(), CANARY, 'values still read after the key rotation');
  });

  it('rejects a policy with an unknown action or a malformed glob with POLICY_INVALID naming the key', () => {
    const { dir: bad, cleanup: done } = scratch();
    try {
      writeFileSync(join(bad, 'lockbox.yaml'), 'providers: [{ id: env, type: env }]\naccess:\n  roles:\n    r: [{ allow: [fly], secrets: ["db/**"] }]\n');
      const action = runCli(['get', 'x'], { cwd: bad });
      assert.equal(action.status, 1);
      assert.match(action.stderr, /POLICY_INVALID: .*access\.roles\.r\[0\]\.allow\[0\]/);
      writeFileSync(join(bad, 'lockbox.yaml'), 'providers: [{ id: env, type: env }]\naccess:\n  roles:\n    r: [{ allow: [read], secrets: ["db/***"] }]\n');
      const glob = runCli(['list'], { cwd: bad });
      assert.equal(glob.status, 1);
      assert.match(glob.stderr, /POLICY_INVALID: .*access\.roles\.r\[0\]\.secrets\[0\]/);
    } finally {
      done();
    }
  });
});
