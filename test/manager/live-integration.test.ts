/**
 * Live updates and the last-known-good snapshot through the SecretManager itself: watch() delivers
 * a write, the snapshot answers only when every provider is unreachable (never for not-found),
 * the audit log says so (snapshot_fallback) and health() reports it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditLog, functionSink, type AuditEntry } from '../../src/audit/index.js';
import { ProviderUnavailableError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { LastKnownGoodSnapshot } from '../../src/manager/snapshot.js';
import { create as memory } from '../../src/providers/memory.js';
import type { SecretRecord } from '../../src/types.js';
import { flaky } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'lockbox-live-'));
after(() => rmSync(root, { recursive: true, force: true }));
const key = randomBytes(32);

describe('manager: watch and last-known-good snapshot', () => {
  it('watch() delivers a new version written through the manager, once, with the previous one', async () => {
    const manager = new SecretManager({ providers: [memory('mem', { secrets: { 'db/password': 'canary-old' } })], watch: { pollIntervalMs: 20, jitter: 0 } });
    const seen: Array<[string | undefined, string | undefined]> = [];
    const delivered = new Promise<void>((resolve) => {
      const stop = manager.watch('db/password', (next: SecretRecord | null, prev: SecretRecord | null) => {
        seen.push([next?.metadata.version, prev?.metadata.version]);
        stop();
        resolve();
      });
      void stop.ready.then(() => manager.set('db/password', 'canary-new'));
    });
    const keepAlive = setInterval(() => {}, 1000); // the watcher's timers are unref'd
    await delivered;
    clearInterval(keepAlive);
    assert.deepEqual(seen, [['2', '1']]);
    await manager.dispose();
  });

  it('serves the snapshot only when every provider is unreachable, audits it, and reports it in health()', async () => {
    const path = join(root, 'lkg.snapshot');
    const remote = flaky('remote', { 'db/password': 'canary-lkg-value' });
    const events: AuditEntry[] = [];
    const options = () => ({
      providers: [remote], cache: false as const, principal: 'svc',
      audit: new AuditLog({ sinks: [functionSink((e) => { events.push(e); })] }), auditOptions: { reads: 'sync' as const },
      snapshot: new LastKnownGoodSnapshot({ path, masterKey: () => Buffer.from(key), writeDelayMs: 0 }),
    });
    const first = new SecretManager(options());
    assert.equal((await first.get('db/password'))?.value.reveal(), 'canary-lkg-value');
    await first.dispose(); // flushes the snapshot file

    remote.failWith = new ProviderUnavailableError('remote', 'connection refused');
    const restarted = new SecretManager(options());
    const served = await restarted.get('db/password');
    assert.equal(served?.value.reveal(), 'canary-lkg-value');
    assert.equal(events.at(-1)?.action, 'snapshot_fallback');
    assert.equal(events.at(-1)?.name, 'db/password');
    const health = await restarted.health();
    assert.equal(health.snapshot?.servedFrom, true);
    assert.ok(!JSON.stringify(health).includes('canary-lkg-value'));
    await assert.rejects(restarted.get('never/read'), { code: 'PROVIDER_UNAVAILABLE' }, 'nothing in the snapshot: the outage is reported');

    remote.failWith = undefined;
    assert.equal(await restarted.get('no/such'), null, 'not-found is never answered from the snapshot');
    await restarted.dispose();
  });
});
