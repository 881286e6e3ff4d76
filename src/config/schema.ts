import { z } from 'zod';
import type { CompiledPolicy } from '../access/index.js';
import { snapshotConfigSchema, type SnapshotConfig } from '../manager/snapshot.js';
import { watchConfigSchema, type WatchConfig } from '../manager/watch.js';
import { LockboxError } from '../errors.js';

/**
 * The lockbox.yaml schema (zod, strict: an unknown key is an error) and the shapes the loader
 * returns. Two file shapes are accepted: lockbox's own (`providers:` list + `chain:`) and the
 * runner.yaml shape of seed 002 (`secrets: { type, …options }`, top level or under `runner:`).
 */

/** Cache TTL when lockbox.yaml sets none, in seconds (5 minutes). */
export const DEFAULT_CACHE_TTL_SECONDS = 300;
/** Cache size bound when lockbox.yaml sets none. */
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
/** How long a stale value may answer a transient failure when lockbox.yaml sets nothing, in seconds (1 hour). */
export const DEFAULT_STALE_IF_ERROR_SECONDS = 3_600;

/** One configured backend. `options` are the provider module's own (validated by its `optionsSchema`). */
export interface ProviderConfig {
  id: string;
  type: string;
  /** Options as written, after `${env:…}` interpolation; the provider's schema applies its defaults. */
  options: Record<string, unknown>;
}

/** The `cache:` section with durations in seconds. */
export interface CacheConfig {
  /** @default 300 */
  ttlSeconds: number;
  /** @default 10000 */
  maxEntries: number;
  /** @default 3600 */
  staleIfErrorSeconds: number;
  /** @default true */
  enabled: boolean;
}

/** A validated configuration, ready for `createManagerFromConfig`. */
export interface LoadedConfig {
  /** Absolute path of the file read; absent for the built-in default. */
  path?: string;
  /** Directory relative paths in provider options resolve against (the file's, or the cwd). */
  baseDir: string;
  providers: ProviderConfig[];
  /** Provider ids tried in order when a reference names none. */
  chain: string[];
  /** Where writes go when no provider is named; absent = the manager picks the first writable in the chain. */
  defaultProvider?: string;
  cache: CacheConfig;
  /** `lockbox run` mapping: variable name → template (may hold `${secret:…}`; resolved later). */
  env: Record<string, string>;
  /** Default tenant (scope). */
  tenant?: string;
  /** The `audit:` section; absent = no audit log. */
  audit?: AuditConfig;
  /** The compiled `access:` policy; absent = everything allowed. */
  access?: CompiledPolicy;
  /** The `watch:` section (poll interval in ms, jitter); absent = defaults (30 s ± 10 %). */
  watch?: WatchConfig;
  /** The `snapshot:` section (last-known-good snapshot; max_age in ms); absent = no snapshot. */
  snapshot?: SnapshotConfig;
}

/** The `audit:` section (see docs/audit.md), paths relative to the config file. */
export interface AuditConfig {
  /** @default true */
  enabled: boolean;
  /** The hash-chained JSONL file. @default ".lockbox/audit.jsonl" */
  path: string;
  /** Also write each event as a JSON line to stdout (stderr for the CLI), for a SIEM. @default false */
  stdout: boolean;
  /** `fail`: an operation whose event cannot be written fails; `warn`: reads go on with a warning. @default "fail" */
  onFailure: 'fail' | 'warn';
  /** `batched`: identical reads are coalesced and written every flush interval; `sync`: each read awaits its event. @default "batched" */
  reads: 'batched' | 'sync';
  /** How often batched reads are written, in seconds. @default 1 */
  flushIntervalSeconds: number;
}

/** The provider used when no file (or no `providers:`/`secrets:` section) exists: seed 002's default. */
export function defaultProviders(): ProviderConfig[] {
  return [{ id: 'env', type: 'env', options: {} }];
}

/** The cache section when the file has none. */
export function defaultCacheConfig(): CacheConfig {
  return {
    ttlSeconds: DEFAULT_CACHE_TTL_SECONDS,
    maxEntries: DEFAULT_CACHE_MAX_ENTRIES,
    staleIfErrorSeconds: DEFAULT_STALE_IF_ERROR_SECONDS,
    enabled: true,
  };
}

const DURATION_HELP = 'expected a number of seconds or a number with a unit ms, s, m, h, d or w (e.g. "30s", "5m", "1h", "2d")';

/**
 * Reads a duration: a number of seconds (`300`), or text `"300"`, `"30s"`, `"5m"`, `"1h"`,
 * `"2d"` (also `ms` and `w`). Returns seconds; throws CONFIG_INVALID naming `keyPath` (never the text).
 */
export function parseDuration(text: string | number, keyPath: string): number {
  const seconds = durationSeconds(text);
  if (seconds === undefined) throw new LockboxError('CONFIG_INVALID', `${keyPath}: invalid duration: ${DURATION_HELP}`);
  return seconds;
}

const PROVIDER_ID = /^[A-Za-z0-9_-]+$/;
const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SCOPE_SEGMENT = /^[A-Za-z0-9._-]+$/;

const providerIdSchema = z.string().regex(PROVIDER_ID, 'a provider id is letters, digits, "_" and "-"');

const durationSchema = z.unknown().transform((value, ctx) => {
  const seconds = durationSeconds(value);
  if (seconds === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid duration: ${DURATION_HELP}` });
    return z.NEVER;
  }
  return seconds;
});

const providerEntrySchema = z.object({
  id: providerIdSchema,
  type: z.string().min(1, 'the provider type is empty'),
  options: z.record(z.unknown()).nullish(),
}).strict();

const cacheSchema = z.object({
  ttl: durationSchema.default(DEFAULT_CACHE_TTL_SECONDS),
  max_entries: z.number().int().positive().default(DEFAULT_CACHE_MAX_ENTRIES),
  stale_if_error: durationSchema.default(DEFAULT_STALE_IF_ERROR_SECONDS),
  enabled: z.boolean().default(true),
}).strict();

const auditSchema = z.object({
  enabled: z.boolean().default(true),
  path: z.string().min(1).default('.lockbox/audit.jsonl'),
  stdout: z.boolean().default(false),
  on_failure: z.enum(['fail', 'warn']).default('fail'),
  reads: z.enum(['batched', 'sync']).default('batched'),
  flush_interval: durationSchema.default(1),
}).strict();

/** Seed 002's `secrets:` block: a type plus that type's options, side by side. */
const runnerSecretsSchema = z.object({ type: z.string().min(1, 'the provider type is empty') }).passthrough();

const envTemplateSchema = z.union([z.string(), z.number(), z.boolean()], {
  errorMap: () => ({ message: 'expected a string (a template that may hold ${secret:…})' }),
}).transform(String);

/** The whole file. */
export const configFileSchema = z.object({
  version: z.literal(1, { errorMap: () => ({ message: 'unsupported version: only 1 is known' }) }).default(1),
  providers: z.array(providerEntrySchema).min(1, 'list at least one provider, or leave providers out').optional(),
  chain: z.array(providerIdSchema).min(1, 'the chain is empty: leave it out to use every provider').optional(),
  default_provider: providerIdSchema.optional(),
  cache: cacheSchema.nullish(),
  env: z.record(z.string().regex(ENV_VAR_NAME, 'an environment variable name is [A-Za-z_][A-Za-z0-9_]*'), envTemplateSchema).nullish(),
  tenant: z.string().regex(SCOPE_SEGMENT, 'a tenant is one name segment: letters, digits, ".", "_" and "-"')
    .refine((t) => t !== '.' && t !== '..', 'a tenant cannot be "." or ".."').optional(),
  secrets: runnerSecretsSchema.optional(),
  runner: z.object({ secrets: runnerSecretsSchema.optional() }).passthrough().nullish(),
  audit: auditSchema.nullish(),
  watch: watchConfigSchema.nullish(),
  snapshot: snapshotConfigSchema.nullish(),
  /** Checked by compilePolicy (POLICY_INVALID naming the key path), not here. */
  access: z.unknown().optional(),
}).strict();

/** The parsed file, before cross-checks and provider option validation. */
export type ConfigFile = z.infer<typeof configFileSchema>;

/**
 * Keys an object schema at `path` inside `schema` accepts (for "did you mean"). Looks through
 * optional/nullable/default/effects wrappers, arrays and records; [] when there is no object there.
 */
export function knownKeysAt(schema: z.ZodTypeAny, path: ReadonlyArray<string | number>): string[] {
  let node: z.ZodTypeAny | undefined = unwrap(schema);
  for (const segment of path) {
    if (!node) return [];
    const def = node._def as { typeName?: string };
    if (def.typeName === 'ZodObject') node = unwrap((node as z.AnyZodObject).shape[String(segment)]);
    else if (def.typeName === 'ZodArray') node = unwrap((node as z.ZodArray<z.ZodTypeAny>).element);
    else if (def.typeName === 'ZodRecord') node = unwrap((node as z.ZodRecord).valueSchema);
    else return [];
  }
  return node && (node._def as { typeName?: string }).typeName === 'ZodObject' ? Object.keys((node as z.AnyZodObject).shape) : [];
}

/** The known key closest to a misspelt `key` (case, a typo or two, swapped letters), if any is close. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (distance < bestDistance) { best = candidate; bestDistance = distance; }
  }
  return best;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

function unwrap(schema: z.ZodTypeAny | undefined): z.ZodTypeAny | undefined {
  let node = schema;
  for (let depth = 0; node && depth < 20; depth++) {
    const def = node._def as { typeName?: string; innerType?: z.ZodTypeAny; schema?: z.ZodTypeAny; in?: z.ZodTypeAny; getter?: () => z.ZodTypeAny };
    if (def.innerType) node = def.innerType;
    else if (def.typeName === 'ZodEffects' && def.schema) node = def.schema;
    else if (def.typeName === 'ZodPipeline' && def.in) node = def.in;
    else if (def.typeName === 'ZodLazy' && def.getter) node = def.getter();
    else if (def.typeName === 'ZodBranded' && 'type' in def) node = (def as unknown as { type: z.ZodTypeAny }).type;
    else return node;
  }
  return node;
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1);
}
