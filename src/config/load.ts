import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isMap, isSeq, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { compilePolicy } from '../access/index.js';
import { LockboxError } from '../errors.js';
import { loadProviderModule } from '../providers/registry.js';
import {
  closestKey, configFileSchema, defaultCacheConfig, defaultProviders, knownKeysAt,
  type ConfigFile, type LoadedConfig, type ProviderConfig,
} from './schema.js';

/** Where to look for lockbox.yaml. */
export interface LoadConfigOptions {
  /** Explicit file (`--config`); a missing file is CONFIG_NOT_FOUND. @default $LOCKBOX_CONFIG, else ./lockbox.yaml or ./lockbox.yml */
  path?: string;
  /** Directory relative paths and the default file names resolve against. @default process.cwd() */
  cwd?: string;
  /** Environment for `$LOCKBOX_CONFIG` and `${env:…}` interpolation. @default process.env */
  env?: Record<string, string | undefined>;
}

/** File names looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = ['lockbox.yaml', 'lockbox.yml'] as const;

/** Most problems listed in one CONFIG_INVALID message. */
const MAX_LISTED_PROBLEMS = 5;

type KeyPath = ReadonlyArray<string | number>;
interface ProviderSource { config: ProviderConfig; optionsPath: KeyPath; typePath: KeyPath }

/**
 * Loads the configuration: `path` (--config), else `$LOCKBOX_CONFIG`, else lockbox.yaml /
 * lockbox.yml in `cwd`; with none of them, the default (one `env` provider).
 */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const env = opts.env ?? process.env;
  const file = await findConfigFile(opts.path, cwd, env);
  if (file === undefined) {
    return { baseDir: cwd, providers: defaultProviders(), chain: ['env'], cache: defaultCacheConfig(), env: {} };
  }
  return parseConfigText(await readConfigFile(file), file, env);
}

/** Parses and validates lockbox.yaml text; `file` names it in errors and gives `baseDir`. */
export async function parseConfigText(
  text: string, file: string, env: Record<string, string | undefined> = process.env,
): Promise<LoadedConfig> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter, uniqueKeys: true });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const { line, col } = lineCounter.linePos(syntaxError.pos[0]);
    throw new LockboxError('CONFIG_PARSE', `${file}:${line}:${col}: invalid YAML: ${syntaxError.message}`, {
      hint: 'fix the YAML syntax at that position',
    });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (error) {
    throw new LockboxError('CONFIG_PARSE', `${file}: invalid YAML: ${(error as Error).message}`);
  }
  const problems = new ProblemList(file, doc, lineCounter);
  if (typeof data !== 'object' || Array.isArray(data)) {
    problems.add([], 'the top level must be a mapping (version, providers, chain, …)');
    return problems.fail();
  }
  const parsed = configFileSchema.safeParse(data);
  if (!parsed.success) {
    problems.addZodIssues(parsed.error.issues, [], configFileSchema);
    return problems.fail();
  }
  const fileConfig = parsed.data;
  const sources = providerSources(fileConfig, problems);
  checkProviderIds(fileConfig, sources, problems);
  for (const source of sources) {
    source.config.options = interpolateOptions(source.config.options, source.optionsPath, env, problems);
  }
  await validateProviderOptions(sources, problems);
  problems.throwIfAny();
  return buildLoadedConfig(resolve(file), fileConfig, sources);
}

/** The file to read, or undefined when none is named and none exists in `cwd`. */
async function findConfigFile(explicit: string | undefined, cwd: string, env: Record<string, string | undefined>): Promise<string | undefined> {
  const named = explicit ?? (env.LOCKBOX_CONFIG ? env.LOCKBOX_CONFIG : undefined);
  if (named !== undefined) {
    const path = resolve(cwd, named);
    const kind = await fileKind(path);
    if (kind === 'file') return path;
    const origin = explicit !== undefined ? '' : ' (named by $LOCKBOX_CONFIG)';
    throw new LockboxError('CONFIG_NOT_FOUND', `config file ${path}${origin} ${kind === 'directory' ? 'is a directory' : 'does not exist'}`, {
      hint: 'check the path; without --config and $LOCKBOX_CONFIG lockbox reads ./lockbox.yaml or uses environment variables',
    });
  }
  for (const name of CONFIG_FILE_NAMES) {
    const path = join(cwd, name);
    if ((await fileKind(path)) === 'file') return path;
  }
  return undefined;
}

async function fileKind(path: string): Promise<'file' | 'directory' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
}

async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new LockboxError('CONFIG_NOT_FOUND', `config file ${path} cannot be read (${code})`, { cause: error });
  }
}

/** The providers the file declares: `providers:`, seed 002's `secrets:` block, or the default. */
function providerSources(fileConfig: ConfigFile, problems: ProblemList): ProviderSource[] {
  const seedPath = fileConfig.secrets ? ['secrets'] : fileConfig.runner?.secrets ? ['runner', 'secrets'] : undefined;
  if (fileConfig.secrets && fileConfig.runner?.secrets) {
    problems.add(['runner', 'secrets'], 'set secrets: either at the top level or under runner:, not both');
  }
  if (fileConfig.providers) {
    if (seedPath) problems.add(seedPath, 'use either providers: or a secrets: block, not both');
    return fileConfig.providers.map((entry, index) => ({
      config: { id: entry.id, type: entry.type, options: entry.options ?? {} },
      optionsPath: ['providers', index, 'options'],
      typePath: ['providers', index, 'type'],
    }));
  }
  const seed = fileConfig.secrets ?? fileConfig.runner?.secrets;
  if (!seed || !seedPath) return defaultProviders().map((config) => ({ config, optionsPath: [], typePath: [] }));
  const { type, ...options } = seed;
  return [{ config: { id: type, type, options }, optionsPath: seedPath, typePath: [...seedPath, 'type'] }];
}

/** Duplicate ids, and chain / default_provider ids no provider has. */
function checkProviderIds(fileConfig: ConfigFile, sources: ProviderSource[], problems: ProblemList): void {
  const ids = sources.map((source) => source.config.id);
  ids.forEach((id, index) => {
    const first = ids.indexOf(id);
    if (first !== index) problems.add(['providers', index, 'id'], `duplicate provider id "${id}" (also providers[${first}].id)`);
  });
  const known = `configured ids: ${[...new Set(ids)].join(', ')}`;
  fileConfig.chain?.forEach((id, index, chain) => {
    if (!ids.includes(id)) problems.add(['chain', index], `unknown provider id "${id}" (${known})`);
    else if (chain.indexOf(id) !== index) problems.add(['chain', index], `provider id "${id}" is listed twice`);
  });
  const defaultProvider = fileConfig.default_provider;
  if (defaultProvider !== undefined && !ids.includes(defaultProvider)) {
    problems.add(['default_provider'], `unknown provider id "${defaultProvider}" (${known})`);
  }
}

/** Checks each provider's options against its module's `optionsSchema` (unknown type: UNKNOWN_PROVIDER_TYPE). */
async function validateProviderOptions(sources: ProviderSource[], problems: ProblemList): Promise<void> {
  for (const source of sources) {
    if (source.typePath.length === 0) continue; // the built-in default needs no check
    let schema: z.ZodTypeAny;
    try {
      schema = (await loadProviderModule(source.config.type)).optionsSchema;
    } catch (error) {
      if (!(error instanceof LockboxError) || error.code !== 'UNKNOWN_PROVIDER_TYPE') throw error;
      throw new LockboxError('UNKNOWN_PROVIDER_TYPE', `${problems.file}: ${problems.describe(source.typePath, `unknown provider type "${source.config.type}"`)}`, {
        hint: error.hint,
      });
    }
    const result = await schema.safeParseAsync(source.config.options);
    if (!result.success) problems.addZodIssues(result.error.issues, source.optionsPath, schema);
  }
}

function buildLoadedConfig(path: string, fileConfig: ConfigFile, sources: ProviderSource[]): LoadedConfig {
  const providers = sources.map((source) => source.config);
  const config: LoadedConfig = {
    path,
    baseDir: dirname(path),
    providers,
    chain: fileConfig.chain ?? providers.map((provider) => provider.id),
    cache: fileConfig.cache ? {
      ttlSeconds: fileConfig.cache.ttl,
      maxEntries: fileConfig.cache.max_entries,
      staleIfErrorSeconds: fileConfig.cache.stale_if_error,
      enabled: fileConfig.cache.enabled,
    } : defaultCacheConfig(),
    env: fileConfig.env ?? {},
  };
  if (fileConfig.default_provider !== undefined) config.defaultProvider = fileConfig.default_provider;
  if (fileConfig.tenant !== undefined) config.tenant = fileConfig.tenant;
  if (fileConfig.audit) {
    const a = fileConfig.audit;
    config.audit = { enabled: a.enabled, path: a.path, stdout: a.stdout, onFailure: a.on_failure, reads: a.reads, flushIntervalSeconds: a.flush_interval };
  }
  if (fileConfig.access !== undefined && fileConfig.access !== null) config.access = compilePolicy(fileConfig.access, path);
  if (fileConfig.watch) config.watch = fileConfig.watch;
  if (fileConfig.snapshot) config.snapshot = fileConfig.snapshot;
  return config;
}

/**
 * Replaces `${VAR}`, `${env:VAR}` and `${env:VAR:-default}` in every string of `options`
 * (recursively); `$${` becomes a literal `${`; `${secret:…}` and other `${…}` stay as written.
 */
function interpolateOptions<T>(value: T, path: KeyPath, env: Record<string, string | undefined>, problems: ProblemList): T {
  if (typeof value === 'string') return interpolateText(value, path, env, problems) as T;
  if (Array.isArray(value)) return value.map((item, index) => interpolateOptions(item, [...path, index], env, problems)) as T;
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateOptions(item, [...path, key], env, problems)])) as T;
  }
  return value;
}

const PLACEHOLDER = /\$\$\{|\$\{([^}]*)\}/g;
const ENV_PLACEHOLDER = /^(env:)?([^:]*)(?::-([\s\S]*))?$/;
const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function interpolateText(text: string, path: KeyPath, env: Record<string, string | undefined>, problems: ProblemList): string {
  return text.replace(PLACEHOLDER, (whole: string, inner: string | undefined) => {
    if (inner === undefined) return '${';
    const match = ENV_PLACEHOLDER.exec(inner);
    if (!match) return whole;
    const [, envPrefix, variable = '', fallback] = match;
    if (!ENV_VAR_NAME.test(variable)) {
      if (envPrefix) problems.add(path, '${env:…} needs a variable name made of [A-Za-z_][A-Za-z0-9_]*');
      return whole;
    }
    const value = env[variable];
    if (fallback !== undefined) return value ? value : fallback;
    if (value === undefined) {
      problems.add(path, `environment variable "${variable}" is not set (write \${env:${variable}:-default} to give a default)`);
      return whole;
    }
    return value;
  });
}

/** Problems found in one file, each at a key path; formatted with line numbers, values never shown. */
class ProblemList {
  readonly #items: Array<{ line: number; text: string }> = [];

  constructor(readonly file: string, private readonly doc: Document, private readonly lineCounter: LineCounter) {}

  add(path: KeyPath, problem: string): void {
    const line = this.#lineOf(path);
    this.#items.push({ line: line ?? 0, text: formatProblem(path, line, problem) });
  }

  addZodIssues(issues: z.ZodIssue[], prefix: KeyPath, schema: z.ZodTypeAny): void {
    for (const issue of issues) {
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeysAt(schema, issue.path);
        for (const key of issue.keys) {
          const suggestion = closestKey(key, known);
          this.add([...prefix, ...issue.path, key], `unknown key "${key}"${suggestion ? `, did you mean "${suggestion}"?` : ''}`);
        }
      } else {
        this.add([...prefix, ...issue.path], describeIssue(issue));
      }
    }
  }

  /** `providers[1].options.secrets_dir (line 7): problem`. */
  describe(path: KeyPath, problem: string): string {
    return formatProblem(path, this.#lineOf(path), problem);
  }

  throwIfAny(): void {
    if (this.#items.length > 0) this.fail();
  }

  /** Throws CONFIG_INVALID listing the first problems, in file order. */
  fail(): never {
    const count = this.#items.length;
    const listed = [...this.#items].sort((a, b) => a.line - b.line).slice(0, MAX_LISTED_PROBLEMS).map((item) => item.text);
    const more = count > listed.length ? `\n  … and ${count - listed.length} more` : '';
    const body = count === 1 ? listed[0] : `${count} problems:\n  - ${listed.join('\n  - ')}${more}`;
    throw new LockboxError('CONFIG_INVALID', `${this.file}: ${body}`, { hint: 'docs/config.md lists every key' });
  }

  #lineOf(path: KeyPath): number | undefined {
    for (let length = path.length; length > 0; length--) {
      const parent = length > 1 ? this.doc.getIn(path.slice(0, length - 1), true) : this.doc.contents;
      const last = path[length - 1];
      let range: readonly number[] | null | undefined;
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(last));
        range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      } else if (isSeq(parent) && typeof last === 'number') {
        range = (parent.items[last] as { range?: readonly number[] } | undefined)?.range;
      }
      if (range) return this.lineCounter.linePos(range[0]!).line;
    }
    return undefined;
  }
}

function formatProblem(path: KeyPath, line: number | undefined, problem: string): string {
  return `${formatKeyPath(path)}${line === undefined ? '' : ` (line ${line})`}: ${problem}`;
}

function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return '(top level)';
  return path.map((segment, index) => {
    if (typeof segment === 'number') return `[${segment}]`;
    if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) return index === 0 ? segment : `.${segment}`;
    return `[${JSON.stringify(segment)}]`;
  }).join('');
}

/** An issue's problem in words; never the offending value (enum issues carry it in zod's text). */
function describeIssue(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? 'required' : `expected ${issue.expected}, got ${issue.received}`;
    case 'invalid_enum_value':
      return `expected one of ${issue.options.map((option) => JSON.stringify(option)).join(', ')}`;
    default:
      return issue.message;
  }
}
