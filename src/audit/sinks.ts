/**
 * Where audit events go: a hash-chained JSONL file (the record `lockbox audit verify` checks;
 * see file-sink.ts), stdout JSON lines for a SIEM, or a function.
 */
import { formatAuditEntryJson, type AuditEntry } from './event.js';
import { closedError, writeFailed } from './sink-errors.js';

export { jsonlFileSink, jsonlFileSinkOptionsSchema, type JsonlFileSinkOptions } from './file-sink.js';

/** A destination of audit entries. */
export interface AuditSink {
  /** What the sink writes to, for messages: a path, "stdout", "function". */
  readonly target: string;
  /** Opens early so that a bad destination fails at start-up; otherwise the first write opens. */
  open?(): Promise<void>;
  /** Resolves once the entry is stored as durably as the sink can (fsynced, for the file). */
  write(entry: AuditEntry): Promise<void>;
  /** Resolves once every entry written so far is stored. */
  flush(): Promise<void>;
  /** Flushes, then releases the destination; later writes reject. */
  close(): Promise<void>;
}

/** Options of {@link stdoutSink}. */
export interface StdoutSinkOptions {
  /** Where the JSON lines go; use `process.stderr` when stdout carries command output. @default process.stdout */
  stream?: NodeJS.WritableStream;
}

/** One JSON object per line (no chain fields), for a SIEM or a log shipper. */
export function stdoutSink(options: StdoutSinkOptions = {}): AuditSink {
  const stream = options.stream ?? process.stdout;
  return {
    target: stream === process.stdout ? 'stdout' : 'stream',
    write: (entry) => new Promise<void>((resolve, reject) => {
      stream.write(`${formatAuditEntryJson(entry)}\n`, (error) => (error ? reject(writeFailed('the audit stream', error)) : resolve()));
    }),
    flush: async () => {},
    close: async () => {},
  };
}

/** Calls `fn` with each entry (a frozen copy); a throw or rejection fails the append. */
export function functionSink(fn: (entry: Readonly<AuditEntry>) => void | Promise<void>): AuditSink {
  let closed = false;
  return {
    target: 'function',
    write: async (entry) => {
      if (closed) throw closedError('the audit function sink');
      try {
        await fn(Object.freeze({ ...entry }));
      } catch (error) {
        throw writeFailed('the audit function sink', error);
      }
    },
    flush: async () => {},
    close: async () => {
      closed = true;
    },
  };
}
