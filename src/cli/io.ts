import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { LockboxError } from '../errors.js';

/** Reads all of stdin when it is a pipe or a file; undefined when it is a terminal. */
export function readStdin(): string | undefined {
  if (process.stdin.isTTY) return undefined;
  try {
    return readFileSync(0, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EAGAIN' || code === 'EOF' || code === 'ENXIO' || code === 'EBADF') return undefined;
    throw error;
  }
}

/** Strips one trailing newline (what `echo` and editors add). */
export function stripTrailingNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** "30s", "5m", "2h", "7d" or plain seconds → milliseconds. */
export function parseDurationMs(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!match) {
    throw new LockboxError('INVALID_ARGUMENT', `${option} "${text}" is not a duration`, { hint: 'use e.g. 90s, 15m, 12h or 7d' });
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

/** Parses repeated `--tag k=v` options. */
export function parseTags(pairs: string[] = []): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new LockboxError('INVALID_ARGUMENT', `--tag "${pair}" is not key=value`, { hint: 'write --tag team=payments' });
    Object.defineProperty(tags, pair.slice(0, at), { value: pair.slice(at + 1), enumerable: true, writable: true, configurable: true });
  }
  return tags;
}

/** Writes a line to stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to stderr (progress and confirmations, so stdout stays clean for values). */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** JSON on stdout, with dates as ISO text. */
export function outJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Writes a file that may hold secrets: atomically (temp file + rename) and with mode 0600. */
export function writePrivateFile(path: string, content: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}
