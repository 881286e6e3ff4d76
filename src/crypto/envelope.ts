/**
 * Envelope encryption for the local store: each version's value is sealed with AES-256-GCM under
 * its own random 32-byte data key; the data key is sealed (wrapped) with AES-256-GCM under the
 * master key. The additional data (AAD) binds store id + scope + name + version, so a ciphertext
 * copied to another row fails to open. Node's createCipheriv/createDecipheriv are used directly.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const ALGORITHM = 'aes-256-gcm';
/** Bytes of a data key and of the master key (AES-256). */
export const KEY_BYTES = 32;
/** Bytes of a GCM nonce (IV). */
export const IV_BYTES = 12;
/** Bytes of a GCM authentication tag. */
export const TAG_BYTES = 16;
/** Bytes of a wrapped data key: iv (12) | tag (16) | encrypted key (32). */
export const WRAPPED_KEY_BYTES = IV_BYTES + TAG_BYTES + KEY_BYTES;

/** Offset of the value's IV in a version's envelope: wrapped data key | iv | tag | ciphertext. */
export const ENVELOPE_IV_OFFSET = WRAPPED_KEY_BYTES;
/** Offset of the value's GCM tag in an envelope. */
export const ENVELOPE_TAG_OFFSET = ENVELOPE_IV_OFFSET + IV_BYTES;
/** Offset of the value's ciphertext in an envelope. */
export const ENVELOPE_CIPHERTEXT_OFFSET = ENVELOPE_TAG_OFFSET + TAG_BYTES;

const KEY_CHECK_PLAINTEXT = Buffer.from('lockbox key check v1');

/** A plaintext sealed with AES-256-GCM. */
export interface SealedValue {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** Seals `plaintext` under `key` with a random IV, authenticating `aad`. */
export function sealValue(key: Buffer, plaintext: Buffer, aad: Buffer): SealedValue {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ciphertext };
}

/**
 * Opens a sealed value. Throws (a Node crypto error, never holding plaintext) when any byte of
 * iv, tag, ciphertext or aad differs from what was sealed.
 */
export function openValue(key: Buffer, iv: Buffer, tag: Buffer, ciphertext: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(ciphertext);
  decipher.final();
  return plaintext;
}

/** Wraps a data key under the master key: returns iv | tag | encrypted key (60 bytes). */
export function wrapDataKey(masterKey: Buffer, dataKey: Buffer, aad: Buffer): Buffer {
  const { iv, tag, ciphertext } = sealValue(masterKey, dataKey, aad);
  return Buffer.concat([iv, tag, ciphertext]);
}

/** Unwraps a data key; throws when the wrapped bytes or the aad were changed. */
export function unwrapDataKey(masterKey: Buffer, wrapped: Buffer, aad: Buffer): Buffer {
  if (wrapped.length !== WRAPPED_KEY_BYTES) throw new Error('wrapped data key has the wrong length');
  return openValue(
    masterKey,
    wrapped.subarray(0, IV_BYTES),
    wrapped.subarray(IV_BYTES, IV_BYTES + TAG_BYTES),
    wrapped.subarray(IV_BYTES + TAG_BYTES),
    aad,
  );
}

/**
 * Seals a version under a fresh random data key: the data key wrapped under `masterKey`
 * (authenticating `keyAad`), then the plaintext under the data key (authenticating `aad`), as one
 * blob: wrapped data key (60) | iv (12) | tag (16) | ciphertext. One draw from the entropy pool
 * gives the data key and both IVs; the pieces are written straight into the envelope.
 */
export function sealEnvelope(masterKey: Buffer, plaintext: Buffer, aad: Buffer, keyAad: Buffer): { envelope: Buffer; dataKey: Buffer } {
  const { dataKey, wrapped } = newDataKey(masterKey, keyAad);
  return { envelope: sealWithDataKey(dataKey, wrapped, plaintext, aad), dataKey };
}

/** A fresh random data key and its wrapping under `masterKey` (iv | tag | encrypted key, 60 bytes). */
export function newDataKey(masterKey: Buffer, keyAad: Buffer): { dataKey: Buffer; wrapped: Buffer } {
  const random = freshRandomBytes(KEY_BYTES + IV_BYTES);
  const dataKey = random.subarray(0, KEY_BYTES);
  const wrapped = Buffer.allocUnsafe(WRAPPED_KEY_BYTES);
  random.copy(wrapped, 0, KEY_BYTES);
  const wrap = createCipheriv(ALGORITHM, masterKey, wrapped.subarray(0, IV_BYTES));
  wrap.setAAD(keyAad);
  wrap.update(dataKey).copy(wrapped, IV_BYTES + TAG_BYTES);
  wrap.final();
  wrap.getAuthTag().copy(wrapped, IV_BYTES);
  return { dataKey, wrapped };
}

/** Seals `plaintext` under a data key already wrapped (`wrapped`, 60 bytes) as one envelope. */
export function sealWithDataKey(dataKey: Buffer, wrapped: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const envelope = Buffer.allocUnsafe(ENVELOPE_CIPHERTEXT_OFFSET + plaintext.length);
  wrapped.copy(envelope, 0, 0, WRAPPED_KEY_BYTES);
  const iv = envelope.subarray(ENVELOPE_IV_OFFSET, ENVELOPE_TAG_OFFSET);
  freshRandomInto(iv);
  const cipher = createCipheriv(ALGORITHM, dataKey, iv);
  cipher.setAAD(aad);
  cipher.update(plaintext).copy(envelope, ENVELOPE_CIPHERTEXT_OFFSET);
  cipher.final();
  cipher.getAuthTag().copy(envelope, ENVELOPE_TAG_OFFSET);
  return envelope;
}

/**
 * Unwraps a version's data key, which is either its own (wrapped with `versionKeyAad`, bound to
 * the version) or shared by the versions of one batch write (wrapped with `sharedKeyAad`, bound
 * to the store and master key; the value's own AAD still binds each version). Throws when it
 * opens with neither.
 */
export function unwrapVersionKey(masterKey: Buffer, wrapped: Buffer, versionKeyAad: Buffer, sharedKeyAad: Buffer): { dataKey: Buffer; shared: boolean } {
  try {
    return { dataKey: unwrapDataKey(masterKey, wrapped, versionKeyAad), shared: false };
  } catch {
    return { dataKey: unwrapDataKey(masterKey, wrapped, sharedKeyAad), shared: true };
  }
}

/** The wrapped data key at the start of an envelope (a view, not a copy). */
export function envelopeWrappedKey(envelope: Buffer): Buffer {
  return envelope.subarray(0, WRAPPED_KEY_BYTES);
}

/** Opens the value of an envelope with its (unwrapped) data key; throws if anything was changed. */
export function openEnvelope(dataKey: Buffer, envelope: Buffer, aad: Buffer): Buffer {
  if (envelope.length < ENVELOPE_CIPHERTEXT_OFFSET) throw new Error('envelope is too short');
  return openValue(
    dataKey,
    envelope.subarray(ENVELOPE_IV_OFFSET, ENVELOPE_TAG_OFFSET),
    envelope.subarray(ENVELOPE_TAG_OFFSET, ENVELOPE_CIPHERTEXT_OFFSET),
    envelope.subarray(ENVELOPE_CIPHERTEXT_OFFSET),
    aad,
  );
}

/** AAD of a version's value: purpose, store id, scope ('' = global), name, version. */
export function valueAad(storeId: string, scope: string, name: string, version: number): Buffer {
  return Buffer.from(`lockbox:v1:value\0${storeId}\0${scope}\0${name}\0${version}`);
}

/** AAD of a version's wrapped data key: as valueAad, plus the wrapping master key's id. */
export function dataKeyAad(storeId: string, scope: string, name: string, version: number, keyId: string): Buffer {
  return Buffer.from(`lockbox:v1:data-key\0${storeId}\0${scope}\0${name}\0${version}\0${keyId}`);
}

/**
 * AAD of a data key shared by the versions one batch write seals (SqliteStore.setMany): purpose,
 * store id and the wrapping master key's id.
 */
export function sharedDataKeyAad(storeId: string, keyId: string): Buffer {
  return Buffer.from(`lockbox:v1:shared-data-key\0${storeId}\0${keyId}`);
}

/** Seals the known key-check constant under the master key (stored in the meta table). */
export function sealKeyCheck(masterKey: Buffer, storeId: string): Buffer {
  const { iv, tag, ciphertext } = sealValue(masterKey, KEY_CHECK_PLAINTEXT, keyCheckAad(storeId));
  return Buffer.concat([iv, tag, ciphertext]);
}

/** True when `sealed` opens under `masterKey` to the key-check constant. */
export function verifyKeyCheck(masterKey: Buffer, storeId: string, sealed: Buffer): boolean {
  if (sealed.length <= IV_BYTES + TAG_BYTES) return false;
  try {
    const plaintext = openValue(
      masterKey,
      sealed.subarray(0, IV_BYTES),
      sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES),
      sealed.subarray(IV_BYTES + TAG_BYTES),
      keyCheckAad(storeId),
    );
    return plaintext.equals(KEY_CHECK_PLAINTEXT);
  } catch {
    return false;
  }
}

/**
 * A small LRU of unwrapped data keys, keyed by the exact wrapped-key bytes, so a repeat read does
 * one AES-GCM open instead of two. Plaintext data keys live in process memory while cached; they
 * are zeroed (best effort) on eviction and on clear(). Capacity 0 disables the cache.
 */
export class DataKeyCache {
  readonly #entries = new Map<string, Buffer>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(wrapped: string): Buffer | undefined {
    const key = this.#entries.get(wrapped);
    if (key !== undefined) {
      this.#entries.delete(wrapped);
      this.#entries.set(wrapped, key);
    }
    return key;
  }

  set(wrapped: string, dataKey: Buffer): void {
    if (this.capacity === 0) return;
    const existing = this.#entries.get(wrapped);
    if (existing !== undefined && existing !== dataKey) existing.fill(0);
    this.#entries.delete(wrapped);
    this.#entries.set(wrapped, dataKey);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.get(oldest)?.fill(0);
      this.#entries.delete(oldest);
    }
  }

  /** Zeroes and drops every cached key. */
  clear(): void {
    for (const key of this.#entries.values()) key.fill(0);
    this.#entries.clear();
  }
}

/**
 * Random bytes from a 4 KiB pool refilled by one randomBytes call: OpenSSL's per-call cost is
 * larger than the two AES-GCM operations of a write. Each draw is copied out and its bytes in the
 * pool zeroed, so the pool never holds a key that has been handed out.
 */
let entropy = Buffer.alloc(0);
let entropyOffset = 0;

function freshRandomBytes(size: number): Buffer {
  if (entropyOffset + size > entropy.length) {
    entropy = randomBytes(4096);
    entropyOffset = 0;
  }
  const out = Buffer.allocUnsafe(size);
  entropy.copy(out, 0, entropyOffset, entropyOffset + size);
  entropy.fill(0, entropyOffset, entropyOffset + size);
  entropyOffset += size;
  return out;
}

/** Fills `target` with fresh random bytes from the pool (an IV). */
function freshRandomInto(target: Buffer): void {
  const random = freshRandomBytes(target.length);
  random.copy(target);
}

function keyCheckAad(storeId: string): Buffer {
  return Buffer.from(`lockbox:v1:key-check\0${storeId}`);
}
