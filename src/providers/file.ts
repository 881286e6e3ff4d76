/**
 * The `file` provider (type names `file` and `filesystem`, seed 002 §2): read-only secrets kept
 * as files under `secrets_dir` — global ones at the top, tenant ones in `secrets_dir/{tenant}/`.
 * Kubernetes mounted secrets (`key -> ..data/key`, `..data -> ..2024_…`) work as they are.
 * Nothing is ever read from outside `secrets_dir`, whatever the symlinks say.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { assertValidName, assertValidScope, isValidName } from '../names.js';
import {
  READ_ONLY, type HealthStatus, type Provider, type ProviderCapabilities, type Scope, type SecretListing,
  type SecretRecord, type SecretRef,
} from '../types.js';
import { parseDotenv } from './dotenv-parse.js';
import { isSingleVersionSelector, parseProviderOptions, SINGLE_VERSION, singleVersionRecord } from './env.js';
import type { ProviderContext } from './registry.js';

export const optionsSchema = z.object({
  /** Directory holding the secret files; relative paths resolve against the config file's directory. @default "/secrets" */
  secrets_dir: z.string().min(1).default('/secrets'),
  /** With a scope, fall back to the global file when `secrets_dir/{tenant}/…` has none. @default true */
  tenant_fallback: z.boolean().default(true),
}).strict();

/** Options of the file (filesystem) provider. */
export type FileOptions = z.input<typeof optionsSchema>;

/** Extensions tried, in this order, when no file has the exact name asked for. */
export const FILE_EXTENSIONS = ['.json', '.env', '.txt', '.key'] as const;

/** Builds a file provider reading `secrets_dir` (resolved against `context.baseDir`). */
export function create(id: string, options: FileOptions = {}, context: ProviderContext = defaultContext()): Provider {
  const parsed = parseProviderOptions(optionsSchema, id, options);
  return new FileProvider(id, resolve(context.baseDir, parsed.secrets_dir), parsed.tenant_fallback);
}

interface FoundFile { path: string; realPath: string; stats: Stats }
const OUTSIDE = Symbol('outside secrets_dir');

class FileProvider implements Provider {
  readonly type = 'file';
  readonly capabilities: ProviderCapabilities = READ_ONLY;

  constructor(readonly id: string, private readonly root: string, private readonly tenantFallback: boolean) {}

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    assertValidName(ref.name);
    if (ref.scope !== undefined) assertValidScope(ref.scope);
    if (!isSingleVersionSelector(ref.version)) return null;
    const realRoot = await this.#realRoot();
    if (realRoot === null) return null;
    let scope = ref.scope;
    let found = scope === undefined ? null : await this.#find(realRoot, `${scope}/${ref.name}`, ref.name);
    if (!found && (scope === undefined || this.tenantFallback)) {
      scope = undefined;
      found = await this.#find(realRoot, ref.name, ref.name);
    }
    if (!found) return null;
    const text = await readText(found.realPath, found.path, this.id);
    return singleVersionRecord(this.id, ref.name, scope, decode(found.path, text), found.stats.mtime);
  }

  /**
   * Every file under `secrets_dir` (with a scope: under the tenant's directory), named by its
   * path without a known extension. Unscoped listings include tenant files as `tenant/name`.
   * Dotfiles, `..data`-style entries and symlinks leading outside `secrets_dir` are skipped.
   */
  async list(prefix = '', scope?: Scope): Promise<SecretListing[]> {
    if (scope !== undefined) assertValidScope(scope);
    const realRoot = await this.#realRoot();
    if (realRoot === null) return [];
    const listings = new Map<string, SecretListing>();
    const start = scope === undefined ? this.root : join(this.root, scope);
    await this.#walk(realRoot, start, '', new Set([realRoot]), (name, stats, exact) => {
      if (!name.startsWith(prefix) || (listings.has(name) && !exact)) return;
      listings.set(name, { name, scope, version: SINGLE_VERSION, updatedAt: stats.mtime, tags: {} });
    });
    return [...listings.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    const down = (message: string): HealthStatus => ({
      provider: this.id, status: 'down', latencyMs: performance.now() - started, message,
    });
    try {
      const stats = await stat(this.root);
      if (!stats.isDirectory()) return down(`secrets_dir ${this.root} is not a directory`);
      await access(this.root, constants.R_OK | constants.X_OK);
      await readdir(this.root);
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return down(`secrets_dir ${this.root} does not exist`);
      if (code === 'EACCES' || code === 'EPERM') return down(`secrets_dir ${this.root} cannot be read: permission denied`);
      return down(`secrets_dir ${this.root} cannot be read (${code ?? 'unknown error'})`);
    }
    return { provider: this.id, status: 'ready', latencyMs: performance.now() - started };
  }

  async #realRoot(): Promise<string | null> {
    try {
      return await realpath(this.root);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw fsError(error, this.root, this.id);
    }
  }

  /** The file a name maps to: the exact path, then each of FILE_EXTENSIONS. */
  async #find(realRoot: string, relativeName: string, label: string): Promise<FoundFile | null> {
    const base = join(this.root, ...relativeName.split('/'));
    for (const path of [base, ...FILE_EXTENSIONS.map((extension) => base + extension)]) {
      const realPath = await this.#resolveInside(realRoot, path);
      if (realPath === null) continue;
      if (realPath === OUTSIDE) {
        throw new LockboxError('INVALID_INPUT', `refusing to read secret ${JSON.stringify(label)}: ${path} leads outside secrets_dir ${this.root}`, {
          provider: this.id,
          hint: 'a symlink under secrets_dir points outside it; replace it with the file itself',
        });
      }
      const stats = await this.#stat(realPath, path);
      if (stats?.isFile()) return { path, realPath, stats };
    }
    return null;
  }

  /** The real path of `path`: null when it does not exist, OUTSIDE when it leaves secrets_dir. */
  async #resolveInside(realRoot: string, path: string): Promise<string | typeof OUTSIDE | null> {
    try {
      const realPath = await realpath(path);
      return isInside(realRoot, realPath) ? realPath : OUTSIDE;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw fsError(error, path, this.id);
    }
  }

  async #stat(realPath: string, shownPath: string): Promise<Stats | null> {
    try {
      return await stat(realPath);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw fsError(error, shownPath, this.id);
    }
  }

  async #walk(
    realRoot: string, dir: string, namePrefix: string, visited: Set<string>,
    emit: (name: string, stats: Stats, exact: boolean) => void,
  ): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (error) {
      if (isNotFound(error)) return;
      throw fsError(error, dir, this.id);
    }
    for (const entry of entries.sort()) {
      if (entry.startsWith('.') || !/^[A-Za-z0-9._-]+$/.test(entry)) continue;
      const path = join(dir, entry);
      const realPath = await this.#resolveInside(realRoot, path);
      if (realPath === null || realPath === OUTSIDE) continue;
      const stats = await this.#stat(realPath, path);
      if (!stats) continue;
      if (stats.isDirectory() && !visited.has(realPath)) {
        visited.add(realPath);
        await this.#walk(realRoot, path, `${namePrefix}${entry}/`, visited, emit);
      } else if (stats.isFile()) {
        const name = withoutKnownExtension(namePrefix + entry);
        if (isValidName(name)) emit(name, stats, name === namePrefix + entry);
      }
    }
  }
}

/** The secret value a file holds, by its extension (see docs/providers.md). */
function decode(path: string, text: string): string {
  const extension = extname(path);
  if (extension === '.json') return text;
  if (extension === '.env') return JSON.stringify(parseDotenv(text));
  return text.replace(/\r?\n$/, '');
}

async function readText(realPath: string, shownPath: string, provider: string): Promise<string> {
  try {
    return await readFile(realPath, 'utf8');
  } catch (error) {
    throw fsError(error, shownPath, provider);
  }
}

function withoutKnownExtension(name: string): string {
  const extension = extname(name);
  return (FILE_EXTENSIONS as readonly string[]).includes(extension) ? name.slice(0, -extension.length) : name;
}


function isInside(realRoot: string, realPath: string): boolean {
  const rel = relative(realRoot, realPath);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isNotFound(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function fsError(error: unknown, path: string, provider: string): LockboxError {
  const code = errnoOf(error);
  if (code === 'EACCES' || code === 'EPERM') {
    return new LockboxError('STORE_ERROR', `cannot read ${path}: permission denied`, {
      provider, cause: error, hint: `check the file permissions (ls -l ${path})`,
    });
  }
  const reason = code === 'ELOOP' ? 'too many levels of symbolic links' : code ?? 'unknown error';
  return new LockboxError('STORE_ERROR', `cannot read ${path}: ${reason}`, { provider, cause: error });
}

function defaultContext(): ProviderContext {
  return { baseDir: process.cwd(), env: process.env };
}
