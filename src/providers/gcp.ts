/**
 * The `gcp` provider (seed 002 §5): Google Cloud Secret Manager through the official
 * `@google-cloud/secret-manager` client, loaded lazily. Application Default Credentials unless an
 * auth client is injected; gRPC by default, the REST transport with `fallback: true` (emulators,
 * restricted networks). Two layouts — a secret per lockbox secret (`{prefix}{tenant}-{name}`) or
 * one JSON document per tenant (`{prefix}{tenant}`) — and `auto`, which reads per-secret first,
 * then the tenant document, and writes per-secret. Every RPC runs under callRemote (timeout,
 * retries of transient failures only); gax's own retries are off. See docs/providers/gcp.md.
 */
import { z } from 'zod';
import { CapabilityError, LockboxError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import type { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, HealthStatus, Provider, ProviderCapabilities, SecretListing, SecretMetadata, SecretRecord, SecretRef,
  SecretVersion, SetOptions,
} from '../types.js';
import { parseProviderOptions } from './env.js';
import { SecretManagerApi } from './gcp-api.js';
import { GcpCaller, HINTS, createSdkClient, type SecretManagerClient } from './gcp-client.js';
import { DocumentLayout, notFound, type DocumentCache } from './gcp-document.js';
import { perSecretId, type GcpNaming } from './gcp-naming.js';
import { PerSecretLayout } from './gcp-per-secret.js';
import type { ProviderContext } from './registry.js';
import { remoteOptionFields } from './remote.js';
import { DEFAULT_GLOBAL_DOCUMENT } from './tenant-document.js';

const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9.:_-]{0,99}$/;

export const optionsSchema = z.object({
  /** Google Cloud project holding the secrets. Required, here or in the GCP_PROJECT_ID environment variable. @default $GCP_PROJECT_ID */
  project_id: z.string().regex(PROJECT_ID, 'a Google Cloud project id or number').optional(),
  /** Prepended to every secret id (e.g. "dativo-"); letters, digits, "_" and "-". @default "" */
  prefix: z.string().max(200).regex(/^[A-Za-z0-9_-]*$/, 'secret ids allow only letters, digits, "_" and "-"').default(''),
  /** `per-secret` ({prefix}{tenant}-{name}), `document` ({prefix}{tenant} JSON) or `auto` (read both, write per-secret). @default "auto" */
  layout: z.enum(['per-secret', 'document', 'auto']).default('auto'),
  /** Tenant document holding secrets with no tenant (document and auto layouts). @default "global" */
  global_document: z.string().max(100).regex(/^[A-Za-z0-9._-]+$/, 'one name segment').default(DEFAULT_GLOBAL_DOCUMENT),
  /** Secret Manager endpoint: host, host:port or http(s)://host:port (http needs `fallback`). @default "secretmanager.googleapis.com" */
  api_endpoint: z.string().min(1).optional(),
  /** Use the REST transport (HTTP/1.1 + JSON) instead of gRPC. @default false */
  fallback: z.boolean().default(false),
  ...remoteOptionFields,
}).strict();

/** Options of the gcp provider (lockbox.yaml keys). */
export type GcpOptions = z.input<typeof optionsSchema>;

/** What an application or a test may inject besides the YAML options. */
export interface GcpOverrides {
  /** A ready SecretManagerServiceClient; the provider then never builds (nor closes) one. */
  client?: SecretManagerClient;
  /** An auth client for gax (e.g. google-auth-library's OAuth2Client). @default Application Default Credentials */
  authClient?: unknown;
}

/** Builds a gcp provider; CONFIG_INVALID when neither project_id nor GCP_PROJECT_ID names a project. */
export function create(id: string, options: GcpOptions = {}, context: ProviderContext = defaultContext(), overrides: GcpOverrides = {}): Provider {
  const parsed = parseProviderOptions(optionsSchema, id, options);
  const project = parsed.project_id ?? context.env.GCP_PROJECT_ID;
  if (!project) {
    throw new LockboxError('CONFIG_INVALID', `provider "${id}": no Google Cloud project: set project_id in lockbox.yaml or the GCP_PROJECT_ID environment variable`, {
      provider: id, hint: 'e.g. project_id: my-project-123',
    });
  }
  if (!PROJECT_ID.test(project)) {
    throw new LockboxError('CONFIG_INVALID', `provider "${id}": GCP_PROJECT_ID is not a Google Cloud project id or number`, { provider: id });
  }
  const injected = overrides.client;
  const factory = injected
    ? () => Promise.resolve(injected)
    : () => createSdkClient(id, { apiEndpoint: parsed.api_endpoint, fallback: parsed.fallback, authClient: overrides.authClient });
  const caller = new GcpCaller(id, parsed, factory);
  return new GcpProvider(id, parsed, new SecretManagerApi(caller, project), injected === undefined);
}

/** Builds a gcp provider around a ready client (the option-less path for applications and tests). */
export function createWithClient(id: string, options: GcpOptions, client: SecretManagerClient, context: ProviderContext = defaultContext()): Provider {
  return create(id, options, context, { client });
}

type ParsedOptions = z.infer<typeof optionsSchema>;

class GcpProvider implements Provider {
  readonly type = 'gcp';
  readonly capabilities: ProviderCapabilities = { write: true, delete: true, list: true, versions: true, watch: false };
  readonly #layout: ParsedOptions['layout'];
  readonly #naming: GcpNaming;
  readonly #perSecret: PerSecretLayout;
  readonly #documents: DocumentLayout;

  constructor(readonly id: string, private readonly options: ParsedOptions, private readonly api: SecretManagerApi, private readonly ownsClient: boolean) {
    this.#layout = options.layout;
    this.#naming = { providerId: id, prefix: options.prefix, globalDocument: options.global_document };
    this.#perSecret = new PerSecretLayout(api, this.#naming);
    this.#documents = new DocumentLayout(api, this.#naming);
  }

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    checkRef(ref);
    return this.#get(ref);
  }

  /** One read per secret, at most 10 in flight; each tenant document is read once per call. */
  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    refs.forEach(checkRef);
    const cache: DocumentCache = new Map();
    return mapBounded(refs, 10, (ref) => this.#get(ref, cache));
  }

  async list(prefix = '', scope?: string): Promise<SecretListing[]> {
    if (scope !== undefined) assertValidScope(scope);
    const listings = new Map<string, SecretListing>();
    if (this.#layout !== 'per-secret') {
      for (const listing of await this.#documents.list(prefix, scope)) listings.set(listing.name, listing);
    }
    if (this.#layout !== 'document') {
      const skip = new Set(this.#layout === 'auto' ? [this.#documents.id(undefined)] : []);
      for (const listing of await this.#perSecret.list(prefix, scope, skip)) listings.set(listing.name, listing);
    }
    return [...listings.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    checkRef(ref);
    if (opts.pending) {
      throw new CapabilityError(this.id, 'pending versions',
        'Google Secret Manager has no staging label: every new version becomes latest (current) at once');
    }
    return this.#layout === 'document' ? this.#documents.set(ref, value, opts) : this.#perSecret.set(ref, value, opts);
  }

  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<void> {
    checkRef(ref);
    if (this.#layout !== 'document' && await this.#perSecret.delete(ref, opts)) return;
    if (this.#layout !== 'per-secret' && await this.#documents.delete(ref, opts)) return;
    throw notFound(this.id, ref);
  }

  async undelete(ref: SecretRef): Promise<void> {
    checkRef(ref);
    if (this.#layout === 'document') {
      throw new CapabilityError(this.id, 'undelete in the document layout',
        'a deleted key is gone from the latest tenant document; read it from an older document version (name@version) and set it again');
    }
    if (!await this.#perSecret.undelete(ref)) throw notFound(this.id, ref);
  }

  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    checkRef(ref);
    if (this.#layout !== 'document') {
      const versions = await this.#perSecret.versions(ref);
      if (versions !== undefined || this.#layout === 'per-secret') return versions ?? [];
    }
    return await this.#documents.versions(ref) ?? [];
  }

  async health(): Promise<HealthStatus> {
    const started = performance.now();
    const latency = (): number => Math.round((performance.now() - started) * 100) / 100;
    try {
      await this.api.probe();
      return { provider: this.id, status: 'ready', latencyMs: latency() };
    } catch (error) {
      const [status, message] = this.#diagnose(error);
      return { provider: this.id, status, latencyMs: latency(), message };
    }
  }

  async dispose(): Promise<void> {
    if (this.ownsClient) await this.api.caller.close();
  }

  async #get(ref: SecretRef, cache?: DocumentCache): Promise<SecretRecord | null> {
    if (this.#layout !== 'document') {
      const found = await this.#perSecret.get(ref);
      if (found !== undefined || this.#layout === 'per-secret') return found ?? null;
    }
    return this.#documents.get(ref, cache);
  }

  /** health()'s status and message, in the words of seed 002's troubleshooting section. */
  #diagnose(error: unknown): [HealthStatus['status'], string] {
    const code = error instanceof LockboxError ? error.code : undefined;
    const detail = error instanceof Error ? error.message : String(error);
    const project = this.api.project;
    if (code === 'AUTH_FAILED') return ['down', `authentication failed (${detail}); ${HINTS.auth}`];
    if (code === 'PERMISSION_DENIED') {
      const example = safeExampleId(this.#naming);
      return ['degraded', `the credentials cannot list secrets in project "${project}" (${detail}); check IAM roles and service accounts: `
        + `reads need roles/secretmanager.secretAccessor, list needs roles/secretmanager.viewer; test secret access: `
        + `\`gcloud secrets versions access latest --secret=${example} --project=${project}\``];
    }
    if (code === 'SDK_MISSING' || code === 'CONFIG_INVALID') return ['down', detail];
    const endpoint = this.options.api_endpoint ?? 'secretmanager.googleapis.com';
    return ['down', `Secret Manager at ${endpoint} did not answer (${detail}); verify network connectivity and check the application logs for detailed error messages`];
  }
}

function checkRef(ref: SecretRef): void {
  assertValidName(ref.name);
  if (ref.scope !== undefined) assertValidScope(ref.scope);
}

function safeExampleId(naming: GcpNaming): string {
  try {
    return perSecretId(naming, 'stripe_api_key', 'acme');
  } catch {
    return `${naming.prefix}acme`;
  }
}

function defaultContext(): ProviderContext {
  return { baseDir: process.cwd(), env: process.env };
}

/** Maps with at most `limit` calls in flight, keeping order. */
async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
