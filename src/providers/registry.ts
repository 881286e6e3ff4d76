import type { z } from 'zod';
import { LockboxError } from '../errors.js';
import type { Provider } from '../types.js';

/** What a provider factory gets besides its own options. */
export interface ProviderContext {
  /** Directory relative paths in options are resolved against (the config file's). */
  baseDir: string;
  /** Environment to read (process.env unless a test injects one). */
  env: Record<string, string | undefined>;
}

/** What every provider module exports. */
export interface ProviderModule {
  /** zod schema of the provider's options (strict: unknown keys are errors). */
  optionsSchema: z.ZodTypeAny;
  /** Builds the provider from validated options. */
  create(id: string, options: never, context: ProviderContext): Provider;
}

/**
 * Provider types by name. Modules load lazily so that the CLI only pays for the backends a
 * configuration uses (the SQLite addon is not loaded for an env-only setup).
 */
const PROVIDER_MODULES: Record<string, () => Promise<ProviderModule>> = {
  env: () => import('./env.js') as Promise<ProviderModule>,
  file: () => import('./file.js') as Promise<ProviderModule>,
  filesystem: () => import('./file.js') as Promise<ProviderModule>,
  dotenv: () => import('./dotenv.js') as Promise<ProviderModule>,
  local: () => import('./local.js') as Promise<ProviderModule>,
  memory: () => import('./memory.js') as Promise<ProviderModule>,
  vault: () => import('./vault.js') as Promise<ProviderModule>,
  aws: () => import('./aws.js') as Promise<ProviderModule>,
  gcp: () => import('./gcp.js') as Promise<ProviderModule>,
  azure: () => import('./azure.js') as Promise<ProviderModule>,
  kubernetes: () => import('./kubernetes.js') as Promise<ProviderModule>,
};

/** Names of every known provider type. */
export const PROVIDER_TYPES = Object.keys(PROVIDER_MODULES);

/** Loads a provider module by type; UNKNOWN_PROVIDER_TYPE names the known ones. */
export async function loadProviderModule(type: string): Promise<ProviderModule> {
  const load = Object.prototype.hasOwnProperty.call(PROVIDER_MODULES, type) ? PROVIDER_MODULES[type] : undefined;
  if (!load) {
    throw new LockboxError('UNKNOWN_PROVIDER_TYPE', `unknown provider type "${type}"`, {
      hint: `use one of: ${PROVIDER_TYPES.join(', ')}`,
    });
  }
  return load();
}
