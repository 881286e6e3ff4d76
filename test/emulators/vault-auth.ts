/**
 * Authentication in the Vault emulator: a token table (TTL, max TTL, renewable), the token
 * self-service endpoints (lookup-self, renew-self), AppRole login and Kubernetes login (which
 * accepts one configured service-account JWT instead of calling the TokenReview API).
 * Shapes follow developer.hashicorp.com/vault/api-docs/auth/{approle,kubernetes,token}.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { envelope, errorReply, type Reply } from './vault-kv.js';

/** Options of a token the emulator issues. */
export interface TokenOptions {
  /** Seconds until the token expires; 0 = never (like a root token). @default 0 */
  ttl?: number;
  /** Seconds after issue beyond which renewals cannot extend the token; 0 = no limit. @default 0 */
  maxTtl?: number;
  /** Whether renew-self may extend the token. @default true when ttl > 0 */
  renewable?: boolean;
  /** Path prefixes (e.g. "secret/data/acme/") this token may use; others answer 403. @default all */
  allowedPaths?: string[];
}

/** A login role of AppRole or Kubernetes auth. */
export interface LoginRoleOptions {
  /** Mount path of the auth method (under auth/). @default "approle" or "kubernetes" */
  mount?: string;
  /** TTL in seconds of the tokens a login issues. @default 3600 */
  tokenTtl?: number;
  /** Max TTL in seconds of those tokens; 0 = none. @default 0 */
  tokenMaxTtl?: number;
  /** Whether its tokens can be renewed. @default true */
  renewable?: boolean;
  /** Path prefixes its tokens may use. @default all */
  allowedPaths?: string[];
}
export interface AppRoleOptions extends LoginRoleOptions { roleId: string; secretId: string }
export interface KubernetesAuthOptions extends LoginRoleOptions { role: string; jwt: string }

interface IssuedToken {
  id: string; accessor: string; policies: string[]; creationTtl: number; explicitMaxTtl: number;
  renewable: boolean; issuedAtMs: number; expiresAtMs: number; allowedPaths?: string[]; path: string;
}

/** Paths every valid token may use (Vault's `default` policy). */
const SELF_PATHS = ['auth/token/lookup-self', 'auth/token/renew-self'];

export class AuthBackend {
  readonly #tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly now: () => number,
    rootToken: string,
    private readonly approle?: AppRoleOptions,
    private readonly kubernetes?: KubernetesAuthOptions,
  ) {
    this.#tokens.set(rootToken, this.#issue({ ttl: 0, renewable: false }, 'auth/token/root', ['root'], rootToken));
  }

  /** Issues a token and returns its id. */
  createToken(options: TokenOptions = {}): string {
    const token = this.#issue(options, 'auth/token/create', ['default']);
    this.#tokens.set(token.id, token);
    return token.id;
  }

  revoke(id: string): void {
    this.#tokens.delete(id);
  }

  /** Revokes every token except the root token. */
  revokeAll(): void {
    for (const [id, token] of this.#tokens) if (!token.policies.includes('root')) this.#tokens.delete(id);
  }

  /** 403 "permission denied" unless the token is known, unexpired and allowed on `path`. */
  authorize(id: string | undefined, path: string): Reply | undefined {
    const token = id === undefined ? undefined : this.#valid(id);
    if (!token) return errorReply(403, 'permission denied');
    if (SELF_PATHS.includes(path) || !token.allowedPaths) return undefined;
    return token.allowedPaths.some((prefix) => path.startsWith(prefix)) ? undefined : errorReply(403, 'permission denied');
  }

  /** Login endpoints (unauthenticated); undefined when `path` is not one of them. */
  login(method: string, path: string, body: unknown): Reply | undefined {
    if (method !== 'POST' && method !== 'PUT') return undefined;
    const input = (body ?? {}) as Record<string, unknown>;
    const approleMount = this.approle?.mount ?? 'approle';
    const kubernetesMount = this.kubernetes?.mount ?? 'kubernetes';
    if (this.approle && path === `auth/${approleMount}/login`) {
      if (typeof input.role_id !== 'string' || input.role_id === '') return errorReply(400, 'missing role_id');
      if (input.role_id !== this.approle.roleId || input.secret_id !== this.approle.secretId) return errorReply(400, 'invalid role or secret ID');
      return this.#loginReply(this.approle, `auth/${approleMount}/login`, { role_name: 'lockbox' });
    }
    if (this.kubernetes && path === `auth/${kubernetesMount}/login`) {
      if (typeof input.role !== 'string' || input.role === '') return errorReply(400, 'missing role');
      if (typeof input.jwt !== 'string' || input.jwt === '') return errorReply(400, 'missing jwt');
      if (input.role !== this.kubernetes.role) return errorReply(400, `invalid role name "${input.role}"`);
      if (input.jwt.trim() !== this.kubernetes.jwt) return errorReply(403, 'permission denied');
      return this.#loginReply(this.kubernetes, `auth/${kubernetesMount}/login`, { role: input.role, service_account_name: 'lockbox' });
    }
    return undefined;
  }

  /** lookup-self and renew-self (the caller has already authorized the token). */
  self(method: string, path: string, id: string, body: unknown): Reply | undefined {
    const token = this.#valid(id);
    if (!token) return undefined;
    if (path === 'auth/token/lookup-self' && (method === 'GET' || method === 'POST')) {
      const remaining = token.expiresAtMs === 0 ? 0 : Math.max(0, Math.round((token.expiresAtMs - this.now()) / 1000));
      return {
        status: 200,
        body: envelope({
          accessor: token.accessor, creation_time: Math.floor(token.issuedAtMs / 1000), creation_ttl: token.creationTtl,
          display_name: 'token', entity_id: '', expire_time: token.expiresAtMs === 0 ? null : new Date(token.expiresAtMs).toISOString(),
          explicit_max_ttl: token.explicitMaxTtl, id: token.id, issue_time: new Date(token.issuedAtMs).toISOString(), meta: null,
          num_uses: 0, orphan: true, path: token.path, policies: token.policies, renewable: token.renewable, ttl: remaining, type: 'service',
        }, { mount_type: 'token' }),
      };
    }
    if (path === 'auth/token/renew-self' && (method === 'POST' || method === 'PUT')) {
      if (!token.renewable) return errorReply(400, 'lease is not renewable');
      const increment = Number((body as { increment?: unknown } | undefined)?.increment ?? 0) || token.creationTtl;
      let ttl = increment;
      const warnings: string[] = [];
      if (token.explicitMaxTtl > 0) {
        const left = Math.max(0, Math.floor((token.issuedAtMs + token.explicitMaxTtl * 1000 - this.now()) / 1000));
        if (ttl > left) { ttl = left; warnings.push(`TTL of "${increment}s" exceeded the effective max_ttl of "${left}s"; TTL value is capped accordingly`); }
      }
      token.expiresAtMs = this.now() + ttl * 1000;
      return { status: 200, body: envelope(null, { auth: authBlock(token, ttl, {}), warnings: warnings.length ? warnings : null, mount_type: 'token' }) };
    }
    return undefined;
  }

  #loginReply(role: LoginRoleOptions, path: string, metadata: Record<string, string>): Reply {
    const token = this.#issue({
      ttl: role.tokenTtl ?? 3600, maxTtl: role.tokenMaxTtl ?? 0, renewable: role.renewable ?? true, allowedPaths: role.allowedPaths,
    }, path, ['default']);
    this.#tokens.set(token.id, token);
    return { status: 200, body: envelope(null, { auth: authBlock(token, token.creationTtl, metadata), mount_type: '' }) };
  }

  #issue(options: TokenOptions, path: string, policies: string[], id = `hvs.${randomBytes(18).toString('base64url')}`): IssuedToken {
    const ttl = options.ttl ?? 0;
    const issuedAtMs = this.now();
    return {
      id, accessor: randomBytes(12).toString('base64url'), policies, creationTtl: ttl, explicitMaxTtl: options.maxTtl ?? 0,
      renewable: options.renewable ?? ttl > 0, issuedAtMs, expiresAtMs: ttl === 0 ? 0 : issuedAtMs + ttl * 1000,
      allowedPaths: options.allowedPaths, path,
    };
  }

  #valid(id: string): IssuedToken | undefined {
    const token = this.#tokens.get(id);
    if (!token) return undefined;
    if (token.expiresAtMs !== 0 && token.expiresAtMs <= this.now()) {
      this.#tokens.delete(id);
      return undefined;
    }
    return token;
  }
}

function authBlock(token: IssuedToken, leaseDuration: number, metadata: Record<string, string>): Record<string, unknown> {
  return {
    client_token: token.id, accessor: token.accessor, policies: token.policies, token_policies: token.policies,
    metadata, lease_duration: leaseDuration, renewable: token.renewable, entity_id: randomUUID(),
    token_type: 'service', orphan: true, mfa_requirement: null, num_uses: 0,
  };
}
