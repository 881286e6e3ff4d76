/**
 * Whole-process CLI start-up: `lockbox get db/password` and `lockbox run -- true` (local store,
 * key file, one secret) vs `node -e ''` (the floor) and `dotenvx run -- true` (the peer), each run
 * with spawnSync, round-robin, 15 timed runs each. Targets, for both get and run: ≤ 1.8× node -e ''
 * and ≤ 0.5× dotenvx. Needs dist/ (`npm run build`, which `npm run bench` does first).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatDuration, formatRatio, interleave, medianOf, printTable } from './lib/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const LOCKBOX = join(ROOT, 'bin', 'lockbox.cjs');
const DOTENVX = join(ROOT, 'node_modules', '.bin', 'dotenvx');
const VALUE = 'canary-cli-startup-value';
const RUNS = 15;

if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.log('\n## CLI start-up\nskipped: dist/ is missing — run `npm run build` (or `npm run bench`, which builds first)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-cli-'));
// The children get a clean environment: no inherited master key or config path.
const env: NodeJS.ProcessEnv = { ...process.env, LOCKBOX_MASTER_KEY: undefined, LOCKBOX_CONFIG: undefined, NODE_OPTIONS: undefined };
try {
  check(spawn(process.execPath, [LOCKBOX, 'init']), 'lockbox init');
  check(spawn(process.execPath, [LOCKBOX, 'set', 'db/password'], VALUE), 'lockbox set');
  writeFileSync(join(dir, '.env'), `DB_PASSWORD=${VALUE}\n`);
  const got = check(spawn(process.execPath, [LOCKBOX, 'get', 'db/password']), 'lockbox get');
  if (got.stdout.trim() !== VALUE) throw new Error('lockbox get printed something other than the value it was given');
  check(spawn(process.execPath, [LOCKBOX, 'run', '--', 'true']), 'lockbox run');
  check(spawn(DOTENVX, ['run', '--', 'true']), 'dotenvx run');

  const contenders = {
    'node -e': [process.execPath, ['-e', '']],
    'lockbox get': [process.execPath, [LOCKBOX, 'get', 'db/password']],
    'lockbox run': [process.execPath, [LOCKBOX, 'run', '--', 'true']],
    'dotenvx run': [DOTENVX, ['run', '--', 'true']],
  } satisfies Record<string, [string, string[]]>;
  const samples = await interleave(Object.entries(contenders).map(([name, [file, args]]) => ({
    name,
    sample: () => {
      const started = performance.now();
      const result = spawn(file, args);
      const elapsed = (performance.now() - started) * 1e6;
      check(result, name);
      return elapsed;
    },
  })), { rounds: RUNS, warmup: 1 });

  const floor = medianOf(samples, 'node -e');
  const peer = medianOf(samples, 'dotenvx run');
  const rows = (['lockbox get', 'lockbox run'] as const).flatMap((name) => {
    const ours = medianOf(samples, name);
    return [
      {
        figure: `${name} vs node -e ''`, ours: formatDuration(ours), peer: formatDuration(floor),
        ratio: formatRatio(ours / floor), target: '≤ 1.80×', pass: ours <= 1.8 * floor,
      },
      {
        figure: `${name} vs dotenvx run -- true`, ours: formatDuration(ours), peer: formatDuration(peer),
        ratio: formatRatio(ours / peer), target: '≤ 0.50×', pass: ours <= 0.5 * peer,
      },
    ];
  });
  printTable(`CLI start-up — whole processes, median of ${RUNS} interleaved runs each`, rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function spawn(file: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(file, args, { cwd: dir, env, input, encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
}

/** Throws when a child failed; the message carries its exit status and stderr (no values are printed by these commands' errors). */
function check(result: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (result.error || result.status !== 0) {
    const reason = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
    throw new Error(`${what} failed (${reason}): ${result.stderr?.trim() ?? ''}`);
  }
  return result;
}
