/**
 * The resume file of `lockbox migrate`: JSON lines, mode 0600. The first line says which
 * migration it belongs to (from, to, prefix, tenant); each further line is one secret name that
 * was copied AND read back equal. A rerun skips those names; a completed run deletes the file.
 * It never holds a value.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LockboxError } from '../errors.js';

/** What a checkpoint is keyed by. */
export interface MigrationKey {
  from: string;
  to: string;
  prefix: string;
  tenant?: string;
}

/** The default checkpoint file of a migration inside `directory` (a short hash of the key in the name). */
export function checkpointFileFor(directory: string, key: MigrationKey): string {
  const digest = createHash('sha256').update(JSON.stringify(headerOf(key))).digest('hex').slice(0, 16);
  return join(directory, `migrate-${safePart(key.from)}-to-${safePart(key.to)}-${digest}.jsonl`);
}

/** An open checkpoint: the names already done, and an append-only handle for new ones. */
export class MigrationCheckpoint {
  /** Names (`tenant\0name`) recorded by earlier, interrupted runs. */
  readonly done: ReadonlySet<string>;
  readonly path: string;
  readonly #key: MigrationKey;
  #fd: number | undefined;

  private constructor(path: string, key: MigrationKey, done: Set<string>) {
    this.path = path;
    this.#key = key;
    this.done = done;
  }

  /**
   * Reads the checkpoint at `path` if there is one. INVALID_INPUT when it belongs to another
   * migration or is not a checkpoint (it is then left alone).
   */
  static read(path: string, key: MigrationKey): MigrationCheckpoint {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new MigrationCheckpoint(path, key, new Set());
      throw new LockboxError('INVALID_INPUT', `the migration checkpoint ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    if (lines.length === 0) return new MigrationCheckpoint(path, key, new Set());
    const header = parseLine(lines[0]!);
    if (JSON.stringify(header) !== JSON.stringify(headerOf(key))) {
      throw new LockboxError('INVALID_INPUT', `the migration checkpoint ${path} belongs to another migration (different from/to/prefix/tenant)`, {
        hint: 'delete it, or pass the checkpoint path of this migration',
      });
    }
    const done = new Set<string>();
    // A torn last line (the process died while appending) is ignored: that secret is simply copied again.
    for (const line of lines.slice(1)) {
      const entry = parseLine(line);
      if (Array.isArray(entry) && entry.length === 2 && typeof entry[1] === 'string') done.add(doneKey(typeof entry[0] === 'string' ? entry[0] : undefined, entry[1]));
    }
    return new MigrationCheckpoint(path, key, done);
  }

  /** True when an earlier run already copied and verified this secret. */
  has(scope: string | undefined, name: string): boolean {
    return this.done.has(doneKey(scope, name));
  }

  /** Appends names (after they were read back equal); creates the file (0600) with its header first. */
  record(entries: ReadonlyArray<{ name: string; scope?: string }>): void {
    if (entries.length === 0) return;
    const fd = this.#fd ?? this.#open();
    writeSync(fd, entries.map((entry) => `${JSON.stringify([entry.scope ?? null, entry.name])}\n`).join(''));
  }

  /** Closes the file, keeping it (the run did not complete). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Closes and deletes the file (the run completed). */
  remove(): void {
    this.close();
    rmSync(this.path, { force: true });
  }

  #open(): number {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const fresh = this.done.size === 0;
    const fd = openSync(this.path, fresh ? 'w' : 'a', 0o600);
    chmodSync(this.path, 0o600);
    if (fresh) writeSync(fd, `${JSON.stringify(headerOf(this.#key))}\n`);
    this.#fd = fd;
    return fd;
  }
}

function headerOf(key: MigrationKey): Record<string, unknown> {
  return { lockbox_migrate: 1, from: key.from, to: key.to, prefix: key.prefix, tenant: key.tenant ?? null };
}

function doneKey(scope: string | null | undefined, name: string): string {
  return `${scope ?? ''}\u0000${name}`;
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** A provider id as a file-name part (ids are [A-Za-z0-9_-] already; anything else becomes "_"). */
function safePart(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
}
