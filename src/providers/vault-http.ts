/**
 * The wire under the vault provider: JSON over node:http / node:https to `{url}/v1/{path}`,
 * with Vault's headers (X-Vault-Token, X-Vault-Namespace, X-Vault-Request) and keep-alive.
 *
 * Why node:https and not the global fetch: Node 20's fetch (undici) takes TLS settings only
 * through an undici `Agent` dispatcher, and the `undici` package is not a dependency of
 * lockbox. node:https takes `ca` and `rejectUnauthorized` directly, so `verify` and `ca_file`
 * need no new dependency.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { LockboxError } from '../errors.js';

/** A Vault answer: the HTTP status and the parsed JSON body (null when empty or not JSON). */
export interface VaultResponse { status: number; body: unknown }

/** One call to the Vault HTTP API. */
export interface VaultRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under /v1/, e.g. "secret/data/acme/db". */
  path: string;
  query?: Record<string, string>;
  /** JSON body. */
  body?: unknown;
  signal?: AbortSignal;
  /** Send the client token. @default true */
  authenticated?: boolean;
  /** Send X-Vault-Namespace when a namespace is configured. @default true */
  namespaced?: boolean;
}

export interface VaultTransportOptions {
  providerId: string;
  /** Vault address, e.g. https://vault.example.com:8200. */
  url: string;
  namespace?: string;
  /** Verify the server certificate. */
  verify: boolean;
  /** PEM bundle of the CA(s) that sign Vault's certificate (absolute path). */
  caFile?: string;
}

/** TLS failures are configuration problems, not transient network errors. */
const TLS_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED',
  'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export class VaultTransport {
  readonly #base: URL;
  readonly #https: boolean;
  #agent?: Promise<HttpAgent>;

  constructor(private readonly options: VaultTransportOptions) {
    this.#base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.#https = this.#base.protocol === 'https:';
  }

  /** Sends one request with `token` (when given); network errors are thrown as they come. */
  async send(request: VaultRequest, token?: string): Promise<VaultResponse> {
    const url = new URL(`v1/${request.path}`, this.#base);
    for (const [key, value] of Object.entries(request.query ?? {})) url.searchParams.set(key, value);
    const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = { 'X-Vault-Request': 'true', Accept: 'application/json' };
    if (token !== undefined) headers['X-Vault-Token'] = token;
    if (this.options.namespace && request.namespaced !== false) headers['X-Vault-Namespace'] = this.options.namespace;
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const agent = await this.#agentFor();
    const send = this.#https ? httpsRequest : httpRequest;
    return new Promise<VaultResponse>((resolve, reject) => {
      const req = send(url, { method: request.method, headers, agent, signal: request.signal }, (res) => {
        collect(res).then((text) => resolve({ status: res.statusCode ?? 0, body: parseJson(text) }), reject);
      });
      req.on('error', (error) => reject(this.#tlsError(error) ?? error));
      req.end(payload);
    });
  }

  /** Closes pooled connections. */
  async dispose(): Promise<void> {
    const agent = this.#agent;
    this.#agent = undefined;
    if (agent) (await agent.catch(() => undefined))?.destroy();
  }

  #agentFor(): Promise<HttpAgent> {
    if (!this.#agent) {
      const agent = this.#createAgent();
      agent.catch(() => { if (this.#agent === agent) this.#agent = undefined; }); // retry a failed ca_file read next time
      this.#agent = agent;
    }
    return this.#agent;
  }

  async #createAgent(): Promise<HttpAgent> {
    if (!this.#https) return new HttpAgent({ keepAlive: true });
    let ca: Buffer | undefined;
    if (this.options.caFile !== undefined) {
      try {
        ca = await readFile(this.options.caFile);
      } catch (error) {
        throw new LockboxError('CONFIG_INVALID', `provider "${this.options.providerId}": ca_file "${this.options.caFile}" cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
          provider: this.options.providerId, hint: 'set ca_file to the PEM bundle of the CA that signed Vault\'s certificate',
        });
      }
    }
    return new HttpsAgent({ keepAlive: true, rejectUnauthorized: this.options.verify, ...(ca ? { ca } : {}) });
  }

  #tlsError(error: unknown): LockboxError | undefined {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !TLS_ERRORS.has(code)) return undefined;
    return new LockboxError('PROVIDER_ERROR', `provider "${this.options.providerId}": TLS connection to Vault at ${this.#base.origin} failed (${code})`, {
      provider: this.options.providerId,
      cause: error,
      hint: 'set ca_file to the CA bundle that signed Vault\'s certificate (or verify: false for a test server); check with `vault status -address=…`',
    });
  }
}

function collect(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
