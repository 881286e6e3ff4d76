/**
 * Helpers for tests that use the Vault emulator: raw API calls (to seed or inspect what a
 * provider wrote, as `vault kv put/get` would) and a throwaway self-signed certificate for the
 * HTTPS emulator (openssl; undefined when openssl is not installed).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VaultEmulator } from './vault.js';

export interface RawAnswer { status: number; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** Calls /v1/{path} with the root token (or `token`), outside any provider. */
export async function rawVault(vault: VaultEmulator, method: string, path: string, options: { body?: unknown; namespace?: string; token?: string } = {}): Promise<RawAnswer> {
  const headers: Record<string, string> = { 'X-Vault-Token': options.token ?? vault.rootToken };
  if (options.namespace) headers['X-Vault-Namespace'] = options.namespace;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${vault.url}/v1/${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

/** A self-signed certificate for 127.0.0.1 written to `dir` (cert.pem, key.pem), or undefined without openssl. */
export function selfSignedCertificate(dir: string): { key: string; cert: string; certFile: string } | undefined {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}
