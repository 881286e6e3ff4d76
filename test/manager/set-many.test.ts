import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey } from '../../src/providers/local.js';
import { create as createMemory } from '../../src/providers/memory.js';

describe('manager.setMany', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-setmany-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const local = () => createLocal('local', { path: join(dir, 'store.db') }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
  const key = generateMasterKey();

  it('writes a batch to the local store in one call and invalidates cached reads', async () => {
    const manager = new SecretManager({ providers: [local()] });
    await manager.set('batch/a', 'old-a');
    assert.equal((await manager.get('batch/a'))?.value.reveal(), 'old-a');
    const written = await manager.setMany([
      { name: 'batch/a', value: 'new-a' },
      { name: 'batch/b', value: 'new-b', options: { tags: { k: 'v' } } },
      { name: 'batch/c', value: 'new-c', options: { scope: 'acme' } },
    ]);
    assert.deepEqual(written.map((m) => [m.name, m.version, m.scope]), [['batch/a', '2', undefined], ['batch/b', '1', undefined], ['batch/c', '1', 'acme']]);
    assert.equal((await manager.get('batch/a'))?.value.reveal(), 'new-a');
    assert.deepEqual((await manager.get('batch/b'))?.metadata.tags, { k: 'v' });
    assert.equal((await manager.get('batch/c', { scope: 'acme' }))?.value.reveal(), 'new-c');
    await manager.dispose();
  });

  it('rejects the whole batch when one name is invalid: nothing is written', async () => {
    const manager = new SecretManager({ providers: [local()] });
    await assert.rejects(manager.setMany([{ name: 'ok/one', value: 'v' }, { name: '../bad', value: 'v' }]), (error: LockboxError) => {
      assert.equal(error.code, 'INVALID_NAME');
      return true;
    });
    assert.equal(await manager.get('ok/one'), null);
    await manager.dispose();
  });

  it('falls back to one write after another on providers without setMany', async () => {
    const manager = new SecretManager({ providers: [createMemory('m')] });
    const written = await manager.setMany([{ name: 'x', value: '1' }, { name: 'y', value: '2' }]);
    assert.deepEqual(written.map((m) => m.name), ['x', 'y']);
    assert.equal((await manager.get('y'))?.value.reveal(), '2');
  });
});
