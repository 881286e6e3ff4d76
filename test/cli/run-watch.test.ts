import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, runCli, scratch } from './run-cli.js';

/**
 * `lockbox run --watch` with real processes: a child script logs to a file when it starts (a
 * hash and the length of DB_PASSWORD — never the value) and when it gets a signal; the test
 * changes the secret with `lockbox set` and reads the log.
 */
const CHILD = `
const { createHash } = require('node:crypto');
const { appendFileSync } = require('node:fs');
const log = (line) => appendFileSync('events.log', line + '\\n');
appendFileSync('pids.log', process.pid + '\\n');
const value = process.env.DB_PASSWORD ?? '';
log('start ' + createHash('sha256').update(value).digest('hex').slice(0, 16) + ' ' + value.length);
const mode = process.env.CHILD_MODE;
process.on('SIGHUP', () => { log('hup'); if (mode === 'exit-on-hup') process.exit(7); });
process.on('SIGTERM', () => { log('term'); if (mode !== 'stubborn') process.exit(0); });
process.on('SIGINT', () => { log('int'); process.exit(0); });
setInterval(() => {}, 1000);
`;

const hash = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 16);
const started = (value: string) => `start ${hash(value)} ${value.length}`;

describe('lockbox run --watch (real processes)', () => {
  const { dir, cleanup } = scratch();
  const running = new Set<ChildProcess>();
  const cli = (args: string[], input?: string) => runCli(args, { cwd: dir, input });
  const lines = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean) : []);
  const events = () => lines('events.log');

  /** Starts `lockbox run --watch …` in the background, collecting its output. */
  function watchRun(args: string[], mode = 'normal') {
    writeFileSync(join(dir, 'events.log'), '');
    const proc = spawn(process.execPath, [BIN, 'run', '--watch', '--poll-interval', '100ms', ...args, '--', process.execPath, 'child.cjs'], {
      cwd: dir,
      env: { ...process.env, LOCKBOX_MASTER_KEY: undefined, LOCKBOX_CONFIG: undefined, CHILD_MODE: mode } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(proc);
    const output = { stdout: '', stderr: '' };
    proc.stdout!.on('data', (chunk: Buffer) => { output.stdout += chunk.toString(); });
    proc.stderr!.on('data', (chunk: Buffer) => { output.stderr += chunk.toString(); });
    const exited = once(proc, 'exit').then(([code, signal]) => { running.delete(proc); return { code: code as number | null, signal: signal as string | null }; });
    return { proc, output, exited };
  }

  /** Waits (a deadline, not a timing assertion) until the child's log has `count` lines. */
  async function untilEvents(count: number): Promise<string[]> {
    for (let waited = 0; events().length < count; waited += 25) {
      if (waited > 20_000) assert.fail(`waited for ${count} events; have: ${events().join(' | ')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return events();
  }

  before(() => {
    assert.equal(cli(['init']).status, 0);
    writeFileSync(join(dir, 'child.cjs'), CHILD);
  });
  after(() => {
    for (const proc of running) proc.kill('SIGKILL');
    for (const pid of lines('pids.log')) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
    }
    cleanup();
  });

  it('restarts the command with the new value when the secret changes; never logs a value', async () => {
    assert.equal(cli(['set', 'db/password'], 'canary-watch-1').status, 0);
    const { proc, output, exited } = watchRun([]);
    assert.deepEqual(await untilEvents(1), [started('canary-watch-1')]);
    assert.equal(cli(['set', 'db/password'], 'canary-watch-2').status, 0);
    assert.deepEqual(await untilEvents(3), [started('canary-watch-1'), 'term', started('canary-watch-2')]);
    proc.kill('SIGTERM'); // forwarded to the child, which exits 0
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.deepEqual(events(), [started('canary-watch-1'), 'term', started('canary-watch-2'), 'term']);
    assert.match(output.stderr, /^lockbox: db\/password changed \(version 2\); restarting$/m);
    for (const text of [output.stderr, output.stdout]) assert.ok(!text.includes('canary-watch'), text);
  });

  it('--signal sends the signal instead of restarting; the exit code is the command\'s own', async () => {
    assert.equal(cli(['set', 'db/password'], 'canary-signal-1').status, 0);
    const { output, exited } = watchRun(['--signal', 'SIGHUP'], 'exit-on-hup');
    assert.deepEqual(await untilEvents(1), [started('canary-signal-1')]);
    assert.equal(cli(['set', 'db/password'], 'canary-signal-2').status, 0);
    assert.deepEqual(await exited, { code: 7, signal: null });
    assert.deepEqual(events(), [started('canary-signal-1'), 'hup']);
    assert.match(output.stderr, /^lockbox: db\/password changed \(version \d+\); sending SIGHUP$/m);
    assert.ok(!output.stderr.includes('restarting'));
    assert.ok(!output.stderr.includes('canary-signal'), output.stderr);
  });

  it('a command that ignores SIGTERM gets SIGKILL after the grace period, then starts again', async () => {
    assert.equal(cli(['set', 'db/password'], 'canary-stubborn-1').status, 0);
    const { proc, output, exited } = watchRun(['--grace-period', '200ms'], 'stubborn');
    await untilEvents(1);
    assert.equal(cli(['set', 'db/password'], 'canary-stubborn-2').status, 0);
    assert.deepEqual(await untilEvents(3), [started('canary-stubborn-1'), 'term', started('canary-stubborn-2')]);
    assert.match(output.stderr, /^lockbox: the command did not exit within 200 ms of SIGTERM; sending SIGKILL$/m);
    proc.kill('SIGINT');
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(events().at(-1), 'int');
  });

  it('rejects --signal without --watch, an unknown signal and a bad interval', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--signal', 'SIGHUP'], /^lockbox: INVALID_ARGUMENT: --signal needs --watch — /],
      [['--watch', '--signal', 'SIGNOPE'], /^lockbox: INVALID_ARGUMENT: --signal "SIGNOPE" is not a signal a process can handle — /],
      [['--watch', '--signal', 'KILL'], /^lockbox: INVALID_ARGUMENT: --signal "KILL" is not a signal a process can handle — /],
      [['--watch', '--poll-interval', 'soon'], /^lockbox: INVALID_ARGUMENT: --poll-interval "soon" is not a duration — /],
    ];
    for (const [args, message] of cases) {
      const result = cli(['run', ...args, '--', process.execPath, '-e', '1']);
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, message);
    }
  });
});
