import type { SecretValue } from './secret-value.js';

/** A tenant id. Secrets without a scope are global. */
export type Scope = string;

/** A version selector: a version number (as text) or one of the labels. */
export type VersionSelector = string;

/** The labels a version can carry. */
export const VERSION_LABELS = ['current', 'previous', 'pending'] as const;
export type VersionLabel = (typeof VERSION_LABELS)[number];

/** lockbox's neutral address of a secret. */
export interface SecretRef {
  /** Configured provider id; without it the manager's chain is used. */
  provider?: string;
  /** Tenant; tenant-specific values are looked up before global ones. */
  scope?: Scope;
  /** Path-like name, see assertValidName. */
  name: string;
  /** Version number or label (current | previous | pending). @default "current" */
  version?: VersionSelector;
  /** Top-level key or JSON pointer (`/a/b`) into a JSON-valued secret. */
  field?: string;
}

export interface SecretMetadata {
  name: string;
  scope?: Scope;
  /** Provider-native version id (a number as text for the local store). */
  version: string;
  labels: string[];
  createdAt: Date;
  updatedAt: Date;
  expiresAt?: Date;
  tags: Record<string, string>;
}

export interface SecretRecord {
  /** Id of the provider that answered. */
  provider: string;
  value: SecretValue;
  metadata: SecretMetadata;
}

export interface SecretListing {
  name: string;
  scope?: Scope;
  version?: string;
  updatedAt?: Date;
  tags?: Record<string, string>;
}

export interface SecretVersion {
  version: string;
  labels: string[];
  createdAt: Date;
  expiresAt?: Date;
  /** Set when the version is soft-deleted (recoverable with undelete). */
  deletedAt?: Date;
  /** True when the value is gone for good. */
  destroyed: boolean;
}

export interface SetOptions {
  /** When the new version stops being readable. */
  expiresAt?: Date;
  tags?: Record<string, string>;
  /** Stage the version as `pending` instead of making it current. @default false */
  pending?: boolean;
}

/** One write of a batch. */
export interface SetEntry { ref: SecretRef; value: SecretValue; opts?: SetOptions }

export interface DeleteOptions {
  /** `soft` hides the secret (undelete brings it back); `destroy` erases values. @default "soft" */
  mode?: 'soft' | 'destroy';
  /** Destroy only this version (mode `destroy`). */
  version?: string;
}

export interface HealthStatus {
  provider: string;
  status: 'ready' | 'degraded' | 'down';
  latencyMs: number;
  message?: string;
}

export interface ProviderCapabilities {
  write: boolean;
  delete: boolean;
  list: boolean;
  versions: boolean;
  watch: boolean;
}

/** The one interface every backend and every wrapper implements. */
export interface Provider {
  readonly id: string;
  readonly type: string;
  readonly capabilities: ProviderCapabilities;
  /** null = not found (never throws for not-found). */
  get(ref: SecretRef): Promise<SecretRecord | null>;
  getMany?(refs: SecretRef[]): Promise<(SecretRecord | null)[]>;
  list?(prefix?: string, scope?: Scope): Promise<SecretListing[]>;
  set?(ref: SecretRef, value: SecretValue, opts?: SetOptions): Promise<SecretMetadata>;
  /** Several writes at once, atomically where the backend can (the local store: one transaction). */
  setMany?(entries: SetEntry[]): Promise<SecretMetadata[]>;
  delete?(ref: SecretRef, opts?: DeleteOptions): Promise<void>;
  /** Brings back a soft-deleted secret. */
  undelete?(ref: SecretRef): Promise<void>;
  versions?(ref: SecretRef): Promise<SecretVersion[]>;
  /**
   * Makes a staged (`pending`) version current without writing a new version: the old current
   * becomes `previous` and no version is labelled `pending` any more. Idempotent when `version`
   * is already current. Errors: NOT_FOUND (no such secret or version), INVALID_INPUT (`version`
   * is neither pending nor current), CONFLICT (a newer current version was written after it was
   * staged). Providers without it: rotation writes the pending value as a new current version.
   */
  promote?(ref: SecretRef, version: string): Promise<SecretMetadata>;
  /**
   * Change notifications, for providers whose `capabilities.watch` is true (others are polled).
   * Calls `onVersion` each time the secret `ref` names may have changed, with the new version id
   * when the backend says it. It is a hint only: the watcher then reads the secret itself, so a
   * duplicate or spurious call is harmless, and it never carries a value. The provider keeps the
   * subscription alive (reconnects) until the returned function is called.
   */
  watch?(ref: SecretRef, onVersion: (version?: string) => void): () => void;
  health(): Promise<HealthStatus>;
  dispose?(): Promise<void>;
}

/** Read-only capabilities, for providers such as env and file. */
export const READ_ONLY: ProviderCapabilities = Object.freeze({
  write: false, delete: false, list: true, versions: false, watch: false,
});
