/**
 * The `env` provider (seed 002 §1): read-only secrets from environment variables, looked up as
 * `{PREFIX}{TENANT}_{NAME}` and then (tenant fallback) `{PREFIX}{NAME}`. Names are mapped to
 * variable names by normaliseEnvName; see docs/providers.md.
 */
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import { SecretValue } from '../secret-value.js';
import {
  READ_ONLY, type HealthStatus, type Provider, type ProviderCapabilities, type Scope, type SecretListing,
  type SecretRecord, type SecretRef, type VersionSelector,
} from '../types.js';
import type { ProviderContext } from './registry.js';

export const optionsSchema = z.object({
  /** Text every variable name starts with, used as written (e.g. `DATIVO_`). @default "" */
  prefix: z.string().default(''),
  /** With a scope, fall back to the global `{PREFIX}{NAME}` when `{PREFIX}{TENANT}_{NAME}` is unset. @default true */
  tenant_fallback: z.boolean().default(true),
}).strict();

/** Options of the environment-variable provider. */
export type EnvOptions = z.input<typeof optionsSchema>;

/** The version id of every secret in a backend that keeps one version. */
export const SINGLE_VERSION = '1';

/**
 * Maps a secret name (or tenant) to an environment variable name: upper-cased, and every run
 * of characters outside `[A-Za-z0-9_]` (that is `/`, `.` and `-`) becomes one `_`.
 * `stripe/api-key.v2` → `STRIPE_API_KEY_V2`; underscores are kept (`DB__HOST` stays).
 */
export function normaliseEnvName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]+/g, '_').toUpperCase();
}

/** True when a version selector can name the one version of a single-version backend. */
export function isSingleVersionSelector(version: VersionSelector | undefined): boolean {
  return version === undefined || version === 'current' || version === SINGLE_VERSION;
}

/** Validates a provider's options; a violation is INVALID_INPUT naming the provider and each issue. */
export function parseProviderOptions<Schema extends z.ZodTypeAny>(schema: Schema, id: string, options: unknown): z.infer<Schema> {
  const result = schema.safeParse(options);
  if (result.success) return result.data as z.infer<Schema>;
  const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`);
  throw new LockboxError('INVALID_INPUT', `invalid options for provider "${id}": ${issues.join('; ')}`, {
    provider: id, hint: 'see docs/providers.md for the options each provider type takes',
  });
}

/** A record for a single-version, read-only backend. */
export function singleVersionRecord(
  providerId: string, name: string, scope: Scope | undefined, value: string, updatedAt: Date,
): SecretRecord {
  return {
    provider: providerId,
    value: new SecretValue(value),
    metadata: {
      name, scope, version: SINGLE_VERSION, labels: ['current'], createdAt: updatedAt, updatedAt, tags: {},
    },
  };
}

/** Builds an env provider. It reads `context.env` (process.env by default) on every call, so changes are seen. */
export function create(id: string, options: EnvOptions = {}, context: ProviderContext = defaultContext()): Provider {
  return new EnvProvider(id, parseProviderOptions(optionsSchema, id, options), context.env);
}

class EnvProvider implements Provider {
  readonly type = 'env';
  readonly capabilities: ProviderCapabilities = READ_ONLY;
  /** Environment variables carry no timestamps; records report when the provider was built. */
  readonly #createdAt = new Date();

  constructor(
    readonly id: string,
    private readonly options: z.infer<typeof optionsSchema>,
    private readonly env: Record<string, string | undefined>,
  ) {}

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    assertValidName(ref.name);
    if (ref.scope !== undefined) assertValidScope(ref.scope);
    if (!isSingleVersionSelector(ref.version)) return null;
    const name = normaliseEnvName(ref.name);
    if (ref.scope !== undefined) {
      const tenantValue = this.#read(`${normaliseEnvName(ref.scope)}_${name}`);
      if (tenantValue !== undefined) return singleVersionRecord(this.id, ref.name, ref.scope, tenantValue, this.#createdAt);
      if (!this.options.tenant_fallback) return null;
    }
    const value = this.#read(name);
    return value === undefined ? null : singleVersionRecord(this.id, ref.name, undefined, value, this.#createdAt);
  }

  /**
   * Variables under the prefix (and `TENANT_` with a scope), named by the rest of the variable
   * name as written (`STRIPE_API_KEY`) — a name get() reads back. Only variables whose rest is
   * already normalised (`[A-Z0-9_]+`) are listed, since no secret name reaches the others.
   * `prefix` filters on its normalised form: `stripe/` matches `STRIPE_…`.
   */
  async list(prefix = '', scope?: Scope): Promise<SecretListing[]> {
    if (scope !== undefined) assertValidScope(scope);
    const start = this.options.prefix + (scope === undefined ? '' : `${normaliseEnvName(scope)}_`);
    const wanted = normaliseEnvName(prefix);
    const listings: SecretListing[] = [];
    for (const [variable, value] of Object.entries(this.env)) {
      if (value === undefined || !variable.startsWith(start)) continue;
      const name = variable.slice(start.length);
      if (!/^[A-Z0-9_]+$/.test(name) || !name.startsWith(wanted)) continue;
      listings.push({ name, scope, version: SINGLE_VERSION, updatedAt: this.#createdAt, tags: {} });
    }
    return listings.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async health(): Promise<HealthStatus> {
    return { provider: this.id, status: 'ready', latencyMs: 0 };
  }

  #read(suffix: string): string | undefined {
    const variable = this.options.prefix + suffix;
    return Object.prototype.hasOwnProperty.call(this.env, variable) ? this.env[variable] : undefined;
  }
}

function defaultContext(): ProviderContext {
  return { baseDir: process.cwd(), env: process.env };
}
