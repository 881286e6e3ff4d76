/**
 * What every network-backed provider (vault, aws, gcp, azure, kubernetes) shares: lazy loading
 * of its optional SDK, a per-call timeout, retries with jittered backoff for transient errors
 * only, and one mapping of HTTP statuses to lockbox's error codes (which decides whether the
 * cache may answer with a stale value: only for transient ones).
 */
import { z } from 'zod';
import { LockboxError, isTransient, type ErrorCode } from '../errors.js';

/** zod fields every remote provider accepts; spread them into the provider's strict schema. */
export const remoteOptionFields = {
  /** Per-call timeout in milliseconds. @default 5000 */
  timeout_ms: z.number().int().positive().max(600_000).default(5_000),
  /** Retries of a transient failure (network, timeout, 429, 5xx), with jittered backoff. @default 2 */
  retries: z.number().int().min(0).max(10).default(2),
  /** First backoff delay in milliseconds; doubles each retry, with full jitter. @default 100 */
  retry_base_ms: z.number().int().min(0).max(60_000).default(100),
};

/** The validated remote options. */
export interface RemoteCallOptions {
  timeout_ms: number;
  retries: number;
  retry_base_ms: number;
}

/**
 * Imports an optional SDK; a missing package is SDK_MISSING naming the package to install.
 * `importer` is a literal `() => import('pkg')` so bundlers and type-checkers see it.
 */
export async function loadSdk<T>(pkg: string, providerId: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new LockboxError('SDK_MISSING', `provider "${providerId}" needs the package ${pkg}, which is not installed`, {
        provider: providerId,
        hint: `npm install ${pkg}`,
      });
    }
    throw error;
  }
}

/**
 * Runs `fn` with a timeout (its AbortSignal fires when time is up) and retries transient
 * failures. `classify` turns a backend error into a LockboxError (or returns undefined to keep
 * the error as is); classified errors with `transient: true` are the ones retried.
 */
export async function callRemote<T>(
  providerId: string,
  operation: string,
  options: RemoteCallOptions,
  fn: (signal: AbortSignal) => Promise<T>,
  classify: (error: unknown) => LockboxError | undefined = (error) => classifyError(providerId, operation, error),
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withTimeout(providerId, operation, options.timeout_ms, fn);
    } catch (raw) {
      const error = raw instanceof LockboxError ? raw : (classify(raw) ?? raw);
      if (attempt >= options.retries || !isTransient(error)) throw error;
      await sleep(backoffMs(attempt, options.retry_base_ms));
    }
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order (getMany without a batch API). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Full-jitter exponential backoff: a random delay in [0, base × 2^attempt), capped at 10 s. */
export function backoffMs(attempt: number, baseMs: number): number {
  return Math.random() * Math.min(10_000, baseMs * 2 ** attempt);
}

/**
 * Maps an HTTP status to lockbox's codes: 401 AUTH_FAILED, 403 PERMISSION_DENIED (both
 * permanent, never served stale), 413 VALUE_TOO_LARGE, 409/412 CONFLICT, 429 THROTTLED and
 * 5xx PROVIDER_UNAVAILABLE (transient). `detail` is the backend's error text — it must never
 * hold a value (backends' error bodies do not echo secret values).
 */
export function httpStatusError(providerId: string, operation: string, status: number, detail = '', cause?: unknown): LockboxError {
  const suffix = detail ? `: ${detail}` : '';
  const [code, transient, hint] = statusClass(status);
  return new LockboxError(code, `provider "${providerId}": ${operation} failed with HTTP ${status}${suffix}`, {
    provider: providerId, transient, hint, cause,
  });
}

/** Classifies an error thrown by an SDK or fetch: HTTP statuses, network errnos and timeouts. */
export function classifyError(providerId: string, operation: string, error: unknown): LockboxError | undefined {
  if (error instanceof LockboxError) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { $metadata?: { httpStatusCode?: number }; statusCode?: number; status?: number; code?: unknown; message?: string; name?: string };
  const status = e.$metadata?.httpStatusCode ?? e.statusCode ?? (typeof e.status === 'number' ? e.status : undefined);
  if (typeof status === 'number' && status >= 400) return httpStatusError(providerId, operation, status, e.name && e.name !== 'Error' ? e.name : '', error);
  if (isTransient(error)) {
    return new LockboxError('PROVIDER_UNAVAILABLE', `provider "${providerId}" is unavailable: ${operation} failed (${String(e.code ?? e.name ?? 'network error')})`, {
      provider: providerId, transient: true, cause: error, hint: 'check the URL/endpoint, the network and `lockbox doctor`',
    });
  }
  return undefined;
}

/** A TIMEOUT error (transient). */
export function timeoutError(providerId: string, operation: string, ms: number): LockboxError {
  return new LockboxError('TIMEOUT', `provider "${providerId}": ${operation} timed out after ${ms} ms`, {
    provider: providerId, transient: true, hint: 'raise timeout_ms for this provider, or check the network',
  });
}

async function withTimeout<T>(providerId: string, operation: string, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(timeoutError(providerId, operation, ms));
    }, ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([fn(controller.signal), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function statusClass(status: number): [ErrorCode, boolean, string] {
  if (status === 401) return ['AUTH_FAILED', false, 'the credentials are missing, invalid or expired: renew them (see `lockbox doctor`)'];
  if (status === 403) return ['PERMISSION_DENIED', false, 'the credentials lack permission for this secret: grant read/list (see docs/providers.md)'];
  if (status === 413) return ['VALUE_TOO_LARGE', false, 'the value exceeds what the backend accepts; store a smaller value or a pointer'];
  if (status === 409 || status === 412) return ['CONFLICT', false, 'a concurrent write won; re-read and retry'];
  if (status === 429) return ['THROTTLED', true, 'the backend throttled the request; lower the request rate or raise the cache TTL'];
  if (status >= 500) return ['PROVIDER_UNAVAILABLE', true, 'the backend failed; check its status page and `lockbox health`'];
  return ['PROVIDER_ERROR', false, 'see the provider\'s documentation for this status'];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
