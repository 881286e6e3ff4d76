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
export {
  AccessDeniedError, compilePolicy, decide, authorize, explain, currentPrincipal, ACTIONS,
} from './access/index.js';
export type { AccessPolicyInput, CompiledPolicy, Decision, AccessRequest, Action } from './access/index.js';
export {
  AuditLog, jsonlFileSink, stdoutSink, functionSink, verifyAuditFile, readAuditEvents,
} from './audit/index.js';
export type { AuditEntry, AuditEvent, AuditFilter, AuditSink, AuditVerification } from './audit/index.js';
export { OperationGuard } from './manager/guard.js';
export type { GuardOptions } from './manager/guard.js';
export { toPrometheusText } from './manager/metrics.js';
export { SecretWatcher } from './manager/watch.js';
export type { ChangeListener, ChangeEventListener, Unsubscribe, WatcherOptions } from './manager/watch.js';
export { LastKnownGoodSnapshot } from './manager/snapshot.js';
export type { SnapshotOptions, SnapshotStatus } from './manager/snapshot.js';
export {
  rotateSecret, setRotationPolicy, dueSecrets, rotateDue, generateValue,
} from './rotation/index.js';
export type { RotateSecretOptions, RotationPolicy, RotationResult, RotationTest, RotateDueSummary } from './rotation/index.js';
export { Keyring } from './crypto/keyring.js';
export { rotateMasterKey } from './store/master-key-rotation.js';
export { masterKeyStatus } from './store/key-status.js';
export * from './migrate/index.js';
export { create as createVaultProvider } from './providers/vault.js';
export type { VaultOptions } from './providers/vault.js';
export { create as createAwsProvider } from './providers/aws.js';
export type { AwsOptions } from './providers/aws.js';
export { create as createGcpProvider } from './providers/gcp.js';
export type { GcpOptions } from './providers/gcp.js';
export { create as createAzureProvider } from './providers/azure.js';
export type { AzureOptions } from './providers/azure.js';
export { create as createKubernetesProvider } from './providers/kubernetes.js';
export type { KubernetesOptions } from './providers/kubernetes.js';
