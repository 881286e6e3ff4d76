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
  // better-sqlite3's JavaScript is bundled (and so code-cached); its compiled addon is loaded from
  // node_modules at run time (src/store/schema.ts). import.meta.url becomes the bundle's own URL.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "var __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
