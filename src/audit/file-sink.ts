/**
 * The hash-chained JSONL file sink (the record `lockbox audit verify` checks). It owns the chain:
 * it assigns seq, prev and hash when it writes, under a lock file, so several processes can share
 * one log.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { GENESIS_HASH, formatAuditLine, type AuditEntry } from './event.js';
import { closedError, writeFailed } from './sink-errors.js';
import type { AuditSink } from './sinks.js';
import { readChainHead } from './verify.js';

export const jsonlFileSinkOptionsSchema = z.object({
  /**
   * `every`: one write + fsync per event. `batch`: the events appended in the same tick are
   * written with one write + one fsync. Either way a write resolves only once its event is
   * fsynced; batching only groups concurrent appends. @default "batch"
   */
  sync: z.enum(['every', 'batch']).default('batch'),
  /** Most events in one batch write. @default 1000 */
  maxBatch: z.number().int().min(1).max(100_000).default(1000),
  /** How long a write waits for another process's lock before failing. @default 5000 */
  lockTimeoutMs: z.number().int().min(0).default(5000),
  /** A lock file older than this, or held by a dead process on this host, is broken. @default 30000 */
  staleLockMs: z.number().int().min(1000).default(30_000),
}).strict();
export type JsonlFileSinkOptions = z.input<typeof jsonlFileSinkOptionsSchema>;

/**
 * The hash-chained JSONL file (mode 0600, append-only). On its first write (or `open()`) it reads
 * the file's last line to continue the chain; an incomplete last line (a write cut short by a
 * crash — never an acknowledged event) is cut off with a process warning.
 */
export function jsonlFileSink(path: string, options: JsonlFileSinkOptions = {}): AuditSink {
  return new JsonlFileSink(path, jsonlFileSinkOptionsSchema.parse(options));
}

interface Pending { entry: AuditEntry; resolve: () => void; reject: (error: unknown) => void }
interface ChainHead { seq: number; hash: string }
type Options = z.infer<typeof jsonlFileSinkOptionsSchema>;

class JsonlFileSink implements AuditSink {
  readonly #lockPath: string;
  #handle: FileHandle | undefined;
  #inode = -1;
  /** File size after our last write; -1 when unknown (the tail is read again under the lock). */
  #knownSize = -1;
  #head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(readonly target: string, private readonly options: Options) {
    this.#lockPath = `${target}.lock`;
  }

  async open(): Promise<void> {
    await this.#writeBatch([]);
  }

  write(entry: AuditEntry): Promise<void> {
    if (this.#closed) return Promise.reject(closedError(`the audit log ${this.target}`));
    return new Promise((resolve, reject) => {
      this.#queue.push({ entry, resolve, reject });
      this.#schedule();
    });
  }

  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    await this.#handle?.close();
    this.#handle = undefined;
  }

  #schedule(): void {
    if (this.#draining) return;
    this.#draining = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#drain())
      .finally(() => {
        this.#draining = undefined;
        if (this.#queue.length > 0) this.#schedule();
      });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.options.sync === 'every' ? 1 : this.options.maxBatch);
      try {
        await this.#writeBatch(batch.map((pending) => pending.entry));
        for (const pending of batch) pending.resolve();
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
  }

  /** Under the lock: (re)open, continue the chain from the tail if another writer moved it, append, fsync. */
  async #writeBatch(entries: AuditEntry[]): Promise<void> {
    try {
      if (!this.#handle) await makeDirectory(dirname(this.target));
      const release = await acquireLock(this.#lockPath, this.target, this.options);
      try {
        const handle = await this.#currentHandle();
        let { size } = await handle.stat();
        if (size !== this.#knownSize) size = await this.#readHead(handle, size);
        this.#knownSize = size;
        if (entries.length === 0) return;
        let { seq, hash } = this.#head;
        const lines: string[] = [];
        for (const entry of entries) {
          const formatted = formatAuditLine(entry, ++seq, hash);
          lines.push(formatted.line);
          hash = formatted.hash;
        }
        const bytes = Buffer.from(lines.join(''));
        this.#knownSize = -1;
        await writeAll(handle, bytes);
        await handle.datasync();
        this.#head = { seq, hash };
        this.#knownSize = size + bytes.length;
      } finally {
        await release();
      }
    } catch (error) {
      this.#knownSize = -1;
      throw error instanceof LockboxError ? error : writeFailed(`the audit log ${this.target}`, error);
    }
  }

  /**
   * Continues the chain from the file's last complete line. An incomplete last line is cut off:
   * it is a write that never completed (no append resolved for it). Returns the size kept.
   */
  async #readHead(handle: FileHandle, size: number): Promise<number> {
    const head = await readChainHead(handle, size, this.target).catch((error: unknown) => {
      throw error instanceof LockboxError && error.code === 'AUDIT_TAMPERED'
        ? new LockboxError('AUDIT_WRITE_FAILED', `cannot continue the audit chain: ${error.message}`, { cause: error, hint: error.hint })
        : error;
    });
    if (head.completeSize < size) {
      await handle.truncate(head.completeSize);
      await handle.datasync();
      process.emitWarning(`removed an incomplete last line (${size - head.completeSize} bytes, a write cut short) from the audit log ${this.target}`, {
        code: 'LOCKBOX_AUDIT_TORN_LINE',
      });
    }
    this.#head = { seq: head.seq, hash: head.hash };
    return head.completeSize;
  }

  /** The open handle, reopened when the path now names another file (rotated or removed). */
  async #currentHandle(): Promise<FileHandle> {
    if (this.#handle) {
      const current = await stat(this.target).catch(() => undefined);
      if (current?.ino === this.#inode) return this.#handle;
      await this.#handle.close();
      this.#handle = undefined;
    }
    const handle = await open(this.target, 'a+', 0o600);
    try {
      const info = await handle.stat();
      if ((info.mode & 0o077) !== 0) await handle.chmod(0o600);
      if (info.size === 0) await syncDirectory(dirname(this.target));
      this.#inode = info.ino;
      this.#knownSize = -1;
    } catch (error) {
      await handle.close();
      throw error;
    }
    this.#handle = handle;
    return handle;
  }
}

/** Creates `lockPath` exclusively, waiting for (or breaking a stale) holder; returns the release. */
async function acquireLock(lockPath: string, path: string, options: Options): Promise<() => Promise<void>> {
  const token = `${process.pid}@${hostname()} ${randomUUID()}`;
  const deadline = Date.now() + options.lockTimeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(token);
      } finally {
        await handle.close();
      }
      return async () => {
        if ((await readFile(lockPath, 'utf8').catch(() => '')) === token) await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readFile(lockPath, 'utf8').catch(() => '');
    if (await isStale(lockPath, holder, options.staleLockMs)) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockboxError('AUDIT_WRITE_FAILED', `cannot write the audit log ${path}: it is locked by ${holder.split(' ')[0] || 'another writer'} (${lockPath})`, {
        hint: 'another lockbox process is writing it; if none is running, remove the .lock file',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** A lock is stale when its holder (pid@host) is a dead process on this host, or it is old. */
async function isStale(lockPath: string, holder: string, staleLockMs: number): Promise<boolean> {
  const match = /^(\d+)@(\S+) /.exec(holder);
  if (match && match[2] === hostname() && Number(match[1]) !== process.pid) {
    try {
      process.kill(Number(match[1]), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
  }
  const info = await stat(lockPath).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > staleLockMs;
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += (await handle.write(bytes, offset, bytes.length - offset)).bytesWritten;
}

/** `mkdir -p` whose error names the problem: EEXIST there means a component is a file. */
async function makeDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' ? Object.assign(new Error('not a directory'), { code: 'ENOTDIR', cause: error }) : error;
  });
}

/** Makes a new file's directory entry durable (best effort: not every platform can fsync a directory). */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r').catch(() => undefined);
  try {
    await handle?.sync();
  } catch {
    // Directories cannot be fsynced on every platform.
  } finally {
    await handle?.close();
  }
}
