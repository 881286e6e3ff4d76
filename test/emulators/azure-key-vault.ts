/**
 * An in-process Azure Key Vault (secrets) emulator: HTTPS on 127.0.0.1 with a random port and a
 * self-signed certificate made at start (azure-tls.ts), speaking the REST API the official
 * `@azure/keyvault-secrets` sends (api-version 7.0–7.6 and 2025-07-01; the query key arrives
 * percent-encoded as `api%2Dversion`). The state and JSON shapes live in azure-key-vault-store.ts.
 *
 * Authentication works like the service's challenge: a request without `Authorization: Bearer …`
 * gets 401 with `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/{tenant}",
 * resource="https://vault.azure.net"`; any bearer token is then accepted (tokens are recorded).
 * Faults are injected on authenticated requests only (the challenge round trip is never faulted).
 *
 * Routes: PUT/GET/PATCH/DELETE /secrets/{name}, GET/PATCH /secrets/{name}/{version},
 * GET /secrets, GET /secrets/{name}/versions, GET /deletedsecrets, GET/DELETE /deletedsecrets/{name},
 * POST /deletedsecrets/{name}/recover.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KeyVaultStore, kvError, type KvResponse } from './azure-key-vault-store.js';
import { testCertificate } from './azure-tls.js';

export interface AzureKeyVaultEmulatorOptions {
  /** Tenant named in the challenge's authorization URL. @default "00000000-0000-0000-0000-00000000c0de" */
  tenantId?: string;
  /** Resource named in the challenge (the SDK checks it against the vault's host). @default "https://vault.azure.net" */
  resource?: string;
  /** Reads for which a delete or a recover stays in progress (404 from GET /deletedsecrets/{name}, resp. GET /secrets/{name}), as the service finishes both asynchronously. @default 0 */
  transitionReads?: number;
}

export interface AzureKeyVaultEmulator {
  /** The vault URL, e.g. https://127.0.0.1:43817 */
  readonly url: string;
  /** PEM of the emulator's self-signed certificate: the CA a client must trust. */
  readonly ca: string;
  /** HTTP requests served since start or the last resetRequests() (challenges included). */
  readonly requests: number;
  /** Bearer tokens received, in order. */
  readonly tokens: readonly string[];
  /** The vault's state (for assertions and direct setup). */
  readonly store: KeyVaultStore;
  resetRequests(): void;
  /**
   * The next `times` authenticated requests (after letting `after` through) fail with `status`
   * (401, 403, 429, 500 or 503) and the service's error body; 401 carries the challenge header,
   * 429 a Retry-After of `retryAfterSeconds` (default 1).
   */
  failNext(status: 401 | 403 | 429 | 500 | 503, times?: number, options?: { after?: number; retryAfterSeconds?: number }): void;
  /** Delays every response by `ms` (0 to stop), to force client timeouts. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

const API_VERSIONS = /^(7\.[0-6](-preview(\.\d+)?)?|2025-07-01)$/;

/** Starts an emulator; close() it when done. */
export async function startAzureKeyVaultEmulator(options: AzureKeyVaultEmulatorOptions = {}): Promise<AzureKeyVaultEmulator> {
  const tenantId = options.tenantId ?? '00000000-0000-0000-0000-00000000c0de';
  const challenge = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${options.resource ?? 'https://vault.azure.net'}"`;
  const { cert, key } = testCertificate();
  const store = new KeyVaultStore(options.transitionReads ?? 0);
  const faults: Array<{ status: number; retryAfter: number } | undefined> = [];
  const tokens: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;
  let delayMs = 0;

  const server = createServer({ cert, key }, (req, res) => {
    requests++;
    void (async () => {
      const body = await readBody(req);
      if (delayMs > 0) await new Promise<void>((resolve) => { const t = setTimeout(() => { timers.delete(t); resolve(); }, delayMs); timers.add(t); });
      if (res.destroyed) return;
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!auth) {
        send(res, kvError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.'), { 'www-authenticate': challenge });
        return;
      }
      tokens.push(auth[1]!);
      const fault = faults.shift();
      if (fault) {
        sendFault(res, fault.status, fault.retryAfter, challenge);
        return;
      }
      send(res, route(req, body, store));
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, kvError(500, 'InternalServerError', `emulator failure: ${(error as Error).message}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    ca: cert,
    get requests() { return requests; },
    tokens,
    store,
    resetRequests() { requests = 0; },
    failNext(status, times = 1, { after = 0, retryAfterSeconds = 1 } = {}) {
      for (let i = 0; i < after; i++) faults.push(undefined);
      for (let i = 0; i < times; i++) faults.push({ status, retryAfter: retryAfterSeconds });
    },
    setDelay(ms) { delayMs = ms; },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function route(req: IncomingMessage, body: string, store: KeyVaultStore): KvResponse {
  const url = new URL(req.url ?? '/', `https://${req.headers.host ?? '127.0.0.1'}`);
  const base = `https://${req.headers.host ?? '127.0.0.1'}`;
  const apiVersion = url.searchParams.get('api-version');
  if (!apiVersion) return kvError(400, 'BadParameter', 'The api-version query parameter is required.');
  if (!API_VERSIONS.test(apiVersion)) {
    return kvError(400, 'BadParameter', `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (2025-07-01).`);
  }
  let json: unknown;
  if (req.method === 'PUT' || req.method === 'PATCH') {
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      return kvError(400, 'BadParameter', 'The request body is not valid JSON.');
    }
  }
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const [collection, name, third, ...rest] = parts;
  const method = req.method ?? 'GET';
  if (rest.length === 0 && collection === 'secrets') {
    if (name === undefined) return method === 'GET' ? store.listSecrets(base, url.searchParams) : notAllowed(method);
    if (third === 'versions' && method === 'GET') return store.listVersions(base, name, url.searchParams);
    const version = third ?? '';
    if (method === 'GET') return store.getSecret(base, name, version);
    if (method === 'PATCH') return store.updateSecret(base, name, version, json);
    if (third === undefined && method === 'PUT') return store.setSecret(base, name, json);
    if (third === undefined && method === 'DELETE') return store.deleteSecret(base, name);
    return notAllowed(method);
  }
  if (rest.length === 0 && collection === 'deletedsecrets') {
    if (name === undefined) return method === 'GET' ? store.listDeleted(base, url.searchParams) : notAllowed(method);
    if (third === 'recover') return method === 'POST' ? store.recoverDeleted(base, name) : notAllowed(method);
    if (third !== undefined) return kvError(404, 'NotFound', `No route for ${url.pathname}.`);
    if (method === 'GET') return store.getDeleted(base, name);
    if (method === 'DELETE') return store.purgeDeleted(name);
    return notAllowed(method);
  }
  return kvError(404, 'NotFound', `No route for ${url.pathname}.`);
}

function sendFault(res: ServerResponse, status: number, retryAfter: number, challenge: string): void {
  if (status === 401) {
    send(res, kvError(401, 'Unauthorized', 'AKV10032: Invalid issuer. The token was not issued for this tenant.'), { 'www-authenticate': challenge });
  } else if (status === 403) {
    send(res, kvError(403, 'Forbidden', 'The user, group or application \'appid=00000000-0000-0000-0000-000000000001\' does not have secrets get permission on key vault \'emulator\'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287', 'AccessDenied'));
  } else if (status === 429) {
    send(res, kvError(429, 'Throttled', 'Request was not processed because too many requests were received. Reason: A1'), { 'retry-after': String(retryAfter) });
  } else {
    send(res, kvError(status, status === 503 ? 'ServiceUnavailable' : 'InternalServerError', 'The service encountered an internal error. Please retry the request.'));
  }
}

function notAllowed(method: string): KvResponse {
  return kvError(405, 'MethodNotAllowed', `The requested resource does not support http method '${method}'.`);
}

function send(res: ServerResponse, response: KvResponse, headers: Record<string, string> = {}): void {
  const payload = response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, {
    ...(payload ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'x-ms-keyvault-service-version': '1.9.0.0',
    'x-ms-request-id': randomUUID(),
    ...headers,
  });
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
