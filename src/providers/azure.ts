/**
 * Azure Key Vault secrets (type `azure`) through the official `@azure/keyvault-secrets` with
 * `@azure/identity`'s DefaultAzureCredential, both loaded on first use. Names map per seed 002
 * (`{prefix}{tenant}-{name}`, see azure-names.ts); Key Vault version ids are lockbox versions,
 * current = the newest enabled version, previous = the enabled one before it, no pending. Delete
 * is Key Vault's soft delete (undelete = recover), destroy = delete + purge. docs/providers/azure.md
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import type { KeyVaultSecret, SecretClient, SecretProperties } from '@azure/keyvault-secrets';
import { CapabilityError, LockboxError, NotFoundError } from '../errors.js';
import { assertValidScope } from '../names.js';
import { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, HealthStatus, Provider, ProviderCapabilities, SecretListing, SecretMetadata, SecretRecord,
  SecretRef, SecretVersion, SetOptions,
} from '../types.js';
import type { ProviderContext } from './registry.js';
import { callRemote, remoteOptionFields } from './remote.js';
import { assertOwnedBy, fromVaultTags, listingName, mapName, metadataOf, toVaultTags, writtenNow, type MappedName } from './azure-names.js';
import {
  classifyAzureError, compareVersions, createSecretClient, exists, innerCodeOf, orNull, softDeletedError, statusOf, walkPages,
  type AzureCredential, type RemoteCall,
} from './azure-client.js';

export const optionsSchema = z.object({
  /** The vault's URL, e.g. `https://my-vault.vault.azure.net/` (https only: lockbox never sends tokens in clear). */
  vault_url: z.string().url().refine((url) => url.startsWith('https://'), 'vault_url must be an https:// URL'),
  /** Prepended to every Key Vault name, e.g. "dativo-" (letters, digits and "-"). @default "" */
  prefix: z.string().max(100).regex(/^[0-9A-Za-z-]*$/, 'prefix may contain only letters, digits and "-"').default(''),
  /** Seed 002 shows one layout for Azure, one Key Vault secret per lockbox secret; "document" is refused (Key Vault has no conditional writes to protect a shared JSON document). @default "per-secret" */
  layout: z.literal('per-secret').default('per-secret'),
  /** Skip the SDK's check that the 401 challenge's resource matches vault_url's domain (emulators, custom domains, private endpoints). @default false */
  disable_challenge_resource_verification: z.boolean().default(false),
  /** PEM file of CA certificates to trust instead of Node's bundled ones (private CA, TLS-inspecting proxy, emulator); relative to lockbox.yaml. @default Node's bundled CAs */
  ca_file: z.string().min(1).optional(),
  /** Pause between polls while Key Vault finishes a delete or a recover. @default 1000 */
  poll_interval_ms: z.number().int().min(1).max(60_000).default(1_000),
  ...remoteOptionFields,
}).strict();

/** Options of the azure provider (lockbox.yaml keys). */
export type AzureOptions = z.input<typeof optionsSchema>;
type ParsedOptions = z.infer<typeof optionsSchema>;

/** What a program (not lockbox.yaml) can hand the provider instead of the defaults. */
export interface AzureInjections {
  /** A TokenCredential to use instead of DefaultAzureCredential. */
  credential?: AzureCredential;
  /** A ready SecretClient (vault_url, ca_file and the challenge option are then the client's business). */
  client?: SecretClient;
}

export type { AzureCredential };

const VERSION_ID = /^[0-9a-f]{32}$/i;
const MAX_IN_FLIGHT = 10;
const MAX_POLLS = 60;

/** Builds the provider; the SDK loads on the first call. */
export function create(id: string, options: AzureOptions, context?: ProviderContext, injected: AzureInjections = {}): Provider {
  return new AzureKeyVaultProvider(id, optionsSchema.parse(options), context?.baseDir ?? process.cwd(), injected);
}

/** Builds the provider around a ready SecretClient. */
export function createWithClient(id: string, options: AzureOptions, client: SecretClient): Provider {
  return create(id, options, undefined, { client });
}

interface VersionEntry { properties: SecretProperties; labels: string[] }

class AzureKeyVaultProvider implements Provider {
  readonly type = 'azure';
  readonly capabilities: ProviderCapabilities = { write: true, delete: true, list: true, versions: true, watch: false };
  #client: Promise<SecretClient> | undefined;

  constructor(readonly id: string, private readonly options: ParsedOptions, private readonly baseDir: string, private readonly injected: AzureInjections) {}

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    const target = this.#map(ref);
    const selector = ref.version ?? 'current';
    let secret: KeyVaultSecret | null | 'disabled';
    let labels = ['current'];
    if (selector === 'current') {
      secret = await this.#read(target);
      if (secret === 'disabled') {
        const newest = (await this.#versions(target)).find((v) => v.labels.includes('current'));
        secret = newest ? await this.#read(target, newest.properties.version) : null;
      }
    } else if (selector === 'previous' || VERSION_ID.test(selector)) {
      const wanted = selector.toLowerCase();
      const [versions, direct] = await Promise.all([this.#versions(target), selector === 'previous' ? null : this.#read(target, wanted)]);
      const entry = versions.find((v) => (selector === 'previous' ? v.labels.includes('previous') : v.properties.version === wanted));
      if (!entry) return null;
      labels = entry.labels;
      secret = direct ?? await this.#read(target, entry.properties.version);
    } else {
      return null; // "pending" (Key Vault has no staging) or not a Key Vault version id
    }
    if (!secret || secret === 'disabled') return null;
    assertOwnedBy(this.id, target, secret.properties.tags);
    if (secret.properties.expiresOn && secret.properties.expiresOn.getTime() <= Date.now()) return null;
    return { provider: this.id, value: new SecretValue(secret.value ?? ''), metadata: metadataOf(target, secret.properties, labels) };
  }

  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    const results: (SecretRecord | null)[] = new Array(refs.length).fill(null);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < refs.length) {
        const index = next++;
        results[index] = await this.get(refs[index]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, refs.length) }, worker));
    return results;
  }

  async list(prefix = '', scope?: string): Promise<SecretListing[]> {
    if (scope !== undefined) assertValidScope(scope);
    const out: SecretListing[] = [];
    await walkPages(this.#call, 'list', (client, signal) => client.listPropertiesOfSecrets({ abortSignal: signal }), (properties) => {
      if (properties.managed) return; // the secret half of a Key Vault certificate
      const name = listingName(this.options.prefix, properties.name, properties.tags, scope);
      if (name === undefined || !name.startsWith(prefix)) return;
      out.push({ name, scope, updatedAt: properties.updatedOn, tags: fromVaultTags(properties.tags, properties.contentType) });
    });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    if (opts.pending) {
      throw new CapabilityError(this.id, 'pending versions', 'Key Vault has no staging label: write the value as current, or stage it in a provider with pending versions');
    }
    const target = this.#map(ref);
    const { tags, contentType } = toVaultTags(this.id, target, opts.tags, writtenNow());
    assertOwnedBy(this.id, target, (await this.#probe(target)).tags);
    const written = await this.#call(`set ${target.label}`, async (client, signal) => {
      try {
        return await client.setSecret(target.vaultName, value.reveal(), { tags, contentType, expiresOn: opts.expiresAt, abortSignal: signal });
      } catch (error) {
        if (innerCodeOf(error) === 'ObjectIsDeletedButRecoverable') throw softDeletedError(this.id, target);
        throw error;
      }
    });
    return metadataOf(target, written.properties, ['current']);
  }

  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<void> {
    if (opts.version !== undefined) {
      throw new CapabilityError(this.id, 'deleting a single version', 'Key Vault deletes whole secrets; disable the version instead (az keyvault secret set-attributes --enabled false)');
    }
    const target = this.#map(ref);
    const live = await this.#probe(target);
    if (live.exists) {
      assertOwnedBy(this.id, target, live.tags);
      const poller = await this.#call(`delete ${target.label}`, (client, signal) =>
        client.beginDeleteSecret(target.vaultName, { abortSignal: signal, intervalInMs: this.options.poll_interval_ms }));
      if (!poller.isDone()) await this.#waitUntil(`delete ${target.label}`, (client, signal) => exists(client.getDeletedSecret(target.vaultName, { abortSignal: signal })));
    }
    if (opts.mode !== 'destroy') {
      if (!live.exists) throw new NotFoundError(target.label, { provider: this.id });
      return;
    }
    if (!live.exists) {
      const deleted = await this.#call(`destroy ${target.label}`, (client, signal) => orNull(client.getDeletedSecret(target.vaultName, { abortSignal: signal })));
      if (!deleted) throw new NotFoundError(target.label, { provider: this.id });
      assertOwnedBy(this.id, target, deleted.properties.tags);
    }
    await this.#call(`destroy ${target.label}`, (client, signal) => client.purgeDeletedSecret(target.vaultName, { abortSignal: signal }));
  }

  async undelete(ref: SecretRef): Promise<void> {
    const target = this.#map(ref);
    const deleted = await this.#call(`undelete ${target.label}`, (client, signal) => orNull(client.getDeletedSecret(target.vaultName, { abortSignal: signal })));
    if (!deleted) throw new NotFoundError(`${target.label} (soft-deleted)`, { provider: this.id });
    assertOwnedBy(this.id, target, deleted.properties.tags);
    const poller = await this.#call(`undelete ${target.label}`, (client, signal) =>
      client.beginRecoverDeletedSecret(target.vaultName, { abortSignal: signal, intervalInMs: this.options.poll_interval_ms }));
    if (!poller.isDone()) {
      await this.#waitUntil(`undelete ${target.label}`, async (client, signal) => (await this.#readWith(client, signal, target)) !== null);
    }
  }

  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    const target = this.#map(ref);
    const versions = await this.#versions(target);
    if (versions.length > 0) assertOwnedBy(this.id, target, versions.at(-1)!.properties.tags);
    return versions.map(({ properties, labels }) => ({
      version: properties.version ?? '', labels, createdAt: properties.createdOn ?? new Date(0), expiresAt: properties.expiresOn, destroyed: false,
    }));
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    const probe = mapName(this.id, this.options.prefix, { name: 'lockbox-health-probe' });
    try {
      await callRemote(this.id, 'health check', { ...this.options, retries: 0 }, async (signal) => {
        await this.#readWith(await this.#sdkClient(), signal, probe);
      }, (error) => classifyAzureError(this.id, 'health check', error));
      return { provider: this.id, status: 'ready', latencyMs: Math.round(performance.now() - started) };
    } catch (error) {
      const lockbox = error instanceof LockboxError ? error : classifyAzureError(this.id, 'health check', error);
      return {
        provider: this.id, status: lockbox.code === 'THROTTLED' ? 'degraded' : 'down',
        latencyMs: Math.round(performance.now() - started), message: lockbox.describe(),
      };
    }
  }

  async dispose(): Promise<void> {
    this.#client = undefined;
  }

  #map(ref: Pick<SecretRef, 'name' | 'scope'>): MappedName {
    return mapName(this.id, this.options.prefix, ref);
  }

  #sdkClient(): Promise<SecretClient> {
    if (this.injected.client) return Promise.resolve(this.injected.client);
    this.#client ??= createSecretClient({
      providerId: this.id,
      vaultUrl: this.options.vault_url,
      disableChallengeResourceVerification: this.options.disable_challenge_resource_verification,
      caFile: this.options.ca_file === undefined ? undefined : resolve(this.baseDir, this.options.ca_file),
    }, this.injected.credential).catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  #call: RemoteCall = (operation, fn) =>
    callRemote(this.id, operation, this.options, async (signal) => fn(await this.#sdkClient(), signal), (error) => classifyAzureError(this.id, operation, error));

  /** One version (the newest without `version`): null when missing, "disabled" when Key Vault refuses a disabled one. */
  #read(target: MappedName, version?: string): Promise<KeyVaultSecret | null | 'disabled'> {
    return this.#call(`get ${target.label}`, (client, signal) => this.#readWith(client, signal, target, version));
  }

  async #readWith(client: SecretClient, signal: AbortSignal, target: MappedName, version?: string): Promise<KeyVaultSecret | null | 'disabled'> {
    try {
      return await client.getSecret(target.vaultName, { version, abortSignal: signal });
    } catch (error) {
      if (statusOf(error) === 404) return null;
      if (innerCodeOf(error) === 'SecretDisabled') return 'disabled';
      throw error;
    }
  }

  /** Whether a live secret has the name, and the tags of its newest version. */
  async #probe(target: MappedName): Promise<{ exists: boolean; tags?: Record<string, string> }> {
    const secret = await this.#read(target);
    if (secret === null) return { exists: false };
    if (secret !== 'disabled') return { exists: true, tags: secret.properties.tags };
    return { exists: true, tags: (await this.#versions(target)).at(-1)?.properties.tags };
  }

  /** Every version oldest first, with current (newest enabled) and previous (the enabled one before). */
  async #versions(target: MappedName): Promise<VersionEntry[]> {
    const all: SecretProperties[] = [];
    await walkPages(this.#call, `versions of ${target.label}`, (client, signal) => client.listPropertiesOfSecretVersions(target.vaultName, { abortSignal: signal }), (p) => { all.push(p); });
    all.sort(compareVersions);
    const enabled = all.filter((p) => p.enabled !== false);
    const current = enabled.at(-1);
    const previous = enabled.at(-2);
    return all.map((properties) => ({ properties, labels: properties === current ? ['current'] : properties === previous ? ['previous'] : [] }));
  }

  /** Polls `check` until true (Key Vault deletes and recovers asynchronously); TIMEOUT after MAX_POLLS. */
  async #waitUntil(operation: string, check: (client: SecretClient, signal: AbortSignal) => Promise<boolean>): Promise<void> {
    for (let poll = 0; poll < MAX_POLLS; poll++) {
      await new Promise((done) => setTimeout(done, this.options.poll_interval_ms));
      if (await this.#call(operation, check)) return;
    }
    throw new LockboxError('TIMEOUT', `provider "${this.id}": ${operation} is still in progress in Key Vault after ${MAX_POLLS} polls`, {
      provider: this.id, transient: true, hint: 'retry later, or raise poll_interval_ms',
    });
  }
}
