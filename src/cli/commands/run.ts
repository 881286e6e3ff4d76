import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';
import { LockboxError } from '../../errors.js';
import { globalRedactor } from '../../redaction/index.js';
import { resolveDocument } from '../../references/index.js';
import { withContext, type GlobalOptions } from '../context.js';

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export interface RunOptions extends GlobalOptions {
  /** Mask secret values in the child's stdout and stderr. @default true */
  mask?: boolean;
}

/**
 * `lockbox run -- CMD…` — resolves the config's `env:` mapping, starts CMD with those variables
 * added, masks its output, forwards signals and exits with its exit code (or its signal).
 */
export async function run(command: string[], options: RunOptions): Promise<never> {
  const [file, ...args] = command;
  if (!file) throw new LockboxError('INVALID_ARGUMENT', 'no command to run', { hint: 'write: lockbox run -- node server.js' });
  const extraEnv = await withContext(options, async ({ manager, config }) =>
    resolveDocument(manager, config.env, { scope: options.tenant ?? config.tenant }));
  const mask = options.mask !== false;
  const child = spawn(file, args, {
    env: { ...process.env, ...extraEnv },
    stdio: mask ? ['inherit', 'pipe', 'pipe'] : 'inherit',
  });
  // events.once rejects when 'error' is emitted first: that is the failure to start.
  const spawned = await once(child, 'spawn').then(() => null, (error: NodeJS.ErrnoException) => error);
  if (spawned) {
    const notFound = spawned.code === 'ENOENT';
    const error = new LockboxError('COMMAND_NOT_FOUND', notFound ? `command not found: ${file}` : `cannot start ${file} (${spawned.code ?? 'error'})`, {
      hint: notFound ? 'check the spelling and your PATH' : 'check that the file is executable',
    });
    Object.assign(error, { exitCode: notFound ? 127 : 126 });
    throw error;
  }
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal); };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const piping: Promise<unknown>[] = [];
  if (mask && child.stdout && child.stderr) {
    piping.push(pipeMasked(child.stdout, process.stdout), pipeMasked(child.stderr, process.stderr));
  }
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  await Promise.all(piping);
  for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  if (signal) {
    process.kill(process.pid, signal);
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.exit(128 + (constants.signals[signal] ?? 1));
  }
  process.exit(code ?? 1);
}

function pipeMasked(source: NodeJS.ReadableStream, target: NodeJS.WritableStream): Promise<void> {
  const masker = globalRedactor.createMaskStream();
  source.pipe(masker).pipe(target, { end: false });
  return once(masker, 'end').then(() => undefined);
}
