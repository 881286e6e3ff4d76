import type { Transform } from 'node:stream';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import { createMaskStream, FormMatcher, maskSegment, type MatcherSource } from './mask-stream.js';

/** What a masked stretch of text becomes. */
export const REDACTED = '[REDACTED]';

/** Base64 found inside longer base64 text must be at least this long to be masked (fewer chars match by chance). */
export const EMBEDDED_BASE64_MIN_LENGTH = 8;

/** Options of a Redactor. */
export interface RedactorOptions {
  /**
   * Values (and encoded forms) shorter than this many characters are not registered: very
   * short values such as "1", "on" or "dev" occur everywhere, and masking them would garble
   * all output while protecting nothing. @default 4
   */
  minLength?: number;
  /** Text that replaces each masked stretch. @default "[REDACTED]" */
  replacement?: string;
}

const optionsSchema = z.object({
  minLength: z.number().int().min(1).default(4),
  replacement: z.string().default(REDACTED),
}).strict();

/**
 * Remembers secret values and masks them in text and streams. Each value is registered in the
 * forms it is commonly printed in: raw; base64 (standard and url-safe, with and without
 * padding, and the stable middle part of its base64 when it sits inside a longer base64 text,
 * as in an HTTP Basic header); URL-encoded (encodeURIComponent and form encoding); and
 * JSON-escaped. Where registered forms overlap or one contains another, the whole stretch is
 * masked once.
 */
export class Redactor implements MatcherSource {
  /** Shortest value registered, in characters. */
  readonly minLength: number;
  readonly replacement: string;
  readonly #values = new Set<string>();
  readonly #forms = new Set<string>();
  /** Values registered since the matcher was last asked for: their encoded forms are added then. */
  #unencoded: string[] = [];
  #matcher: FormMatcher | null = null;

  constructor(options: RedactorOptions = {}) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new LockboxError('INVALID_INPUT', `invalid Redactor options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    this.minLength = parsed.data.minLength;
    this.replacement = parsed.data.replacement;
  }

  /** Number of distinct values registered (values shorter than minLength are not counted). */
  get size(): number {
    return this.#values.size;
  }

  /**
   * Registers a value and its encoded forms; a value shorter than `minLength` is ignored. The
   * forms are computed when text is next masked (reads register far more values than get masked).
   */
  register(value: string | SecretValue): void {
    const raw = value instanceof SecretValue ? value.reveal() : value;
    if (typeof raw !== 'string') throw new LockboxError('INVALID_INPUT', 'Redactor.register takes a string or a SecretValue');
    if (raw.length < this.minLength || this.#values.has(raw)) return;
    this.#values.add(raw);
    this.#unencoded.push(raw);
  }

  /** `text` with every registered form replaced by the replacement text. */
  mask(text: string): string {
    return maskSegment(this, text, true).output;
  }

  /** A Transform masking a byte or text stream (see createMaskStream for how it holds back). */
  createMaskStream(): Transform {
    return createMaskStream(this);
  }

  /** The combined matcher over the current forms, rebuilt after a register() added forms. */
  matcher(): FormMatcher {
    if (this.#unencoded.length > 0) this.#encodePending();
    this.#matcher ??= new FormMatcher(this.#forms);
    return this.#matcher;
  }

  /** Adds the encoded forms of the values registered since the last call. */
  #encodePending(): void {
    const values = this.#unencoded;
    this.#unencoded = [];
    for (const raw of values) {
      for (const form of encodedForms(raw)) {
        if (form.length >= this.minLength && !this.#forms.has(form)) {
          this.#forms.add(form);
          this.#matcher = null;
        }
      }
    }
  }
}

/** The process-wide redactor that the CLI's manager registers every value it reads into. */
export const globalRedactor = new Redactor();

/** Every form of `raw` that may show up in output. */
function encodedForms(raw: string): string[] {
  const bytes = Buffer.from(raw, 'utf8');
  const base64 = bytes.toString('base64');
  const base64Url = bytes.toString('base64url');
  const forms = [
    raw,
    base64,
    base64.replace(/=+$/, ''),
    base64Url,
    base64Url + '='.repeat((4 - (base64Url.length % 4)) % 4),
    JSON.stringify(raw).slice(1, -1),
    ...embeddedBase64(bytes),
  ];
  try {
    forms.push(encodeURIComponent(raw), new URLSearchParams([['', raw]]).toString().slice(1));
  } catch {
    // A lone surrogate cannot be URL-encoded; the other forms still apply.
  }
  return forms;
}

/**
 * The base64 characters that depend only on the value's own bytes, when the value starts at
 * byte offset 0, 1 or 2 of a longer encoded text (e.g. the password in `base64(user:password)`).
 */
function embeddedBase64(bytes: Buffer): string[] {
  const forms: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const shifted = Buffer.concat([Buffer.alloc(offset), bytes]);
    const first = Math.ceil((4 * offset) / 3);
    const end = Math.floor((4 * (offset + bytes.length)) / 3);
    if (end - first < EMBEDDED_BASE64_MIN_LENGTH) continue;
    forms.push(shifted.toString('base64').slice(first, end), shifted.toString('base64url').slice(first, end));
  }
  return forms;
}
