/**
 * The `vault` provider: HashiCorp Vault's KV secrets engine version 2 over its HTTP API (no SDK:
 * node:http(s), see vault-http.ts). Token, AppRole or Kubernetes auth with renewal
 * (vault-client.ts); per-secret, document and auto layouts (vault-layout.ts,
 * vault-documents.ts); Vault versions, check-and-set writes, soft delete/undelete/destroy.
 * See docs/providers/vault.md.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import type { ProviderContext } from './registry.js';
import { remoteOptionFields } from './remote.js';
import { DEFAULT_GLOBAL_DOCUMENT } from './tenant-document.js';
import { createVaultClient, type VaultAuthConfig, type VaultClient, type VaultClientConfig } from './vault-client.js';
import { VaultProvider } from './vault-provider.js';

export type { VaultClient, VaultAuthConfig, VaultClientConfig };
export type { VaultRequest, VaultResponse } from './vault-http.js';
export { createVaultClient, VaultProvider };

const SEGMENTS = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export const optionsSchema = z.object({
  /** Vault address, e.g. https://vault.example.com:8200. @default none (required) */
  url: z.string().url(),
  /** Client token; ignored when AppRole or Kubernetes auth is configured. @default the VAULT_TOKEN environment variable */
  token: z.string().min(1).optional(),
  /** Path where the KV v2 engine is mounted. @default "secret" */
  mount_point: z.string().regex(SEGMENTS, 'a mount path: segments of [A-Za-z0-9._-] joined by "/"').default('secret'),
  /** Vault Enterprise namespace, sent as X-Vault-Namespace. @default none (root namespace) */
  namespace: z.string().min(1).optional(),
  /** Verify Vault's TLS certificate. @default true */
  verify: z.boolean().default(true),
  /** PEM bundle of the CA(s) that sign Vault's certificate, relative to the config file. @default system CAs */
  ca_file: z.string().min(1).optional(),
  /** `document`: one KV entry per tenant (seed 002); `per-secret`: one entry per secret; `auto`: read per-secret then document, write per-secret. @default "auto" */
  layout: z.enum(['per-secret', 'document', 'auto']).default('auto'),
  /** Name of the document holding secrets without a tenant (document and auto layouts). @default "global" */
  global_document: z.string().regex(/^[A-Za-z0-9._-]+$/).default(DEFAULT_GLOBAL_DOCUMENT),
  /** AppRole role_id; enables AppRole login. @default none */
  role_id: z.string().min(1).optional(),
  /** AppRole secret_id (omit for roles with bind_secret_id=false). @default none */
  secret_id: z.string().min(1).optional(),
  /** Mount path of the AppRole auth method (under auth/). @default "approle" */
  approle_mount: z.string().regex(SEGMENTS).default('approle'),
  /** Vault role for Kubernetes auth; enables Kubernetes login with the service-account JWT. @default none */
  kubernetes_role: z.string().min(1).optional(),
  /** Service-account JWT for Kubernetes auth. @default "/var/run/secrets/kubernetes.io/serviceaccount/token" */
  jwt_file: z.string().min(1).default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
  /** Mount path of the Kubernetes auth method (under auth/). @default "kubernetes" */
  kubernetes_mount: z.string().regex(SEGMENTS).default('kubernetes'),
  ...remoteOptionFields,
}).strict();

/** Options of the vault provider (lockbox.yaml keys; see the TSDoc of each field of optionsSchema). */
export type VaultOptions = z.input<typeof optionsSchema>;
/** Validated options. */
export type ParsedVaultOptions = z.infer<typeof optionsSchema>;

/** Builds the provider with the default client (nothing is contacted until the first call). */
export function create(id: string, options: VaultOptions, context?: ProviderContext): VaultProvider {
  const ctx = context ?? { baseDir: process.cwd(), env: process.env };
  const parsed = optionsSchema.parse(options);
  return new VaultProvider(id, parsed, createVaultClient(vaultClientConfig(id, parsed, ctx)));
}

/** Builds the provider around a ready client (a custom transport, an agent proxy, tests). */
export function createWithClient(id: string, options: VaultOptions, client: VaultClient): VaultProvider {
  return new VaultProvider(id, optionsSchema.parse(options), client);
}

/**
 * The default client's configuration from the options: AppRole when role_id is set, Kubernetes
 * when kubernetes_role is set (both: CONFIG_INVALID), else the token (option, then VAULT_TOKEN).
 */
export function vaultClientConfig(id: string, options: ParsedVaultOptions, context: ProviderContext, now?: () => number): VaultClientConfig {
  if (options.role_id !== undefined && options.kubernetes_role !== undefined) {
    throw new LockboxError('CONFIG_INVALID', `provider "${id}": set either role_id (AppRole) or kubernetes_role (Kubernetes auth), not both`, { provider: id });
  }
  if (options.secret_id !== undefined && options.role_id === undefined) {
    throw new LockboxError('CONFIG_INVALID', `provider "${id}": secret_id needs role_id (AppRole)`, { provider: id });
  }
  const auth: VaultAuthConfig = options.role_id !== undefined
    ? { method: 'approle', mount: options.approle_mount, roleId: options.role_id, secretId: options.secret_id }
    : options.kubernetes_role !== undefined
      ? { method: 'kubernetes', mount: options.kubernetes_mount, role: options.kubernetes_role, jwtFile: absolute(context.baseDir, options.jwt_file) }
      : { method: 'token', token: options.token ?? nonEmpty(context.env.VAULT_TOKEN) };
  return {
    providerId: id, url: options.url, namespace: options.namespace, verify: options.verify,
    caFile: options.ca_file === undefined ? undefined : absolute(context.baseDir, options.ca_file), auth, now,
  };
}

function absolute(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
