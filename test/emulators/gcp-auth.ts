/**
 * A static-token auth client for google-gax, so tests hand `@google-cloud/secret-manager` fake
 * credentials and nothing ever reaches Google. gax's REST transport accepts any object with
 * `getRequestHeaders()` (it then sends every request through its `fetch(url, init)`), which is
 * what google-auth-library's clients provide; this one adds `Authorization: Bearer <token>`.
 */
import { GCP_ADMIN_TOKEN } from './gcp-secret-manager.js';

export interface StaticTokenAuthClient {
  getRequestHeaders(url?: string): Promise<Headers>;
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
}

/** An auth client presenting `token` (the emulator's admin token unless told otherwise). */
export function staticTokenAuthClient(token: string = GCP_ADMIN_TOKEN): StaticTokenAuthClient {
  return {
    async getRequestHeaders() {
      return new Headers({ authorization: `Bearer ${token}` });
    },
    fetch(url, init = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      return fetch(url, { ...init, headers });
    },
  };
}
