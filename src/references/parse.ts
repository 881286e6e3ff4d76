/**
 * The reference grammar, one for config files, the CLI and the API:
 *
 *   ${secret:[provider:]name[@version][#field][?optional|?default=text]}
 *   ${env:NAME}   ${env:NAME:-default}   $${…} (the literal text `${…}`)
 *
 * Every other `${…}` form is left untouched, but a `${` without a closing `}` is an error.
 * A single-pass scanner: no regex is compiled per call and nothing is parsed twice.
 */
import { LockboxError } from '../errors.js';
import { assertValidName } from '../names.js';
import { VERSION_LABELS, type SecretRef } from '../types.js';

/** A `${secret:…}` reference. */
export interface SecretReference {
  kind: 'secret';
  /** The reference as written, e.g. `${secret:vault:db/pw@2#user}`. */
  raw: string;
  /** The address it names (no scope: the resolver applies its own). */
  ref: SecretRef;
  /** `?optional`: resolves to '' when the secret is not found. */
  optional: boolean;
  /** `?default=text`: resolves to text when the secret is not found. */
  defaultValue?: string;
}

/** A `${env:NAME}` or `${env:NAME:-default}` reference. */
export interface EnvReference {
  kind: 'env';
  raw: string;
  variable: string;
  /** Given when the variable is unset or empty. */
  defaultValue?: string;
}

export type Reference = SecretReference | EnvReference;
export type TemplatePart = { kind: 'text'; text: string } | Reference;

const SECRET_PREFIX = 'secret:';
const ENV_PREFIX = 'env:';
const PROVIDER_ID = /^[A-Za-z0-9._-]+$/;
const VERSION_NUMBER = /^[1-9][0-9]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABELS: ReadonlySet<string> = new Set(VERSION_LABELS);
const DOLLAR = 36;
const GRAMMAR_HINT = 'the form is ${secret:[provider:]name[@version][#field][?optional|?default=text]}; write $${…} for a literal ${…}';

/**
 * Splits a string into text and references. Escapes (`$${`) become text, other `${…}` forms stay
 * as they are. Throws INVALID_REFERENCE (or INVALID_NAME) naming the reference and its line:column.
 */
export function parseTemplate(input: string): TemplatePart[] {
  if (typeof input !== 'string') throw notAString(input);
  const parts: TemplatePart[] = [];
  let text = '';
  let pos = 0;
  for (let open = input.indexOf('${'); open !== -1; open = input.indexOf('${', pos)) {
    if (input.charCodeAt(open - 1) === DOLLAR) { // `$${` is the escape for a literal `${`
      text += input.slice(pos, open - 1) + '${';
      pos = open + 2;
      continue;
    }
    const close = input.indexOf('}', open + 2);
    if (close === -1) throw unbalanced(input, open);
    const isSecret = input.startsWith(SECRET_PREFIX, open + 2);
    if (!isSecret && !input.startsWith(ENV_PREFIX, open + 2)) {
      // Another tool's `${…}`: keep it, and keep scanning inside it.
      text += input.slice(pos, open + 2);
      pos = open + 2;
      continue;
    }
    text += input.slice(pos, open);
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
    const raw = input.slice(open, close + 1);
    const where = () => ` at ${positionOf(input, open)}`;
    parts.push(isSecret
      ? parseSecretBody(raw.slice(2 + SECRET_PREFIX.length, -1), raw, where)
      : parseEnvBody(raw.slice(2 + ENV_PREFIX.length, -1), raw, where));
    pos = close + 1;
  }
  text += input.slice(pos);
  if (text !== '') parts.push({ kind: 'text', text });
  return parts;
}

/**
 * Parses one secret reference: the whole `${secret:…}` or the bare inside (`vault:db/pw@2#user`,
 * as CLI arguments take it). Throws INVALID_REFERENCE or INVALID_NAME.
 */
export function parseSecretReference(text: string): SecretReference {
  if (typeof text !== 'string') throw notAString(text);
  if (!text.startsWith('${')) return parseSecretBody(text, text, noPosition);
  if (!text.startsWith('${' + SECRET_PREFIX)) throw invalid(text, noPosition, 'not a ${secret:…} reference');
  const close = text.indexOf('}');
  if (close === -1) throw invalid(text, noPosition, 'no closing "}"');
  if (close !== text.length - 1) throw invalid(text, noPosition, 'unexpected text after the closing "}"');
  return parseSecretBody(text.slice(2 + SECRET_PREFIX.length, -1), text, noPosition);
}

/**
 * Fast check: true when the input holds a `${secret:…}` or `${env:…}` reference (not validated;
 * parseTemplate does that). An escape (`$${…}`) is not a reference.
 */
export function hasReferences(input: string): boolean {
  for (let open = input.indexOf('${'); open !== -1; open = input.indexOf('${', open + 2)) {
    if (open > 0 && input.charCodeAt(open - 1) === DOLLAR) continue;
    if (input.startsWith(SECRET_PREFIX, open + 2) || input.startsWith(ENV_PREFIX, open + 2)) return true;
  }
  return false;
}

/**
 * Canonical `provider:name@version#field` text of an address, for messages (the parts that are
 * not set are left out; the scope is not part of the grammar and is not shown).
 */
export function formatRef(ref: SecretRef): string {
  let text = ref.provider ? `${ref.provider}:${ref.name}` : ref.name;
  if (ref.version !== undefined) text += `@${ref.version}`;
  if (ref.field !== undefined) text += `#${ref.field}`;
  return text;
}

type Where = () => string;
const noPosition: Where = () => '';

/** Parses `[provider:]name[@version][#field][?optional|?default=text]`. */
function parseSecretBody(body: string, raw: string, where: Where): SecretReference {
  let head = body;
  let optional = false;
  let defaultValue: string | undefined;
  const question = body.indexOf('?');
  if (question !== -1) {
    head = body.slice(0, question);
    const modifier = body.slice(question + 1);
    if (modifier === 'optional') optional = true;
    else if (modifier.startsWith('default=')) defaultValue = modifier.slice('default='.length);
    else throw invalid(raw, where, `unknown modifier ${JSON.stringify('?' + clip(modifier, 40))}: use ?optional or ?default=text`);
    if (defaultValue?.includes('${')) throw invalid(raw, where, 'a default cannot hold a reference (nested references are not supported)');
  }
  let field: string | undefined;
  const hash = head.indexOf('#');
  if (hash !== -1) {
    field = head.slice(hash + 1);
    head = head.slice(0, hash);
    checkField(field, raw, where);
  }
  let version: string | undefined;
  const at = head.indexOf('@');
  if (at !== -1) {
    version = head.slice(at + 1);
    head = head.slice(0, at);
    if (!VERSION_NUMBER.test(version) && !LABELS.has(version)) {
      throw invalid(raw, where, 'version must be a number or current|previous|pending');
    }
  }
  let provider: string | undefined;
  const colon = head.indexOf(':');
  if (colon !== -1) {
    provider = head.slice(0, colon);
    head = head.slice(colon + 1);
    if (provider === '') throw invalid(raw, where, 'the provider id before ":" is empty (drop the ":" to use the provider chain)');
    if (!PROVIDER_ID.test(provider)) {
      throw invalid(raw, where, `provider id ${JSON.stringify(clip(provider, 40))} may only hold letters, digits, ".", "_" and "-"`);
    }
  }
  try {
    assertValidName(head);
  } catch (error) {
    // Keep the InvalidNameError (code INVALID_NAME) and say which reference it came from.
    if (error instanceof LockboxError) error.message = `invalid reference ${quote(raw)}${where()}: ${error.message}`;
    throw error;
  }
  const ref: SecretRef = provider === undefined ? { name: head } : { provider, name: head };
  if (version !== undefined) ref.version = version;
  if (field !== undefined) ref.field = field;
  const reference: SecretReference = { kind: 'secret', raw, ref, optional };
  if (defaultValue !== undefined) reference.defaultValue = defaultValue;
  return reference;
}

/** Parses `NAME` or `NAME:-default`. */
function parseEnvBody(body: string, raw: string, where: Where): EnvReference {
  const separator = body.indexOf(':-');
  const variable = separator === -1 ? body : body.slice(0, separator);
  if (!ENV_NAME.test(variable)) {
    throw invalid(raw, where, 'an environment variable name is letters, digits and "_", not starting with a digit (a default is written ${env:NAME:-default})');
  }
  const reference: EnvReference = { kind: 'env', raw, variable };
  if (separator !== -1) {
    reference.defaultValue = body.slice(separator + 2);
    if (reference.defaultValue.includes('${')) throw invalid(raw, where, 'a default cannot hold a reference (nested references are not supported)');
  }
  return reference;
}

function checkField(field: string, raw: string, where: Where): void {
  if (field === '') throw invalid(raw, where, 'the #field is empty');
  if (field.charCodeAt(0) !== 47 /* "/" */) return;
  for (let tilde = field.indexOf('~'); tilde !== -1; tilde = field.indexOf('~', tilde + 1)) {
    const next = field[tilde + 1];
    if (next !== '0' && next !== '1') throw invalid(raw, where, 'in a JSON pointer "~" must be followed by 0 or 1 (~0 is "~", ~1 is "/")');
  }
}

function unbalanced(input: string, open: number): LockboxError {
  const lineEnd = input.indexOf('\n', open);
  const rest = input.slice(open, lineEnd === -1 ? undefined : lineEnd);
  return invalid(rest, () => ` at ${positionOf(input, open)}`, 'no closing "}" (write $${ for a literal ${)');
}

function notAString(value: unknown): LockboxError {
  return new LockboxError('INVALID_INPUT', `a reference or template is a string, not ${value === null ? 'null' : typeof value}`);
}

function invalid(raw: string, where: Where, problem: string): LockboxError {
  return new LockboxError('INVALID_REFERENCE', `invalid reference ${quote(raw)}${where()}: ${problem}`, { hint: GRAMMAR_HINT });
}

/** 1-based line:column of an offset (computed only when an error needs it). */
function positionOf(input: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let nl = input.indexOf('\n'); nl !== -1 && nl < offset; nl = input.indexOf('\n', nl + 1)) {
    line += 1;
    lineStart = nl + 1;
  }
  return `${line}:${offset - lineStart + 1}`;
}

function quote(raw: string): string {
  return JSON.stringify(clip(raw, 100));
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
