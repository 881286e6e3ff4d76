/**
 * lockbox — one library for secrets on every backend. See README.md and docs/library.md.
 */
export { SecretManager, describeRef } from './manager/secret-manager.js';
export type { SecretManagerOptions, ValueRegistry, AddressOptions, SecretAddress } from './manager/secret-manager.js';
export { CachedProvider } from './manager/cache.js';
export type { CacheOptions, CacheCounters } from './manager/cache.js';
export type { MetricsSnapshot } from './manager/metrics.js';
export { createManagerFromConfig } from './manager/create.js';
export { loadConfig } from './config/index.js';
export type { LoadedConfig } from './config/index.js';
export { SecretValue } from './secret-value.js';
export {
  LockboxError, InvalidNameError, CapabilityError, NotFoundError, ProviderUnavailableError, ERROR_CODES, isTransient,
} from './errors.js';
export type { ErrorCode, LockboxErrorOptions } from './errors.js';
export { assertValidName, MAX_NAME_BYTES } from './names.js';
export { generateSecret } from './generate.js';
export type { GeneratorOptions, CharacterClass } from './generate.js';
export * from './types.js';
export {
  parseTemplate, parseSecretReference, resolveString, resolveDocument, collectReferences, formatRef, UnresolvedReferencesError,
} from './references/index.js';
export type { SecretReader, FetchOutcome, Reference, ResolveOptions } from './references/index.js';
export { Redactor, globalRedactor } from './redaction/index.js';
export { loadProviderModule, PROVIDER_TYPES } from './providers/registry.js';
export type { ProviderContext, ProviderModule } from './providers/registry.js';
export { create as createEnvProvider, normaliseEnvName } from './providers/env.js';
export type { EnvOptions } from './providers/env.js';
export { create as createFileProvider } from './providers/file.js';
export type { FileOptions } from './providers/file.js';
export { create as createDotenvProvider } from './providers/dotenv.js';
export type { DotenvOptions } from './providers/dotenv.js';
export { create as createLocalProvider, initLocalStore, generateMasterKey } from './providers/local.js';
export type { LocalOptions } from './providers/local.js';
export { create as createMemoryProvider } from './providers/memory.js';
export type { MemoryOptions } from './providers/memory.js';
export {
  createConfigSecrets, createConfigSecretsDatabase, migrateToLatest, ensureDefaultStorage, DEFAULT_SECRET_STORAGE_ID,
  processConfig, maskConfig, hydrateConfig, replaceAtPaths, findPointers, findSecretPaths, parseCoordinate,
  newManagedCoordinate, nextVersion, MASK,
} from './config-secrets/index.js';
export type {
  ConfigSecrets, ConfigSecretsOptions, CreateConfigInput, UpdateConfigOptions, SavedConfig, SecretBinding, ConfigScope, Owner, SecretUsage,
} from './config-secrets/index.js';
