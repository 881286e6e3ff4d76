import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/lockbox.cjs', import.meta.url));

export interface CliResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs the built CLI as a real child process. */
export function runCli(args: string[], options: { cwd: string; input?: string; env?: Record<string, string | undefined> }): CliResult {
  const env: Record<string, string | undefined> = { ...process.env, LOCKBOX_MASTER_KEY: undefined, LOCKBOX_CONFIG: undefined, LOCKBOX_PRINCIPAL: undefined, ...options.env };
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    input: options.input ?? '',
    env: env as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** A scratch directory, removed by the returned cleanup. */
export function scratch(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-cli-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
