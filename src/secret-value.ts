import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

const REDACTED = '[REDACTED]';

/**
 * A secret value that never prints itself: String(), template literals, JSON.stringify and
 * util.inspect all give "[REDACTED]". `.reveal()` is the only way out.
 */
export class SecretValue {
  #value: string;

  constructor(value: string) {
    if (typeof value !== 'string') throw new TypeError('SecretValue takes a string');
    this.#value = value;
  }

  /** Wraps a string (or passes a SecretValue through). */
  static from(value: string | SecretValue): SecretValue {
    return value instanceof SecretValue ? value : new SecretValue(value);
  }

  /** The plaintext. Every call site of this method is a place a secret leaves lockbox. */
  reveal(): string {
    return this.#value;
  }

  /** Constant-time comparison with another value. */
  equals(other: string | SecretValue): boolean {
    const a = Buffer.from(this.#value);
    const b = Buffer.from(other instanceof SecretValue ? other.#value : other);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Drops the reference to the plaintext (best effort: JS strings cannot be zeroed). */
  dispose(): void {
    this.#value = '';
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
