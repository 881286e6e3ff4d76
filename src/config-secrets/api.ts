/**
 * The public types of the config-secrets service (see service.ts for the implementation and
 * docs/config-secrets.md for the behaviour).
 */
import type { SecretManager } from '../manager/secret-manager.js';
import type { ConfigSecretsDb, Owner, SecretUsage } from './repository.js';
import type { ConfigScope } from './secret-plan.js';

/** Options of createConfigSecrets. */
export interface ConfigSecretsOptions {
  /** The manager secrets are written to and read through. */
  manager: SecretManager;
  /** Kysely over the config-secrets tables (see createConfigSecretsDatabase). */
  db: ConfigSecretsDb;
  /** Prefix of new managed coordinates; must start with "lockbox_" or "airbyte_". @default "lockbox_" */
  prefix?: string;
  /** Storage new secrets go to; the default one is created from the manager's first writable provider when missing. @default DEFAULT_SECRET_STORAGE_ID */
  storageId?: string;
  /** Clock (created/updated times, ephemeral expiry). @default () => new Date() */
  now?: () => Date;
  /** Recorded as created_by / updated_by when a call names no actor. @default "lockbox" */
  actor?: string;
  /** Lifetime of ephemeral configs and their secrets. @default 7_200_000 (2 hours) */
  ephemeralTtlMs?: number;
  /** Apply the table migrations before the first call. @default true */
  migrate?: boolean;
  /**
   * Most creates written together (group commit): creates that arrive while a batch is being
   * written share its coordinate reservation, its secret write and its metadata transaction.
   * 1 writes every create on its own. @default 64
   */
  maxCreateBatch?: number;
}

/** What create takes. */
export interface CreateConfigInput {
  /** Scope of the config; new coordinates embed it. `ephemeral` (or the all-zero id) expires after ephemeralTtlMs. */
  scope: ConfigScope;
  /** Who the secret references belong to, e.g. `{ type: 'actor', id }`; one config per owner. */
  owner: Owner;
  /** JSON Schema; fields with `airbyte_secret: true` or `x-secret: true` are secrets. */
  spec: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Recorded as created_by. @default the service's actor */
  actor?: string;
}

/** Options of update. */
export interface UpdateConfigOptions {
  /** Revision the caller read; another update committed since → CONFLICT. @default the revision read by this call */
  expectedRevision?: number;
  /** Recorded as updated_by. @default the service's actor */
  actor?: string;
  /** A new spec (e.g. a connector upgrade). @default the stored spec */
  spec?: Record<string, unknown>;
}

/** One secret field of a stored config. Never a value. */
export interface SecretBinding { path: string; coordinate: string; referenceId: string; secretConfigId: string; managed: boolean }

/** A stored config: `config` holds pointers where the secrets were. */
export interface SavedConfig {
  id: string;
  revision: number;
  scope: ConfigScope;
  owner: Owner;
  spec: Record<string, unknown>;
  config: Record<string, unknown>;
  secrets: SecretBinding[];
  createdAt: Date;
  updatedAt: Date;
  expiresAt?: Date;
}

/** The config-secrets service. */
export interface ConfigSecrets {
  /** Stores a config; concurrent creates are written together (see maxCreateBatch), each settling on its own. */
  create(input: CreateConfigInput): Promise<SavedConfig>;
  get(id: string): Promise<SavedConfig>;
  update(id: string, nextConfig: Record<string, unknown>, options?: UpdateConfigOptions): Promise<SavedConfig>;
  /** The config with every secret field as "**********": safe for an API response. */
  masked(id: string): Promise<unknown>;
  /** The full config with secret values, for the process that needs them. */
  hydrate(id: string): Promise<unknown>;
  delete(id: string): Promise<void>;
  /** Deletes a secret nobody uses (managed: destroyed; external: only forgotten). SECRET_IN_USE otherwise. */
  deleteSecretConfig(secretConfigId: string): Promise<void>;
  usages(secretConfigId: string): Promise<SecretUsage[]>;
  /** Deletes ephemeral configs expired at `now`, with their references and secrets. */
  purgeEphemeral(now?: Date): Promise<{ configIds: string[] }>;
}
