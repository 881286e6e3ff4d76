import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey } from '../../src/providers/local.js';
import { create as createMemory } from '../../src/providers/memory.js';
import { Redactor } from '../../src/redaction/redactor.js';
import { dueSecrets, rotateDue, rotationSchedule, setRotationPolicy } from '../../src/rotation/policy.js';
import { rotateSecret } from '../../src/rotation/staging.js';
import type { Provider } from '../../src/types.js';

const DAY = 86_400_000;
const dirs: string[] = [];
const managers: SecretManager[] = [];
after(async () => {
  for (const manager of managers) await manager.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function managerWith(provider: Provider): SecretManager {
  const manager = new SecretManager({ providers: [provider], cache: false, redactor: new Redactor() });
  managers.push(manager);
  return manager;
}

const memory = () => managerWith(createMemory('mem'));
function local(): SecretManager {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-policy-'));
  dirs.push(dir);
  return managerWith(createLocal('local', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: generateMasterKey() } }));
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

const overdue = (every: string, daysAgo: number) => ({ 'lockbox.rotation.every': every, 'lockbox.rotation.last': new Date(Date.now() - daysAgo * DAY).toISOString() });

for (const [label, make] of [['memory', memory], ['local', local]] as const) {
  describe(`rotation policies: ${label}`, () => {
    it('setRotationPolicy stores the policy in tags, keeps the value and the schedule, and is idempotent', async () => {
      const manager = make();
      const first = await manager.set('db/password', 'canary-policy-value', { tags: { team: 'core' } });
      const result = await setRotationPolicy(manager, 'db/password', { every: '30d' });
      assert.equal(result.changed, true);
      assert.deepEqual(result.metadata.tags, { team: 'core', 'lockbox.rotation.every': '30d', 'lockbox.rotation.last': first.createdAt.toISOString() });
      assert.equal(result.dueAt?.getTime(), first.createdAt.getTime() + 30 * DAY);
      assert.equal((await manager.get('db/password'))?.value.reveal(), 'canary-policy-value');
      const again = await setRotationPolicy(manager, 'db/password', { every: '30d' });
      assert.deepEqual([again.changed, again.metadata.version, again.dueAt?.getTime()], [false, result.metadata.version, result.dueAt?.getTime()]);
      const cleared = await setRotationPolicy(manager, 'db/password', null);
      assert.equal(cleared.changed, true);
      assert.deepEqual(cleared.metadata.tags, { team: 'core' });
      assert.equal((await manager.get('db/password'))?.value.reveal(), 'canary-policy-value');
    });

    it('dueSecrets compares the last change plus the interval with `now`', async () => {
      const manager = make();
      const written = await manager.set('api/key', 'canary-api');
      await setRotationPolicy(manager, 'api/key', { every: '30d' });
      await manager.set('no/policy', 'canary-none');
      const before = new Date(written.createdAt.getTime() + 30 * DAY - 1);
      const at = new Date(written.createdAt.getTime() + 30 * DAY);
      assert.deepEqual(await dueSecrets(manager, before), []);
      const due = await dueSecrets(manager, at);
      assert.deepEqual(due.map((d) => [d.name, d.provider, d.policy?.every, d.dueAt?.getTime()]), [['api/key', manager.chain[0], '30d', at.getTime()]]);
      const schedule = await rotationSchedule(manager, { now: before });
      assert.deepEqual(schedule.map((s) => [s.name, s.due]), [['api/key', false]]);
    });

    it('rotateDue rotates what is due (with the policy\'s generator), reports the rest, and the policy survives the rotation', async () => {
      const manager = make();
      await manager.set('a/due', 'canary-a', { tags: { ...overdue('30d', 31), 'lockbox.rotation.generator': '{"length":10,"classes":["digits"]}' } });
      await manager.set('b/fresh', 'canary-b', { tags: overdue('30d', 1) });
      await manager.set('c/due', 'canary-c', { tags: overdue('1h', 2) });
      const summary = await rotateDue(manager, { generate: { length: 16, classes: ['lower'] } });
      assert.deepEqual(summary.entries.map((e) => [e.name, e.status, e.version]), [['a/due', 'rotated', '2'], ['b/fresh', 'not-due', undefined], ['c/due', 'rotated', '2']]);
      assert.deepEqual([summary.rotated, summary.notDue, summary.failed, summary.wouldRotate], [2, 1, 0, 0]);
      assert.match((await manager.get('a/due'))!.value.reveal(), /^[0-9]{10}$/);
      assert.match((await manager.get('c/due'))!.value.reveal(), /^[a-z]{16}$/);
      assert.equal((await manager.get('a/due', { version: 'previous' }))?.value.reveal(), 'canary-a');
      const tags = (await manager.get('c/due'))!.metadata.tags;
      assert.deepEqual(tags, { 'lockbox.rotation.every': '1h' });
      assert.deepEqual(await dueSecrets(manager), [], 'nothing is due right after the sweep');
    });

    it('rotateDue --dry-run rotates nothing; failures are reported with their code and do not stop the sweep', async () => {
      const manager = make();
      await manager.set('a/bad', 'canary-bad', { tags: { 'lockbox.rotation.every': 'soon' } });
      await manager.set('b/due', 'canary-b', { tags: overdue('7d', 8) });
      await manager.set('c/refused', 'canary-c', { tags: overdue('7d', 8) });
      const dry = await rotateDue(manager, { dryRun: true });
      assert.deepEqual(dry.entries.map((e) => [e.name, e.status, e.code]), [['a/bad', 'failed', 'INVALID_INPUT'], ['b/due', 'would-rotate', undefined], ['c/refused', 'would-rotate', undefined]]);
      assert.equal(dry.entries[0]!.message, 'tag lockbox.rotation.every "soon" is not a positive duration');
      assert.equal((await manager.versions('b/due')).length, 1, 'a dry run writes nothing');

      const summary = await rotateDue(manager, { test: (candidate, context) => { if (context.name === 'c/refused') throw new Error(`db refused ${candidate.reveal()}`); } });
      assert.deepEqual(summary.entries.map((e) => [e.name, e.status, e.code]), [['a/bad', 'failed', 'INVALID_INPUT'], ['b/due', 'rotated', undefined], ['c/refused', 'failed', 'ROTATION_TEST_FAILED']]);
      assert.deepEqual([summary.rotated, summary.failed], [1, 2]);
      assert.match(summary.entries[2]!.message!, /^rotation of c\/refused in provider "\w+" failed its test: db refused \[REDACTED\]; current is unchanged \(version 1\)/);
      assert.equal((await manager.get('c/refused'))?.value.reveal(), 'canary-c');
    });
  });
}

describe('rotation policies: bad input', () => {
  it('refuses a bad interval, an impossible generator and a missing secret', async () => {
    const manager = memory();
    await manager.set('k', 'canary-k');
    await rejectsWith(setRotationPolicy(manager, 'k', { every: 'monthly' }), 'INVALID_INPUT', 'rotation.every "monthly" is not a positive duration');
    await rejectsWith(setRotationPolicy(manager, 'k', { every: '0d' }), 'INVALID_INPUT', 'rotation.every "0d" is not a positive duration');
    await rejectsWith(setRotationPolicy(manager, 'k', { every: '30d', generate: { length: 3, classes: ['lower', 'upper', 'digits', 'symbols'] } }),
      'GENERATOR_INVALID', 'length 3 cannot hold one character of each of 4 required classes (lower, upper, digits, symbols)');
    await rejectsWith(setRotationPolicy(manager, 'missing', { every: '30d' }), 'NOT_FOUND', 'secret missing not found');
    assert.equal((await manager.versions('k')).length, 1, 'nothing was written');
  });

  it('replaces or clears a malformed policy instead of failing on it', async () => {
    const manager = memory();
    await manager.set('k', 'canary-k', { tags: { 'lockbox.rotation.every': 'soon', 'lockbox.rotation.generator': '{' } });
    const replaced = await setRotationPolicy(manager, 'k', { every: '7d' });
    assert.equal(replaced.metadata.tags['lockbox.rotation.every'], '7d');
    assert.equal(replaced.metadata.tags['lockbox.rotation.generator'], undefined);
    await manager.set('k', 'canary-k2', { tags: { 'lockbox.rotation.every': 'soon' } });
    assert.deepEqual((await setRotationPolicy(manager, 'k', null)).metadata.tags, {});
  });

  it('rotates through `rotateWith` when given (how a manager applies access control and audit to the sweep)', async () => {
    const manager = memory();
    await manager.set('a', 'canary-a', { tags: overdue('1d', 2) });
    const calls: string[] = [];
    const summary = await rotateDue(manager, {
      generate: 12,
      rotateWith: async (ref, options) => {
        calls.push(`${ref.name}@${ref.provider}:${String(options.generate)}`);
        return (await rotateSecret(manager, ref, options)).metadata;
      },
    });
    assert.deepEqual(calls, ['a@mem:12']);
    assert.deepEqual(summary.entries.map((e) => [e.name, e.status, e.version]), [['a', 'rotated', '2']]);
  });

  it('sweeps only the tenant asked for', async () => {
    const manager = memory();
    await manager.set('k', 'canary-global', { tags: overdue('1d', 2) });
    await manager.set('k', 'canary-acme', { scope: 'acme', tags: overdue('1d', 2) });
    const summary = await rotateDue(manager, { scope: 'acme' });
    assert.deepEqual(summary.entries.map((e) => [e.name, e.scope, e.status]), [['k', 'acme', 'rotated']]);
    assert.equal((await manager.get('k'))?.value.reveal(), 'canary-global');
    assert.equal((await manager.get('k', { scope: 'acme', version: 'previous' }))?.value.reveal(), 'canary-acme');
  });
});
