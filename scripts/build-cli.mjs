#!/usr/bin/env node
// Bundles the CLI into one CommonJS file, dist/cli.cjs, that bin/lockbox.cjs loads with a V8 code
// cache. One file instead of ~150 modules, plus compiled code reused between runs, is what keeps
// `lockbox get` close to a bare `node` start (Node 20 has no module.enableCompileCache).
// The library (dist/index.js and its .d.ts files) is built by tsc as usual.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outfile = 'dist/cli.cjs';
rmSync(`${outfile}.cache`, { force: true });
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  // The native addon stays a normal dependency, loaded only when the local store is used.
  external: ['better-sqlite3'],
  logLevel: 'warning',
});
