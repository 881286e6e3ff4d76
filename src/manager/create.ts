import type { LoadedConfig } from '../config/index.js';
import { loadProviderModule } from '../providers/registry.js';
import type { Provider } from '../types.js';
import { SecretManager, type ValueRegistry } from './secret-manager.js';

export interface CreateManagerOptions {
  /** Registry that values read are registered with (masking). @default none */
  redactor?: ValueRegistry;
  /** Tenant for calls that name none. @default config.tenant */
  scope?: string;
  /** Environment the providers read. @default process.env */
  env?: Record<string, string | undefined>;
}

/** Builds the providers a loaded lockbox.yaml names and the manager around them. */
export async function createManagerFromConfig(config: LoadedConfig, options: CreateManagerOptions = {}): Promise<SecretManager> {
  const context = { baseDir: config.baseDir, env: options.env ?? process.env };
  const providers: Provider[] = [];
  for (const entry of config.providers) {
    const module = await loadProviderModule(entry.type);
    const parsed = module.optionsSchema.parse(entry.options ?? {});
    providers.push((module.create as (id: string, o: unknown, c: typeof context) => Provider)(entry.id, parsed, context));
  }
  const cache = config.cache.enabled === false ? false : {
    ttlMs: config.cache.ttlSeconds * 1000,
    maxEntries: config.cache.maxEntries,
    staleIfErrorMs: config.cache.staleIfErrorSeconds * 1000,
  };
  return new SecretManager({
    providers,
    chain: config.chain,
    defaultProvider: config.defaultProvider,
    cache,
    scope: options.scope ?? config.tenant,
    redactor: options.redactor,
  });
}
