/** The audit log: events, the hash-chained JSONL format, sinks, verification and reading back. */
export {
  AUDIT_ACTIONS, AUDIT_OUTCOMES, GENESIS_HASH, MAX_LINE_BYTES, auditActionSchema, auditEntryInputSchema,
  auditEntrySchema, auditEventSchema, auditOutcomeSchema, formatAuditEntryJson, formatAuditLine, hashLineBody,
  readLineFrame, toAuditEntry,
} from './event.js';
export type { AuditAction, AuditEntry, AuditEntryInput, AuditEvent, AuditOutcome, LineFrame } from './event.js';
export { AuditLog, READ_ACTIONS, auditFailureModeSchema, shouldFail } from './log.js';
export type { AuditFailureMode, AuditLogOptions } from './log.js';
export { functionSink, jsonlFileSink, jsonlFileSinkOptionsSchema, stdoutSink } from './sinks.js';
export type { AuditSink, JsonlFileSinkOptions, StdoutSinkOptions } from './sinks.js';
export { auditFilterSchema, readAuditEvents, verifyAuditFile } from './verify.js';
export type { AuditFilter, AuditVerification } from './verify.js';
