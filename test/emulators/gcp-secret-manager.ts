/**
 * An in-process Google Cloud Secret Manager emulator speaking the REST API v1
 * (https://secretmanager.googleapis.com/v1/…) closely enough that `@google-cloud/secret-manager`
 * in REST mode (`fallback: true`) cannot tell: the HTTP rules of the service's protos (paths,
 * verbs, `:access` / `:addVersion` / `:disable` / `:enable` / `:destroy` custom methods),
 * proto3 JSON bodies (enums as numbers when `$alt=json;enum-encoding=int` asks), pagination with
 * page tokens, filters, `latest`, version states, resource names with the project number, and
 * Google's error body `{"error":{"code","message","status"}}`. OAuth bearer tokens are checked
 * (401 without a known one, 403 for a token without the permission). See docs/providers/gcp.md
 * for what it does not cover.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, SecretManagerStore, invalidArgument, isObject, type StoredSecret } from './gcp-secret-manager-store.js';

/** Bearer token with every permission (roles/secretmanager.admin). */
export const GCP_ADMIN_TOKEN = 'emulator-admin-token';
/** Bearer token that may only access versions (roles/secretmanager.secretAccessor). */
export const GCP_ACCESSOR_TOKEN = 'emulator-accessor-token';
/** Bearer token that is valid but allowed nothing. */
export const GCP_DENIED_TOKEN = 'emulator-denied-token';
/** Project id and number the emulator serves. */
export const GCP_PROJECT_ID = 'lockbox-test';
export const GCP_PROJECT_NUMBER = '123456789012';

export interface GcpSecretManagerEmulatorOptions {
  /** Tokens with every permission. @default [GCP_ADMIN_TOKEN] */
  adminTokens?: string[];
  /** Tokens that may only call AccessSecretVersion. @default [GCP_ACCESSOR_TOKEN] */
  accessorTokens?: string[];
  /** Page size when a list call sends none. @default 25 */
  defaultPageSize?: number;
}

export interface GcpSecretManagerEmulator {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** HTTP requests served since start or the last resetRequests(). */
  readonly requests: number;
  /** RPC names of those requests, in order (e.g. "AccessSecretVersion"; "Unknown" for other paths). */
  readonly calls: readonly string[];
  /** Most requests in flight at once since start or the last resetRequests(). */
  readonly peakInFlight: number;
  resetRequests(): void;
  /** The next `times` requests (of `rpc` only, when given) answer `status` with Google's error body. */
  failNext(status: number, times?: number, options?: { rpc?: string; message?: string }): void;
  /** The next `times` requests wait `ms` before they are handled (to force client timeouts). */
  delayNext(ms: number, times?: number): void;
  /** Writes a version directly (as gcloud would), creating the secret when needed; returns its number. */
  seed(secretId: string, value: string | Buffer, options?: { labels?: Record<string, string>; annotations?: Record<string, string> }): number;
  /** The stored secret (values included: this is the backend's side), or undefined. */
  inspect(secretId: string): StoredSecret | undefined;
  close(): Promise<void>;
}

const STATUS_BY_HTTP: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 501: 'NOT_IMPLEMENTED', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** RPC name, IAM permission and handler of each route. */
interface Route { rpc: string; permission: string; handle: (call: Call) => unknown }
interface Call { secret: string; version: string; query: URLSearchParams; body: Record<string, unknown>; enumsAsInt: boolean }

export async function startGcpSecretManagerEmulator(options: GcpSecretManagerEmulatorOptions = {}): Promise<GcpSecretManagerEmulator> {
  const store = new SecretManagerStore(GCP_PROJECT_NUMBER);
  const admin = new Set(options.adminTokens ?? [GCP_ADMIN_TOKEN]);
  const accessor = new Set(options.accessorTokens ?? [GCP_ACCESSOR_TOKEN]);
  const defaultPageSize = options.defaultPageSize ?? 25;
  const faults: Array<{ status: number; rpc?: string; message?: string }> = [];
  const delays: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let calls: string[] = [];
  let inFlight = 0;
  let peakInFlight = 0;

  const server = createServer((req, res) => {
    peakInFlight = Math.max(peakInFlight, ++inFlight);
    res.on('close', () => { inFlight--; });
    void serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, new ApiError(500, 'INTERNAL', `Internal error: ${(error as Error).message}`));
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const matched = route(req.method ?? 'GET', url.pathname, store, defaultPageSize);
    calls.push(matched?.route.rpc ?? 'Unknown');
    const rawBody = await readBody(req);
    const delay = delays.shift();
    if (delay) await new Promise<void>((resolve) => { const t = setTimeout(() => { timers.delete(t); resolve(); }, delay); timers.add(t); });
    const faultIndex = faults.findIndex((f) => f.rpc === undefined || f.rpc === matched?.route.rpc);
    if (faultIndex >= 0) {
      const [fault] = faults.splice(faultIndex, 1);
      sendError(res, new ApiError(fault!.status, STATUS_BY_HTTP[fault!.status] ?? 'UNKNOWN', fault!.message ?? `Injected failure (HTTP ${fault!.status}).`));
      return;
    }
    try {
      const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token || (!admin.has(token) && !accessor.has(token) && token !== GCP_DENIED_TOKEN)) {
        throw new ApiError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
      }
      if (!matched) throw new ApiError(404, 'NOT_FOUND', `The requested URL ${url.pathname} was not found on this server.`);
      const { route: r, project, secret, version } = matched;
      const resource = `projects/${project}${secret ? `/secrets/${secret}` : ''}${version ? `/versions/${version}` : ''}`;
      const allowed = admin.has(token) || (accessor.has(token) && r.permission === 'secretmanager.versions.access');
      if (!allowed || (project !== GCP_PROJECT_ID && project !== GCP_PROJECT_NUMBER)) {
        throw new ApiError(403, 'PERMISSION_DENIED', `Permission '${r.permission}' denied for resource '${resource}' (or it may not exist).`);
      }
      const alt = url.searchParams.get('$alt') ?? '';
      const body = parseBody(rawBody);
      const result = r.handle({ secret, version, query: url.searchParams, body, enumsAsInt: alt.includes('enum-encoding=int') });
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(result));
    } catch (error) {
      if (error instanceof ApiError) sendError(res, error);
      else throw error;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    get requests() { return calls.length; },
    get calls() { return calls; },
    get peakInFlight() { return peakInFlight; },
    resetRequests() { calls = []; peakInFlight = inFlight; },
    failNext(status, times = 1, fault = {}) { for (let i = 0; i < times; i++) faults.push({ status, ...fault }); },
    delayNext(ms, times = 1) { for (let i = 0; i < times; i++) delays.push(ms); },
    seed(secretId, value, extra = {}) {
      const secret = store.find(secretId) ?? store.create(secretId, { replication: { automatic: {} }, ...extra });
      if (extra.labels) secret.labels = { ...extra.labels };
      if (extra.annotations) secret.annotations = { ...extra.annotations };
      const data = typeof value === 'string' ? Buffer.from(value) : value;
      return store.addVersion(secretId, { data: data.toString('base64') }).id;
    },
    inspect: (secretId) => store.find(secretId),
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const SEGMENT = '([^/:]+)';
const PATTERNS: Array<[method: string, pattern: RegExp, route: (store: SecretManagerStore, pageSize: number) => Route]> = [
  ['GET', new RegExp(`^/v1/projects/${SEGMENT}/secrets$`), (s, size) => ({
    rpc: 'ListSecrets', permission: 'secretmanager.secrets.list', handle: ({ query }) => {
      const page = s.listSecrets({ ...listQuery(query), defaultPageSize: size });
      return { secrets: page.items.map((x) => s.secretJson(x)), nextPageToken: page.nextPageToken, totalSize: page.totalSize || undefined };
    },
  })],
  ['POST', new RegExp(`^/v1/projects/${SEGMENT}/secrets$`), (s) => ({
    rpc: 'CreateSecret', permission: 'secretmanager.secrets.create', handle: ({ query, body }) => {
      const secretId = query.get('secretId');
      if (!secretId) throw invalidArgument('secret_id is required.');
      return s.secretJson(s.create(secretId, body));
    },
  })],
  ['GET', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}$`), (s) => ({
    rpc: 'GetSecret', permission: 'secretmanager.secrets.get', handle: ({ secret }) => s.secretJson(s.secret(secret)),
  })],
  ['PATCH', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}$`), (s) => ({
    rpc: 'UpdateSecret', permission: 'secretmanager.secrets.update',
    handle: ({ secret, query, body }) => s.secretJson(s.update(secret, body, query.get('updateMask') ?? '')),
  })],
  ['DELETE', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}$`), (s) => ({
    rpc: 'DeleteSecret', permission: 'secretmanager.secrets.delete',
    handle: ({ secret, query }) => { s.delete(secret, query.get('etag') ?? undefined); return {}; },
  })],
  ['POST', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}:addVersion$`), (s) => ({
    rpc: 'AddSecretVersion', permission: 'secretmanager.versions.add',
    handle: ({ secret, body, enumsAsInt }) => s.versionJson(secret, s.addVersion(secret, body.payload), enumsAsInt),
  })],
  ['GET', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}/versions$`), (s, size) => ({
    rpc: 'ListSecretVersions', permission: 'secretmanager.versions.list', handle: ({ secret, query, enumsAsInt }) => {
      const page = s.listVersions(secret, { ...listQuery(query), defaultPageSize: size });
      return { versions: page.items.map((v) => s.versionJson(secret, v, enumsAsInt)), nextPageToken: page.nextPageToken, totalSize: page.totalSize || undefined };
    },
  })],
  ['GET', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}/versions/${SEGMENT}$`), (s) => ({
    rpc: 'GetSecretVersion', permission: 'secretmanager.versions.get',
    handle: ({ secret, version, enumsAsInt }) => s.versionJson(secret, s.version(secret, version), enumsAsInt),
  })],
  ['GET', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}/versions/${SEGMENT}:access$`), (s) => ({
    rpc: 'AccessSecretVersion', permission: 'secretmanager.versions.access', handle: ({ secret, version }) => {
      const found = s.access(secret, version);
      return { name: `${s.secretName(secret)}/versions/${found.id}`, payload: { data: found.data!.toString('base64'), dataCrc32c: found.crc32c } };
    },
  })],
  ...(['disable', 'enable', 'destroy'] as const).map((action): (typeof PATTERNS)[number] => [
    'POST', new RegExp(`^/v1/projects/${SEGMENT}/secrets/${SEGMENT}/versions/${SEGMENT}:${action}$`), (s) => ({
      rpc: `${action[0]!.toUpperCase()}${action.slice(1)}SecretVersion`, permission: `secretmanager.versions.${action}`,
      handle: ({ secret, version, enumsAsInt }) => s.versionJson(secret, s.changeState(secret, version, action), enumsAsInt),
    }),
  ]),
];

function route(method: string, pathname: string, store: SecretManagerStore, pageSize: number):
  { route: Route; project: string; secret: string; version: string } | undefined {
  for (const [verb, pattern, build] of PATTERNS) {
    const match = pattern.exec(pathname);
    if (!match || verb !== method) continue;
    const [project = '', secret = '', version = ''] = match.slice(1).map((part) => decodeURIComponent(part));
    return { route: build(store, pageSize), project, secret, version };
  }
  return undefined;
}

function listQuery(query: URLSearchParams): { pageSize?: number; pageToken?: string; filter?: string } {
  const size = query.get('pageSize');
  if (size !== null && !/^\d+$/.test(size)) throw invalidArgument('page_size must be a non-negative integer.');
  return { pageSize: size === null ? undefined : Number(size), pageToken: query.get('pageToken') || undefined, filter: query.get('filter') || undefined };
}

function parseBody(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (isObject(parsed)) return parsed;
  } catch { /* fall through */ }
  throw invalidArgument('Invalid JSON payload received.');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendError(res: ServerResponse, error: ApiError): void {
  res.writeHead(error.httpStatus, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code: error.httpStatus, message: error.message, status: error.status } }));
}
