export { EMBEDDED_BASE64_MIN_LENGTH, globalRedactor, REDACTED, Redactor, type RedactorOptions } from './redactor.js';
export { createMaskStream, FormMatcher, maskSegment, type MaskedSegment, type MatcherSource, type Span } from './mask-stream.js';
