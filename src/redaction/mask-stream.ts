import { StringDecoder } from 'node:string_decoder';
import { Transform } from 'node:stream';

/** What a masking pass needs from a Redactor: the current matcher and the replacement text. */
export interface MatcherSource {
  /** The matcher for the forms registered so far (rebuilt by the redactor when they change). */
  matcher(): FormMatcher;
  readonly replacement: string;
}

/**
 * One combined matcher over every registered form: a longest-first alternation regex (so at
 * any position the longest form wins), plus a sorted copy of the forms to answer "could the
 * text that ends a chunk be the start of a form?" — which decides how much a stream holds back.
 */
export class FormMatcher {
  /** Length of the longest form (0 when there is none). */
  readonly longest: number;
  readonly #pattern: RegExp | null;
  readonly #sorted: string[];
  readonly #firstChars: Set<string>;

  constructor(forms: Iterable<string>) {
    const unique = [...new Set(forms)].filter((form) => form.length > 0);
    unique.sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
    this.longest = unique[0]?.length ?? 0;
    this.#pattern = unique.length ? new RegExp(unique.map(escapeRegExp).join('|'), 'g') : null;
    this.#sorted = [...unique].sort();
    this.#firstChars = new Set(unique.map((form) => form[0]!));
  }

  /**
   * Spans of `text` covered by a form, merged where they overlap (so when one value contains
   * another, or two overlap, the whole stretch is one span). `coveredPrefix` chars at the start
   * are already known to be covered (the end of a span cut by the previous chunk).
   */
  coveredSpans(text: string, coveredPrefix = 0): Span[] {
    const spans: Span[] = coveredPrefix > 0 ? [{ start: 0, end: coveredPrefix }] : [];
    const pattern = this.#pattern;
    if (!pattern) return spans;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      const start = match.index;
      const end = start + match[0].length;
      const last = spans[spans.length - 1];
      if (last && start < last.end) last.end = Math.max(last.end, end);
      else spans.push({ start, end });
      // Look again from the next position: a form that starts inside this match may reach further.
      pattern.lastIndex = start + 1;
    }
    return spans;
  }

  /** Where the held-back tail of an unfinished chunk starts: the first position whose rest could begin a form. */
  holdBackFrom(text: string): number {
    for (let position = Math.max(0, text.length - this.longest + 1); position < text.length; position++) {
      if (this.#firstChars.has(text[position]!) && this.#startsSomeForm(text.slice(position))) return position;
    }
    return text.length;
  }

  #startsSomeForm(head: string): boolean {
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#sorted[middle]! < head) low = middle + 1;
      else high = middle;
    }
    return this.#sorted[low]?.startsWith(head) ?? false;
  }
}

/** A half-open stretch [start, end) of text. */
export interface Span { start: number; end: number }

/** What masking part of a stream produced. */
export interface MaskedSegment {
  /** Masked text to emit. */
  output: string;
  /** Index in the input where the held-back tail starts (the input's length when nothing is held). */
  heldFrom: number;
  /** How many chars at the start of the tail are already masked (a span cut at heldFrom). */
  coveredTail: number;
}

/**
 * Masks `text`. With `final` false, a tail that could be the start of a form is held back
 * (at most the longest form's length − 1 chars) for the caller to prepend to the next chunk.
 * `coveredPrefix` chars at the start continue a span whose "[REDACTED]" was already emitted.
 */
export function maskSegment(source: MatcherSource, text: string, final: boolean, coveredPrefix = 0): MaskedSegment {
  const matcher = source.matcher();
  let heldFrom = final ? text.length : matcher.holdBackFrom(text);
  if (heldFrom > 0 && heldFrom < text.length && isHighSurrogate(text.charCodeAt(heldFrom - 1))) heldFrom--;
  const spans = matcher.coveredSpans(text, coveredPrefix);
  let output = '';
  let position = 0;
  let coveredTail = 0;
  for (const span of spans) {
    const continued = span.start === 0 && coveredPrefix > 0; // its "[REDACTED]" went out with the previous chunk
    if (span.start >= heldFrom && !continued) break;
    if (span.start < heldFrom) {
      output += text.slice(position, span.start);
      if (!continued) output += source.replacement;
      position = Math.min(span.end, heldFrom);
    }
    if (span.end > heldFrom) coveredTail = span.end - heldFrom;
  }
  if (position < heldFrom) output += text.slice(position, heldFrom);
  return { output, heldFrom, coveredTail };
}

/**
 * A Transform that masks every registered form in a byte or text stream. A value split
 * across chunks is still masked (the possible start of a form is held back until the next
 * chunk or the end); UTF-8 characters split across chunks are decoded whole. Values
 * registered while the stream runs are masked from then on.
 */
export function createMaskStream(source: MatcherSource): Transform {
  const decoder = new StringDecoder('utf8');
  let held = '';
  let coveredTail = 0;
  const pass = (text: string, final: boolean): string => {
    const pending = held + text;
    const segment = maskSegment(source, pending, final, coveredTail);
    held = pending.slice(segment.heldFrom);
    coveredTail = segment.coveredTail;
    return segment.output;
  };
  return new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      const output = pass(text, false);
      callback(null, output.length > 0 ? output : undefined);
    },
    flush(callback) {
      const output = pass(decoder.end(), true);
      callback(null, output.length > 0 ? output : undefined);
    },
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
