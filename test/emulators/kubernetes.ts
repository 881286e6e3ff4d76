/**
 * An in-process emulator of the Kubernetes API server for core/v1 Secrets, on 127.0.0.1 with a
 * random port, close enough to the documented API that @kubernetes/client-node cannot tell:
 * GET/POST /api/v1/namespaces/{ns}/secrets (labelSelector, fieldSelector on metadata.name,
 * limit/continue pagination, 410 Expired after compaction), GET/PUT/PATCH/DELETE
 * /api/v1/namespaces/{ns}/secrets/{name} (resourceVersion preconditions → 409 Conflict, DELETE
 * preconditions, merge/strategic/JSON patches), bearer-token auth with per-token verbs (401/403),
 * `Status` error bodies, GET /version, /readyz, /livez and /healthz, and fault injection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretStore, StatusError, jsonPatch, mergePatch, parseLabelSelector, type SecretObject } from './kubernetes-store.js';

export type { SecretObject } from './kubernetes-store.js';
export { MAX_SECRET_BYTES } from './kubernetes-store.js';

/** The verbs RBAC knows for secrets. */
export type SecretVerb = 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete';

export interface KubernetesEmulatorOptions {
  /** Bearer tokens accepted, each with the verbs it may use on secrets ('*' = all). @default { "test-token": "*" } */
  tokens?: Record<string, '*' | SecretVerb[]>;
}

export interface KubernetesEmulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (the kubeconfig's cluster.server). */
  url: string;
  /** HTTP requests served since start (or the last resetRequests), failures included. */
  readonly requests: number;
  /** Method and path (with query) of every request served since the last resetRequests. */
  readonly log: string[];
  resetRequests(): void;
  /** The next `times` API requests (optionally only those with this method) fail with `status`. */
  failNext(status: 401 | 403 | 409 | 429 | 500 | 503, times?: number, method?: string): void;
  /** Delay before answering every request, in ms (0 = none). */
  delayMs: number;
  /** Stores a Secret directly, as `kubectl apply` would (for Secrets lockbox did not create). */
  seed(namespace: string, secret: SecretObject): SecretObject;
  /** The stored Secret (undefined when absent), as the API would return it. */
  secret(namespace: string, name: string): SecretObject | undefined;
  /** Every stored Secret of a namespace, sorted by name. */
  secrets(namespace: string): SecretObject[];
  /** Compacts history: continue tokens issued so far answer 410 Expired. */
  compact(): void;
  close(): Promise<void>;
}

/** The API server's request body limit (3 MiB): larger bodies are 413 RequestEntityTooLarge. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const API_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/;

export async function startKubernetesEmulator(options: KubernetesEmulatorOptions = {}): Promise<KubernetesEmulator> {
  const tokens = options.tokens ?? { 'test-token': '*' };
  const store = new SecretStore();
  const faults: Array<{ status: number; method?: string }> = [];
  let compactedAt = 0;
  let requests = 0;
  let log: string[] = [];
  const server = createServer((req, res) => {
    requests += 1;
    log.push(`${req.method} ${req.url}`);
    void handle(req, res).catch((error: unknown) => {
      send(res, 500, new StatusError(500, 'InternalError', `Internal error occurred: ${String(error)}`).toStatus());
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const delay = emulator.delayMs;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (method === 'GET' && ['/readyz', '/livez', '/healthz'].includes(url.pathname)) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
      return;
    }
    if (method === 'GET' && url.pathname === '/version') {
      send(res, 200, { major: '1', minor: '33', gitVersion: 'v1.33.0-lockbox-emulator', gitTreeState: 'clean', goVersion: 'go1.24.0', compiler: 'gc', platform: 'linux/amd64' });
      return;
    }
    try {
      const fault = faults.findIndex((f) => f.method === undefined || f.method === method);
      if (fault >= 0) throw injected(faults.splice(fault, 1)[0]!.status);
      const match = API_PATH.exec(url.pathname);
      if (!match) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
      const namespace = decodeURIComponent(match[1]!);
      const name = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
      const verb = verbOf(method, name);
      authorize(req, verb, namespace, name);
      if (body === null) throw new StatusError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY_BYTES}`);
      const answer = route(verb, namespace, name, url.searchParams, body, req.headers['content-type'] ?? '');
      send(res, verb === 'create' ? 201 : 200, answer);
    } catch (error) {
      if (!(error instanceof StatusError)) throw error;
      const headers: Record<string, string> = error.code === 429 ? { 'retry-after': '1' } : {};
      send(res, error.code, error.toStatus(), headers);
    }
  }

  function authorize(req: IncomingMessage, verb: SecretVerb, namespace: string, name: string | undefined): void {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : undefined;
    const allowed = token === undefined ? undefined : tokens[token];
    if (allowed === undefined) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
    if (allowed === '*' || allowed.includes(verb)) return;
    const subject = name === undefined ? 'secrets' : `secrets "${name}"`;
    throw new StatusError(403, 'Forbidden', `${subject} is forbidden: User "system:serviceaccount:${namespace}:lockbox" cannot ${verb} resource "secrets" in API group "" in the namespace "${namespace}"`, {
      ...(name === undefined ? {} : { name }), kind: 'secrets',
    });
  }

  function route(verb: SecretVerb, namespace: string, name: string | undefined, query: URLSearchParams, body: string, contentType: string): unknown {
    switch (verb) {
      case 'list': return list(namespace, query);
      case 'get': return store.get(namespace, name!);
      case 'create': return store.create(namespace, parseJson(body) as SecretObject);
      case 'update': return store.replace(namespace, name!, parseJson(body) as SecretObject);
      case 'patch': return patch(namespace, name!, body, contentType);
      case 'delete': {
        const options = body.trim() === '' ? {} : parseJson(body) as { preconditions?: { uid?: string; resourceVersion?: string } };
        const deleted = store.delete(namespace, name!, options.preconditions ?? {});
        return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'secrets', uid: deleted.metadata.uid } };
      }
    }
  }

  function list(namespace: string, query: URLSearchParams): unknown {
    const selector = parseLabelSelector(query.get('labelSelector') ?? '');
    const fieldSelector = query.get('fieldSelector') ?? '';
    const nameField = /^metadata\.name(?:==?)(.+)$/.exec(fieldSelector)?.[1];
    if (fieldSelector !== '' && nameField === undefined) throw new StatusError(400, 'BadRequest', `"${fieldSelector}" is not a known field selector: only "metadata.name", "metadata.namespace", "type"`);
    const limit = Number(query.get('limit') ?? '0');
    let listRevision = store.revision;
    let after: string | undefined;
    const token = query.get('continue');
    if (token) {
      const decoded = decodeContinue(token);
      if (decoded.rv <= compactedAt) throw new StatusError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      listRevision = decoded.rv;
      after = decoded.start;
    }
    const matching = store.list(namespace).filter((s) => (after === undefined || s.metadata.name > after)
      && (nameField === undefined || s.metadata.name === nameField) && selector(s.metadata.labels ?? {}));
    const page = limit > 0 ? matching.slice(0, limit) : matching;
    const more = page.length < matching.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(listRevision) };
    if (more) {
      metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: listRevision, start: page.at(-1)!.metadata.name })).toString('base64url');
      if (!query.get('labelSelector') && fieldSelector === '') metadata.remainingItemCount = matching.length - page.length;
    }
    return { kind: 'SecretList', apiVersion: 'v1', metadata, items: page.map(({ apiVersion: _a, kind: _k, ...item }) => item) };
  }

  function patch(namespace: string, name: string, body: string, contentType: string): SecretObject {
    const current = store.get(namespace, name);
    const type = contentType.split(';')[0]!.trim();
    let patched: SecretObject;
    if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') patched = mergePatch(current, parseJson(body)) as SecretObject;
    else if (type === 'application/json-patch+json') patched = jsonPatch(current, parseJson(body));
    else throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
    return store.replace(namespace, name, patched);
  }

  function decodeContinue(token: string): { rv: number; start: string } {
    try {
      const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv?: unknown; start?: unknown };
      if (typeof decoded.rv === 'number' && typeof decoded.start === 'string') return { rv: decoded.rv, start: decoded.start };
    } catch { /* fall through */ }
    throw new StatusError(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const emulator: KubernetesEmulator = {
    url: `http://127.0.0.1:${port}`,
    delayMs: 0,
    get requests() { return requests; },
    get log() { return log; },
    resetRequests() { requests = 0; log = []; },
    failNext(status, times = 1, method) { for (let i = 0; i < times; i++) faults.push({ status, method }); },
    seed: (namespace, secret) => store.seed(namespace, secret),
    secret(namespace, name) { try { return store.get(namespace, name); } catch { return undefined; } },
    secrets: (namespace) => store.list(namespace),
    compact() { compactedAt = store.revision; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  return emulator;
}

function verbOf(method: string, name: string | undefined): SecretVerb {
  if (name === undefined) {
    if (method === 'GET') return 'list';
    if (method === 'POST') return 'create';
  } else {
    const verbs: Record<string, SecretVerb> = { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
    if (verbs[method]) return verbs[method]!;
  }
  throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

function injected(status: number): StatusError {
  switch (status) {
    case 401: return new StatusError(401, 'Unauthorized', 'Unauthorized');
    case 403: return new StatusError(403, 'Forbidden', 'secrets is forbidden: User "system:anonymous" cannot access resource "secrets" in API group ""', { kind: 'secrets' });
    case 409: return new StatusError(409, 'Conflict', 'Operation cannot be fulfilled on secrets: the object has been modified; please apply your changes to the latest version and try again', { kind: 'secrets' });
    case 429: return new StatusError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 });
    case 503: return new StatusError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    default: return new StatusError(status, 'InternalError', 'Internal error occurred: injected fault', { causes: [{ message: 'injected fault' }] });
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new StatusError(400, 'BadRequest', 'the object provided is unrecognized (invalid JSON)');
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** The request body as text, or null past the API server's limit (the rest is drained). */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  return size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8');
}
