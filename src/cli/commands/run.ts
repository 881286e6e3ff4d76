import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';
import { LockboxError } from '../../errors.js';
import { SecretWatcher, managerWatchSource } from '../../manager/watch.js';
import { globalRedactor } from '../../redaction/index.js';
import { collectReferences, resolveDocument } from '../../references/index.js';
import type { SecretRecord, SecretRef } from '../../types.js';
import { openContext, withContext, type GlobalOptions } from '../context.js';
import { info, parseDurationMs } from '../io.js';

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export interface RunOptions extends GlobalOptions {
  /** Mask secret values in the child's stdout and stderr. @default true */
  mask?: boolean;
  /** Watch every secret the env: mapping references; on a change restart the child (or signal it). @default false */
  watch?: boolean;
  /** With --watch: send this signal on a change instead of restarting (the child re-reads itself). @default undefined (restart) */
  signal?: string;
  /** With --watch: time between polls of providers that cannot notify. @default "30s" */
  pollInterval?: string;
  /** With --watch: how long a child has to exit after SIGTERM before it gets SIGKILL. @default "10s" */
  gracePeriod?: string;
}

type Exit = [code: number | null, signal: NodeJS.Signals | null];

/**
 * `lockbox run [--watch] -- CMD…` — resolves the config's `env:` mapping, starts CMD with those
 * variables added, masks its output, forwards signals and exits with its exit code (or its
 * signal). With --watch, a change of a referenced secret restarts CMD with fresh values (SIGTERM,
 * then SIGKILL after the grace period) or sends it --signal.
 */
export async function run(command: string[], options: RunOptions): Promise<never> {
  const [file, ...args] = command;
  if (!file) throw new LockboxError('INVALID_ARGUMENT', 'no command to run', { hint: 'write: lockbox run -- node server.js' });
  const watch = watchSettings(options);
  const mask = options.mask !== false;
  if (watch) return exitLike(await runWatched(file, args, mask, options, watch));
  const extraEnv = await withContext(options, async ({ manager, config }) =>
    resolveDocument(manager, config.env, { scope: options.tenant ?? config.tenant }));
  const child = await startChild(file, args, extraEnv, mask);
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal); };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const exit = await exitOf(child);
  for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  return exitLike(exit);
}

interface WatchSettings { pollMs: number; graceMs: number; signal?: NodeJS.Signals }

/** Runs and supervises the child until it exits on its own or lockbox is told to stop. */
async function runWatched(file: string, args: string[], mask: boolean, options: RunOptions, settings: WatchSettings): Promise<Exit> {
  const { manager, config } = await openContext(options);
  const scope = options.tenant ?? config.tenant;
  const resolveEnv = () => resolveDocument(manager, config.env, { scope });
  const watcher = new SecretWatcher(managerWatchSource(manager), {
    pollIntervalMs: settings.pollMs,
    onError: (error, context) => info(`lockbox: ${context.source === 'listener' ? 'restart' : `watching ${context.ref?.name ?? 'a secret'}`} failed: ${describe(error)}; the command keeps running`),
  });
  let forward: ((signal: NodeJS.Signals) => void) | undefined;
  let restarting: Promise<void> | undefined;
  try {
    // Watch first, start second: a change between the two costs a restart, never a missed change.
    const refs = secretRefs(config.env, scope);
    if (refs.length === 0) info('lockbox: --watch: the env: mapping references no secret; nothing to watch');
    const on: { change?: (ref: SecretRef, next: SecretRecord | null) => void } = {};
    await Promise.all(refs.map((ref) => watcher.watch(ref, (next) => on.change?.(ref, next)).ready));
    let current = await startChild(file, args, await resolveEnv(), mask);
    let stopping = false;
    let again = false;
    let finish!: (exit: Exit) => void;
    let fail!: (error: unknown) => void;
    const finished = new Promise<Exit>((resolve, reject) => {
      finish = (exit) => { stopping = true; resolve(exit); };
      fail = reject;
    });
    const replaced = new WeakSet<ChildProcess>();
    const supervise = (child: ChildProcess): void => {
      void exitOf(child).then((exit) => { if (!replaced.has(child)) finish(exit); });
    };
    const replaceChild = async (): Promise<void> => {
      do {
        again = false;
        const env = await resolveEnv().catch((error: unknown) => { info(`lockbox: cannot restart: ${describe(error)}; the command keeps running`); });
        if (env === undefined || stopping) return;
        const old = current;
        replaced.add(old);
        const exit = await stopChild(old, settings.graceMs);
        if (stopping) return finish(exit);
        current = await startChild(file, args, env, mask);
        if (stopping) current.kill('SIGTERM'); // lockbox is exiting: no child may outlive it
        supervise(current);
      } while (again && !stopping);
    };
    on.change = (ref, next) => {
      if (stopping) return;
      const what = next ? `changed (version ${next.metadata.version})` : 'was removed';
      if (settings.signal) {
        info(`lockbox: ${ref.name} ${what}; sending ${settings.signal}`);
        current.kill(settings.signal);
        return;
      }
      info(`lockbox: ${ref.name} ${what}; restarting`);
      if (restarting) { again = true; return; }
      restarting = replaceChild().catch(fail).finally(() => { restarting = undefined; });
    };
    supervise(current);
    forward = (signal) => {
      if (signal === 'SIGINT' || signal === 'SIGTERM') stopping = true;
      current.kill(signal);
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    return await finished;
  } finally {
    watcher.dispose();
    await restarting?.catch(() => undefined);
    if (forward) for (const s of FORWARDED_SIGNALS) process.off(s, forward);
    await manager.dispose();
  }
}

/** Starts the command with `extraEnv` added; COMMAND_NOT_FOUND (exit 127/126) when it cannot start. */
async function startChild(file: string, args: string[], extraEnv: Record<string, string>, mask: boolean): Promise<ChildProcess> {
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
  if (mask && child.stdout && child.stderr) {
    const piping = Promise.all([pipeMasked(child.stdout, process.stdout), pipeMasked(child.stderr, process.stderr)]);
    outputDone.set(child, piping.then(() => undefined));
  }
  return child;
}

/** Output of a child still being copied out (masked), by child. */
const outputDone = new WeakMap<ChildProcess, Promise<void>>();

/** The child's exit code and signal, once its output has been copied out. */
async function exitOf(child: ChildProcess): Promise<Exit> {
  const exit: Exit = child.exitCode !== null || child.signalCode !== null
    ? [child.exitCode, child.signalCode]
    : (await once(child, 'exit')) as Exit;
  await outputDone.get(child);
  return exit;
}

/** SIGTERM, then SIGKILL when the child is still running after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<Exit> {
  const exited = exitOf(child);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), graceMs); });
  const first = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (first !== 'timeout') return first;
  info(`lockbox: the command did not exit within ${graceMs} ms of SIGTERM; sending SIGKILL`);
  child.kill('SIGKILL');
  return exited;
}

async function exitLike([code, signal]: Exit): Promise<never> {
  if (signal) {
    process.kill(process.pid, signal);
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.exit(128 + (constants.signals[signal] ?? 1));
  }
  process.exit(code ?? 1);
}

/** Validates --watch, --signal, --poll-interval and --grace-period; undefined without --watch. */
function watchSettings(options: RunOptions): WatchSettings | undefined {
  if (!options.watch) {
    const stray = options.signal !== undefined ? '--signal' : options.pollInterval !== undefined ? '--poll-interval' : options.gracePeriod !== undefined ? '--grace-period' : undefined;
    if (stray) throw new LockboxError('INVALID_ARGUMENT', `${stray} needs --watch`, { hint: 'write: lockbox run --watch --signal SIGHUP -- CMD' });
    return undefined;
  }
  const pollMs = parseDurationMs(options.pollInterval ?? '30s', '--poll-interval');
  const graceMs = parseDurationMs(options.gracePeriod ?? '10s', '--grace-period');
  if (!(pollMs > 0)) throw new LockboxError('INVALID_ARGUMENT', '--poll-interval must be more than 0', { hint: 'use e.g. 500ms, 30s or 5m' });
  if (options.signal === undefined) return { pollMs, graceMs };
  const name = options.signal.toUpperCase().replace(/^(?!SIG)/, 'SIG');
  if (!Object.prototype.hasOwnProperty.call(constants.signals, name) || name === 'SIGKILL' || name === 'SIGSTOP') {
    throw new LockboxError('INVALID_ARGUMENT', `--signal "${options.signal}" is not a signal a process can handle`, { hint: 'use e.g. SIGHUP, SIGUSR1 or SIGUSR2' });
  }
  return { pollMs, graceMs, signal: name as NodeJS.Signals };
}

/** The secret references of the env: mapping, with the tenant applied as the resolver does. */
function secretRefs(env: Record<string, string>, scope: string | undefined): SecretRef[] {
  const refs: SecretRef[] = [];
  for (const reference of collectReferences(env)) {
    if (reference.kind !== 'secret') continue;
    refs.push(reference.ref.scope === undefined && scope !== undefined ? { ...reference.ref, scope } : { ...reference.ref });
  }
  return refs;
}

/** An error for a log line: code and message of a LockboxError (never values), masked all the same. */
function describe(error: unknown): string {
  if (error instanceof LockboxError) return globalRedactor.mask(`${error.code}: ${error.message}`);
  const code = (error as { code?: unknown }).code;
  return `unexpected error${typeof code === 'string' ? ` (${code})` : ''}`;
}

function pipeMasked(source: NodeJS.ReadableStream, target: NodeJS.WritableStream): Promise<void> {
  const masker = globalRedactor.createMaskStream();
  source.pipe(masker).pipe(target, { end: false });
  return once(masker, 'end').then(() => undefined);
}
