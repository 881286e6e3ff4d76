/**
 * Config secrets: spec-driven split / mask / hydrate of JSON configs, secret coordinates, and
 * the service that stores configs with their secrets in the secret manager. See docs/config-secrets.md.
 */
export * from './coordinates.js';
export * from './nodes.js';
export * from './spec.js';
export * from './transform.js';
export { createConfigSecrets } from './service.js';
export type {
  ConfigSecrets, ConfigSecretsOptions, CreateConfigInput, UpdateConfigOptions, SavedConfig, SecretBinding, ConfigScope, Owner, SecretUsage,
} from './service.js';
export { timeOrderedUuid } from './ids.js';
export { createConfigSecretsDatabase, migrateToLatest, CONFIG_SECRETS_MIGRATIONS } from './schema.js';
export type { ConfigSecretsTables, SecretStorageTable, SecretConfigTable, SecretReferenceTable, ConfigDocumentTable } from './schema.js';
export { ensureDefaultStorage, DEFAULT_SECRET_STORAGE_ID } from './repository.js';
export type { DefaultStorageOptions, ConfigSecretsDb } from './repository.js';
