/**
 * The last-known-good snapshot's file format: magic | master key id | salt (the header, bound as
 * AAD) | iv | tag | AES-256-GCM ciphertext of the encoded entries, under a per-write file key
 * derived (HKDF-SHA256) from the snapshot's root key and the salt. Written atomically, mode 0600.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { IV_BYTES, KEY_BYTES, TAG_BYTES, openValue, sealValue } from '../crypto/envelope.js';

/** One remembered value with its metadata, as the file stores it. */
export interface SnapshotEntry {
  key: string; value: string; provider: string; name: string; scope?: string; version: string; labels: string[];
  createdAt: number; updatedAt: number; expiresAt?: number; tags: Record<string, string>; recordedAt: number;
}

/** A problem with the file's layout (its message says what, never a value). */
export class SnapshotFormatError extends Error {}

const MAGIC = Buffer.from('LBXLKG\u0000\u0001');
const KEY_ID_BYTES = 16;
const SALT_BYTES = 32;
const HEADER_BYTES = MAGIC.length + KEY_ID_BYTES + SALT_BYTES;
const ROOT_INFO = 'lockbox:v1:lkg-snapshot';
const FILE_INFO = 'lockbox:v1:lkg-snapshot:file';

/** The snapshot's root key, derived from the master key with its own info string. */
export function deriveSnapshotRootKey(masterKey: Buffer): Buffer {
  return derive(masterKey, Buffer.alloc(0), ROOT_INFO);
}

/**
 * The entries of a sealed snapshot file. A layout problem or another master key is a
 * SnapshotFormatError; a failed authentication is the cipher's error.
 */
export function openSnapshot(sealed: Buffer, rootKey: Buffer, currentKeyId: string): SnapshotEntry[] {
  if (sealed.length < HEADER_BYTES + IV_BYTES + TAG_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SnapshotFormatError('is not a lockbox snapshot (corrupt or truncated)');
  }
  const keyId = sealed.subarray(MAGIC.length, MAGIC.length + KEY_ID_BYTES).toString('latin1');
  if (keyId !== currentKeyId) throw new SnapshotFormatError(`was sealed under another master key (id ${keyId.replace(/[^0-9a-f]/g, '?')}; the current key is ${currentKeyId})`);
  const header = sealed.subarray(0, HEADER_BYTES);
  const fileKey = derive(rootKey, header.subarray(MAGIC.length + KEY_ID_BYTES), FILE_INFO);
  let plaintext: Buffer | undefined;
  try {
    const iv = sealed.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
    const tag = sealed.subarray(HEADER_BYTES + IV_BYTES, HEADER_BYTES + IV_BYTES + TAG_BYTES);
    plaintext = openValue(fileKey, iv, tag, sealed.subarray(HEADER_BYTES + IV_BYTES + TAG_BYTES), header);
    return decodeEntries(plaintext);
  } finally {
    fileKey.fill(0);
    plaintext?.fill(0);
  }
}

/** The file's bytes for `entries`, sealed under a fresh salt; the plaintext and file key are zeroed. */
export function sealSnapshot(entries: SnapshotEntry[], rootKey: Buffer, keyId: string): Buffer {
  const salt = randomBytes(SALT_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from(keyId, 'latin1'), salt]);
  const fileKey = derive(rootKey, salt, FILE_INFO);
  const plaintext = encodeEntries(entries);
  let sealed: ReturnType<typeof sealValue>;
  try {
    sealed = sealValue(fileKey, plaintext, header);
  } finally {
    fileKey.fill(0);
    plaintext.fill(0);
  }
  return Buffer.concat([header, sealed.iv, sealed.tag, sealed.ciphertext]);
}

/** Replaces `path` with `data`: a mode-0600 temp file, fsync, rename, then (best effort) a directory fsync. */
export function writeAtomically(path: string, data: Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  try {
    const dir = openSync(dirname(path), 'r');
    try { fsyncSync(dir); } finally { closeSync(dir); }
  } catch {
    // directory fsync is best effort (not every platform allows it)
  }
}

const entryHeaderSchema = z.object({
  key: z.string(), provider: z.string(), name: z.string(), scope: z.string().optional(), version: z.string(),
  labels: z.array(z.string()), createdAt: z.number(), updatedAt: z.number(), expiresAt: z.number().optional(),
  tags: z.record(z.string()), recordedAt: z.number(),
}).strict();

/** count (u32) | per entry: header length (u32) | header JSON (no value) | value length (u32) | value bytes. */
function encodeEntries(entries: SnapshotEntry[]): Buffer {
  const headers = entries.map(({ value: _value, ...header }) => Buffer.from(JSON.stringify(header)));
  let size = 4;
  for (let i = 0; i < entries.length; i++) size += 8 + headers[i]!.length + Buffer.byteLength(entries[i]!.value);
  const out = Buffer.alloc(size);
  let at = out.writeUInt32BE(entries.length, 0);
  for (let i = 0; i < entries.length; i++) {
    at = out.writeUInt32BE(headers[i]!.length, at);
    at += headers[i]!.copy(out, at);
    const length = Buffer.byteLength(entries[i]!.value);
    at = out.writeUInt32BE(length, at);
    at += out.write(entries[i]!.value, at, length, 'utf8');
  }
  return out;
}

function decodeEntries(plaintext: Buffer): SnapshotEntry[] {
  try {
    const entries: SnapshotEntry[] = [];
    const count = plaintext.readUInt32BE(0);
    let at = 4;
    for (let i = 0; i < count; i++) {
      const headerLength = plaintext.readUInt32BE(at);
      const header = entryHeaderSchema.parse(JSON.parse(plaintext.toString('utf8', at + 4, at + 4 + headerLength)));
      at += 4 + headerLength;
      const valueLength = plaintext.readUInt32BE(at);
      if (at + 4 + valueLength > plaintext.length) throw new RangeError('value past the end');
      entries.push({ ...header, value: plaintext.toString('utf8', at + 4, at + 4 + valueLength) });
      at += 4 + valueLength;
    }
    return entries;
  } catch {
    throw new SnapshotFormatError('has entries that cannot be read (corrupt)');
  }
}

function derive(key: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, info, KEY_BYTES));
}
