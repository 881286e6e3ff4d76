/**
 * What a SecretWatcher reads through, and the source built over a SecretManager's public API:
 * reads go past every cache layer, native change hints come from providers that can watch.
 */
import type { Provider, SecretRecord, SecretRef } from '../types.js';

/** What the watcher reads through (`managerWatchSource` builds one from a SecretManager). */
export interface WatchSource {
  /** Reads `ref` past every cache that could hide a change; throws like the manager's get. */
  read(ref: SecretRef): Promise<SecretRecord | null>;
  /** Native change hints for `ref`; undefined when it cannot be watched natively (it is then polled). */
  subscribe?(ref: SecretRef, onVersion: (version?: string) => void): (() => void) | undefined;
}

/**
 * A WatchSource over a SecretManager's public API: a read refreshes (or, lacking refresh,
 * drops) the ref's entries in every cache layer that may answer it, then reads through
 * `manager.get`, so access control, audit and masking apply and later gets see the new value.
 * Native notifications are used when every provider the ref may come from can watch.
 */
export function managerWatchSource(manager: WatchableManager): WatchSource {
  const providersOf = (ref: SecretRef): Provider[] => (ref.provider !== undefined ? [ref.provider] : manager.chain).map((id) => manager.provider(id));
  return {
    async read(ref) {
      const scopes = ref.scope === undefined ? [undefined] : [ref.scope, undefined];
      for (const provider of providersOf(ref)) {
        const cache = findLayer(provider, (p) => typeof p.invalidate === 'function' || typeof p.refresh === 'function');
        for (const scope of scopes) {
          const target: SecretRef = { ...ref, scope, field: undefined };
          if (cache?.refresh) await cache.refresh(target).catch(() => undefined);
          else cache?.invalidate?.(target);
        }
      }
      return manager.get(ref);
    },
    subscribe(ref, onVersion) {
      const watchers = providersOf(ref).map((p) => findLayer(p, (layer) => layer.capabilities.watch && typeof layer.watch === 'function'));
      if (watchers.length === 0 || watchers.some((w) => w === undefined)) return undefined;
      const stops = watchers.map((w) => w!.watch!(ref, onVersion));
      return () => { for (const stop of stops) stop(); };
    },
  };
}

/** The part of SecretManager that managerWatchSource uses. */
export interface WatchableManager {
  get(address: SecretRef): Promise<SecretRecord | null>;
  provider(id: string): Provider;
  readonly chain: readonly string[];
}

/** A cache or wrapper layer, as far as the watch source looks at it. */
type Layer = Provider & {
  inner?: Provider;
  invalidate?: (ref: SecretRef) => void;
  refresh?: (ref: SecretRef) => Promise<unknown>;
};

function findLayer(provider: Provider, test: (layer: Layer) => boolean): Layer | undefined {
  let layer: Layer | undefined = provider as Layer;
  for (let depth = 0; layer !== undefined && depth < 8; depth++) {
    if (test(layer)) return layer;
    layer = layer.inner as Layer | undefined;
  }
  return undefined;
}
