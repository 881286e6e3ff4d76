/**
 * The `kubernetes` provider: secrets kept as core/v1 Secrets through @kubernetes/client-node
 * (loaded lazily). Layouts (docs/providers/kubernetes.md): `per-secret` (one Secret per secret,
 * current/previous/pending versions), `document` (one Secret per tenant, one data key per
 * secret — Secrets made by kubectl or Helm), `auto` (reads per-secret then the document; writes
 * per-secret). Optimistic concurrency through resourceVersion; delete is a real delete.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { LockboxError, NotFoundError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import type { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, HealthStatus, Provider, ProviderCapabilities, Scope, SecretListing, SecretMetadata, SecretRecord,
  SecretRef, SecretVersion, SetOptions,
} from '../types.js';
import { parseProviderOptions } from './env.js';
import { SecretCalls, connect, describeHealthError, type KubernetesConnection, type SecretsApi } from './kubernetes-client.js';
import { DocumentSecrets, type DocumentCache } from './kubernetes-document.js';
import { MANAGED_BY, MANAGED_BY_LABEL, NAME_ANNOTATION } from './kubernetes-mapping.js';
import { PerSecretSecrets } from './kubernetes-per-secret.js';
import type { ProviderContext } from './registry.js';
import { mapLimit, remoteOptionFields } from './remote.js';
import { DEFAULT_GLOBAL_DOCUMENT } from './tenant-document.js';

export type { SecretsApi } from './kubernetes-client.js';

export const optionsSchema = z.object({
  /** Namespace of the Secrets. @default the kubeconfig context's namespace (in a pod: the service account's), else "default" */
  namespace: z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace is a DNS-1123 label').optional(),
  /** Path of a kubeconfig file (relative paths resolve against lockbox.yaml's directory). @default the SDK's loadFromDefault: $KUBECONFIG, ~/.kube/config, then in-cluster */
  kubeconfig: z.string().min(1).optional(),
  /** kubeconfig context to use. @default the kubeconfig's current-context */
  context: z.string().min(1).optional(),
  /** Use the pod's service account token and CA (/var/run/secrets/kubernetes.io/serviceaccount). @default false */
  in_cluster: z.boolean().default(false),
  /** Start of every Secret name lockbox maps to: lowercase letters, digits, "-" and ".". @default "lockbox-" */
  prefix: z.string().max(200).regex(/^[a-z0-9.-]*$/, 'lowercase letters, digits, "-" and "." only').default('lockbox-'),
  /** per-secret | document | auto (reads per-secret then the tenant document; writes per-secret). @default "auto" */
  layout: z.enum(['per-secret', 'document', 'auto']).default('auto'),
  /** Name of the document (layouts document and auto) that holds secrets without a tenant. @default "global" */
  global_document: z.string().regex(/^[A-Za-z0-9._-]+$/).default(DEFAULT_GLOBAL_DOCUMENT),
  /** Keep the value before the last write as version `previous` (data key `previous`). @default true */
  keep_previous: z.boolean().default(true),
  ...remoteOptionFields,
}).strict().refine((o) => !(o.in_cluster && o.kubeconfig !== undefined), { message: 'in_cluster and kubeconfig cannot both be set', path: ['in_cluster'] });

/** Options of the kubernetes provider (lockbox.yaml keys). */
export type KubernetesOptions = z.input<typeof optionsSchema>;
type ParsedOptions = z.infer<typeof optionsSchema>;

/** Lookups of one getMany run with at most this many requests in flight; a tenant with more names is LISTed once. */
export const MAX_IN_FLIGHT = 10;

/** Builds the provider; the SDK and the kubeconfig are loaded on first use. */
export function create(id: string, options: KubernetesOptions = {}, context: ProviderContext = defaultContext()): Provider {
  return new KubernetesProvider(id, parseProviderOptions(optionsSchema, id, options), context);
}

/**
 * Builds the provider around a ready client: a KubeConfig (e.g. built with loadFromOptions) or
 * any object with the CoreV1Api Secret methods lockbox uses (then `namespace` defaults to "default").
 */
export function createWithClient(id: string, options: KubernetesOptions, client: KubeConfig | SecretsApi, context: ProviderContext = defaultContext()): Provider {
  return new KubernetesProvider(id, parseProviderOptions(optionsSchema, id, options), context, client);
}

type Found = { done: true; record: SecretRecord | null } | { done: false; unmappable?: unknown };

class KubernetesProvider implements Provider {
  readonly type = 'kubernetes';
  readonly capabilities: ProviderCapabilities;
  readonly versions?: (ref: SecretRef) => Promise<SecretVersion[]>;
  readonly promote?: (ref: SecretRef, version: string) => Promise<SecretMetadata>;
  readonly #layout: ParsedOptions['layout'];
  readonly #calls: SecretCalls;
  readonly #perSecret: PerSecretSecrets;
  readonly #documents: DocumentSecrets;
  #connection?: Promise<KubernetesConnection>;
  #connected?: KubernetesConnection;

  constructor(readonly id: string, private readonly options: ParsedOptions, context: ProviderContext, injected?: KubeConfig | SecretsApi) {
    this.#layout = options.layout;
    const perSecret = options.layout !== 'document';
    this.capabilities = { write: true, delete: true, list: true, versions: perSecret, watch: false };
    this.#calls = new SecretCalls(id, options, () => {
      this.#connection ??= connect(id, options, context, injected).then(
        (connection) => (this.#connected = connection),
        (error: unknown) => { this.#connection = undefined; throw error; },
      );
      return this.#connection;
    });
    this.#perSecret = new PerSecretSecrets(id, this.#calls, options.prefix, options.keep_previous, options.retry_base_ms);
    this.#documents = new DocumentSecrets(id, this.#calls, options.prefix, options.global_document, options.retry_base_ms);
    if (perSecret) {
      this.versions = (ref) => this.#versions(ref);
      this.promote = (ref, version) => this.#perSecret.promote(checked(ref), version);
    }
  }

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    checked(ref);
    const found = this.#layout === 'document' ? { done: false } as Found : await this.#findPerSecret(ref);
    return found.done ? found.record : this.#findInDocument(ref, found, new Map());
  }

  /**
   * Per tenant: more than MAX_IN_FLIGHT names → one (paginated) LIST with a label selector;
   * fewer → GETs, at most MAX_IN_FLIGHT in flight. Names not found per-secret (layout auto) are
   * looked up in their tenant's document, read once per getMany.
   */
  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    refs.forEach(checked);
    const found: Found[] = refs.map(() => ({ done: false }));
    if (this.#layout !== 'document') {
      const singles: number[] = [];
      for (const [scope, indices] of groupByScope(refs)) {
        if (indices.length <= MAX_IN_FLIGHT) { singles.push(...indices); continue; }
        const byName = new Map((await this.#perSecret.listScope(scope)).map((s) => [s.metadata!.annotations![NAME_ANNOTATION]!, s]));
        for (const i of indices) {
          const secret = byName.get(refs[i]!.name);
          found[i] = secret ? { done: true, record: this.#perSecret.record(secret, refs[i]!) } : this.#perSecretMiss(refs[i]!);
        }
      }
      await mapLimit(singles, MAX_IN_FLIGHT, async (i) => { found[i] = await this.#findPerSecret(refs[i]!); });
    }
    const documents: DocumentCache = new Map();
    const results: (SecretRecord | null)[] = new Array(refs.length).fill(null);
    await mapLimit(refs.map((_, i) => i), MAX_IN_FLIGHT, async (i) => {
      const entry = found[i]!;
      results[i] = entry.done ? entry.record : await this.#findInDocument(refs[i]!, entry, documents);
    });
    return results;
  }

  async list(prefix = '', scope?: Scope): Promise<SecretListing[]> {
    if (scope !== undefined) assertValidScope(scope);
    const listings = new Map<string, SecretListing>();
    if (this.#layout !== 'document') {
      for (const secret of await this.#perSecret.listScope(scope)) {
        const listing = this.#perSecret.listing(secret, scope);
        if (listing.name.startsWith(prefix)) listings.set(listing.name, listing);
      }
    }
    if (this.#layout !== 'per-secret') {
      const inDocument = this.#layout === 'auto' && !this.#documents.canMap({ name: 'x', scope }) ? [] : await this.#documents.list(scope);
      for (const listing of inDocument) if (listing.name.startsWith(prefix) && !listings.has(listing.name)) listings.set(listing.name, listing);
    }
    return [...listings.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    checked(ref);
    if (this.#layout === 'document') return this.#documents.set(ref, value.reveal(), opts);
    return this.#perSecret.set(ref, value.reveal(), opts);
  }

  /** A real delete (Kubernetes keeps no deleted Secrets): `soft` and `destroy` both remove the secret. */
  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<void> {
    checked(ref);
    if (this.#layout !== 'document') {
      const mappable = this.#layout === 'per-secret' || this.#perSecretMappable(ref);
      if (mappable && await this.#perSecret.delete(ref, opts.mode, opts.version)) return;
    }
    if (this.#layout !== 'per-secret' && (this.#layout === 'document' || this.#documents.canMap(ref))) {
      if (await this.#documents.delete(ref)) return;
    }
    throw new NotFoundError(describe(ref), { provider: this.id });
  }

  /** A live LIST (limit 1) in the namespace: checks reachability, authentication and permission. */
  async health(): Promise<HealthStatus> {
    const started = performance.now();
    try {
      await this.#calls.list(`${MANAGED_BY_LABEL}=${MANAGED_BY}`, 1, 1);
      return { provider: this.id, status: 'ready', latencyMs: performance.now() - started };
    } catch (error) {
      const { status, message } = describeHealthError(error, this.#connected?.namespace ?? this.options.namespace, this.#connected?.server);
      return { provider: this.id, status, latencyMs: performance.now() - started, message };
    }
  }

  async dispose(): Promise<void> {
    this.#connection = undefined;
    this.#connected = undefined;
  }

  async #versions(ref: SecretRef): Promise<SecretVersion[]> {
    checked(ref);
    const versions = await this.#perSecret.versions(ref);
    if (versions.length > 0 || this.#layout !== 'auto' || !this.#documents.canMap(ref)) return versions;
    return this.#documents.versions(ref);
  }

  async #findPerSecret(ref: SecretRef): Promise<Found> {
    const miss = this.#perSecretMiss(ref);
    if (!miss.done && miss.unmappable) return miss;
    const secret = await this.#perSecret.find(ref);
    return secret ? { done: true, record: this.#perSecret.record(secret, ref) } : miss;
  }

  /** What not finding `ref` per-secret means: null (layout per-secret), or look in the document (auto). */
  #perSecretMiss(ref: SecretRef): Found {
    try {
      this.#perSecret.secretName(ref);
    } catch (error) {
      if (this.#layout === 'auto' && isUnmappable(error)) return { done: false, unmappable: error };
      throw error;
    }
    return this.#layout === 'per-secret' ? { done: true, record: null } : { done: false };
  }

  async #findInDocument(ref: SecretRef, found: Found, documents: DocumentCache): Promise<SecretRecord | null> {
    if (this.#layout === 'per-secret') return null;
    if (this.#layout === 'auto' && !this.#documents.canMap(ref)) {
      if (!found.done && found.unmappable) throw found.unmappable;
      return null;
    }
    return this.#documents.get(ref, documents);
  }

  #perSecretMappable(ref: SecretRef): boolean {
    try {
      this.#perSecret.secretName(ref);
      return true;
    } catch (error) {
      if (isUnmappable(error)) return false;
      throw error;
    }
  }
}

function checked(ref: SecretRef): SecretRef {
  assertValidName(ref.name);
  if (ref.scope !== undefined) assertValidScope(ref.scope);
  return ref;
}

function isUnmappable(error: unknown): boolean {
  return error instanceof LockboxError && error.code === 'NAME_UNMAPPABLE';
}

function describe(ref: SecretRef): string {
  return ref.scope === undefined ? ref.name : `${ref.name} (tenant ${ref.scope})`;
}

function groupByScope(refs: SecretRef[]): Map<Scope | undefined, number[]> {
  const groups = new Map<Scope | undefined, number[]>();
  refs.forEach((ref, i) => {
    const group = groups.get(ref.scope) ?? [];
    group.push(i);
    groups.set(ref.scope, group);
  });
  return groups;
}


function defaultContext(): ProviderContext {
  return { baseDir: process.cwd(), env: process.env };
}
