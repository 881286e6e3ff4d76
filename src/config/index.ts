export { CONFIG_FILE_NAMES, loadConfig, parseConfigText, type LoadConfigOptions } from './load.js';
export {
  configFileSchema, DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_TTL_SECONDS, DEFAULT_STALE_IF_ERROR_SECONDS,
  closestKey, defaultCacheConfig, defaultProviders, knownKeysAt, parseDuration,
  type AuditConfig, type CacheConfig, type ConfigFile, type LoadedConfig, type ProviderConfig,
} from './schema.js';
