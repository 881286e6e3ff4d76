/**
 * How the kubernetes provider maps lockbox addresses onto core/v1 Secrets (docs/providers/kubernetes.md):
 * - per-secret: one Secret per lockbox secret, named `{prefix}{name}` or `{prefix}{tenant}.{name}`
 *   (lower-cased, every character but a-z0-9 turned into "-"), the value in data key `value`,
 *   `previous` and `pending` keys for those versions, the original name and tenant in
 *   annotations (the mapping is lossy: a Secret holding another name is a collision);
 * - document: one Secret per tenant (`{prefix}{tenant}`, `{prefix}{global_document}`), each
 *   lockbox name one data key.
 * No value ever goes into a name, label, annotation or error message.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import type { Scope, SecretRef } from '../types.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'lockbox';
export const LAYOUT_LABEL = 'lockbox.dev/layout';
export const TENANT_LABEL = 'lockbox.dev/tenant';
export const NAME_ANNOTATION = 'lockbox.dev/name';
export const TENANT_ANNOTATION = 'lockbox.dev/tenant';
export const VERSIONS_ANNOTATION = 'lockbox.dev/versions';
export const UPDATED_ANNOTATION = 'lockbox.dev/updated-at';
/** Kubernetes' limit on the bytes of one Secret's data. */
export const MAX_SECRET_BYTES = 1024 * 1024;

/** The three versions a per-secret Secret can hold, and the data key of each. */
export const SLOTS = ['current', 'previous', 'pending'] as const;
export type Slot = (typeof SLOTS)[number];
export const SLOT_KEYS: Record<Slot, string> = { current: 'value', previous: 'previous', pending: 'pending' };

const slotInfo = z.object({
  version: z.string(), updatedAt: z.string(), expiresAt: z.string().optional(), tags: z.record(z.string()).default({}),
});
const slotsSchema = z.object({ current: slotInfo.optional(), previous: slotInfo.optional(), pending: slotInfo.optional() });
export type SlotInfo = z.infer<typeof slotInfo>;
export type Slots = z.infer<typeof slotsSchema>;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const SUBDOMAIN_RULE = 'a Secret name is a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", each "."-separated part starting and ending with a letter or digit, at most 253 characters';

/** Secret name of a per-secret secret: `{prefix}{name}` or `{prefix}{tenant}.{name}`, folded. */
export function perSecretName(providerId: string, prefix: string, ref: SecretRef): string {
  const secretName = prefix + (ref.scope === undefined ? '' : `${fold(ref.scope)}.`) + fold(ref.name);
  if (secretName.length > 253 || !DNS_SUBDOMAIN.test(secretName)) {
    throw unmappable(providerId, ref, `it maps to the Secret name "${truncate(secretName)}", but ${SUBDOMAIN_RULE}`);
  }
  return secretName;
}

/** Secret name of a tenant document: `{prefix}{tenant}`, or `{prefix}{global_document}` without a tenant. */
export function documentName(providerId: string, prefix: string, scope: Scope | undefined, globalDocument: string): string {
  const secretName = prefix + fold(scope ?? globalDocument);
  if (secretName.length > 253 || !DNS_SUBDOMAIN.test(secretName)) {
    throw new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": the document of ${scope === undefined ? 'global secrets' : `tenant "${scope}"`} maps to the Secret name "${truncate(secretName)}", but ${SUBDOMAIN_RULE}`, {
      provider: providerId, hint: 'choose another prefix or global_document',
    });
  }
  return secretName;
}

/** Data key of a secret in a tenant document: the name itself, which must have no "/". */
export function documentKey(providerId: string, ref: SecretRef): string {
  if (ref.name.includes('/') || ref.name.length > 253) {
    throw unmappable(providerId, ref, 'a key of a tenant document Secret allows only letters, digits, "-", "_" and "." (no "/"), at most 253 characters');
  }
  return ref.name;
}

/** The tenant label value (selectors list a tenant's Secrets): the tenant, if it is a valid label value. */
export function tenantLabel(providerId: string, ref: SecretRef): string {
  const scope = ref.scope!;
  if (scope.length > 63 || !LABEL_VALUE.test(scope)) {
    throw unmappable(providerId, ref, 'a tenant must be a Kubernetes label value: at most 63 characters, starting and ending with a letter or digit');
  }
  return scope;
}

/** Label selector of the per-secret Secrets of one tenant (or of the global ones). */
export function perSecretSelector(scope: Scope | undefined): string {
  const base = `${MANAGED_BY_LABEL}=${MANAGED_BY},${LAYOUT_LABEL}=per-secret`;
  return scope === undefined ? `${base},!${TENANT_LABEL}` : `${base},${TENANT_LABEL}=${scope}`;
}

/** Whether a Secret is the per-secret Secret of `ref`, of another lockbox secret, or not lockbox's. */
export function perSecretOwner(secret: V1Secret, ref: SecretRef): 'mine' | 'taken' | 'foreign' {
  const annotations = secret.metadata?.annotations ?? {};
  if (secret.metadata?.labels?.[LAYOUT_LABEL] !== 'per-secret' || annotations[NAME_ANNOTATION] === undefined) return 'foreign';
  return annotations[NAME_ANNOTATION] === ref.name && annotations[TENANT_ANNOTATION] === ref.scope ? 'mine' : 'taken';
}

/** The error for a write onto a Secret that belongs to something else. */
export function ownershipError(providerId: string, secret: V1Secret, ref: SecretRef): LockboxError {
  const secretName = secret.metadata?.name ?? '';
  const annotations = secret.metadata?.annotations ?? {};
  if (perSecretOwner(secret, ref) === 'taken') {
    const other = annotations[TENANT_ANNOTATION] === undefined ? '' : ` of tenant "${annotations[TENANT_ANNOTATION]}"`;
    return unmappable(providerId, ref, `it maps to the Secret "${secretName}", which already holds the lockbox secret "${annotations[NAME_ANNOTATION]}"${other} (names are lower-cased and every character but a-z and 0-9 becomes "-")`);
  }
  return new LockboxError('ALREADY_EXISTS', `provider "${providerId}": the Secret "${secretName}" exists and was not created by lockbox for this name, so lockbox will not overwrite it`, {
    provider: providerId, hint: 'choose another prefix, delete that Secret, or read it with layout: document',
  });
}

/** Whether a Secret can serve as the document of a tenant (not a per-secret Secret, not another tenant's). */
export function isDocumentFor(secret: V1Secret, scope: Scope | undefined): boolean {
  const labels = secret.metadata?.labels ?? {};
  if (labels[LAYOUT_LABEL] === 'per-secret') return false;
  return labels[MANAGED_BY_LABEL] !== MANAGED_BY || secret.metadata?.annotations?.[TENANT_ANNOTATION] === scope;
}

/** The versions a per-secret Secret holds (written by lockbox; a hand-edited one reads as one version). */
export function readSlots(secret: V1Secret): Slots {
  const raw = secret.metadata?.annotations?.[VERSIONS_ANNOTATION];
  if (raw !== undefined) {
    try {
      const parsed = slotsSchema.safeParse(JSON.parse(raw));
      if (parsed.success && parsed.data.current) return parsed.data;
    } catch { /* fall back below */ }
  }
  return { current: { version: secret.metadata?.resourceVersion ?? '1', updatedAt: isoOf(secret.metadata?.creationTimestamp), tags: {} } };
}

/** The slot a version selector (label or version id) names, if the Secret holds it. */
export function pickSlot(slots: Slots, selector = 'current'): Slot | undefined {
  if ((SLOTS as readonly string[]).includes(selector)) return slots[selector as Slot] ? (selector as Slot) : undefined;
  return SLOTS.find((slot) => slots[slot]?.version === selector);
}

/** The next version id: one more than any version the Secret holds. */
export function nextVersion(slots: Slots): string {
  const numbers = SLOTS.map((slot) => Number(slots[slot]?.version ?? 0)).filter(Number.isSafeInteger);
  return String(Math.max(0, ...numbers) + 1);
}

/** Decodes a data value (base64 on the wire) to text. */
export function decodeData(secret: V1Secret, key: string): string | undefined {
  const encoded = secret.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}

/**
 * The Secret to write for a per-secret secret with these slots: labels and annotations of the
 * existing Secret are kept (ours overwritten), so are its uid and resourceVersion (the API
 * answers 409 Conflict when another writer got there first). `previous` is dropped when the
 * values would pass Kubernetes' 1 MiB limit together.
 */
export function perSecretBody(existing: V1Secret | null, secretName: string, ref: SecretRef, slots: Slots, values: Partial<Record<Slot, string>>): V1Secret {
  slots = { ...slots };
  const sizeOf = (slot: Slot): number => Buffer.byteLength(values[slot] ?? '');
  if (values.previous !== undefined && sizeOf('current') + sizeOf('previous') + sizeOf('pending') > MAX_SECRET_BYTES) {
    values = { ...values, previous: undefined };
    slots = { ...slots, previous: undefined };
  }
  const data: Record<string, string> = {};
  for (const slot of SLOTS) {
    const value = values[slot];
    if (value !== undefined && slots[slot]) data[SLOT_KEYS[slot]] = Buffer.from(value).toString('base64');
    else delete slots[slot];
  }
  const labels: Record<string, string> = { ...(existing?.metadata?.labels ?? {}), [MANAGED_BY_LABEL]: MANAGED_BY, [LAYOUT_LABEL]: 'per-secret' };
  const annotations: Record<string, string> = { ...(existing?.metadata?.annotations ?? {}), [NAME_ANNOTATION]: ref.name, [VERSIONS_ANNOTATION]: JSON.stringify(slots) };
  delete labels[TENANT_LABEL];
  delete annotations[TENANT_ANNOTATION];
  if (ref.scope !== undefined) {
    labels[TENANT_LABEL] = ref.scope;
    annotations[TENANT_ANNOTATION] = ref.scope;
  }
  return {
    apiVersion: 'v1', kind: 'Secret', type: existing?.type ?? 'Opaque',
    metadata: { ...(existing?.metadata ?? {}), name: secretName, labels, annotations },
    data,
  };
}

/** The document Secret with one key set (value) or removed (undefined). */
export function documentBody(existing: V1Secret | null, secretName: string, scope: Scope | undefined, key: string, value: string | undefined): V1Secret {
  const data = { ...(existing?.data ?? {}) };
  if (value === undefined) delete data[key];
  else data[key] = Buffer.from(value).toString('base64');
  const metadata = existing?.metadata ?? {
    name: secretName,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [LAYOUT_LABEL]: 'document' },
    annotations: scope === undefined ? {} : { [TENANT_ANNOTATION]: scope },
  };
  const annotations = { ...(metadata.annotations ?? {}), [UPDATED_ANNOTATION]: new Date().toISOString() };
  return { apiVersion: 'v1', kind: 'Secret', type: existing?.type ?? 'Opaque', metadata: { ...metadata, annotations }, data };
}

/** When a document Secret last changed (lockbox's annotation, else its creation). */
export function documentUpdatedAt(secret: V1Secret): Date {
  const stamp = secret.metadata?.annotations?.[UPDATED_ANNOTATION];
  return new Date(stamp ?? isoOf(secret.metadata?.creationTimestamp));
}

export function isoOf(date: Date | string | undefined): string {
  if (date === undefined) return new Date(0).toISOString();
  return typeof date === 'string' ? date : date.toISOString();
}

function fold(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '-');
}

function unmappable(providerId: string, ref: SecretRef, why: string): LockboxError {
  const tenant = ref.scope === undefined ? '' : ` (tenant "${ref.scope}")`;
  return new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": secret name "${truncate(ref.name)}"${tenant} cannot be mapped to a Kubernetes Secret: ${why}`, {
    provider: providerId, hint: 'rename the secret, or see docs/providers/kubernetes.md for the name mapping',
  });
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
