import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LockboxError } from '../../errors.js';
import { initLocalStore } from '../../providers/local.js';
import { out } from '../io.js';

const CONFIG_TEMPLATE = `# lockbox configuration — every key is documented in docs/config.md.
# This file holds no secret values (only references), so it can be committed.
providers:
  - id: local                      # the embedded encrypted store (SQLite, AES-256-GCM)
    type: local
    options:
      path: .lockbox/store.db
      master_key_file: .lockbox/master.key   # or set LOCKBOX_MASTER_KEY
  - id: env                        # environment variables, read-only fallback
    type: env
chain: [local, env]
cache:
  ttl: 5m
audit:                             # hash-chained log of every operation (never a value); lockbox audit verify
  path: .lockbox/audit.jsonl
# Variables \`lockbox run\` gives the child process:
env:
  DB_PASSWORD: \${secret:db/password}
`;

/** `lockbox init` — writes lockbox.yaml, a master key file (0600) and the local store; updates .gitignore. */
export async function init(options: { dir?: string }): Promise<void> {
  const dir = options.dir ?? process.cwd();
  const configPath = join(dir, 'lockbox.yaml');
  const wroteConfig = !existsSync(configPath) && !existsSync(join(dir, 'lockbox.yml'));
  if (wroteConfig) writeFileSync(configPath, CONFIG_TEMPLATE, { mode: 0o644 });
  const storePath = join(dir, '.lockbox', 'store.db');
  const keyPath = join(dir, '.lockbox', 'master.key');
  const usingEnvKey = Boolean(process.env.LOCKBOX_MASTER_KEY);
  let result: { storeId: string; created: boolean };
  try {
    result = initLocalStore({ path: storePath, masterKeyFile: usingEnvKey ? undefined : keyPath, env: process.env });
  } catch (error) {
    if (error instanceof LockboxError && error.code === 'ALREADY_EXISTS' && existsSync(storePath) && existsSync(keyPath)) {
      out(`lockbox is already initialised in ${dir} (store ${rel(dir, storePath)}); nothing changed`);
      return;
    }
    throw error;
  }
  const ignored = addToGitignore(dir, '.lockbox/');
  out(wroteConfig ? `wrote ${rel(dir, configPath)}` : `kept the existing ${rel(dir, configPath)}`);
  out(`${result.created ? 'created' : 'checked the existing'} local store ${rel(dir, storePath)} (mode 0600)`);
  out(usingEnvKey ? 'using the master key from LOCKBOX_MASTER_KEY (no key file written)' : `wrote the master key ${rel(dir, keyPath)} (mode 0600) — back it up: without it the store cannot be opened`);
  if (ignored) out('added .lockbox/ to .gitignore');
  out("next: printf '%s' \"$VALUE\" | lockbox set db/password");
}

function addToGitignore(dir: string, entry: string): boolean {
  const path = join(dir, '.gitignore');
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (current.split(/\r?\n/).some((line) => line.trim() === entry || line.trim() === entry.replace(/\/$/, ''))) return false;
  appendFileSync(path, `${current && !current.endsWith('\n') ? '\n' : ''}# lockbox: local store and master key\n${entry}\n`);
  return true;
}

function rel(dir: string, path: string): string {
  return relative(dir, path) || path;
}
