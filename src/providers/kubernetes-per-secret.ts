/**
 * The per-secret layout of the kubernetes provider: one Secret per lockbox secret holding up to
 * three versions (data keys `value`, `previous`, `pending`; their version ids, times, expiry
 * and tags in the `lockbox.dev/versions` annotation). Every write is read-modify-write with the
 * Secret's resourceVersion, retried on 409 Conflict.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { CapabilityError, LockboxError, NotFoundError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type { Scope, SecretListing, SecretMetadata, SecretRecord, SecretRef, SecretVersion, SetOptions } from '../types.js';
import type { SecretCalls } from './kubernetes-client.js';
import { backoffMs } from './remote.js';
import {
  NAME_ANNOTATION, SLOT_KEYS, SLOTS, decodeData, nextVersion, ownershipError, perSecretBody, perSecretName,
  perSecretOwner, perSecretSelector, pickSlot, readSlots, tenantLabel, type Slot, type SlotInfo, type Slots,
} from './kubernetes-mapping.js';

/** Attempts of a read-modify-write before a 409 Conflict is reported as CONFLICT (N racing writers need N). */
export const MAX_WRITE_ATTEMPTS = 10;

export class PerSecretSecrets {
  constructor(
    private readonly providerId: string,
    private readonly calls: SecretCalls,
    private readonly prefix: string,
    private readonly keepPrevious: boolean,
    private readonly retryBaseMs: number,
  ) {}

  /** The Secret name `ref` maps to (NAME_UNMAPPABLE when it cannot). */
  secretName(ref: SecretRef): string {
    return perSecretName(this.providerId, this.prefix, ref);
  }

  /** lockbox's Secret for `ref`, or undefined (absent, or a Secret that holds something else). */
  async find(ref: SecretRef): Promise<V1Secret | undefined> {
    const secret = await this.calls.read(this.secretName(ref));
    return secret && perSecretOwner(secret, ref) === 'mine' ? secret : undefined;
  }

  /** Every per-secret Secret of one tenant (or the global ones): one LIST with a label selector, paginated. */
  async listScope(scope: Scope | undefined): Promise<V1Secret[]> {
    if (scope !== undefined) {
      try { tenantLabel(this.providerId, { name: 'x', scope }); } catch { return []; }
    }
    const secrets = await this.calls.list(perSecretSelector(scope));
    return secrets.filter((secret) => {
      const name = secret.metadata?.annotations?.[NAME_ANNOTATION];
      return name !== undefined && perSecretOwner(secret, { name, scope }) === 'mine';
    });
  }

  /** The version `ref.version` names (default current); null when the Secret lacks it or it expired. */
  record(secret: V1Secret, ref: SecretRef): SecretRecord | null {
    const slots = readSlots(secret);
    const slot = pickSlot(slots, ref.version);
    const info = slot === undefined ? undefined : slots[slot];
    const value = slot === undefined ? undefined : decodeData(secret, SLOT_KEYS[slot]);
    if (!slot || !info || value === undefined) return null;
    if (info.expiresAt !== undefined && Date.parse(info.expiresAt) <= Date.now()) return null;
    return { provider: this.providerId, value: new SecretValue(value), metadata: metadataOf(ref, slot, info) };
  }

  listing(secret: V1Secret, scope: Scope | undefined): SecretListing {
    const current = readSlots(secret).current!;
    const name = secret.metadata!.annotations![NAME_ANNOTATION]!;
    return { name, scope, version: current.version, updatedAt: new Date(current.updatedAt), tags: { ...current.tags } };
  }

  /** Writes a new current version (or stages a pending one); the old current becomes previous. */
  async set(ref: SecretRef, value: string, opts: SetOptions): Promise<SecretMetadata> {
    if (ref.scope !== undefined) tenantLabel(this.providerId, ref);
    const slot: Slot = opts.pending ? 'pending' : 'current';
    return this.#modify(ref, true, (slots, values) => {
      const info: SlotInfo = { version: nextVersion(slots), updatedAt: new Date().toISOString(), expiresAt: opts.expiresAt?.toISOString(), tags: { ...(opts.tags ?? {}) } };
      if (slot === 'pending') return { slots: { ...slots, pending: info }, values: { ...values, pending: value }, slot };
      return {
        slots: { current: info, previous: this.keepPrevious ? slots.current : undefined, pending: slots.pending },
        values: { current: value, previous: this.keepPrevious ? values.current : undefined, pending: values.pending },
        slot,
      };
    });
  }

  /** Makes the pending version current (idempotent when it already is). */
  async promote(ref: SecretRef, version: string): Promise<SecretMetadata> {
    return this.#modify(ref, false, (slots, values) => {
      const slot = pickSlot(slots, version);
      if (slot === 'current') return { slots, values, slot, unchanged: true };
      if (slot === undefined) throw new NotFoundError(`${ref.name} version ${version}`, { provider: this.providerId });
      if (slot !== 'pending') {
        throw new LockboxError('INVALID_INPUT', `version ${slots[slot]!.version} of ${ref.name} is not pending, so it cannot be promoted`, {
          provider: this.providerId, hint: 'promote the version labelled pending (lockbox versions NAME)',
        });
      }
      if (Number(slots.current?.version) > Number(slots.pending!.version)) {
        throw new LockboxError('CONFLICT', `version ${slots.pending!.version} of ${ref.name} was staged before the current version ${slots.current!.version} was written`, {
          provider: this.providerId, hint: 'stage a new pending version and promote that one',
        });
      }
      return {
        slots: { current: { ...slots.pending!, updatedAt: new Date().toISOString() }, previous: this.keepPrevious ? slots.current : undefined },
        values: { current: values.pending, previous: this.keepPrevious ? values.current : undefined },
        slot: 'current',
      };
    });
  }

  /**
   * Deletes the Secret (DELETE with uid and resourceVersion preconditions), or with
   * `destroy` + a version, drops that version's data key. False when there is no such secret.
   */
  async delete(ref: SecretRef, mode: 'soft' | 'destroy' = 'soft', version?: string): Promise<boolean> {
    if (mode === 'destroy' && version !== undefined) {
      await this.#modify(ref, false, (slots, values) => {
        const slot = pickSlot(slots, version);
        if (slot === undefined) throw new NotFoundError(`${ref.name} version ${version}`, { provider: this.providerId });
        if (slot === 'current') throw new CapabilityError(this.providerId, 'destroying the current version alone', 'delete the secret, or write a new value first');
        return { slots: { ...slots, [slot]: undefined }, values: { ...values, [slot]: undefined }, slot: 'current' };
      });
      return true;
    }
    return retryConflicts(this.retryBaseMs, async () => {
      const secret = await this.find(ref);
      if (!secret) return false;
      const { uid, resourceVersion } = secret.metadata ?? {};
      return this.calls.delete(this.secretName(ref), { uid, resourceVersion });
    });
  }

  /** The versions the Secret holds, oldest first. */
  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    const secret = await this.find(ref);
    if (!secret) return [];
    const slots = readSlots(secret);
    return SLOTS.filter((slot) => slots[slot] !== undefined && secret.data?.[SLOT_KEYS[slot]] !== undefined)
      .map((slot) => {
        const info = slots[slot]!;
        return { version: info.version, labels: [slot], createdAt: new Date(info.updatedAt), expiresAt: info.expiresAt ? new Date(info.expiresAt) : undefined, destroyed: false };
      })
      .sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** Read-modify-write of ref's Secret with its resourceVersion; retried on 409 Conflict. */
  async #modify(ref: SecretRef, create: boolean, change: (slots: Slots, values: Partial<Record<Slot, string>>) => Change): Promise<SecretMetadata> {
    const secretName = this.secretName(ref);
    return retryConflicts(this.retryBaseMs, async () => {
      const existing = await this.calls.read(secretName);
      if (existing && perSecretOwner(existing, ref) !== 'mine') throw ownershipError(this.providerId, existing, ref);
      if (!existing && !create) throw new NotFoundError(ref.name, { provider: this.providerId });
      const slots = existing ? readSlots(existing) : {};
      const values: Partial<Record<Slot, string>> = {};
      for (const slot of SLOTS) if (existing) values[slot] = decodeData(existing, SLOT_KEYS[slot]);
      const next = change(slots, values);
      if (next.unchanged) return metadataOf(ref, next.slot, next.slots[next.slot]!);
      const body = perSecretBody(existing, secretName, ref, next.slots, next.values);
      if (existing) await this.calls.replace(secretName, body);
      else await this.calls.create(body);
      return metadataOf(ref, next.slot, next.slots[next.slot]!);
    });
  }
}

interface Change { slots: Slots; values: Partial<Record<Slot, string>>; slot: Slot; unchanged?: boolean }

/**
 * Runs a read-modify-write; a 409 (CONFLICT: another writer changed the Secret since it was
 * read, or created it first) re-runs it after a jittered backoff, up to MAX_WRITE_ATTEMPTS.
 */
export async function retryConflicts<T>(retryBaseMs: number, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= MAX_WRITE_ATTEMPTS || !(error instanceof LockboxError && error.code === 'CONFLICT')) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(n - 1, retryBaseMs)));
    }
  }
}

function metadataOf(ref: SecretRef, slot: Slot, info: SlotInfo): SecretMetadata {
  const at = new Date(info.updatedAt);
  return {
    name: ref.name, scope: ref.scope, version: info.version, labels: [slot], createdAt: at, updatedAt: at,
    expiresAt: info.expiresAt ? new Date(info.expiresAt) : undefined, tags: { ...info.tags },
  };
}
