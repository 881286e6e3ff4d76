/**
 * Turns a Secrets Manager value (SecretString, or SecretBinary as base64 text or UTF-8) into
 * lockbox's SecretRecord, hiding versions whose expiry label has passed.
 */
import { LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type { SecretRecord, SecretRef } from '../types.js';
import type { ValueEntry } from './aws-api.js';
import { expiryOf, labelsOf } from './aws-naming.js';

/** How a SecretBinary becomes text. */
export type BinaryEncoding = 'base64' | 'utf8';

/** The record for `ref` of a fetched value, or null when the version has expired or holds nothing. */
export function recordOf(providerId: string, ref: SecretRef, entry: ValueEntry, encoding: BinaryEncoding): SecretRecord | null {
  const text = textOf(providerId, entry, encoding);
  return text === undefined || isExpired(entry) ? null : recordWith(providerId, ref, entry, text);
}

/** A record of `text` carrying the version and labels of `entry`. */
export function recordWith(providerId: string, ref: SecretRef, entry: ValueEntry, text: string): SecretRecord {
  const created = entry.CreatedDate ?? new Date(0);
  return {
    provider: providerId,
    value: new SecretValue(text),
    metadata: {
      name: ref.name, scope: ref.scope, version: entry.VersionId ?? '', labels: labelsOf(entry.VersionStages),
      createdAt: created, updatedAt: created, expiresAt: expiryOf(entry.VersionStages), tags: {},
    },
  };
}

/** True when the version's expiry label is in the past. */
export function isExpired(entry: ValueEntry): boolean {
  const expiresAt = expiryOf(entry.VersionStages);
  return expiresAt !== undefined && expiresAt.getTime() <= Date.now();
}

/** The value as text: SecretString, or SecretBinary in `encoding`; undefined when neither is set. */
export function textOf(providerId: string, entry: ValueEntry, encoding: BinaryEncoding): string | undefined {
  if (entry.SecretString !== undefined) return entry.SecretString;
  if (entry.SecretBinary === undefined) return undefined;
  const bytes = Buffer.from(entry.SecretBinary);
  if (encoding === 'base64') return bytes.toString('base64');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new LockboxError('PROVIDER_ERROR', `provider "${providerId}": the binary secret "${entry.Name ?? '?'}" is not valid UTF-8`, {
      provider: providerId, hint: 'set binary_encoding: base64 to read binary secrets as base64 text',
    });
  }
}
