/**
 * The `dotenv` provider: read-only secrets from one or more `.env` files (syntax in
 * dotenv-parse.ts). Later files win. A name is looked up as the exact key first, then as
 * normaliseEnvName(name) (`db/password` → `DB_PASSWORD`); see docs/providers.md.
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import {
  READ_ONLY, type HealthStatus, type Provider, type ProviderCapabilities, type Scope, type SecretListing,
  type SecretRecord, type SecretRef,
} from '../types.js';
import { parseDotenv } from './dotenv-parse.js';
import { isSingleVersionSelector, parseProviderOptions, normaliseEnvName, SINGLE_VERSION, singleVersionRecord } from './env.js';
import type { ProviderContext } from './registry.js';

export const optionsSchema = z.object({
  /**
   * The `.env` file, or files, to read; relative paths resolve against the config file's
   * directory. When several define a key, the later file wins. Required.
   */
  files: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** With a scope, fall back to the global key when `{TENANT}_{KEY}` is not defined. @default true */
  tenant_fallback: z.boolean().default(true),
}).strict();

/** Options of the dotenv provider. */
export type DotenvOptions = z.input<typeof optionsSchema>;

/** Builds a dotenv provider; files are parsed again only when their mtime, size or inode change. */
export function create(id: string, options: DotenvOptions, context: ProviderContext = defaultContext()): Provider {
  const parsed = parseProviderOptions(optionsSchema, id, options);
  const files = (typeof parsed.files === 'string' ? [parsed.files] : parsed.files).map((file) => resolve(context.baseDir, file));
  return new DotenvProvider(id, files, parsed.tenant_fallback);
}

interface Entry { value: string; updatedAt: Date }
interface ParsedFile { fingerprint: string; updatedAt: Date; values: Record<string, string> }

class DotenvProvider implements Provider {
  readonly type = 'dotenv';
  readonly capabilities: ProviderCapabilities = READ_ONLY;
  readonly #parsed = new Map<string, ParsedFile>();

  constructor(readonly id: string, private readonly files: string[], private readonly tenantFallback: boolean) {}

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    assertValidName(ref.name);
    if (ref.scope !== undefined) assertValidScope(ref.scope);
    if (!isSingleVersionSelector(ref.version)) return null;
    const entries = await this.#load();
    const keys = keysFor(ref.name);
    if (ref.scope !== undefined) {
      const tenant = normaliseEnvName(ref.scope);
      const entry = firstDefined(entries, keys.map((key) => `${tenant}_${key}`));
      if (entry) return singleVersionRecord(this.id, ref.name, ref.scope, entry.value, entry.updatedAt);
      if (!this.tenantFallback) return null;
    }
    const entry = firstDefined(entries, keys);
    return entry ? singleVersionRecord(this.id, ref.name, undefined, entry.value, entry.updatedAt) : null;
  }

  /**
   * The keys, as written (with a scope: the keys starting with `{TENANT}_`, without that
   * part). `prefix` matches keys starting with it as written or normalised (`db/` → `DB_…`).
   */
  async list(prefix = '', scope?: Scope): Promise<SecretListing[]> {
    if (scope !== undefined) assertValidScope(scope);
    const start = scope === undefined ? '' : `${normaliseEnvName(scope)}_`;
    const wanted = normaliseEnvName(prefix);
    const listings: SecretListing[] = [];
    for (const [key, entry] of await this.#load()) {
      if (!key.startsWith(start)) continue;
      const name = key.slice(start.length);
      if (name === '' || !(name.startsWith(prefix) || name.startsWith(wanted))) continue;
      listings.push({ name, scope, version: SINGLE_VERSION, updatedAt: entry.updatedAt, tags: {} });
    }
    return listings.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    for (const file of this.files) {
      try {
        await access(file, constants.R_OK);
        if (!(await stat(file)).isFile()) return this.#down(started, `dotenv file ${file} is not a file`);
      } catch (error) {
        const code = errnoOf(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') return this.#down(started, `dotenv file not found: ${file}`);
        if (code === 'EACCES' || code === 'EPERM') return this.#down(started, `dotenv file ${file} cannot be read: permission denied`);
        return this.#down(started, `dotenv file ${file} cannot be read (${code ?? 'unknown error'})`);
      }
    }
    return { provider: this.id, status: 'ready', latencyMs: performance.now() - started };
  }

  #down(started: number, message: string): HealthStatus {
    return { provider: this.id, status: 'down', latencyMs: performance.now() - started, message };
  }

  /** Every key of every file, later files winning. */
  async #load(): Promise<Map<string, Entry>> {
    const entries = new Map<string, Entry>();
    for (const file of this.files) {
      const parsed = await this.#parse(file);
      for (const [key, value] of Object.entries(parsed.values)) entries.set(key, { value, updatedAt: parsed.updatedAt });
    }
    return entries;
  }

  async #parse(file: string): Promise<ParsedFile> {
    try {
      const stats = await stat(file);
      const fingerprint = `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
      const cached = this.#parsed.get(file);
      if (cached?.fingerprint === fingerprint) return cached;
      const parsed = { fingerprint, updatedAt: stats.mtime, values: parseDotenv(await readFile(file, 'utf8')) };
      this.#parsed.set(file, parsed);
      return parsed;
    } catch (error) {
      throw this.#fileError(error, file);
    }
  }

  #fileError(error: unknown, file: string): LockboxError {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new LockboxError('CONFIG_NOT_FOUND', `dotenv file not found: ${file}`, {
        provider: this.id, cause: error, hint: `create the file, or remove it from the files option of provider "${this.id}"`,
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new LockboxError('STORE_ERROR', `cannot read ${file}: permission denied`, {
        provider: this.id, cause: error, hint: `check the file permissions (ls -l ${file})`,
      });
    }
    return new LockboxError('STORE_ERROR', `cannot read dotenv file ${file}: ${code ?? 'unknown error'}`, { provider: this.id, cause: error });
  }
}

/** The keys a name is looked up as: exactly as written, then normalised. */
function keysFor(name: string): string[] {
  const normalised = normaliseEnvName(name);
  return normalised === name ? [name] : [name, normalised];
}

function firstDefined(entries: Map<string, Entry>, keys: string[]): Entry | undefined {
  for (const key of keys) {
    const entry = entries.get(key);
    if (entry) return entry;
  }
  return undefined;
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function defaultContext(): ProviderContext {
  return { baseDir: process.cwd(), env: process.env };
}
