/** The errors audit sinks raise: AUDIT_WRITE_FAILED, naming the destination and the file-system reason. */
import { LockboxError } from '../errors.js';

const FS_REASONS: Record<string, string> = {
  EISDIR: 'it is a directory',
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
};

/** AUDIT_WRITE_FAILED for `what`, with a plain reason for common file-system codes. */
export function writeFailed(what: string, error: unknown): LockboxError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = (code && FS_REASONS[code]) ?? (error instanceof Error ? error.message : String(error));
  return new LockboxError('AUDIT_WRITE_FAILED', `cannot write ${what}: ${reason}${code ? ` (${code})` : ''}`, {
    cause: error,
    hint: 'the operation was not done because its audit event could not be recorded',
  });
}

/** AUDIT_WRITE_FAILED for a write to a closed sink. */
export function closedError(what: string): LockboxError {
  return new LockboxError('AUDIT_WRITE_FAILED', `cannot write ${what}: it is closed`);
}
