import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { create as createLocal, generateMasterKey } from '../../src/providers/local.js';
import { create as createMemory } from '../../src/providers/memory.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider } from '../../src/types.js';

const dirs: string[] = [];
const opened: Provider[] = [];
after(async () => {
  for (const provider of opened) await provider.dispose?.();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function localStore(): { provider: Provider; reopen: () => Provider } {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-promote-'));
  dirs.push(dir);
  const key = generateMasterKey();
  const open = () => {
    const provider = createLocal('local', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
    opened.push(provider);
    return provider;
  };
  return { provider: open(), reopen: open };
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

const value = (v: string) => new SecretValue(v);
const labels = async (provider: Provider, name: string) =>
  (await provider.versions!({ name })).map((v) => `${v.version}:${v.labels.join(',') || '-'}`);
const read = async (provider: Provider, name: string, version?: string) => (await provider.get({ name, version }))?.value.reveal() ?? null;

for (const [label, make] of [['memory', () => createMemory('mem')], ['local', () => localStore().provider]] as const) {
  describe(`promote: ${label}`, () => {
    it('makes the pending version current and the old current previous, without a new version', async () => {
      const provider: Provider = make();
      await provider.set!({ name: 'db/password' }, value('canary-one'));
      const staged = await provider.set!({ name: 'db/password' }, value('canary-two'), { pending: true });
      assert.deepEqual(staged.labels, ['pending']);
      assert.equal(await read(provider, 'db/password'), 'canary-one');
      const promoted = await provider.promote!({ name: 'db/password' }, staged.version);
      assert.equal(promoted.version, '2');
      assert.deepEqual(promoted.labels, ['current']);
      assert.deepEqual(await labels(provider, 'db/password'), ['1:previous', '2:current']);
      assert.equal(await read(provider, 'db/password'), 'canary-two');
      assert.equal(await read(provider, 'db/password', 'previous'), 'canary-one');
      assert.equal(await provider.get({ name: 'db/password', version: 'pending' }), null);
    });

    it('takes the pending label as the version, and is idempotent for the current version', async () => {
      const provider: Provider = make();
      await provider.set!({ name: 'api', scope: 'acme' }, value('canary-a'), { tags: { team: 'core' } });
      await provider.set!({ name: 'api', scope: 'acme' }, value('canary-b'), { pending: true, tags: { team: 'core' } });
      const first = await provider.promote!({ name: 'api', scope: 'acme' }, 'pending');
      const again = await provider.promote!({ name: 'api', scope: 'acme' }, '2');
      assert.deepEqual([first.version, first.scope, first.tags], ['2', 'acme', { team: 'core' }]);
      assert.deepEqual([again.version, again.labels], ['2', ['current']]);
      assert.equal((await provider.get({ name: 'api', scope: 'acme', version: 'previous' }))?.value.reveal(), 'canary-a');
    });

    it('promotes the first version of a secret that had no current one', async () => {
      const provider: Provider = make();
      await provider.set!({ name: 'fresh' }, value('canary-first'), { pending: true });
      assert.equal(await provider.get({ name: 'fresh' }), null);
      await provider.promote!({ name: 'fresh' }, '1');
      assert.equal(await read(provider, 'fresh'), 'canary-first');
      assert.deepEqual(await labels(provider, 'fresh'), ['1:current']);
    });

    it('refuses a version that is neither pending nor current, a missing one, and a stale pending (CONFLICT)', async () => {
      const provider: Provider = make();
      await provider.set!({ name: 'k' }, value('canary-1'));
      await provider.set!({ name: 'k' }, value('canary-2'), { pending: true });
      await provider.set!({ name: 'k' }, value('canary-3'));
      await rejectsWith(provider.promote!({ name: 'k' }, '1'), 'INVALID_INPUT', 'version 1 of k is not pending, so it cannot be promoted');
      await rejectsWith(provider.promote!({ name: 'k' }, '9'), 'NOT_FOUND', 'secret k version 9 not found');
      await rejectsWith(provider.promote!({ name: 'nope' }, '1'), 'NOT_FOUND', 'secret nope version 1 not found');
      await rejectsWith(provider.promote!({ name: 'k' }, '2'), 'CONFLICT', 'version 2 of k was staged before the current version 3 was written');
      assert.equal(await read(provider, 'k'), 'canary-3');
    });
  });
}

describe('promote: local store specifics', () => {
  it('leaves no pending label on an older staged version it supersedes; that version stays readable by number', async () => {
    const { provider } = localStore();
    await provider.set!({ name: 's' }, value('canary-v1'));
    await provider.set!({ name: 's' }, value('canary-v2-failed-test'), { pending: true });
    await provider.set!({ name: 's' }, value('canary-v3'), { pending: true });
    await provider.promote!({ name: 's' }, '3');
    assert.deepEqual(await labels(provider, 's'), ['1:previous', '2:-', '3:current']);
    assert.equal(await provider.get({ name: 's', version: 'pending' }), null);
    assert.equal(await read(provider, 's', '2'), 'canary-v2-failed-test');
    const listed = await provider.list!('s');
    assert.deepEqual(listed.map((l) => [l.name, l.version]), [['s', '3']]);
  });

  it('persists the promotion: a reopened store reads the promoted value as current', async () => {
    const { provider, reopen } = localStore();
    await provider.set!({ name: 'db/password' }, value('canary-old'));
    await provider.set!({ name: 'db/password' }, value('canary-new'), { pending: true });
    await provider.promote!({ name: 'db/password' }, '2');
    await provider.dispose!();
    const again = reopen();
    assert.equal(await read(again, 'db/password'), 'canary-new');
    assert.equal(await read(again, 'db/password', 'previous'), 'canary-old');
    const next = await again.set!({ name: 'db/password' }, value('canary-after'));
    assert.equal(next.version, '3');
    assert.equal(await read(again, 'db/password', 'previous'), 'canary-new');
  });
});
