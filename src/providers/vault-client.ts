/**
 * An authenticated Vault client: it obtains a token (static token, AppRole login or Kubernetes
 * login), keeps it alive — renew-self when a renewable token has a third of its TTL left, a
 * fresh login when it cannot be renewed any further — and tells a bad token (AUTH_FAILED) from
 * a missing policy (a 403 passed back to the caller) with auth/token/lookup-self.
 */
import { readFile } from 'node:fs/promises';
import { authFailedError, tokenRejectedError, vaultErrorDetail, vaultStatusError } from './vault-errors.js';
import { VaultTransport, type VaultRequest, type VaultResponse, type VaultTransportOptions } from './vault-http.js';

export type { VaultRequest, VaultResponse };

/** What the vault provider needs from a connection; inject your own with createWithClient. */
export interface VaultClient {
  /** Sends a request to /v1/{path}; throws LockboxError AUTH_FAILED when Vault rejects the credentials. */
  request(request: VaultRequest): Promise<VaultResponse>;
  dispose?(): Promise<void>;
}

/** How the client authenticates. */
export type VaultAuthConfig =
  | { method: 'token'; token?: string }
  | { method: 'approle'; mount: string; roleId: string; secretId?: string }
  | { method: 'kubernetes'; mount: string; role: string; jwtFile: string };

export interface VaultClientConfig extends VaultTransportOptions {
  auth: VaultAuthConfig;
  /** Clock in ms, for token expiry (tests pass a fake one). @default Date.now */
  now?: () => number;
}

/** The default client: node:http(s) transport plus token lifecycle. */
export function createVaultClient(config: VaultClientConfig): VaultClient {
  return new TokenLifecycleClient(config);
}

class TokenLifecycleClient implements VaultClient {
  readonly #transport: VaultTransport;
  readonly #now: () => number;
  #token?: string;
  /** Lease of the token as issued (ms); 0 = never expires. */
  #leaseMs = 0;
  #expiresAtMs = 0;
  #renewable = false;
  #refreshing?: Promise<void>;

  constructor(private readonly config: VaultClientConfig) {
    this.#transport = new VaultTransport(config);
    this.#now = config.now ?? Date.now;
  }

  async request(request: VaultRequest): Promise<VaultResponse> {
    if (request.authenticated === false) return this.#transport.send(request);
    const token = await this.#currentToken(request.signal);
    const response = await this.#transport.send(request, token);
    if (response.status !== 403 || request.path.startsWith('auth/')) return response;
    // Vault answers 403 for a bad token and for a missing policy alike: lookup-self tells which.
    if (await this.#accepted(token, request.signal)) return response;
    if (this.config.auth.method === 'token') throw tokenRejectedError(this.config.providerId);
    this.#token = undefined; // revoked or expired early: log in again, once
    const fresh = await this.#currentToken(request.signal);
    const retried = await this.#transport.send(request, fresh);
    if (retried.status === 403 && !(await this.#accepted(fresh, request.signal))) throw tokenRejectedError(this.config.providerId);
    return retried;
  }

  async dispose(): Promise<void> {
    await this.#transport.dispose();
  }

  async #currentToken(signal?: AbortSignal): Promise<string> {
    if (this.#token === undefined || this.#nearExpiry()) {
      this.#refreshing ??= this.#refresh(signal).finally(() => { this.#refreshing = undefined; });
      await this.#refreshing;
    }
    return this.#token!;
  }

  /** True when a third of the lease or less is left and something can be done about it. */
  #nearExpiry(): boolean {
    if (this.#leaseMs === 0) return false;
    if (this.config.auth.method === 'token' && !this.#renewable) return false;
    return this.#expiresAtMs - this.#now() <= this.#leaseMs / 3;
  }

  async #refresh(signal?: AbortSignal): Promise<void> {
    const auth = this.config.auth;
    if (this.#token === undefined) {
      if (auth.method !== 'token') return this.#login(signal);
      if (!auth.token) {
        throw authFailedError(this.config.providerId, 'no Vault credentials: set token (or VAULT_TOKEN), role_id + secret_id (AppRole) or kubernetes_role (Kubernetes)');
      }
      return this.#lookupStatic(auth.token, signal);
    }
    if (this.#renewable && (await this.#renew(signal)) && !this.#nearExpiry()) return;
    if (auth.method === 'token') {
      this.#renewable = false; // cannot be extended further; use it until it expires
      return;
    }
    try {
      await this.#login(signal);
    } catch (error) {
      if (this.#expiresAtMs <= this.#now()) throw error; // the old token is still good for now
    }
  }

  /** Learns a static token's TTL (and whether it can be renewed); 403 = AUTH_FAILED. */
  async #lookupStatic(token: string, signal?: AbortSignal): Promise<void> {
    const response = await this.#transport.send({ method: 'GET', path: 'auth/token/lookup-self', signal }, token);
    if (response.status === 403) throw tokenRejectedError(this.config.providerId);
    if (response.status !== 200) throw vaultStatusError(this.config.providerId, 'token lookup (auth/token/lookup-self)', response);
    const data = ((response.body as { data?: Record<string, unknown> } | null)?.data ?? {});
    const ttl = Number(data.ttl ?? 0);
    this.#token = token;
    this.#setLease(Number(data.creation_ttl ?? ttl) || ttl, ttl, data.renewable === true);
  }

  async #renew(signal?: AbortSignal): Promise<boolean> {
    try {
      const response = await this.#transport.send({ method: 'POST', path: 'auth/token/renew-self', body: {}, signal }, this.#token);
      const auth = (response.body as { auth?: { lease_duration?: number; renewable?: boolean } } | null)?.auth;
      if (response.status !== 200 || !auth) return false;
      const seconds = Number(auth.lease_duration ?? 0);
      this.#expiresAtMs = seconds === 0 ? 0 : this.#now() + seconds * 1000;
      this.#renewable = auth.renewable !== false;
      if (seconds === 0) this.#leaseMs = 0;
      return true;
    } catch {
      return false; // renewal is best effort: the token is still valid until it expires
    }
  }

  async #login(signal?: AbortSignal): Promise<void> {
    const auth = this.config.auth;
    if (auth.method === 'token') return;
    const path = `auth/${auth.mount}/login`;
    const label = auth.method === 'approle' ? `AppRole login (${path})` : `Kubernetes login (${path})`;
    const body = auth.method === 'approle'
      ? { role_id: auth.roleId, ...(auth.secretId === undefined ? {} : { secret_id: auth.secretId }) }
      : { role: auth.role, jwt: await this.#readJwt(auth.jwtFile) };
    const response = await this.#transport.send({ method: 'POST', path, body, signal });
    if (response.status === 429 || response.status >= 500) throw vaultStatusError(this.config.providerId, label, response);
    const result = (response.body as { auth?: { client_token?: unknown; lease_duration?: unknown; renewable?: unknown } } | null)?.auth;
    if (response.status !== 200 || typeof result?.client_token !== 'string') {
      const detail = vaultErrorDetail(response.body);
      throw authFailedError(this.config.providerId, `${label} failed with HTTP ${response.status}${detail ? `: ${detail}` : ''}`);
    }
    const seconds = Number(result.lease_duration ?? 0);
    this.#token = result.client_token;
    this.#setLease(seconds, seconds, result.renewable === true);
  }

  async #readJwt(file: string): Promise<string> {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw authFailedError(this.config.providerId, `cannot read the Kubernetes service-account token at jwt_file "${file}" (${code}): run inside a pod with a service account, or set jwt_file`);
    }
  }

  async #accepted(token: string, signal?: AbortSignal): Promise<boolean> {
    const response = await this.#transport.send({ method: 'GET', path: 'auth/token/lookup-self', signal }, token);
    return response.status !== 403;
  }

  #setLease(leaseSeconds: number, remainingSeconds: number, renewable: boolean): void {
    this.#leaseMs = leaseSeconds * 1000;
    this.#expiresAtMs = remainingSeconds === 0 ? 0 : this.#now() + remainingSeconds * 1000;
    this.#renewable = renewable;
    if (remainingSeconds === 0) this.#leaseMs = 0;
  }
}
