/** The options of SecretManager. */
import type { CompiledPolicy } from '../access/index.js';
import type { AuditLog } from '../audit/index.js';
import type { SecretValue } from '../secret-value.js';
import type { Provider } from '../types.js';
import type { CacheOptions } from './cache.js';
import type { GuardOptions } from './guard.js';
import type { LastKnownGoodSnapshot } from './snapshot.js';
import type { WatcherOptions } from './watch.js';

/** Where values read through the manager are registered for masking (a Redactor). */
export interface ValueRegistry { register(value: SecretValue): void }

export interface SecretManagerOptions {
  /** Providers, in chain order unless `chain` says otherwise. */
  providers: Provider[];
  /** Provider ids in look-up order. @default every provider, in the order given */
  chain?: string[];
  /** Provider that takes writes that name none. @default the chain's first writable provider */
  defaultProvider?: string;
  /** Cache settings, or false to read providers directly. @default {} (5 min TTL) */
  cache?: CacheOptions | false;
  /** Default tenant for calls that give none. @default undefined (global) */
  scope?: string;
  /** For a tenant look-up that finds nothing, also try the global name. @default true */
  tenantFallback?: boolean;
  /** Registry every value read is registered with, for masking output. @default globalRedactor */
  redactor?: ValueRegistry;
  /** Who calls this manager (access control and audit). @default LOCKBOX_PRINCIPAL, else the OS user */
  principal?: string;
  /** A compiled `access:` policy (compilePolicy); once given, anything it does not allow is denied. @default none (everything allowed) */
  access?: CompiledPolicy;
  /** Audit log every operation appends to (AuditLog.open). @default none */
  audit?: AuditLog;
  /** How audit events are written: `reads` batched or sync, `onFailure` fail or warn, `flushIntervalMs`. @default { reads: 'batched', onFailure: 'fail', flushIntervalMs: 1000 } */
  auditOptions?: Pick<GuardOptions, 'reads' | 'onFailure' | 'flushIntervalMs' | 'warn'>;
  /** Poll interval and jitter of live updates (watch/onChange). @default { pollIntervalMs: 30000, jitter: 0.1 } */
  watch?: WatcherOptions;
  /** Last-known-good snapshot, served only when every provider that could answer failed transiently (docs/live-updates.md). @default none */
  snapshot?: LastKnownGoodSnapshot;
}
