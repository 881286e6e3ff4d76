/**
 * Input validation and the errors of the config-secrets service. Messages name ids, owners,
 * paths and coordinates, never a secret value.
 */
import type { z } from 'zod';
import { LockboxError } from '../errors.js';
import type { Owner, SecretConfigRow, SecretUsage } from './repository.js';

/** Validates input with zod; INVALID_INPUT names the fields (zod issue texts carry no values). */
export function parse<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new LockboxError('INVALID_INPUT', `invalid ${what}: ${detail}`);
}

export function notFound(id: string): LockboxError {
  return new LockboxError('NOT_FOUND', `config ${id} not found`);
}

export function conflict(id: string, expected: number): LockboxError {
  return new LockboxError('CONFLICT', `config ${id} changed since revision ${expected} (another update won)`, { hint: 're-read the config and retry' });
}

export function ownerTaken(owner: Owner, configId?: string): LockboxError {
  return new LockboxError('ALREADY_EXISTS', `${owner.type}/${owner.id} already has a config${configId ? ` (${configId})` : ''}`, { hint: 'update that config instead' });
}

/** SECRET_IN_USE naming every owner and path that uses a secret config. */
export function inUse(row: SecretConfigRow, users: SecretUsage[]): LockboxError {
  const list = users.map((u) => `${u.ownerType}/${u.ownerId} at ${u.path ?? '(no path)'}${u.configId ? ` (config ${u.configId})` : ''}`).join(', ');
  return new LockboxError('SECRET_IN_USE', `secret config ${row.id} (${row.external_coordinate}) is used by ${list}`, { hint: 'update or delete those configs first' });
}
