/**
 * How lockbox addresses map to Google Secret Manager secret ids (seed 002 §5). Secret ids allow
 * only `[A-Za-z0-9_-]{1,255}`, so:
 *
 * - per-secret: `{prefix}{tenant}-{name}` for a tenant, `{prefix}{name}` for a global secret,
 *   where `/` becomes `-` and `.` becomes `_` (tenant `acme`, name `stripe/api-key`, prefix
 *   `dativo-` → `dativo-acme-stripe-api-key`);
 * - document: `{prefix}{tenant}` (global: `{prefix}{global_document}`), one JSON object.
 *
 * That mapping is readable but not injective (`db/user`, `db-user` and tenant `db` + `user` all
 * give `db-user`), so every secret lockbox creates carries its identity in annotations
 * (`lockbox-name`, `lockbox-tenant`, `lockbox-document`): a write or read that would land on a
 * secret holding another identity is refused with NAME_UNMAPPABLE, and `list` reverses ids
 * through the annotations. Secrets created outside lockbox (no annotations) are taken at their
 * word and reversed by stripping the prefix (and `{tenant}-`).
 */
import { LockboxError } from '../errors.js';

/** Longest secret id Secret Manager accepts. */
export const MAX_SECRET_ID_LENGTH = 255;
/** Annotation holding the lockbox name of a per-secret secret. */
export const ANNOTATION_NAME = 'lockbox-name';
/** Annotation holding the tenant (absent for global secrets and the global document). */
export const ANNOTATION_TENANT = 'lockbox-tenant';
/** Annotation marking a tenant document (value "true"). */
export const ANNOTATION_DOCUMENT = 'lockbox-document';
/** When lockbox soft-deleted the secret (ISO time), and which versions it disabled then. */
export const ANNOTATION_DELETED_AT = 'lockbox-deleted-at';
export const ANNOTATION_DELETED_VERSIONS = 'lockbox-deleted-versions';
const EXPIRES_PREFIX = 'lockbox-expires-';

/** Annotation holding the expiry (ISO time) lockbox enforces on read for one version. */
export function expiryAnnotation(version: string): string {
  return `${EXPIRES_PREFIX}${version}`;
}

/** The options naming depends on. */
export interface GcpNaming {
  providerId: string;
  prefix: string;
  globalDocument: string;
}

/** Who a secret says it is, from its annotations. */
export type SecretIdentity =
  | { kind: 'secret'; name: string; scope?: string }
  | { kind: 'document'; scope?: string };

/** The id-safe form of a name or tenant: `/` → `-`, `.` → `_`. */
export function idPart(text: string): string {
  return text.replaceAll('/', '-').replaceAll('.', '_');
}

/** Secret id of a per-secret secret; NAME_UNMAPPABLE when it would exceed 255 characters. */
export function perSecretId(naming: GcpNaming, name: string, scope?: string): string {
  const id = `${naming.prefix}${scope === undefined ? '' : `${idPart(scope)}-`}${idPart(name)}`;
  if (id.length > MAX_SECRET_ID_LENGTH) {
    throw unmappable(naming.providerId, name, scope, `it maps to a secret id of ${id.length} characters; Secret Manager allows ${MAX_SECRET_ID_LENGTH}`);
  }
  return id;
}

/** Secret id of the tenant document (the global document without a tenant). */
export function documentId(naming: GcpNaming, scope?: string): string {
  const id = `${naming.prefix}${idPart(scope ?? naming.globalDocument)}`;
  if (id.length > MAX_SECRET_ID_LENGTH) {
    throw new LockboxError('NAME_UNMAPPABLE', `provider "${naming.providerId}": the tenant document id "${id.slice(0, 60)}…" is longer than ${MAX_SECRET_ID_LENGTH} characters`, {
      provider: naming.providerId, hint: 'use a shorter prefix or tenant id',
    });
  }
  return id;
}

/** Annotations that record an identity on a secret lockbox creates. */
export function identityAnnotations(identity: SecretIdentity): Record<string, string> {
  const scope: Record<string, string> = identity.scope === undefined ? {} : { [ANNOTATION_TENANT]: identity.scope };
  return identity.kind === 'document'
    ? { [ANNOTATION_DOCUMENT]: 'true', ...scope }
    : { [ANNOTATION_NAME]: identity.name, ...scope };
}

/** The identity recorded in a secret's annotations, or undefined for secrets made outside lockbox. */
export function identityOf(annotations: Record<string, string> | null | undefined): SecretIdentity | undefined {
  if (!annotations) return undefined;
  const scope = annotations[ANNOTATION_TENANT];
  if (annotations[ANNOTATION_DOCUMENT] === 'true') return { kind: 'document', scope };
  const name = annotations[ANNOTATION_NAME];
  return name === undefined ? undefined : { kind: 'secret', name, scope };
}

/** True when a recorded identity is exactly this per-secret name and scope. */
export function isIdentity(identity: SecretIdentity, name: string, scope?: string): boolean {
  return identity.kind === 'secret' && identity.name === name && identity.scope === scope;
}

/**
 * Best-effort reverse of a secret id with no lockbox annotations: strips the prefix (and
 * `{tenant}-` for a scope). Undefined when the id does not belong to this prefix/scope.
 */
export function reverseUnannotatedId(naming: GcpNaming, id: string, scope?: string): string | undefined {
  if (!id.startsWith(naming.prefix)) return undefined;
  let rest = id.slice(naming.prefix.length);
  if (scope !== undefined) {
    const tenant = `${idPart(scope)}-`;
    if (!rest.startsWith(tenant)) return undefined;
    rest = rest.slice(tenant.length);
  }
  return rest === '' ? undefined : rest;
}

/** NAME_UNMAPPABLE naming the secret and the rule. */
export function unmappable(providerId: string, name: string, scope: string | undefined, why: string): LockboxError {
  return new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": secret "${name}"${describeScope(scope)} cannot be stored in Google Secret Manager: ${why}`, {
    provider: providerId,
    hint: 'secret ids are {prefix}{tenant}-{name} with "/" → "-" and "." → "_" (docs/providers/gcp.md); rename one of the secrets or use another prefix',
  });
}

/** NAME_UNMAPPABLE for a secret id already holding another lockbox identity. */
export function collision(providerId: string, id: string, name: string, scope: string | undefined, holder: SecretIdentity): LockboxError {
  const other = holder.kind === 'document'
    ? `the tenant document of ${holder.scope === undefined ? 'global secrets' : `tenant "${holder.scope}"`}`
    : `secret "${holder.name}"${describeScope(holder.scope)}`;
  return unmappable(providerId, name, scope, `it maps to secret id "${id}", which already holds ${other}`);
}

function describeScope(scope: string | undefined): string {
  return scope === undefined ? ' (global)' : ` (tenant "${scope}")`;
}
