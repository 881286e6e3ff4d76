/**
 * The `command` master-key source: a program that prints the base64 key on stdout — a password
 * manager's CLI such as `op read op://vault/lockbox/key` or `pass show lockbox`. It runs without
 * a shell (child_process.execFile): no globbing, no variables, no pipes. Errors name the command
 * and what went wrong, never its output (stdout holds the key; stderr may echo it).
 */
import { execFile } from 'node:child_process';
import { LockboxError } from '../errors.js';
import { parseMasterKey, type MasterKey } from './master-key.js';

/** Most bytes read from the command's stdout or stderr. */
export const MAX_COMMAND_OUTPUT_BYTES = 64 * 1024;

/**
 * Splits a command line into program and arguments the way a user expects without a shell:
 * whitespace separates words; '…' and "…" group words with spaces (no escapes, no expansion).
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of text) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote !== undefined) {
    throw new LockboxError('INVALID_INPUT', `the master key command has an unclosed ${quote} quote`, {
      hint: 'close the quote, or give master_key.command as a list of words',
    });
  }
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new LockboxError('INVALID_INPUT', 'the master key command is empty', { hint: 'set master_key.command' });
  return words;
}

/** The command as one line for messages (words with spaces quoted). */
export function formatCommandLine(argv: readonly string[]): string {
  return argv.map((word) => (/[\s"']/.test(word) || word === '' ? JSON.stringify(word) : word)).join(' ');
}

/**
 * Runs `argv` (no shell) with a timeout and parses its stdout as the master key. The output
 * buffers are zeroed after parsing. Failing to start, a timeout, a signal or a non-zero exit is
 * MASTER_KEY_MISSING naming the command; output that is not a key is MASTER_KEY_INVALID.
 */
export function runKeyCommand(argv: readonly string[], timeoutMs: number, env: Record<string, string | undefined>): Promise<MasterKey> {
  const [program, ...args] = argv;
  const shown = formatCommandLine(argv);
  return new Promise((resolve, reject) => {
    execFile(program!, args, {
      encoding: 'buffer', shell: false, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_COMMAND_OUTPUT_BYTES,
      windowsHide: true, env: env as NodeJS.ProcessEnv,
    }, (error, stdout, stderr) => {
      try {
        if (error) {
          reject(commandFailed(shown, program!, timeoutMs, error));
          return;
        }
        resolve(parseMasterKey(stdout.toString('utf8'), `the output of command ${JSON.stringify(shown)}`));
      } catch (parseError) {
        reject(parseError);
      } finally {
        stdout.fill(0);
        stderr.fill(0);
      }
    });
  });
}

/** Describes why the command failed without its output (Node's own message embeds stderr). */
function commandFailed(shown: string, program: string, timeoutMs: number, error: Error): LockboxError {
  const e = error as NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals | null; code?: string | number };
  const command = `the master key command ${JSON.stringify(shown)}`;
  const missing = (why: string, hint: string) => new LockboxError('MASTER_KEY_MISSING', `${command} ${why}`, { hint });
  if (e.code === 'ENOENT') return missing(`could not be started: ${program} was not found`, 'install it or fix master_key.command (it runs without a shell, so use the full path if it is not on PATH)');
  if (e.code === 'EACCES') return missing(`could not be started: ${program} is not executable`, 'check the program\'s permissions');
  if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return missing(`printed more than ${MAX_COMMAND_OUTPUT_BYTES} bytes`, 'the command must print only the base64 key');
  if (e.killed && e.signal) return missing(`did not finish within ${timeoutMs} ms`, 'raise master_key.timeout_ms, or unlock the password manager first (it may be waiting for input)');
  if (e.signal) return missing(`was killed by ${e.signal}`, 'run the command yourself to see why; lockbox never prints its output');
  if (typeof e.code === 'number') return missing(`exited with code ${e.code}`, 'run the command yourself to see why (for example, sign in to the password manager); lockbox never prints its output');
  return missing(`failed (${String(e.code ?? 'error')})`, 'run the command yourself to see why; lockbox never prints its output');
}
