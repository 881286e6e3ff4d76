/** The store's version rows as SQLite returns them, version selectors and labels, and row → metadata. */
import { LockboxError } from '../errors.js';
import type { SecretMetadata } from '../types.js';

/** [version, created_at, expires_at, deleted_at, destroyed_at, tags, key_id, envelope, …labels] */
export type VersionRow = [number, number, number | null, number | null, number | null, string | null, string | null, Buffer | null, ...(number | null)[]];

/** A numeric version selector ("1", "2", …); INVALID_INPUT for anything else. */
export function parseVersion(selector: string): number {
  const version = /^[1-9][0-9]{0,14}$/.test(selector) ? Number(selector) : NaN;
  if (!Number.isSafeInteger(version)) {
    throw new LockboxError('INVALID_INPUT', `invalid version "${selector.slice(0, 40)}": use a number (1, 2, …) or current, previous, pending`);
  }
  return version;
}

/** The labels (current, previous, pending) that `version` carries. */
export function labelsOf(version: number, current: number | null | undefined, previous: number | null | undefined, pending: number | null | undefined): string[] {
  const labels: string[] = [];
  if (version === current) labels.push('current');
  if (version === previous) labels.push('previous');
  if (version === pending) labels.push('pending');
  return labels;
}

/** The metadata of a version row (a version never changes, so updatedAt is its creation time). */
export function rowMetadata(name: string, scope: string | undefined, row: VersionRow, labels: string[]): SecretMetadata {
  return {
    name, scope, version: String(row[0]), labels,
    createdAt: new Date(row[1]), updatedAt: new Date(row[1]),
    expiresAt: row[2] === null ? undefined : new Date(row[2]),
    tags: row[5] === null ? {} : JSON.parse(row[5]) as Record<string, string>,
  };
}
