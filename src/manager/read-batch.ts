/**
 * Batched reads for `SecretManager.getMany`: when every address asks exactly one provider (named
 * by the address, or the only one in the chain) in one scope, the reads that pass the guard are
 * collected and sent to that provider as ONE `getMany` (the local store: one read transaction)
 * instead of one round trip each. Everything around the provider call — access checks, audit,
 * tenant rules, `#field`, redaction, snapshot — stays per address, as for `get`.
 */
import type { Provider, SecretRecord, SecretRef } from '../types.js';

/** How the manager's read chain asks a provider for one ref. */
export type ProviderRead = (provider: Provider, ref: SecretRef) => Promise<SecretRecord | null>;

/**
 * The provider every ref would ask, when each asks exactly one (a named provider, or a one-provider
 * chain with no tenant fallback pass) and it has `getMany`; undefined otherwise.
 */
export function singleReadTarget(refs: readonly SecretRef[], o: { chain: readonly Provider[]; tenantFallback: boolean; provider: (id: string) => Provider }): Provider | undefined {
  let target: Provider | undefined;
  for (const ref of refs) {
    let provider: Provider | undefined;
    if (ref.provider !== undefined) provider = o.provider(ref.provider);
    else if (o.chain.length === 1 && (ref.scope === undefined || !o.tenantFallback)) provider = o.chain[0];
    if (provider === undefined || (target !== undefined && provider !== target)) return undefined;
    target = provider;
  }
  return target?.getMany ? target : undefined;
}

/** Collects the reads of one getMany call, then sends them to the provider at once (`flush`). */
export class ReadBatch {
  readonly #provider: Provider;
  readonly #refs: SecretRef[] = [];
  readonly #waiters: Array<{ resolve: (record: SecretRecord | null) => void; reject: (error: unknown) => void }> = [];
  #flushed = false;

  constructor(provider: Provider) {
    this.#provider = provider;
  }

  /** The read chain's provider call: queued until flush (any other provider, or after flush: asked at once). */
  readonly read: ProviderRead = (provider, ref) => {
    if (provider !== this.#provider || this.#flushed) return provider.get(ref);
    return new Promise((resolve, reject) => {
      this.#refs.push(ref);
      this.#waiters.push({ resolve, reject });
    });
  };

  /** Sends every queued read: one `getMany` (one `get` when only one was queued). */
  flush(): void {
    this.#flushed = true;
    const refs = this.#refs;
    const waiters = this.#waiters;
    if (refs.length === 0) return;
    let answer: Promise<(SecretRecord | null)[]>;
    try {
      answer = refs.length === 1 ? this.#provider.get(refs[0]!).then((record) => [record]) : this.#provider.getMany!(refs);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (records) => waiters.forEach((waiter, i) => waiter.resolve(records[i] ?? null)),
      (error: unknown) => { for (const waiter of waiters) waiter.reject(error); },
    );
  }
}
