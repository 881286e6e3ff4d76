#!/usr/bin/env node
// Runs every bench/*.bench.ts in sequence (TypeScript through tsx), one process each so that no
// benchmark warms the JIT or the heap for the next. `npm run bench` builds dist/ first (the CLI
// start-up benchmark runs bin/lockbox.cjs).
// Usage: node scripts/run-bench.mjs [filter-substring]
// A MISS is reported, not failed: the exit code is non-zero only when a benchmark crashes.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const filter = process.argv[2];
const files = readdirSync('bench')
  .filter((name) => name.endsWith('.bench.ts') && (!filter || name.includes(filter)))
  .sort()
  .map((name) => join('bench', name));
if (files.length === 0) {
  console.error(`no benchmark matches ${filter ?? 'bench/*.bench.ts'}`);
  process.exit(1);
}

const started = performance.now();
const crashed = [];
for (const file of files) {
  console.log(`\n# ${file}`);
  const fileStarted = performance.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    stdio: 'inherit',
    env: { ...process.env, LOCKBOX_MASTER_KEY: undefined, LOCKBOX_CONFIG: undefined, NODE_ENV: 'production' },
  });
  const seconds = ((performance.now() - fileStarted) / 1000).toFixed(1);
  if (result.status !== 0) {
    crashed.push(file);
    console.log(`(${file} FAILED to run: exit ${result.status ?? result.signal}, ${seconds} s)`);
  } else {
    console.log(`(${seconds} s)`);
  }
}
console.log(`\n${files.length} benchmark(s) in ${((performance.now() - started) / 1000).toFixed(1)} s${crashed.length ? `; crashed: ${crashed.join(', ')}` : ''}`);
process.exit(crashed.length ? 1 : 0);
