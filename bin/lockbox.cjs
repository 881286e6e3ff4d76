#!/usr/bin/env node
'use strict';
// Loads the bundled CLI (dist/cli.cjs) through a V8 code cache kept beside it: the first run of a
// command compiles and saves the cache; later runs skip most parsing and compiling. A cache V8 rejects
// (another Node version, a rebuilt bundle) is simply rewritten. Failing to write it is harmless.
const { readFileSync, writeFileSync, renameSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');
const { createRequire } = require('node:module');

const file = join(__dirname, '..', 'dist', 'cli.cjs');
// One cache per command: V8 caches the functions the run that wrote it compiled, so a cache
// written by `lockbox init` would leave most of `get` or `run` to compile on every start.
const command = /^[a-z][a-z-]{0,19}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
const cacheFile = `${file}.${process.version}.${command}.cache`;
let source;
try {
  source = readFileSync(file, 'utf8');
} catch {
  process.stderr.write('lockbox: the CLI is not built (dist/cli.cjs is missing) — run `npm run build` (npm ci does it)\n');
  process.exit(1);
}
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: file,
  cachedData,
});
// The optional cloud SDKs are not bundled: the bundle loads them with this import() (a vm.Script
// cannot import() itself, and a code-cached one loses any import callback).
globalThis.__lockboxImport = (specifier) => import(specifier);
if (cachedData === undefined || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      const temporary = `${cacheFile}.${process.pid}`;
      writeFileSync(temporary, script.createCachedData());
      renameSync(temporary, cacheFile);
    } catch {
      // A read-only install keeps working, only without the cache.
    }
  });
}
const cliModule = { exports: {} };
script.runInThisContext()(cliModule.exports, createRequire(file), cliModule, file, join(__dirname, '..', 'dist'));
