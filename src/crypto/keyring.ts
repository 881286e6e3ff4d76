/**
 * The keyring of the local store: the active master key (it wraps every new data key) plus the
 * other keys that still open rows — during a key rotation both the old and the new key are here,
 * so a row opens whichever key wrapped it (its `key_id` says which). Keys are named by their id
 * (keyIdOf: the first 8 bytes of SHA-256 of the key, hex), never by their bytes.
 *
 * Zeroing is best effort: every Buffer the keyring holds is overwritten with `.fill(0)` by
 * `zero()` (the store calls it on close), and the code that reads keys zeroes its own buffers
 * after use. JavaScript cannot do more: strings (the base64 text a key arrived as, from a file,
 * a variable or a command's output) are immutable and cannot be zeroed, and V8 or an SDK may have
 * copied a buffer before it was zeroed.
 */
import { LockboxError } from '../errors.js';
import type { MasterKey } from './master-key.js';

export type { MasterKey } from './master-key.js';

/** The active master key and the older ones that still open rows. */
export class Keyring {
  readonly #keys = new Map<string, MasterKey>();
  #active: MasterKey;

  /** A keyring whose active key is `active`; it takes ownership of every key given (zero() zeroes them). */
  constructor(active: MasterKey, older: readonly MasterKey[] = []) {
    this.#keys.set(active.keyId, active);
    this.#active = active;
    for (const key of older) this.add(key);
  }

  /** The keyring itself, or a new keyring holding just `keys`. */
  static from(keys: MasterKey | Keyring): Keyring {
    return keys instanceof Keyring ? keys : new Keyring(keys);
  }

  /** The key that wraps new data keys. */
  get active(): MasterKey {
    return this.#active;
  }

  /** Ids of every key held, the active one first. */
  get keyIds(): string[] {
    return [this.#active.keyId, ...[...this.#keys.keys()].filter((id) => id !== this.#active.keyId)];
  }

  /** The key with this id, if held. */
  get(keyId: string | null | undefined): MasterKey | undefined {
    return keyId === null || keyId === undefined ? undefined : this.#keys.get(keyId);
  }

  /**
   * Adds a key (ownership passes to the keyring). A key whose id is already held is zeroed and
   * the held one returned.
   */
  add(key: MasterKey): MasterKey {
    const held = this.#keys.get(key.keyId);
    if (held !== undefined) {
      if (held !== key) key.key.fill(0);
      return held;
    }
    this.#keys.set(key.keyId, key);
    return key;
  }

  /** Makes the held key with this id the active one. */
  activate(keyId: string): MasterKey {
    const key = this.#keys.get(keyId);
    if (key === undefined) throw new LockboxError('MASTER_KEY_INVALID', `the keyring holds no master key with id ${keyId}`);
    this.#active = key;
    return key;
  }

  /** Overwrites every key held with zeros (best effort, see the module comment). */
  zero(): void {
    for (const key of this.#keys.values()) key.key.fill(0);
  }
}

/**
 * The store's keys changed under an open keyring: another process rotated the master key while
 * this one had the store open (a row is wrapped by a key this keyring does not hold, or the
 * store's active key is not this keyring's). The local provider reloads its keyring once and
 * retries; a second failure is reported with this error's code and message.
 */
export class KeyringMismatchError extends LockboxError {
  constructor(code: 'SECRET_TAMPERED' | 'STORE_ERROR', message: string, options: { provider?: string; hint?: string } = {}) {
    super(code, message, { ...options, transient: code === 'STORE_ERROR' });
    this.name = 'KeyringMismatchError';
  }
}
