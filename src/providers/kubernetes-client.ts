/**
 * The kubernetes provider's side of @kubernetes/client-node: loading the SDK lazily, building a
 * KubeConfig (kubeconfig file, in-cluster service account, or the SDK's defaults), the Secret
 * calls lockbox makes (each through callRemote: timeout with an abort signal, retries of
 * transient failures), and the mapping of the API's `Status` errors to lockbox's codes.
 */
import { resolve } from 'node:path';
import type { CoreV1Api, KubeConfig, Observable, RequestContext, ResponseContext, V1Secret } from '@kubernetes/client-node';
import { LockboxError } from '../errors.js';
import type { ProviderContext } from './registry.js';
import { callRemote, classifyError, httpStatusError, loadSdk, type RemoteCallOptions } from './remote.js';

export const SDK_PACKAGE = '@kubernetes/client-node';

/** The part of the SDK's CoreV1Api lockbox uses; an injected client needs only these. */
export type SecretsApi = Pick<CoreV1Api, 'readNamespacedSecret' | 'listNamespacedSecret' | 'createNamespacedSecret' | 'replaceNamespacedSecret' | 'deleteNamespacedSecret'>;

/** A ready client: the API, the namespace it works in, the server (for messages), per-call SDK options carrying an abort signal. */
export interface KubernetesConnection { api: SecretsApi; namespace: string; server?: string; callOptions?: (signal: AbortSignal) => CallOptions }

/** How to find the cluster (the provider's options of the same names). */
export interface ConnectOptions { namespace?: string; kubeconfig?: string; context?: string; in_cluster: boolean }

/** Page size of LIST calls (kubectl's chunk size). */
export const PAGE_SIZE = 500;

type CallOptions = Parameters<CoreV1Api['readNamespacedSecret']>[1];

/**
 * Builds the connection: an injected SecretsApi as is; otherwise a KubeConfig (injected, or
 * loaded from `kubeconfig`, the in-cluster service account, or the SDK's defaults: KUBECONFIG,
 * ~/.kube/config, in-cluster). The namespace defaults to the context's (in a pod: the service
 * account's namespace file), then "default".
 */
export async function connect(providerId: string, options: ConnectOptions, context: ProviderContext, injected?: KubeConfig | SecretsApi): Promise<KubernetesConnection> {
  if (injected && !isKubeConfig(injected)) return { api: injected, namespace: options.namespace ?? 'default' };
  const sdk = await loadSdk(SDK_PACKAGE, providerId, () => import('@kubernetes/client-node'));
  try {
    const config = injected ?? new sdk.KubeConfig();
    if (!injected) loadConfig(providerId, config, options, context);
    if (options.context !== undefined) {
      if (!config.getContextObject(options.context)) {
        const known = config.getContexts().map((c) => c.name).join(', ') || 'none';
        throw invalidConfig(providerId, `the kubeconfig has no context "${options.context}" (contexts: ${known})`);
      }
      config.setCurrentContext(options.context);
    }
    const api = config.makeApiClient(sdk.CoreV1Api);
    const contextNamespace = config.getContextObject(config.getCurrentContext())?.namespace?.trim();
    return {
      api, namespace: options.namespace ?? (contextNamespace || 'default'), server: config.getCurrentCluster()?.server,
      callOptions: (signal) => withSignal(signal, (context) => new sdk.Observable(Promise.resolve(context))),
    };
  } catch (error) {
    if (error instanceof LockboxError) throw error;
    throw invalidConfig(providerId, `cannot load the Kubernetes configuration: ${messageOf(error)}`, error);
  }
}

/** The Secret calls, each one through callRemote with the provider's timeout and retries. */
export class SecretCalls {
  constructor(
    private readonly providerId: string,
    private readonly options: RemoteCallOptions,
    private readonly connection: () => Promise<KubernetesConnection>,
  ) {}

  /** GET a Secret; null when it does not exist. */
  read(name: string): Promise<V1Secret | null> {
    return this.#call(`read Secret "${name}"`, async (api, namespace, config) => {
      try {
        return await api.readNamespacedSecret({ name, namespace }, config);
      } catch (error) {
        if (statusOf(error) === 404) return null;
        throw error;
      }
    });
  }

  /** Every Secret a label selector matches, page by page (`limit`/`continue`); restarts once on 410 Expired. */
  async list(labelSelector: string, limit = PAGE_SIZE, maxPages = Number.POSITIVE_INFINITY): Promise<V1Secret[]> {
    for (let restart = 0; ; restart++) {
      const items: V1Secret[] = [];
      let token: string | undefined;
      try {
        for (let page = 0; page < maxPages; page++) {
          const answer = await this.#call('list Secrets', (api, namespace, config) => api.listNamespacedSecret({ namespace, labelSelector, limit, _continue: token }, config));
          items.push(...answer.items);
          token = answer.metadata?._continue;
          if (!token) break;
        }
        return items;
      } catch (error) {
        if (restart === 0 && error instanceof LockboxError && statusOf(error.cause) === 410) continue;
        throw error;
      }
    }
  }

  create(body: V1Secret): Promise<V1Secret> {
    return this.#call(`create Secret "${body.metadata?.name}"`, (api, namespace, config) => api.createNamespacedSecret({ namespace, body }, config));
  }

  /** PUT; body.metadata.resourceVersion makes it conditional (409 Conflict → CONFLICT). */
  replace(name: string, body: V1Secret): Promise<V1Secret> {
    return this.#call(`update Secret "${name}"`, (api, namespace, config) => api.replaceNamespacedSecret({ name, namespace, body }, config));
  }

  /** DELETE with preconditions; false when the Secret was already gone. */
  delete(name: string, preconditions: { uid?: string; resourceVersion?: string }): Promise<boolean> {
    return this.#call(`delete Secret "${name}"`, async (api, namespace, config) => {
      try {
        await api.deleteNamespacedSecret({ name, namespace, body: { preconditions } }, config);
        return true;
      } catch (error) {
        if (statusOf(error) === 404) return false;
        throw error;
      }
    });
  }

  async #call<T>(operation: string, fn: (api: SecretsApi, namespace: string, config: CallOptions) => Promise<T>): Promise<T> {
    const { api, namespace, callOptions } = await this.connection();
    return callRemote(this.providerId, operation, this.options,
      (signal) => fn(api, namespace, callOptions?.(signal)),
      (error) => classifyKubernetesError(this.providerId, operation, error));
  }
}

/**
 * Maps an SDK error to lockbox's codes: the HTTP status of an ApiException (with the `Status`
 * reason and message, which name objects, never values), 422 FieldValueTooLong on `data` as
 * VALUE_TOO_LARGE, network errors as transient PROVIDER_UNAVAILABLE, anything else PROVIDER_ERROR.
 */
export function classifyKubernetesError(providerId: string, operation: string, error: unknown): LockboxError {
  if (error instanceof LockboxError) return error;
  const status = statusOf(error);
  if (status !== undefined) {
    const body = statusBody(error);
    const detail = [body.reason, body.message].filter(Boolean).join(': ') || (status === 401 ? 'Unauthorized' : '');
    if (status === 422 && body.causes.some((cause) => cause.reason === 'FieldValueTooLong' && cause.field === 'data')) {
      return new LockboxError('VALUE_TOO_LARGE', `provider "${providerId}": ${operation} failed with HTTP 422: the Secret's data would exceed Kubernetes' 1 MiB limit`, {
        provider: providerId, cause: error, hint: 'store a smaller value (Secrets hold at most 1 MiB, previous and pending versions included)',
      });
    }
    return httpStatusError(providerId, operation, status, detail, error);
  }
  return classifyError(providerId, operation, error) ?? new LockboxError('PROVIDER_ERROR', `provider "${providerId}": ${operation} failed: ${messageOf(error)}`, {
    provider: providerId, cause: error, hint: 'check the kubeconfig (server, certificates) and `lockbox health`',
  });
}

/** health(): a status and a message in the words of seed 002's troubleshooting section. */
export function describeHealthError(error: unknown, namespace: string | undefined, server: string | undefined): { status: 'down' | 'degraded'; message: string } {
  const code = error instanceof LockboxError ? error.code : undefined;
  const ns = namespace ?? 'the namespace';
  const detail = messageOf(error);
  switch (code) {
    case 'AUTH_FAILED':
      return { status: 'down', message: `authentication failed: check authentication (credentials, service accounts): the kubeconfig user's token or client certificate, or the pod's service account token, is missing, invalid or expired (try \`kubectl auth whoami\`)` };
    case 'PERMISSION_DENIED':
      return { status: 'down', message: `permission denied: these credentials may not list Secrets in namespace "${ns}": grant get and list (and create, update, delete to write) on secrets with a Role and RoleBinding (try \`kubectl auth can-i list secrets -n ${ns}\`)` };
    case 'THROTTLED':
      return { status: 'degraded', message: `the Kubernetes API server is throttling requests (HTTP 429): lower the request rate or raise the cache TTL` };
    case 'TIMEOUT':
    case 'PROVIDER_UNAVAILABLE':
      return { status: 'down', message: `cannot reach the Kubernetes API server${server ? ` at ${server}` : ''}: verify network connectivity and the kubeconfig's server address (try \`kubectl cluster-info\`) — ${detail}` };
    default:
      return { status: 'down', message: detail };
  }
}

/** The HTTP status of an SDK ApiException (its numeric `code`). */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

function statusBody(error: unknown): { reason?: string; message?: string; causes: Array<{ reason?: string; field?: string }> } {
  const raw = (error as { body?: unknown }).body;
  let parsed: unknown = raw;
  if (typeof raw === 'string') {
    try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
  }
  const status = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { reason?: unknown; message?: unknown; details?: { causes?: unknown } };
  const causes = Array.isArray(status.details?.causes) ? status.details.causes as Array<{ reason?: string; field?: string }> : [];
  return {
    reason: typeof status.reason === 'string' ? status.reason : undefined,
    message: typeof status.message === 'string' ? status.message.slice(0, 300) : undefined,
    causes,
  };
}

/** SDK call options whose middleware hands the request the abort signal (the SDK's middleware returns its Observable). */
function withSignal(signal: AbortSignal, observe: <T>(value: T) => Observable<T>): CallOptions {
  return {
    middleware: [{
      pre: (context: RequestContext) => { context.setSignal(signal); return observe(context); },
      post: (context: ResponseContext) => observe(context),
    }],
    middlewareMergeStrategy: 'append',
  };
}

function loadConfig(providerId: string, config: KubeConfig, options: ConnectOptions, context: ProviderContext): void {
  if (options.in_cluster) {
    if (!context.env.KUBERNETES_SERVICE_HOST) throw invalidConfig(providerId, 'in_cluster is set but KUBERNETES_SERVICE_HOST is not: lockbox is not running in a pod');
    config.loadFromCluster();
  } else if (options.kubeconfig !== undefined) {
    config.loadFromFile(resolve(context.baseDir, options.kubeconfig));
  } else {
    config.loadFromDefault();
  }
}

function isKubeConfig(client: KubeConfig | SecretsApi): client is KubeConfig {
  return typeof (client as KubeConfig).makeApiClient === 'function';
}

function invalidConfig(providerId: string, message: string, cause?: unknown): LockboxError {
  return new LockboxError('INVALID_INPUT', `provider "${providerId}": ${message}`, {
    provider: providerId, cause, hint: 'check the kubeconfig, context and in_cluster options (docs/providers/kubernetes.md)',
  });
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}
