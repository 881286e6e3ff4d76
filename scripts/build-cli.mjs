#!/usr/bin/env node
// Bundles the CLI into one CommonJS file, dist/cli.cjs, that bin/lockbox.cjs loads with a V8 code
// cache. One file instead of ~150 modules, plus compiled code reused between runs, is what keeps
// `lockbox get` close to a bare `node` start (Node 20 has no module.enableCompileCache).
// The library (dist/index.js and its .d.ts files) is built by tsc as usual.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const outfile = 'dist/cli.cjs';
// Code caches of an older bundle (bin/lockbox.cjs writes cli.cjs.<node version>.<command>.cache).
mkdirSync('dist', { recursive: true });
for (const name of readdirSync('dist', { withFileTypes: true })) if (name.isFile() && /^cli\.cjs\..*\.cache$/.test(name.name)) rmSync(`dist/${name.name}`, { force: true });
const common = {
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
};
// The local store's write thread (write_thread: worker) runs this file when the CLI starts it
// (src/store/write-thread.ts looks for write-worker.cjs beside the bundle).
await build({ ...common, entryPoints: ['src/store/write-worker.ts'], outfile: 'dist/write-worker.cjs' });
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile,
  // The cloud SDKs are optional peer dependencies, loaded on first use from node_modules: kept out
  // of the bundle (which they would make ~7 MB) and imported with a real dynamic import() (some are ESM-only).
  external: ['@aws-sdk/*', '@google-cloud/*', '@azure/*', '@kubernetes/*', 'google-gax', 'google-auth-library'],
  supported: { 'dynamic-import': true },
});

// A vm.Script cannot import(): the optional SDKs' import("…") calls go through the launcher's
// globalThis.__lockboxImport (bin/lockbox.cjs), which resolves them from node_modules.
const bundled = readFileSync(outfile, 'utf8');
const rewritten = bundled.replace(/\bimport\((["'])(@(?:aws-sdk|google-cloud|azure|kubernetes)\/[a-z-]+)\1\)/g, 'globalThis.__lockboxImport("$2")');
// Any other import() would fail at run time (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING): refuse to build.
const leftover = /(?<![\w$.])import\(/.exec(rewritten);
if (leftover) throw new Error(`build-cli: a dynamic import() is left in the bundle near: ${rewritten.slice(leftover.index, leftover.index + 60)}`);
writeFileSync(outfile, rewritten);
