/**
 * A master-key rotation in progress, as the store's meta table records it. While a rotation runs
 * the store holds each of the two master keys wrapped (AES-256-GCM) under the other one:
 *
 *   rotation           {"from": old key id, "to": new key id, "started_at": …, kms fields}
 *   rotation_next_key  the new key sealed under the old one
 *   rotation_prev_key  the old key sealed under the new one
 *
 * so a store opened with EITHER key gets both, and every row opens whichever key wrapped it —
 * whatever instant a crash stopped the rotation at. The rows go when the rotation finishes.
 */
import { z } from 'zod';
import { openValue, sealValue, IV_BYTES, KEY_BYTES, TAG_BYTES } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import { keyIdOf, type MasterKey } from '../crypto/master-key.js';

/** Meta keys of a rotation in progress. */
export const ROTATION_META_KEYS = { state: 'rotation', next: 'rotation_next_key', previous: 'rotation_prev_key' } as const;

const rotationStateSchema = z.object({
  from: z.string().regex(/^[0-9a-f]{16}$/),
  to: z.string().regex(/^[0-9a-f]{16}$/),
  started_at: z.string(),
  /** KMS key the new master key is wrapped under (kms sources). */
  kms_key_id: z.string().optional(),
  /** KMS ciphertext blob of the new master key, base64 (kms sources; not secret). */
  kms_wrapped_key: z.string().optional(),
});

/** The `rotation` meta row. */
export type RotationState = z.infer<typeof rotationStateSchema>;

/** The rotation in progress, or undefined (also for a malformed row, which then changes nothing). */
export function parseRotationState(meta: ReadonlyMap<string, string>): RotationState | undefined {
  const text = meta.get(ROTATION_META_KEYS.state);
  if (text === undefined) return undefined;
  try {
    const parsed = rotationStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `wrapped` sealed under `wrapping` (base64 of iv | tag | ciphertext), bound to the store and both key ids. */
export function wrapMasterKey(wrapping: MasterKey, wrapped: MasterKey, storeId: string): string {
  const { iv, tag, ciphertext } = sealValue(wrapping.key, wrapped.key, masterKeyAad(storeId, wrapping.keyId, wrapped.keyId));
  return Buffer.concat([iv, tag, ciphertext]).toString('base64');
}

/** The key `sealed` holds, or undefined when it does not open under `wrapping` (changed, moved, other key). */
export function unwrapMasterKey(wrapping: MasterKey, sealed: string, storeId: string, wrappedKeyId: string): MasterKey | undefined {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length !== IV_BYTES + TAG_BYTES + KEY_BYTES) return undefined;
  let key: Buffer;
  try {
    key = openValue(wrapping.key, bytes.subarray(0, IV_BYTES), bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES),
      bytes.subarray(IV_BYTES + TAG_BYTES), masterKeyAad(storeId, wrapping.keyId, wrappedKeyId));
  } catch {
    return undefined;
  }
  if (keyIdOf(key) !== wrappedKeyId) {
    key.fill(0);
    return undefined;
  }
  return { key, keyId: wrappedKeyId, source: `the store's rotation record (opened with key id ${wrapping.keyId})` };
}

/**
 * With a rotation in progress, adds the other key of the pair to the keyring (unwrapped with the
 * one it holds). Does nothing otherwise.
 */
export function addRotationKeys(keyring: Keyring, meta: ReadonlyMap<string, string>, storeId: string): RotationState | undefined {
  const state = parseRotationState(meta);
  if (state === undefined) return undefined;
  const pairs = [[state.from, state.to, ROTATION_META_KEYS.next], [state.to, state.from, ROTATION_META_KEYS.previous]] as const;
  for (const [held, wanted, metaKey] of pairs) {
    const wrapping = keyring.get(held);
    const sealed = meta.get(metaKey);
    if (wrapping === undefined || sealed === undefined || keyring.get(wanted) !== undefined) continue;
    const key = unwrapMasterKey(wrapping, sealed, storeId, wanted);
    if (key) keyring.add(key);
  }
  return state;
}

function masterKeyAad(storeId: string, wrappingKeyId: string, wrappedKeyId: string): Buffer {
  return Buffer.from(`lockbox:v1:master-key\0${storeId}\0${wrappingKeyId}\0${wrappedKeyId}`);
}
