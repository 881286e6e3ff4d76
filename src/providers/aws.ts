/**
 * The `aws` provider: AWS Secrets Manager through the official `@aws-sdk/client-secrets-manager`
 * (v3, loaded on first use) and the SDK's default credential chain. Layouts of seed 002:
 * per-secret `{prefix}{tenant}/{name}` (global `{prefix}{name}`), or one JSON document per
 * tenant `{prefix}{tenant}` (global `{prefix}{global_document}`); `auto` reads per-secret then
 * the document and writes per-secret. Versions are AWS VersionIds (UUIDs); AWSCURRENT,
 * AWSPREVIOUS and AWSPENDING are lockbox's current, previous and pending. See docs/providers/aws.md.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CapabilityError, LockboxError, NotFoundError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, HealthStatus, Provider, ProviderCapabilities, SecretListing, SecretMetadata, SecretRecord, SecretRef,
  SecretVersion, SetOptions,
} from '../types.js';
import { SecretsManagerApi, MAX_IN_FLIGHT, type SecretsManagerLike, type SecretsManagerSdk } from './aws-api.js';
import { DocumentLayout } from './aws-document.js';
import { CREDENTIALS_HINT, awsErrorName } from './aws-errors.js';
import { AwsNaming, expiryOf, labelsOf, selectorIsValid, stagesFor, toSelector, userTags } from './aws-naming.js';
import { recordOf } from './aws-record.js';
import type { ProviderContext } from './registry.js';
import { loadSdk, mapLimit, remoteOptionFields } from './remote.js';
import { DEFAULT_GLOBAL_DOCUMENT } from './tenant-document.js';

const SDK_PACKAGE = '@aws-sdk/client-secrets-manager';

export const optionsSchema = z.object({
  /** AWS region, e.g. us-east-1. @default the SDK's (AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config) */
  region_name: z.string().min(1).optional(),
  /** Prepended to every AWS secret name, e.g. "dativo/production/". @default "" */
  prefix: z.string().max(256).regex(/^[A-Za-z0-9/_+=.@-]*$/, 'AWS secret names allow letters, digits and /_+=.@-').default(''),
  /** Endpoint URL override (an emulator, a VPC endpoint). @default the SDK's regional endpoint */
  endpoint: z.string().url().optional(),
  /** per-secret, document (one JSON secret per tenant) or auto (read both, write per-secret). @default "auto" */
  layout: z.enum(['per-secret', 'document', 'auto']).default('auto'),
  /** Name (after the prefix) of the document holding secrets with no tenant. @default "global" */
  global_document: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/).default(DEFAULT_GLOBAL_DOCUMENT),
  /** Days a deleted secret stays recoverable (AWS allows 7–30). @default 30 */
  recovery_window_days: z.number().int().min(7).max(30).default(30),
  /** How a SecretBinary is returned: base64 text, or its bytes decoded as UTF-8. @default "base64" */
  binary_encoding: z.enum(['base64', 'utf8']).default('base64'),
  ...remoteOptionFields,
}).strict();

/** Options of the `aws` provider, as written in lockbox.yaml. */
export type AwsOptions = z.input<typeof optionsSchema>;
type ResolvedOptions = z.infer<typeof optionsSchema>;

/** What tests and embedders may inject instead of the defaults. */
export interface AwsDependencies {
  /** A ready client (its own region, endpoint and credentials); used as is, never destroyed. */
  client?: SecretsManagerLike;
  /** Loads the SDK module. @default () => import('@aws-sdk/client-secrets-manager') */
  importSdk?: () => Promise<SecretsManagerSdk>;
}

/** Builds the provider; nothing is loaded or called until the first operation. */
export function create(id: string, options: AwsOptions = {}, _context?: ProviderContext, deps: AwsDependencies = {}): AwsProvider {
  return new AwsProvider(id, optionsSchema.parse(options), deps);
}

/** Builds the provider around a ready SecretsManagerClient. */
export function createWithClient(id: string, options: AwsOptions, client: SecretsManagerLike): AwsProvider {
  return create(id, options, undefined, { client });
}

export class AwsProvider implements Provider {
  readonly type = 'aws';
  readonly capabilities: ProviderCapabilities = { write: true, delete: true, list: true, versions: true, watch: false };
  readonly #options: ResolvedOptions;
  readonly #naming: AwsNaming;
  readonly #api: SecretsManagerApi;
  readonly #documents: DocumentLayout;
  #connection?: Promise<{ sdk: SecretsManagerSdk; client: SecretsManagerLike }>;
  #ownsClient = false;

  constructor(readonly id: string, options: ResolvedOptions, deps: AwsDependencies) {
    this.#options = options;
    this.#naming = new AwsNaming(options.prefix, options.global_document, options.layout !== 'per-secret');
    this.#api = new SecretsManagerApi(id, options, options.prefix, () => this.#connect(deps));
    this.#documents = new DocumentLayout(id, this.#api, this.#naming, options.layout === 'document');
  }

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    const selector = toSelector(ref.version);
    if (this.#options.layout !== 'document') {
      const name = this.#naming.perSecret(ref);
      if (!selectorIsValid(selector)) return null;
      const fetched = await this.#api.getValue(name, selector);
      if (fetched.kind === 'found') return recordOf(this.id, ref, fetched.entry, this.#options.binary_encoding);
      if (this.#options.layout === 'per-secret' || fetched.kind !== 'absent') return null;
    }
    if (!selectorIsValid(selector)) return null;
    return this.#documents.get(ref, selector);
  }

  /** One BatchGetSecretValue per 20 current-version reads (then one per 20 tenant documents); other versions one by one. */
  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    const results: (SecretRecord | null)[] = new Array(refs.length).fill(null);
    const plain: number[] = [];
    const versioned: number[] = [];
    refs.forEach((ref, i) => ((ref.version === undefined || ref.version === 'current') ? plain : versioned).push(i));
    let toDocuments = this.#options.layout === 'document' ? plain : [];
    if (this.#options.layout !== 'document') {
      const names = plain.map((i) => this.#naming.perSecret(refs[i]!));
      const fetched = await this.#api.batchGet(names);
      toDocuments = [];
      plain.forEach((i, k) => {
        const outcome = fetched.get(names[k]!) ?? { kind: 'absent' as const };
        if (outcome.kind === 'found') results[i] = recordOf(this.id, refs[i]!, outcome.entry, this.#options.binary_encoding);
        else if (outcome.kind === 'absent' && this.#options.layout === 'auto') toDocuments.push(i);
      });
    }
    const fromDocuments = await this.#documents.getMany(toDocuments.map((i) => refs[i]!));
    toDocuments.forEach((i, k) => { results[i] = fromDocuments[k] ?? null; });
    await mapLimit(versioned, MAX_IN_FLIGHT, async (i) => { results[i] = await this.get(refs[i]!); });
    return results;
  }

  async list(prefix = '', scope?: string): Promise<SecretListing[]> {
    const found = new Map<string, SecretListing>();
    if (this.#options.layout !== 'document') {
      for (const entry of await this.#api.listAll(`${this.#naming.perSecretBase(scope)}${prefix}`)) {
        const name = entry.Name === undefined ? undefined : this.#naming.reverse(entry.Name, scope, entry.Tags);
        const current = Object.entries(entry.SecretVersionsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'));
        if (name === undefined || !name.startsWith(prefix) || !current) continue;
        found.set(name, { name, scope, version: current[0], updatedAt: entry.LastChangedDate, tags: userTags(entry.Tags) });
      }
    }
    if (this.#options.layout !== 'per-secret') {
      for (const listing of await this.#documents.list(prefix, scope)) if (!found.has(listing.name)) found.set(listing.name, listing);
    }
    return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    if (this.#options.layout === 'document') return this.#documents.set(ref, value, opts);
    try {
      return await this.#setPerSecret(ref, value, opts);
    } catch (error) {
      // Another writer created the secret between DescribeSecret and CreateSecret: write a version to it.
      if (awsErrorName(error) !== 'ResourceExistsException') throw error;
      return this.#setPerSecret(ref, value, opts);
    }
  }

  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<void> {
    if (opts.mode === 'destroy' && opts.version !== undefined) {
      throw new CapabilityError(this.id, 'destroying one version', 'AWS Secrets Manager deletes whole secrets only; delete without --version, or move the version\'s staging labels with the AWS CLI');
    }
    if (this.#options.layout === 'document') return this.#documents.delete(ref, opts);
    const name = this.#naming.perSecret(ref);
    const existing = await this.#api.describe(name);
    if (!existing) {
      if (this.#options.layout === 'auto' && await this.#documents.has(ref)) return this.#documents.delete(ref, opts);
      throw new NotFoundError(describe(ref), { provider: this.id });
    }
    this.#naming.assertOwner(name, existing.Tags, 'secret', ref);
    if (opts.mode === 'destroy') await this.#api.delete(name, { force: true });
    else if (!existing.DeletedDate) await this.#api.delete(name, { recoveryDays: this.#options.recovery_window_days });
  }

  async undelete(ref: SecretRef): Promise<void> {
    if (this.#options.layout === 'document') return this.#documents.undelete();
    const name = this.#naming.perSecret(ref);
    const existing = await this.#api.describe(name);
    if (!existing) throw new NotFoundError(describe(ref), { provider: this.id, hint: 'a destroyed (force-deleted) secret cannot be brought back' });
    this.#naming.assertOwner(name, existing.Tags, 'secret', ref);
    await this.#api.restore(name);
  }

  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    const versions = this.#options.layout === 'document' ? null : await this.#api.listVersions(this.#naming.perSecret(ref));
    if (versions === null && this.#options.layout !== 'per-secret') return this.#documents.versions(ref);
    return (versions ?? [])
      .map((v) => ({ version: v.VersionId ?? '', labels: labelsOf(v.VersionStages), createdAt: v.CreatedDate ?? new Date(0), expiresAt: expiryOf(v.VersionStages), destroyed: false }))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    try {
      await this.#api.ping();
      return { provider: this.id, status: 'ready', latencyMs: performance.now() - started };
    } catch (error) {
      return { provider: this.id, status: (error as LockboxError).code === 'THROTTLED' ? 'degraded' : 'down', latencyMs: performance.now() - started, message: this.#healthMessage(error) };
    }
  }

  async dispose(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection && this.#ownsClient) (await connection.catch(() => undefined))?.client.destroy?.();
  }

  async #setPerSecret(ref: SecretRef, value: SecretValue, opts: SetOptions): Promise<SecretMetadata> {
    const name = this.#naming.perSecret(ref);
    const versionId = randomUUID();
    const stages = stagesFor(opts, versionId);
    const existing = await this.#api.describe(name);
    let stagesNow: string[] | undefined;
    if (existing) {
      this.#naming.assertOwner(name, existing.Tags, 'secret', ref);
      if (existing.DeletedDate) await this.#api.restore(name);
      if (opts.tags && Object.keys(opts.tags).length > 0) await this.#api.tag(name, opts.tags);
    } else {
      // A plain write creates the secret with its first version; a pending or expiring one creates it empty first.
      const plain = stages.length === 1 && stages[0] === 'AWSCURRENT';
      const tags = [...this.#naming.ownerTags('secret', ref.scope), ...Object.entries(opts.tags ?? {}).map(([Key, Value]) => ({ Key, Value }))];
      await this.#api.create({ Name: name, ClientRequestToken: plain ? versionId : randomUUID(), Tags: tags, ...(plain ? { SecretString: value.reveal() } : {}) });
      if (plain) stagesNow = ['AWSCURRENT'];
    }
    stagesNow ??= (await this.#api.put({ SecretId: name, SecretString: value.reveal(), ClientRequestToken: versionId, VersionStages: stages })).VersionStages;
    const now = new Date();
    return {
      name: ref.name, scope: ref.scope, version: versionId, labels: labelsOf(stagesNow ?? stages), createdAt: now, updatedAt: now,
      expiresAt: expiryOf(stages), tags: { ...(opts.tags ?? {}) },
    };
  }

  #connect(deps: AwsDependencies): Promise<{ sdk: SecretsManagerSdk; client: SecretsManagerLike }> {
    if (this.#connection) return this.#connection;
    const connection = (async () => {
      const sdk = await loadSdk(SDK_PACKAGE, this.id, deps.importSdk ?? (() => import('@aws-sdk/client-secrets-manager')));
      if (deps.client) return { sdk, client: deps.client };
      this.#ownsClient = true;
      // maxAttempts 1: the SDK does not retry on its own; callRemote's retry policy is the one in force.
      const client = new sdk.SecretsManagerClient({ region: this.#options.region_name, endpoint: this.#options.endpoint, maxAttempts: 1 });
      return { sdk, client };
    })();
    // A failed load (e.g. SDK_MISSING) is tried again on the next call.
    connection.catch(() => { if (this.#connection === connection) this.#connection = undefined; });
    this.#connection = connection;
    return connection;
  }

  /** health()'s message, in the words of seed 002's troubleshooting section. */
  #healthMessage(error: unknown): string {
    const where = this.#options.endpoint ?? `the ${this.#options.region_name ?? 'default'} region`;
    const code = error instanceof LockboxError ? error.code : undefined;
    const example = `${this.#options.prefix}${this.#options.global_document}`;
    if (code === 'AUTH_FAILED') return `authentication failed: ${CREDENTIALS_HINT}`;
    if (code === 'PERMISSION_DENIED') {
      return `permission denied: grant secretsmanager:GetSecretValue and secretsmanager:ListSecrets on arn:aws:secretsmanager:REGION:ACCOUNT:secret:${this.#options.prefix}*, then test secret access with \`aws secretsmanager get-secret-value --secret-id ${example}\``;
    }
    if (code === 'THROTTLED') return 'AWS throttled the health check; lower the request rate';
    if (code === 'PROVIDER_UNAVAILABLE' || code === 'TIMEOUT') return `cannot reach AWS Secrets Manager at ${where}: verify network connectivity (endpoint, proxy, VPC endpoint)`;
    return error instanceof LockboxError ? error.describe() : 'health check failed; check application logs for detailed error messages';
  }
}

function describe(ref: SecretRef): string {
  return `${ref.scope ? `[${ref.scope}] ` : ''}${ref.name}`;
}
