/**
 * An in-process HashiCorp Vault for tests: HTTP(S) on 127.0.0.1 with a random port, speaking
 * Vault's documented HTTP API under /v1/ — the KV v2 engine (vault-kv.ts), token/AppRole/
 * Kubernetes auth (vault-auth.ts), namespaces (X-Vault-Namespace isolates data), sys/health,
 * Vault's `{"errors":[...]}` bodies — plus fault injection, a delay and a request counter.
 *
 * Known deviations from a real Vault: the LIST HTTP verb is not accepted (node's HTTP parser
 * does not know it; use GET with ?list=true, which Vault also accepts); policies are reduced
 * to per-token path prefixes; tokens are valid in every namespace; no leases, PATCH, subkeys,
 * engine config, response wrapping, namespaces in the URL path, or delete_version_after.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AuthBackend, type AppRoleOptions, type KubernetesAuthOptions, type TokenOptions } from './vault-auth.js';
import { KvEngine, errorReply, type Reply } from './vault-kv.js';

export type { AppRoleOptions, KubernetesAuthOptions, TokenOptions };

export interface VaultEmulatorOptions {
  /** Token with every permission that never expires. @default "root" */
  rootToken?: string;
  /** Paths where a KV v2 engine is mounted (in every namespace). @default ["secret"] */
  mounts?: string[];
  /** Enables AppRole login at auth/{mount}/login for this role. @default disabled */
  approle?: AppRoleOptions;
  /** Enables Kubernetes login at auth/{mount}/login, accepting this role + JWT. @default disabled */
  kubernetes?: KubernetesAuthOptions;
  /** Largest request body accepted; larger ones answer 413. @default 33554432 (Vault's 32 MiB) */
  maxRequestBytes?: number;
  /** Versions kept per key (Vault's default). @default 10 */
  maxVersions?: number;
  /** The emulator's clock in ms (token expiry, timestamps); tests pass a fake one. @default Date.now */
  now?: () => number;
  /** Serve HTTPS with this key and certificate (PEM). @default plain HTTP */
  tls?: { key: string; cert: string };
}

/** Node state as sys/health reports it. */
export type VaultNodeState = 'active' | 'standby' | 'sealed' | 'uninitialized';

export interface VaultRequestLogEntry { method: string; path: string; namespace: string }

export interface VaultEmulator {
  readonly url: string;
  readonly rootToken: string;
  /** HTTP requests served since start or the last resetRequests(). */
  readonly requests: number;
  /** Method, path (without /v1/ and query) and namespace of each request since the last reset. */
  readonly log: readonly VaultRequestLogEntry[];
  resetRequests(): void;
  /** The next `times` requests (whose path contains `path`, when given) answer `status` with a Vault error body. */
  failNext(status: number, times?: number, options?: { path?: string; errors?: string[] }): void;
  /** Delay before each answer, in ms (forces client timeouts). */
  delayMs: number;
  /** What sys/health reports; sealed/uninitialized also make every other path answer 503. */
  state: VaultNodeState;
  createToken(options?: TokenOptions): string;
  revokeToken(id: string): void;
  /** Revokes every token but the root token (as if they expired or were revoked server-side). */
  revokeAllTokens(): void;
  /** Stores a KV version without validation, like data another writer left. */
  putRaw(path: string, data: unknown, options?: { mount?: string; namespace?: string }): void;
  close(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 with a random port. */
export async function startVaultEmulator(options: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
  const emulator = new VaultEmulatorServer(options);
  await emulator.listen();
  return emulator;
}

interface InjectedFault { status: number; remaining: number; path?: string; errors?: string[] }

class VaultEmulatorServer implements VaultEmulator {
  url = '';
  readonly rootToken: string;
  delayMs = 0;
  state: VaultNodeState = 'active';
  #requests = 0;
  #log: VaultRequestLogEntry[] = [];
  readonly #faults: InjectedFault[] = [];
  readonly #engines = new Map<string, KvEngine>();
  readonly #auth: AuthBackend;
  readonly #server: Server;
  readonly #now: () => number;
  readonly #clusterId = randomUUID();

  constructor(private readonly options: VaultEmulatorOptions) {
    this.rootToken = options.rootToken ?? 'root';
    this.#now = options.now ?? Date.now;
    this.#auth = new AuthBackend(this.#now, this.rootToken, options.approle, options.kubernetes);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#serve(req, res).catch(() => { if (!res.headersSent) send(res, 'GET', { status: 500, body: { errors: ['internal error'] } }); });
    };
    this.#server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
  }

  get requests(): number { return this.#requests; }
  get log(): readonly VaultRequestLogEntry[] { return this.#log; }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  resetRequests(): void {
    this.#requests = 0;
    this.#log = [];
  }

  failNext(status: number, times = 1, options: { path?: string; errors?: string[] } = {}): void {
    this.#faults.push({ status, remaining: times, ...options });
  }

  createToken(options?: TokenOptions): string { return this.#auth.createToken(options); }
  revokeToken(id: string): void { this.#auth.revoke(id); }
  revokeAllTokens(): void { this.#auth.revokeAll(); }

  putRaw(path: string, data: unknown, options: { mount?: string; namespace?: string } = {}): void {
    this.#engine(options.namespace ?? '', options.mount ?? this.#mounts()[0]!).putRaw(path, data);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#requests++;
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://vault.invalid');
    const namespace = String(req.headers['x-vault-namespace'] ?? '').replace(/^\/+|\/+$/g, '');
    const path = url.pathname.startsWith('/v1/') ? decodeURIComponent(url.pathname.slice(4)) : undefined;
    this.#log.push({ method, path: path ?? url.pathname, namespace });
    const { text, tooLarge } = await readBody(req, this.options.maxRequestBytes ?? 32 * 1024 * 1024);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (res.destroyed) return;
    send(res, method, this.#route(method, path, url.searchParams, namespace, req, text, tooLarge));
  }

  #route(method: string, path: string | undefined, query: URLSearchParams, namespace: string, req: IncomingMessage, text: string, tooLarge: boolean): Reply {
    if (path === undefined) return { status: 404, body: { errors: [] } };
    const fault = this.#takeFault(path);
    if (fault) return fault;
    if (path === 'sys/health' && (method === 'GET' || method === 'HEAD')) return this.#health(query);
    if (this.state === 'sealed' || this.state === 'uninitialized') return errorReply(503, 'Vault is sealed');
    if (tooLarge) return errorReply(413, 'http: request body too large');
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      return errorReply(400, 'error parsing JSON');
    }
    const login = this.#auth.login(method, path, body);
    if (login) return login;
    const token = tokenOf(req);
    const denied = this.#auth.authorize(token, path);
    if (denied) return denied;
    const self = this.#auth.self(method, path, token!, body);
    if (self) return self;
    const [mount, op, ...rest] = path.split('/');
    if (mount && op && this.#mounts().includes(mount) && ['data', 'metadata', 'delete', 'undelete', 'destroy'].includes(op)) {
      return this.#engine(namespace, mount).handle(method, op, rest.join('/'), query, body);
    }
    return errorReply(404, `no handler for route "${path}". route entry not found.`);
  }

  #health(query: URLSearchParams): Reply {
    const code = (name: string, fallback: number): number => (query.has(name) ? Number(query.get(name)) : fallback);
    const active = code('activecode', 200);
    const status = this.state === 'active' ? active
      : this.state === 'standby' ? (query.get('standbyok') === 'true' ? active : code('standbycode', 429))
        : this.state === 'sealed' ? code('sealedcode', 503) : code('uninitcode', 501);
    return {
      status,
      body: {
        initialized: this.state !== 'uninitialized', sealed: this.state === 'sealed' || this.state === 'uninitialized',
        standby: this.state === 'standby', performance_standby: false, replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled', server_time_utc: Math.floor(this.#now() / 1000), version: '1.17.0',
        cluster_name: 'vault-cluster-emulator', cluster_id: this.#clusterId,
      },
    };
  }

  #takeFault(path: string): Reply | undefined {
    const fault = this.#faults.find((f) => f.remaining > 0 && (f.path === undefined || path.includes(f.path)));
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining === 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    return errorReply(fault.status, ...(fault.errors ?? [defaultError(fault.status, path)]));
  }

  #engine(namespace: string, mount: string): KvEngine {
    const key = `${namespace}\u0000${mount}`;
    let engine = this.#engines.get(key);
    if (!engine) {
      engine = new KvEngine(this.#now, this.options.maxVersions ?? 10);
      this.#engines.set(key, engine);
    }
    return engine;
  }

  #mounts(): string[] {
    return this.options.mounts ?? ['secret'];
  }
}

function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header !== '') return header;
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return bearer?.[1];
}

async function readBody(req: IncomingMessage, limit: number): Promise<{ text: string; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), tooLarge: size > limit };
}

function send(res: ServerResponse, method: string, reply: Reply): void {
  const hasBody = reply.body !== undefined && reply.status !== 204 && method !== 'HEAD';
  const text = hasBody ? JSON.stringify(reply.body) : '';
  res.writeHead(reply.status, {
    'Cache-Control': 'no-store',
    ...(hasBody ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } : {}),
  });
  res.end(text);
}

function defaultError(status: number, path: string): string {
  if (status === 403) return 'permission denied';
  if (status === 429) return `request path "${path}": rate limit quota exceeded`;
  if (status === 503) return 'Vault is sealed';
  if (status >= 500) return 'internal error';
  return 'invalid request';
}
