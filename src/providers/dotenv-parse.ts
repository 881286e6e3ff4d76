/**
 * The one `.env` parser lockbox uses (the `dotenv` provider and `.env` files read by the `file`
 * provider). Syntax, as documented in docs/providers.md:
 *
 * - `KEY=VALUE` and `export KEY=VALUE`; keys match `[A-Za-z_][A-Za-z0-9_.-]*`; spaces around
 *   the key and the `=` are ignored.
 * - Blank lines and full-line `#` comments are ignored.
 * - Unquoted values are trimmed; a `#` preceded by whitespace starts an inline comment
 *   (`a#b` keeps its `#`, as in a shell).
 * - `'single'` and `` `backtick` `` quotes are literal; `"double"` quotes understand
 *   `\n \r \t \" \\` (any other backslash is kept as written). Quoted values may span lines;
 *   after the closing quote only whitespace and a `# comment` may follow.
 * - CRLF line ends and a leading byte-order mark are accepted.
 * - No `${VAR}` interpolation: values are taken literally.
 * - A line that breaks these rules (no `=`, a bad key, an unterminated quote, text after a
 *   closing quote) is skipped; a later duplicate key wins.
 */

/** Keys a `.env` line may define. */
export const DOTENV_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const ASSIGNMENT = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=/;
const AFTER_QUOTE = /^[ \t]*(?:#.*)?$/;
const QUOTES = new Set(['"', "'", '`']);

/**
 * Parses `.env` text into key → value. The result has no prototype, so keys such as
 * `__proto__` or `constructor` are ordinary entries and cannot pollute Object.prototype.
 */
export function parseDotenv(text: string): Record<string, string> {
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  const source = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  let position = 0;
  while (position < source.length) {
    const lineEnd = endOfLine(source, position);
    const line = source.slice(position, lineEnd);
    const assignment = ASSIGNMENT.exec(line);
    if (!assignment) {
      position = lineEnd + 1;
      continue;
    }
    const key = assignment[1] as string;
    const afterEquals = position + assignment[0].length;
    const valueStart = afterEquals + leadingBlanks(line.slice(assignment[0].length));
    const quote = source[valueStart];
    if (quote !== undefined && QUOTES.has(quote)) {
      const parsed = readQuoted(source, valueStart, quote);
      if (parsed) {
        result[key] = parsed.value;
        position = parsed.next;
      } else {
        position = lineEnd + 1;
      }
      continue;
    }
    result[key] = readUnquoted(source.slice(afterEquals, lineEnd));
    position = lineEnd + 1;
  }
  return result;
}

/** A quoted value and where the next line starts, or null when the value is malformed. */
function readQuoted(source: string, openAt: number, quote: string): { value: string; next: number } | null {
  const closeAt = quote === '"' ? closingDoubleQuote(source, openAt + 1) : source.indexOf(quote, openAt + 1);
  if (closeAt === -1) return null;
  const restEnd = endOfLine(source, closeAt + 1);
  if (!AFTER_QUOTE.test(source.slice(closeAt + 1, restEnd))) return null;
  const raw = source.slice(openAt + 1, closeAt);
  return { value: quote === '"' ? unescapeDoubleQuoted(raw) : raw, next: restEnd + 1 };
}

function readUnquoted(raw: string): string {
  const comment = raw.search(/[ \t]#/);
  return (comment === -1 ? raw : raw.slice(0, comment)).trim();
}

function closingDoubleQuote(source: string, from: number): number {
  for (let i = from; i < source.length; i += 1) {
    if (source[i] === '\\') i += 1;
    else if (source[i] === '"') return i;
  }
  return -1;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

function unescapeDoubleQuoted(raw: string): string {
  return raw.replace(/\\(.)/gs, (whole, char: string) => ESCAPES[char] ?? whole);
}

function leadingBlanks(text: string): number {
  return text.length - text.replace(/^[ \t]+/, '').length;
}

function endOfLine(source: string, from: number): number {
  const end = source.indexOf('\n', from);
  return end === -1 ? source.length : end;
}
