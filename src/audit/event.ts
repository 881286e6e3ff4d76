/**
 * The audit event: its schema (strict — no field can hold a secret value), and the one line
 * format every writer and reader shares. A line is the event's JSON with the fields in a fixed
 * order, `seq` and `prev` first and `hash` last:
 *
 *   {"seq":N,"prev":"<64 hex>","time":…,…,"requestId":…,"hash":"<64 hex>"}\n
 *
 * `hash` is SHA-256 (hex) of the line's own bytes with `,"hash":"…"` cut off — that is, of the
 * line up to the `,` before `"hash"`, followed by `}`. Because `prev` is inside those bytes, each
 * hash covers the whole chain before it. A verifier slices the hash off; it never re-serialises.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { ERROR_CODES, LockboxError, type ErrorCode } from '../errors.js';

/** Every action an audit event can record. A denied operation keeps its own action (outcome `denied`). */
export const AUDIT_ACTIONS = [
  'read', 'list', 'versions', 'write', 'delete', 'undelete', 'destroy', 'rotate', 'rollback',
  'key_rotation', 'policy_denial', 'snapshot_fallback',
] as const;
export const auditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof auditActionSchema>;

/** How the operation ended. */
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export const auditOutcomeSchema = z.enum(AUDIT_OUTCOMES);
export type AuditOutcome = z.infer<typeof auditOutcomeSchema>;

/** `prev` of the first event of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Longest line a reader accepts (a real event is well under 4 KiB). */
export const MAX_LINE_BYTES = 64 * 1024;

const HEX64 = z.string().regex(/^[0-9a-f]{64}$/);
const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** The alphabet and length of each text field: narrow enough that a value has nowhere to go. */
const PATTERNS = {
  principal: /^[^\s\p{Cc}]{1,256}$/u,
  provider: /^[A-Za-z0-9._-]{1,128}$/,
  scope: /^[A-Za-z0-9._-]{1,512}$/,
  name: /^[A-Za-z0-9._\-/*?]{1,512}$/,
  version: /^[A-Za-z0-9._-]{1,64}$/,
  requestId: /^[A-Za-z0-9._:-]{1,128}$/,
} as const;

/**
 * One audit event as sinks receive it (before the file sink chains it). Every string field has a
 * narrow alphabet and length, and the object is strict: an unknown key such as `value` is
 * rejected, so no field can carry a secret value.
 */
export const auditEntrySchema = z.object({
  /** When the operation happened: ISO 8601 UTC (`2026-01-02T03:04:05.678Z`). */
  time: z.string().datetime(),
  /** Who asked: a user, service or role name (no whitespace or control characters, ≤ 256). */
  principal: z.string().regex(PATTERNS.principal),
  action: auditActionSchema,
  outcome: auditOutcomeSchema,
  /** Provider id that served (or refused) the operation. */
  provider: z.string().regex(PATTERNS.provider).optional(),
  /** Tenant. */
  scope: z.string().regex(PATTERNS.scope).optional(),
  /** Secret name, list prefix or glob. */
  name: z.string().regex(PATTERNS.name).optional(),
  /** Version number or label. */
  version: z.string().regex(PATTERNS.version).optional(),
  /** LockboxError code of a failed or denied operation. */
  errorCode: z.enum(ERROR_CODE_LIST).optional(),
  /** How many identical reads this event stands for (batched reads: same principal, secret and outcome within one flush interval; `time` is the first). @default 1 */
  count: z.number().int().positive().optional(),
  /** Correlates the events of one request. */
  requestId: z.string().regex(PATTERNS.requestId),
}).strict();
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** What callers pass to `AuditLog.append`: `time` and `requestId` may be left to the log. */
export const auditEntryInputSchema = auditEntrySchema.extend({
  /** @default the log's clock (now) */
  time: z.union([z.date(), z.string().datetime()]).optional(),
  /** @default a random UUID */
  requestId: auditEntrySchema.shape.requestId.optional(),
}).strict();
export type AuditEntryInput = z.input<typeof auditEntryInputSchema>;

/** One line of the audit file: an entry plus its chain fields. */
export const auditEventSchema = auditEntrySchema.extend({
  /** 1-based position in the chain. */
  seq: z.number().int().positive(),
  /** `hash` of the previous line; GENESIS_HASH for seq 1. */
  prev: HEX64,
  /** SHA-256 of this line without its hash field (see the file comment). */
  hash: HEX64,
}).strict();
export type AuditEvent = z.infer<typeof auditEventSchema>;

/**
 * Validates an entry (throws INVALID_INPUT naming the fields, never their contents) and fills
 * `time` and `requestId`. The common case is checked by hand (zod costs ~8 µs an event, too much
 * on a cached read); zod decides, and words the error, whenever the hand check is unsure.
 */
export function toAuditEntry(input: unknown, isoNow: () => string, newRequestId: () => string): AuditEntry {
  let checked = input as AuditEntryInput;
  if (!isPlainValidInput(input)) {
    const parsed = auditEntryInputSchema.safeParse(input);
    if (!parsed.success) {
      throw new LockboxError('INVALID_INPUT', `invalid audit event: ${describeIssues(parsed.error)}`, {
        hint: 'audit events carry who, what, which secret and the outcome — never a value',
      });
    }
    checked = parsed.data;
  }
  const { time } = checked;
  const entry: AuditEntry = {
    time: time instanceof Date ? time.toISOString() : time ?? isoNow(),
    principal: checked.principal,
    action: checked.action,
    outcome: checked.outcome,
    requestId: checked.requestId ?? newRequestId(),
  };
  for (const key of OPTIONAL_FIELDS) if (checked[key] !== undefined) (entry as Record<string, unknown>)[key] = checked[key];
  return entry;
}

const OPTIONAL_FIELDS = ['provider', 'scope', 'name', 'version', 'errorCode', 'count'] as const;

/** Formats one chained line (with its trailing newline) and returns it with its hash. */
export function formatAuditLine(entry: AuditEntry, seq: number, prev: string): { line: string; hash: string } {
  const body = `{"seq":${seq},"prev":"${prev}",${formatAuditEntryJson(entry).slice(1)}`;
  const hash = sha256Hex(body);
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}\n`, hash };
}

/** An entry as one JSON object in the line order, without chain fields (stdout and SIEM sinks). */
export function formatAuditEntryJson(entry: AuditEntry): string {
  // One object literal in the fixed order; JSON.stringify leaves out the undefined fields.
  return JSON.stringify({
    time: entry.time, principal: entry.principal, action: entry.action, outcome: entry.outcome,
    provider: entry.provider, scope: entry.scope, name: entry.name, version: entry.version,
    errorCode: entry.errorCode, count: entry.count, requestId: entry.requestId,
  });
}

/** The fixed frame of one line: where its chain fields are. */
export interface LineFrame {
  seq: number;
  prev: string;
  /** The hash the line claims. */
  hash: string;
}

const SEQ_PREFIX = Buffer.from('{"seq":');
const PREV_PREFIX = Buffer.from(',"prev":"');
const HASH_PREFIX = Buffer.from(',"hash":"');
/** `,"hash":"` + 64 hex + `"}`. */
const HASH_SUFFIX_LENGTH = HASH_PREFIX.length + 64 + 2;
const MIN_LINE_LENGTH = SEQ_PREFIX.length + 1 + PREV_PREFIX.length + 64 + 1 + HASH_SUFFIX_LENGTH;
const DIGIT_0 = 0x30;
const QUOTE = 0x22;
const BRACE_CLOSE = 0x7d;
const COMMA = 0x2c;

/**
 * Reads the chain fields of the line `buf[start, end)` (no newline) by position, or returns why
 * the line is not an audit line.
 */
export function readLineFrame(buf: Buffer, start: number, end: number): LineFrame | string {
  if (end - start < MIN_LINE_LENGTH) return 'not an audit event line (too short)';
  if (!bytesAt(buf, start, SEQ_PREFIX)) {
    return 'not an audit event line (it does not start with {"seq":)';
  }
  let at = start + SEQ_PREFIX.length;
  let seq = 0;
  const digitsStart = at;
  while (at < end && buf[at]! >= DIGIT_0 && buf[at]! <= DIGIT_0 + 9 && at - digitsStart < 15) seq = seq * 10 + (buf[at++]! - DIGIT_0);
  if (at === digitsStart || seq === 0 || !bytesAt(buf, at, PREV_PREFIX)) {
    return 'not an audit event line (malformed seq or prev field)';
  }
  at += PREV_PREFIX.length;
  const hashAt = end - HASH_SUFFIX_LENGTH;
  if (buf[at + 64] !== QUOTE || at + 65 > hashAt
    || !bytesAt(buf, hashAt, HASH_PREFIX)
    || buf[end - 2] !== QUOTE || buf[end - 1] !== BRACE_CLOSE) {
    return 'not an audit event line (malformed prev field, or the hash field is not last)';
  }
  return {
    seq,
    prev: buf.toString('latin1', at, at + 64),
    hash: buf.toString('latin1', end - 66, end - 2),
  };
}

/**
 * SHA-256 (hex) of a framed line's body: the bytes up to `,"hash"` followed by `}`. The comma is
 * overwritten with `}` for the one-shot hash and put back, so nothing is copied.
 */
export function hashLineBody(buf: Buffer, start: number, end: number): string {
  const cut = end - HASH_SUFFIX_LENGTH;
  buf[cut] = BRACE_CLOSE;
  try {
    return sha256Hex(buf.subarray(start, cut + 1));
  } finally {
    buf[cut] = COMMA;
  }
}

/** True when `buf` holds `expected` at `at` (a plain loop: Buffer#compare costs more on short runs). */
function bytesAt(buf: Buffer, at: number, expected: Buffer): boolean {
  for (let i = 0; i < expected.length; i++) if (buf[at + i] !== expected[i]) return false;
  return true;
}

/** One-shot `crypto.hash` (Node ≥ 20.12, ~40% faster on short lines), else createHash. */
const sha256Hex: (data: string | Buffer) => string = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex');

const ACTIONS: ReadonlySet<unknown> = new Set(AUDIT_ACTIONS);
const OUTCOMES: ReadonlySet<unknown> = new Set(AUDIT_OUTCOMES);
const FIELD_CHECKS = new Map<string, (value: unknown) => boolean>([
  ['time', (value) => value instanceof Date && !Number.isNaN(value.getTime())],
  ['action', (value) => ACTIONS.has(value)],
  ['outcome', (value) => OUTCOMES.has(value)],
  ['errorCode', (value) => typeof value === 'string' && Object.hasOwn(ERROR_CODES, value)],
  ['count', (value) => Number.isSafeInteger(value) && (value as number) > 0],
  ...Object.entries(PATTERNS).map(([key, pattern]) => [key, (value: unknown) => typeof value === 'string' && pattern.test(value)] as const),
]);

/** A strict subset of what auditEntryInputSchema accepts (time only as a Date); false means "ask zod". */
function isPlainValidInput(input: unknown): boolean {
  if (typeof input !== 'object' || input === null || Object.getPrototypeOf(input) !== Object.prototype) return false;
  const fields = input as Record<string, unknown>;
  if (fields.principal === undefined || fields.action === undefined || fields.outcome === undefined) return false;
  for (const key in fields) {
    const check = FIELD_CHECKS.get(key);
    if (check === undefined || (fields[key] !== undefined && !check(fields[key]))) return false;
  }
  return true;
}

/** Field paths and problem kinds only: a zod message may quote the rejected input. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown field(s) ${issue.keys.map((key) => JSON.stringify(key.slice(0, 40))).join(', ')} (an audit event never holds a value)`;
    }
    const path = issue.path.join('.') || '(event)';
    return issue.code === 'invalid_type' && issue.received === 'undefined' ? `${path}: required` : `${path}: invalid (${issue.code})`;
  }).join('; ');
}
