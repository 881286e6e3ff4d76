import { create as createMemory } from '../../src/providers/memory.js';
import type { Provider, SecretRecord, SecretRef } from '../../src/types.js';

/** A memory provider whose reads can be made to fail, counting the calls that reach it. */
export interface FlakyProvider extends Provider {
  calls: number;
  failWith?: unknown;
  delayMs?: number;
}

export function flaky(id: string, secrets: Record<string, string> = {}, readOnly = false): FlakyProvider {
  const inner = createMemory(id, { secrets });
  const provider: FlakyProvider = {
    id,
    type: 'flaky',
    capabilities: readOnly ? { ...inner.capabilities, write: false, delete: false, versions: false } : inner.capabilities,
    calls: 0,
    async get(ref: SecretRef): Promise<SecretRecord | null> {
      provider.calls++;
      if (provider.delayMs) await new Promise((resolve) => setTimeout(resolve, provider.delayMs));
      if (provider.failWith) throw provider.failWith;
      return inner.get(ref);
    },
    list: inner.list!.bind(inner),
    health: inner.health.bind(inner),
  };
  if (!readOnly) {
    provider.set = inner.set!.bind(inner);
    provider.delete = inner.delete!.bind(inner);
    provider.undelete = inner.undelete!.bind(inner);
    provider.versions = inner.versions!.bind(inner);
  }
  return provider;
}

/** A clock tests move by hand. */
export function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => { time += ms; } };
}
