import { z } from 'zod';
import { LockboxError, NotFoundError } from '../errors.js';
import { assertValidName } from '../names.js';
import { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, HealthStatus, Provider, ProviderCapabilities, SecretListing, SecretMetadata,
  SecretRecord, SecretRef, SecretVersion, SetOptions,
} from '../types.js';

export const optionsSchema = z.object({
  /** Initial secrets, name → value (global scope). @default {} */
  secrets: z.record(z.string()).default({}),
}).strict();

/** Options of the in-memory provider (tests and examples). */
export type MemoryOptions = z.input<typeof optionsSchema>;

interface StoredVersion { value: string; meta: SecretMetadata; deletedAt?: Date; destroyed: boolean }
interface StoredSecret {
  versions: StoredVersion[];
  deleted: boolean;
  current?: StoredVersion;
  previous?: StoredVersion;
  pending?: StoredVersion;
}

/** A versioned, writable provider that keeps everything in process memory. */
export function create(id: string, options: MemoryOptions = {}): Provider {
  return new MemoryProvider(id, optionsSchema.parse(options));
}

class MemoryProvider implements Provider {
  readonly type = 'memory';
  readonly capabilities: ProviderCapabilities = { write: true, delete: true, list: true, versions: true, watch: false };
  readonly #secrets = new Map<string, StoredSecret>();

  constructor(readonly id: string, options: z.infer<typeof optionsSchema>) {
    for (const [name, value] of Object.entries(options.secrets)) this.#write({ name }, value, {});
  }

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    const secret = this.#secrets.get(key(ref));
    if (!secret || secret.deleted) return null;
    const version = pick(secret, ref.version);
    if (!version || version.destroyed || version.deletedAt) return null;
    if (version.meta.expiresAt && version.meta.expiresAt.getTime() <= Date.now()) return null;
    return { provider: this.id, value: new SecretValue(version.value), metadata: { ...version.meta, labels: labelsOf(secret, version) } };
  }

  async list(prefix = '', scope?: string): Promise<SecretListing[]> {
    const out: SecretListing[] = [];
    for (const secret of this.#secrets.values()) {
      const current = pick(secret, 'current');
      if (secret.deleted || !current || current.meta.scope !== scope || !current.meta.name.startsWith(prefix)) continue;
      out.push({ name: current.meta.name, scope, version: current.meta.version, updatedAt: current.meta.updatedAt, tags: current.meta.tags });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    return this.#write(ref, value.reveal(), opts);
  }

  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<void> {
    const secret = this.#secrets.get(key(ref));
    if (!secret) throw new NotFoundError(ref.name, { provider: this.id });
    if (opts.mode === 'destroy') {
      for (const v of secret.versions) if (!opts.version || v.meta.version === opts.version) { v.destroyed = true; v.value = ''; }
      if (!opts.version) this.#secrets.delete(key(ref));
      return;
    }
    secret.deleted = true;
  }

  async undelete(ref: SecretRef): Promise<void> {
    const secret = this.#secrets.get(key(ref));
    if (!secret) throw new NotFoundError(ref.name, { provider: this.id });
    secret.deleted = false;
  }

  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    const secret = this.#secrets.get(key(ref));
    if (!secret) return [];
    return secret.versions.map((v) => ({
      version: v.meta.version, labels: labelsOf(secret, v), createdAt: v.meta.createdAt,
      expiresAt: v.meta.expiresAt, deletedAt: v.deletedAt, destroyed: v.destroyed,
    }));
  }

  /** Makes the pending version current (the old current becomes previous); see Provider.promote. */
  async promote(ref: SecretRef, version: string): Promise<SecretMetadata> {
    const secret = this.#secrets.get(key(ref));
    const target = secret && !secret.deleted ? pick(secret, version) : undefined;
    if (!secret || !target || target.destroyed || target.deletedAt) throw new NotFoundError(`${ref.name} version ${version}`, { provider: this.id });
    if (secret.current !== target) {
      if (secret.pending !== target) {
        throw new LockboxError('INVALID_INPUT', `version ${target.meta.version} of ${ref.name} is not pending, so it cannot be promoted`, {
          provider: this.id, hint: 'promote the version labelled pending (lockbox versions NAME)',
        });
      }
      if (secret.current && Number(secret.current.meta.version) > Number(target.meta.version)) {
        throw new LockboxError('CONFLICT', `version ${target.meta.version} of ${ref.name} was staged before the current version ${secret.current.meta.version} was written`, {
          provider: this.id, hint: 'stage a new pending version and promote that one',
        });
      }
      secret.previous = secret.current;
      secret.current = target;
      secret.pending = undefined;
      target.meta.updatedAt = new Date();
    }
    return { ...target.meta, tags: { ...target.meta.tags }, labels: labelsOf(secret, target) };
  }

  async health(): Promise<HealthStatus> {
    return { provider: this.id, status: 'ready', latencyMs: 0 };
  }

  #write(ref: SecretRef, value: string, opts: SetOptions): SecretMetadata {
    assertValidName(ref.name);
    const k = key(ref);
    const secret = this.#secrets.get(k) ?? { versions: [], deleted: false };
    secret.deleted = false;
    const now = new Date();
    const meta: SecretMetadata = {
      name: ref.name, scope: ref.scope, version: String(secret.versions.length + 1), labels: [],
      createdAt: now, updatedAt: now, expiresAt: opts.expiresAt, tags: { ...(opts.tags ?? {}) },
    };
    const stored: StoredVersion = { value, meta, destroyed: false };
    const wasCurrent = pick(secret, 'current');
    secret.versions.push(stored);
    if (opts.pending) secret.pending = stored;
    else { secret.previous = wasCurrent; secret.current = stored; if (secret.pending === stored) secret.pending = undefined; }
    this.#secrets.set(k, secret);
    return { ...meta, labels: labelsOf(secret, stored) };
  }
}

function key(ref: SecretRef): string {
  assertValidName(ref.name);
  return `${ref.scope ?? ''}\u0000${ref.name}`;
}

function pick(secret: StoredSecret, selector = 'current'): StoredVersion | undefined {
  if (selector === 'current' || selector === 'previous' || selector === 'pending') return secret[selector];
  return secret.versions.find((v) => v.meta.version === selector);
}

function labelsOf(secret: StoredSecret, version: StoredVersion): string[] {
  return (['current', 'previous', 'pending'] as const).filter((label) => secret[label] === version);
}
