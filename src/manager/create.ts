import type { LoadedConfig } from '../config/index.js';
import { resolve } from 'node:path';
import { currentPrincipal } from '../access/index.js';
import { AuditLog, jsonlFileSink, stdoutSink, type AuditSink } from '../audit/index.js';
import { loadProviderModule } from '../providers/registry.js';
import type { Provider } from '../types.js';
import { OperationGuard } from './guard.js';
import { LastKnownGoodSnapshot } from './snapshot.js';
import { SecretManager, type ValueRegistry } from './secret-manager.js';

export interface CreateManagerOptions {
  /** Registry that values read are registered with (masking). @default none */
  redactor?: ValueRegistry;
  /** Tenant for calls that name none. @default config.tenant */
  scope?: string;
  /** Environment the providers read. @default process.env */
  env?: Record<string, string | undefined>;
  /** Who is asking (access control, audit). @default LOCKBOX_PRINCIPAL, else the OS user */
  principal?: string;
  /** Where `audit.stdout: true` writes JSON lines (the CLI passes stderr: stdout carries output). @default process.stdout */
  auditStream?: NodeJS.WritableStream;
}

/** Builds the providers a loaded lockbox.yaml names and the manager around them. */
export async function createManagerFromConfig(config: LoadedConfig, options: CreateManagerOptions = {}): Promise<SecretManager> {
  const context = { baseDir: config.baseDir, env: options.env ?? process.env };
  const providers: Provider[] = [];
  for (const entry of config.providers) {
    const module = await loadProviderModule(entry.type);
    const parsed = module.optionsSchema.parse(entry.options ?? {});
    providers.push((module.create as (id: string, o: unknown, c: typeof context) => Provider)(entry.id, parsed, context));
  }
  const cache = config.cache.enabled === false ? false : {
    ttlMs: config.cache.ttlSeconds * 1000,
    maxEntries: config.cache.maxEntries,
    staleIfErrorMs: config.cache.staleIfErrorSeconds * 1000,
  };
  const audit = config.audit?.enabled ? await openAudit(config, options) : undefined;
  return new SecretManager({
    watch: config.watch ? { pollIntervalMs: config.watch.poll_interval, jitter: config.watch.jitter } : undefined,
    snapshot: config.snapshot?.enabled ? await snapshotFromConfig(config, context.env) : undefined,
    principal: options.principal ?? currentPrincipal(options.env ?? process.env),
    access: config.access,
    audit,
    auditOptions: config.audit ? {
      reads: config.audit.reads, onFailure: config.audit.onFailure, flushIntervalMs: config.audit.flushIntervalSeconds * 1000,
    } : undefined,
    providers,
    chain: config.chain,
    defaultProvider: config.defaultProvider,
    cache,
    scope: options.scope ?? config.tenant,
    redactor: options.redactor,
  });
}

/** The secret name store-level admin operations are checked and audited under (e.g. `_lockbox/keys/local`). */
export function storeAdminName(providerId: string): string {
  return `_lockbox/keys/${providerId}`;
}

/**
 * The access policy and audit log of a loaded config as a guard, for operations that do not go
 * through a manager (`lockbox keys rotate`); undefined when the config has neither. The caller closes it.
 */
export async function openGuardFromConfig(config: LoadedConfig, options: CreateManagerOptions = {}): Promise<OperationGuard | undefined> {
  const audit = config.audit?.enabled ? await openAudit(config, options) : undefined;
  const guard = new OperationGuard({ principal: options.principal ?? currentPrincipal(options.env ?? process.env), policy: config.access, audit });
  return guard.inactive ? undefined : guard;
}

/**
 * The last-known-good snapshot of the `snapshot:` section, encrypted under a key derived from the
 * local store's master key (the first local provider's key source; else LOCKBOX_MASTER_KEY or
 * .lockbox/master.key). The key is loaded only when the snapshot is first opened.
 */
async function snapshotFromConfig(config: LoadedConfig, env: Record<string, string | undefined>): Promise<LastKnownGoodSnapshot> {
  const [{ loadKey, resolveKeySource }, { optionsSchema: localOptionsSchema }] = await Promise.all([import('../crypto/keyring-sources.js'), import('../providers/local.js')]);
  const local = config.providers.find((p) => p.type === 'local');
  const localOptions = localOptionsSchema.parse(local?.options ?? {});
  const source = resolveKeySource(localOptions, config.baseDir);
  const storePath = resolve(config.baseDir, localOptions.path);
  return new LastKnownGoodSnapshot({
    path: resolve(config.baseDir, config.snapshot!.path),
    maxAgeMs: config.snapshot!.max_age,
    masterKey: async () => (await loadKey(source, { env, storePath, providerId: local?.id ?? 'local' })).key.key,
  });
}

/** Opens the audit sinks of the `audit:` section (the file path relative to the config file). */
async function openAudit(config: LoadedConfig, options: CreateManagerOptions): Promise<AuditLog> {
  const audit = config.audit!;
  const sinks: AuditSink[] = [jsonlFileSink(resolve(config.baseDir, audit.path))];
  if (audit.stdout) sinks.push(stdoutSink({ stream: options.auditStream }));
  return AuditLog.open({ sinks });
}
