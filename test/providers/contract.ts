/**
 * The contract every provider passes. Call `providerContract(label, setup)` from a provider's
 * test file; `setup(seed)` returns a fresh provider whose backend already holds `seed`
 * (global scope, name → value) — seeded through the backend itself for read-only providers,
 * or through `set` for writable ones — plus an optional cleanup.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it, after } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider } from '../../src/types.js';

export interface ContractFixture {
  provider: Provider;
  cleanup?: () => Promise<void>;
}

export const CONTRACT_SEED: Record<string, string> = {
  'db/password': 'canary-db-password-7f3a',
  'db/user': 'app',
  'stripe/api-key': 'sk_test_canary_91b2',
  'json-doc': '{"user":"u1","pass":"canary-json-pass"}',
};

export function providerContract(label: string, setup: (seed: Record<string, string>) => Promise<ContractFixture>): void {
  describe(`provider contract: ${label}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => { for (const c of cleanups) await c(); });
    async function fresh(): Promise<Provider> {
      const fixture = await setup(CONTRACT_SEED);
      if (fixture.cleanup) cleanups.push(fixture.cleanup);
      cleanups.push(async () => { await fixture.provider.dispose?.(); });
      return fixture.provider;
    }

    it('reads every seeded secret as a SecretValue that prints [REDACTED]', async () => {
      const provider = await fresh();
      for (const [name, value] of Object.entries(CONTRACT_SEED)) {
        const record = await provider.get({ name });
        assert.ok(record, `expected ${name} to be found`);
        assert.ok(record.value instanceof SecretValue);
        assert.equal(record.value.reveal(), value);
        assert.equal(record.provider, provider.id);
        assert.equal(String(record.value), '[REDACTED]');
        assert.ok(!JSON.stringify(record).includes(value), 'JSON of a record must not hold the value');
        assert.ok(!inspect(record, { depth: 5 }).includes(value), 'inspect of a record must not hold the value');
      }
    });

    it('returns null (does not throw) for a missing secret', async () => {
      const provider = await fresh();
      assert.equal(await provider.get({ name: 'no/such/secret' }), null);
    });

    it('rejects invalid names with INVALID_NAME instead of reaching outside the store', async () => {
      const provider = await fresh();
      for (const name of ['../x', '/abs', 'a//b', 'a/./b', 'x'.repeat(513)]) {
        await assert.rejects(provider.get({ name }), (error: unknown) => {
          assert.ok(error instanceof LockboxError, `expected LockboxError for ${name}`);
          assert.equal(error.code, 'INVALID_NAME');
          return true;
        });
      }
    });

    it('lists seeded names under a prefix', async () => {
      const provider = await fresh();
      if (!provider.capabilities.list || !provider.list) return;
      const names = (await provider.list('db/')).map((l) => l.name).sort();
      assert.deepEqual(names, ['db/password', 'db/user']);
      const all = (await provider.list()).map((l) => l.name);
      for (const name of Object.keys(CONTRACT_SEED)) assert.ok(all.includes(name), `list() misses ${name}`);
    });

    it('reports health with a status and a latency', async () => {
      const provider = await fresh();
      const health = await provider.health();
      assert.equal(health.provider, provider.id);
      assert.equal(health.status, 'ready');
      assert.equal(typeof health.latencyMs, 'number');
    });

    it('declares capabilities that match its methods', async () => {
      const provider = await fresh();
      assert.equal(provider.capabilities.write, typeof provider.set === 'function');
      assert.equal(provider.capabilities.delete, typeof provider.delete === 'function');
      assert.equal(provider.capabilities.versions, typeof provider.versions === 'function');
    });

    it('writes create versions, labels move, deletes hide the secret (writable providers)', async () => {
      const provider = await fresh();
      if (!provider.capabilities.write || !provider.set) return;
      const first = await provider.set({ name: 'contract/new' }, new SecretValue('v-one'));
      const second = await provider.set({ name: 'contract/new' }, new SecretValue('v-two'));
      assert.notEqual(first.version, second.version);
      assert.deepEqual(second.labels, ['current']);
      assert.equal((await provider.get({ name: 'contract/new' }))?.value.reveal(), 'v-two');
      assert.equal((await provider.get({ name: 'contract/new', version: 'previous' }))?.value.reveal(), 'v-one');
      assert.equal((await provider.get({ name: 'contract/new', version: first.version }))?.value.reveal(), 'v-one');
      if (provider.versions) {
        const versions = await provider.versions({ name: 'contract/new' });
        assert.deepEqual(versions.map((v) => v.version), [first.version, second.version]);
        assert.deepEqual(versions[1]?.labels, ['current']);
        assert.deepEqual(versions[0]?.labels, ['previous']);
      }
      const scoped = await provider.set({ name: 'contract/new', scope: 'acme' }, new SecretValue('v-acme'));
      assert.equal(scoped.scope, 'acme');
      assert.equal((await provider.get({ name: 'contract/new', scope: 'acme' }))?.value.reveal(), 'v-acme');
      assert.equal((await provider.get({ name: 'contract/new' }))?.value.reveal(), 'v-two', 'scopes are separate');
      if (provider.delete) {
        await provider.delete({ name: 'contract/new' });
        assert.equal(await provider.get({ name: 'contract/new' }), null);
        if (provider.undelete) {
          await provider.undelete({ name: 'contract/new' });
          assert.equal((await provider.get({ name: 'contract/new' }))?.value.reveal(), 'v-two');
        }
      }
    });

    it('honours expiresAt on read (writable providers)', async () => {
      const provider = await fresh();
      if (!provider.capabilities.write || !provider.set) return;
      await provider.set({ name: 'contract/ephemeral' }, new SecretValue('gone-soon'), { expiresAt: new Date(Date.now() - 1000) });
      assert.equal(await provider.get({ name: 'contract/ephemeral' }), null);
    });
  });
}
