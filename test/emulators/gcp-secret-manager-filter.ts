/**
 * The subset of List-operation filtering (AIP-160) the Secret Manager emulator understands:
 * `field:value` (has / substring), `field=value` (equals), `labels.KEY:*` (presence), quoted
 * values, `NOT`/`-` negation, and `AND` / `OR` / juxtaposition — where, as in AIP-160, OR binds
 * tighter than AND. Anything else is INVALID_ARGUMENT, as the real service answers.
 */
import { ApiError } from './gcp-secret-manager-store.js';

interface Term { field: string; key?: string; op: ':' | '=' | '!='; value: string; negate: boolean }

/** A parsed filter: every clause must hold; a clause holds when any of its terms does. */
export interface Filter { source: string; clauses: Term[][] }

/** What a filter is matched against: plain string fields and string maps (labels, annotations). */
export type Filterable = Record<string, string | Record<string, string>>;

export function parseFilter(source: string | undefined, fields: string[]): Filter {
  const text = (source ?? '').trim();
  const clauses: Term[][] = [];
  let joinWithOr = false;
  let negateNext = false;
  for (const token of tokenize(text)) {
    if (token === 'AND') { joinWithOr = false; continue; }
    if (token === 'OR') { joinWithOr = true; continue; }
    if (token === 'NOT') { negateNext = true; continue; }
    const term = parseTerm(token, fields, negateNext);
    negateNext = false;
    if (joinWithOr && clauses.length > 0) clauses.at(-1)!.push(term);
    else clauses.push([term]);
    joinWithOr = false;
  }
  if (negateNext) throw invalid(text, 'NOT must be followed by a restriction');
  return { source: text, clauses };
}

export function matchesFilter(filter: Filter, target: Filterable): boolean {
  return filter.clauses.every((clause) => clause.some((term) => matchesTerm(term, target)));
}

function matchesTerm(term: Term, target: Filterable): boolean {
  const field = target[term.field];
  let actual: string | undefined;
  if (typeof field === 'string') actual = field;
  else if (field && term.key !== undefined) actual = field[term.key];
  let result: boolean;
  if (term.op === ':' && term.value === '*') result = actual !== undefined;
  else if (actual === undefined) result = false;
  else if (term.field === 'state') result = actual.toUpperCase() === term.value.toUpperCase();
  else if (term.op === ':') result = actual.includes(term.value);
  else result = actual === term.value;
  if (term.op === '!=') result = !result;
  return term.negate ? !result : result;
}

function parseTerm(token: string, fields: string[], negated: boolean): Term {
  let negate = negated;
  let text = token;
  if (text.startsWith('-')) { negate = !negate; text = text.slice(1); }
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_.-]+))?(!=|:|=)(.+)$/.exec(text);
  if (!match) throw invalid(token, 'expected field:value or field=value');
  const [, field, key, op, rawValue] = match as unknown as [string, string, string | undefined, Term['op'], string];
  if (!fields.includes(field)) throw invalid(token, `unknown field "${field}"`);
  const isMap = field === 'labels' || field === 'annotations';
  if (isMap !== (key !== undefined)) throw invalid(token, isMap ? `use ${field}.KEY` : `"${field}" has no sub-fields`);
  return { field, key, op, value: unquote(rawValue), negate };
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    if (!quoted && /\s/.test(char)) {
      if (current) tokens.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  if (quoted) throw invalid(text, 'unterminated quoted string');
  if (current) tokens.push(current);
  return tokens;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

function invalid(filter: string, why: string): ApiError {
  return new ApiError(400, 'INVALID_ARGUMENT', `Invalid filter "${filter}": ${why}.`);
}
