/**
 * Reading the audit file back: `verifyAuditFile` walks the hash chain and names the first broken
 * line and why; `readAuditEvents` returns the events that match a filter (for `lockbox audit`).
 * Both stream the file in large chunks and split lines by hand; verification never parses JSON.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { compileGlob, globProblem } from '../access/glob.js';
import { LockboxError } from '../errors.js';
import {
  GENESIS_HASH, MAX_LINE_BYTES, auditActionSchema, auditEventSchema, hashLineBody, readLineFrame,
  type AuditEvent,
} from './event.js';

/** The outcome of `verifyAuditFile`: `events` counts the intact events (before the broken line). */
export type AuditVerification =
  | { ok: true; events: number }
  | { ok: false; events: number; line: number; reason: string };

/**
 * Checks every line of an audit file: its frame, its own hash (an edited event), its seq (a
 * deleted, inserted or reordered event) and its prev (a rewritten neighbour), and that the file
 * ends with a newline (a truncated last line). Stops at the first broken line (1-based) and says
 * why. Throws INVALID_INPUT when the file cannot be read at all.
 */
export async function verifyAuditFile(path: string): Promise<AuditVerification> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let broken: { line: number; reason: string } | undefined;
  let jump: { line: number; found: number; laterLine?: number } | undefined;

  const scan = await scanLines(path, (buf, start, end, line) => {
    const frame = readLineFrame(buf, start, end);
    if (jump) {
      // Diagnosis after a forward seq jump: does the missing event appear later (reordered)?
      if (typeof frame !== 'string' && frame.seq === expectedSeq) jump.laterLine = line;
      return jump.laterLine === undefined;
    }
    if (typeof frame === 'string') broken = { line, reason: frame };
    else if (hashLineBody(buf, start, end) !== frame.hash) broken = { line, reason: 'hash mismatch: the event was edited after it was written' };
    else if (frame.seq > expectedSeq) jump = { line, found: frame.seq };
    else if (frame.seq < expectedSeq) {
      broken = { line, reason: `seq ${frame.seq} where ${expectedSeq} was expected: seq ${frame.seq} was already used, so an event was inserted (this one or the one before)` };
    } else if (frame.prev !== prevHash) {
      broken = { line, reason: line === 1 ? 'prev of the first event is not the genesis hash: the start of the log was removed or replaced' : `prev is not the hash of line ${line - 1}: that event was rewritten, or events were inserted or removed between them` };
    } else {
      expectedSeq++;
      prevHash = frame.hash;
      return true;
    }
    return jump !== undefined;
  });

  if (jump) broken = { line: jump.line, reason: jumpReason(expectedSeq, jump.found, jump.laterLine) };
  if (!broken && scan.longLine !== undefined) broken = { line: scan.longLine, reason: `not an audit event line (longer than ${MAX_LINE_BYTES} bytes)` };
  if (!broken && scan.partial) {
    broken = { line: scan.lines + 1, reason: 'the last line is incomplete (no newline at the end): the file was truncated or a write was cut short' };
  }
  return broken ? { ok: false, events: broken.line - 1, ...broken } : { ok: true, events: scan.lines };
}

export const auditFilterSchema = z.object({
  /** Only events at or after this time. */
  since: z.date().optional(),
  /** Only events on this secret: an exact name, or a glob (`db/*`, `db/**`, `?`) as in access rules. */
  secret: z.string().min(1).optional(),
  /** Only events of this principal (exact). */
  principal: z.string().min(1).optional(),
  /** Only events of this action (or of any of these). */
  action: z.union([auditActionSchema, z.array(auditActionSchema)]).optional(),
}).strict();
export type AuditFilter = z.input<typeof auditFilterSchema>;

/**
 * The events of an audit file that match `filter`, oldest first. Does not check the chain (use
 * verifyAuditFile); an incomplete last line is skipped. Throws AUDIT_TAMPERED naming the line when
 * a complete line is not an audit event, INVALID_INPUT for a bad filter or an unreadable file.
 */
export async function readAuditEvents(path: string, filter: AuditFilter = {}): Promise<AuditEvent[]> {
  const parsed = auditFilterSchema.safeParse(filter);
  if (!parsed.success) throw new LockboxError('INVALID_INPUT', `invalid audit filter: ${parsed.error.issues.map((i) => i.path.join('.') || i.code).join(', ')}`);
  const { since, secret, principal } = parsed.data;
  const actions = parsed.data.action === undefined ? undefined : new Set([parsed.data.action].flat());
  const nameMatches = secret === undefined ? undefined : secretMatcher(secret);
  const sinceMs = since?.getTime();
  const events: AuditEvent[] = [];
  const scan = await scanLines(path, (buf, start, end, line) => {
    let event: AuditEvent;
    try {
      event = auditEventSchema.parse(JSON.parse(buf.toString('utf8', start, end)));
    } catch {
      throw new LockboxError('AUDIT_TAMPERED', `line ${line} of the audit log ${path} is not an audit event`, {
        hint: 'run `lockbox audit verify` to check the whole log',
      });
    }
    if (sinceMs !== undefined && Date.parse(event.time) < sinceMs) return true;
    if (principal !== undefined && event.principal !== principal) return true;
    if (actions !== undefined && !actions.has(event.action)) return true;
    if (nameMatches !== undefined && (event.name === undefined || !nameMatches(event.name))) return true;
    events.push(event);
    return true;
  });
  if (scan.longLine !== undefined) throw new LockboxError('AUDIT_TAMPERED', `line ${scan.longLine} of the audit log ${path} is not an audit event`);
  return events;
}

/** The end of a chain: the last complete line's seq and hash, and the file size up to its newline. */
export interface ChainHead {
  seq: number;
  hash: string;
  /** Bytes up to the last newline: less than the file size when the file ends with an incomplete line. */
  completeSize: number;
}

/**
 * Reads the chain head of an open audit file of `size` bytes from its tail (no full scan),
 * checking the last complete line's frame and own hash. Throws AUDIT_TAMPERED when that line is
 * not an intact audit line. An empty file gives seq 0 and GENESIS_HASH.
 */
export async function readChainHead(handle: FileHandle, size: number, path: string): Promise<ChainHead> {
  const length = Math.min(size, MAX_LINE_BYTES + 1);
  const buf = Buffer.alloc(length);
  if (length > 0) await handle.read(buf, 0, length, size - length);
  const windowStart = size - length;
  const end = buf.lastIndexOf(NEWLINE) + 1;
  if (end === 0) {
    if (windowStart > 0) throw lastLineTampered(path, 'is longer than any audit event');
    return { seq: 0, hash: GENESIS_HASH, completeSize: 0 };
  }
  const lineEnd = end - 1;
  const lineStart = lineEnd === 0 ? 0 : buf.lastIndexOf(NEWLINE, lineEnd - 1) + 1;
  if (lineStart === 0 && windowStart > 0) throw lastLineTampered(path, 'is longer than any audit event');
  const frame = readLineFrame(buf, lineStart, lineEnd);
  if (typeof frame === 'string') throw lastLineTampered(path, `is ${frame}`);
  if (hashLineBody(buf, lineStart, lineEnd) !== frame.hash) throw lastLineTampered(path, 'fails its hash (edited)');
  return { seq: frame.seq, hash: frame.hash, completeSize: windowStart + end };
}

function lastLineTampered(path: string, what: string): LockboxError {
  return new LockboxError('AUDIT_TAMPERED', `the last line of the audit log ${path} ${what}`, {
    hint: 'run `lockbox audit verify`; keep the file as evidence and move it aside to start a new chain',
  });
}

function jumpReason(expected: number, found: number, laterLine: number | undefined): string {
  const head = `seq ${found} where ${expected} was expected`;
  if (laterLine !== undefined) return `${head}; event ${expected} is at line ${laterLine}: events were reordered`;
  const missing = found - expected === 1 ? `event ${expected} is` : `events ${expected}–${found - 1} are`;
  return `${head}: ${missing} missing (deleted)`;
}

function secretMatcher(secret: string): (name: string) => boolean {
  if (!/[*?]/.test(secret)) return (name) => name === secret;
  const problem = globProblem(secret);
  if (problem !== undefined) throw new LockboxError('INVALID_INPUT', `invalid audit filter secret: ${problem}`);
  const pattern = compileGlob(secret);
  return (name) => pattern.test(name);
}

interface ScanResult {
  /** Complete lines seen (up to the stop). */
  lines: number;
  /** True when the file ends with bytes after its last newline. */
  partial: boolean;
  /** Line number of a line longer than the read buffer (scanning stopped there). */
  longLine?: number;
}

const CHUNK_BYTES = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Calls `onLine(buf, start, end, lineNumber)` for each complete line (`end` excludes the newline)
 * until it returns false. The buffer is reused: read what you need before returning.
 */
async function scanLines(
  path: string,
  onLine: (buf: Buffer, start: number, end: number, line: number) => boolean,
): Promise<ScanResult> {
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new LockboxError('INVALID_INPUT', `cannot read the audit log ${path}: ${error.code === 'ENOENT' ? 'it does not exist' : error.code ?? 'error'}`, { cause: error });
  });
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let filled = 0;
    let lines = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) return { lines, partial: filled > 0 };
      filled += bytesRead;
      let start = 0;
      for (let newline = buf.indexOf(NEWLINE, start); newline !== -1 && newline < filled; newline = buf.indexOf(NEWLINE, start)) {
        if (!onLine(buf, start, newline, ++lines)) return { lines, partial: false };
        start = newline + 1;
      }
      if (start === 0 && filled === buf.length) return { lines, partial: false, longLine: lines + 1 };
      buf.copy(buf, 0, start, filled);
      filled -= start;
    }
  } finally {
    await handle.close();
  }
}
