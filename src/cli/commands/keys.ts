/**
 * `lockbox keys status` and `lockbox keys rotate`: the master key of a local store (docs/keys.md).
 * They work on the local provider of lockbox.yaml (--provider names one when there are several)
 * and never print key material: keys are named by their ids.
 */
import { resolve } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../config/index.js';
import { openGuardFromConfig, storeAdminName } from '../../manager/create.js';
import { LockboxError } from '../../errors.js';
import { resolveKeySource, type KeySource } from '../../crypto/keyring-sources.js';
import { optionsSchema } from '../../providers/local.js';
import { masterKeyStatus } from '../../store/key-status.js';
import { rotateMasterKey } from '../../store/master-key-rotation.js';
import type { GlobalOptions } from '../context.js';
import { info, out, outJson } from '../io.js';

/** Options of `lockbox keys rotate`. */
export interface KeysRotateOptions extends GlobalOptions {
  newKeyFile?: string;
  newKeyEnv?: string;
  kmsKeyId?: string;
  batchSize?: string;
}

/** `lockbox keys status` — the active key id, the source, rows per key id; exit 1 when the configured key does not open the store. */
export async function status(options: GlobalOptions): Promise<void> {
  const target = await localStore(options);
  const report = await masterKeyStatus({ storePath: target.storePath, source: target.source, env: process.env, providerId: target.id });
  if (!report.configuredKey.opens) process.exitCode = 1;
  if (options.json) {
    outJson({ provider: target.id, ...report });
    return;
  }
  out(`store:       ${report.store} (provider ${target.id})`);
  out(`key source:  ${report.source}`);
  if (report.kmsKey) out(`kms key:     ${'arn' in report.kmsKey ? `${report.kmsKey.arn} (${report.kmsKey.keyState})` : `${report.kmsKey.code}: ${report.kmsKey.message}`}`);
  out(`active key:  ${report.activeKeyId}`);
  out(report.configuredKey.opens
    ? `configured key: ${report.configuredKey.keyId} — opens the store`
    : `configured key: does not open the store — ${report.configuredKey.code}: ${report.configuredKey.message}`);
  if (report.rotation) {
    out(`rotation:    IN PROGRESS from ${report.rotation.fromKeyId} to ${report.rotation.toKeyId} since ${report.rotation.startedAt}, ${report.rotation.versionsLeft} version(s) left — run \`lockbox keys rotate\` to finish it`);
  }
  out('versions by key id:');
  if (report.keys.length === 0) out('  (none)');
  for (const key of report.keys) out(`  ${key.keyId}  ${String(key.versions).padStart(8)}${key.active ? '  active' : ''}`);
  if (report.erasedVersions > 0) out(`  (erased)          ${String(report.erasedVersions).padStart(8)}`);
}

/** `lockbox keys rotate` — a new master key; every data key re-wrapped; values untouched; resumes an interrupted rotation. */
export async function rotate(options: KeysRotateOptions): Promise<void> {
  const target = await localStore(options);
  // Key rotation is the `admin` action on `_lockbox/keys/<provider id>`, audited as key_rotation.
  const guard = await openGuardFromConfig(target.config, { auditStream: process.stderr });
  const run = () => rotateMasterKey({
    storePath: target.storePath, source: target.source, env: process.env, providerId: target.id,
    newKeyFile: options.newKeyFile === undefined ? undefined : resolve(options.newKeyFile),
    newKeyEnv: options.newKeyEnv, kmsKeyId: options.kmsKeyId, batchSize: batchSize(options.batchSize),
  });
  let result: Awaited<ReturnType<typeof rotateMasterKey>>;
  try {
    result = guard ? await guard.run('key_rotation', { name: storeAdminName(target.id), provider: target.id }, run) : await run();
  } finally {
    await guard?.close();
  }
  if (options.json) {
    outJson({ provider: target.id, store: target.storePath, ...result });
  } else {
    out(`${result.resumed ? 'finished the interrupted rotation' : 'rotated the master key'} of ${target.storePath}: key id ${result.fromKeyId} → ${result.toKeyId}`);
    out(`re-wrapped ${result.rewrapped} data key(s); no value was re-encrypted`);
    if (result.installedAt) out(`the new key is in ${result.installedAt} (mode 0600); the old key no longer opens the store`);
  }
  if (result.nextStep) info(`next: ${result.nextStep}`);
}

/** The local provider the command works on: --provider, else the only local one configured. */
async function localStore(options: GlobalOptions): Promise<{ id: string; storePath: string; source: KeySource; config: LoadedConfig }> {
  const config = await loadConfig({ path: options.config, cwd: process.cwd(), env: process.env });
  const locals = config.providers.filter((p) => p.type === 'local');
  let entry = locals[0];
  if (options.provider !== undefined) {
    entry = config.providers.find((p) => p.id === options.provider);
    if (entry === undefined) {
      throw new LockboxError('UNKNOWN_PROVIDER', `no provider with id "${options.provider}"`, { hint: `configured providers: ${config.providers.map((p) => p.id).join(', ')}` });
    }
    if (entry.type !== 'local') {
      throw new LockboxError('INVALID_ARGUMENT', `provider "${entry.id}" is of type ${entry.type}; lockbox keys works on local stores`, { hint: `local providers: ${locals.map((p) => p.id).join(', ') || 'none'}` });
    }
  } else if (locals.length > 1) {
    throw new LockboxError('INVALID_ARGUMENT', `several local providers are configured (${locals.map((p) => p.id).join(', ')})`, { hint: 'name one with --provider' });
  }
  if (entry === undefined) {
    throw new LockboxError('INVALID_ARGUMENT', 'no local provider is configured, so there is no master key to manage', { hint: 'run `lockbox init`, or add a provider of type local to lockbox.yaml' });
  }
  const parsed = optionsSchema.parse(entry.options);
  return { id: entry.id, storePath: resolve(config.baseDir, parsed.path), source: resolveKeySource(parsed, config.baseDir), config };
}

function batchSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = /^[1-9][0-9]{0,5}$/.test(text) ? Number(text) : NaN;
  if (!(value <= 100_000)) throw new LockboxError('INVALID_ARGUMENT', `--batch-size "${text}" is not a number from 1 to 100000`, { hint: 'the default, 500, suits most stores' });
  return value;
}
