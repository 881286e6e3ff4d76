/**
 * The `aws` provider's mapping between lockbox's addresses and AWS Secrets Manager:
 * per-secret names `{prefix}{tenant}/{name}` (global: `{prefix}{name}`), tenant documents
 * `{prefix}{tenant}` (global: `{prefix}{global_document}`), the ownership tags that let lockbox
 * refuse two addresses mapping to one AWS secret, staging labels ↔ lockbox labels, and the
 * staging label that carries a version's expiry.
 */
import { LockboxError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import type { SecretRef } from '../types.js';

/** Tag on per-secret secrets lockbox creates: the tenant, or "" for a global secret. */
export const SCOPE_TAG = 'lockbox:scope';
/** Tag on tenant documents lockbox creates: the tenant, or "" for the global document. */
export const DOCUMENT_TAG = 'lockbox:document';
/** Staging label prefix marking when a version stops being readable (`<epoch ms>.<version id start>` follows). */
export const EXPIRY_STAGE_PREFIX = 'lockbox-expires-';
/** Longest AWS secret name. */
export const MAX_AWS_NAME = 512;

const STAGE_TO_LABEL: Record<string, string> = { AWSCURRENT: 'current', AWSPREVIOUS: 'previous', AWSPENDING: 'pending' };
const LABEL_TO_STAGE: Record<string, string> = { current: 'AWSCURRENT', previous: 'AWSPREVIOUS', pending: 'AWSPENDING' };

/** How GetSecretValue selects a version. */
export type VersionSelector = { VersionStage: string } | { VersionId: string };

export type AwsTags = Array<{ Key?: string; Value?: string }> | undefined;

export class AwsNaming {
  /** `documents`: the layout reads tenant documents (document, auto), whose names listings skip. */
  constructor(readonly prefix: string, readonly globalDocument: string, readonly documents: boolean) {}

  /** `{prefix}{tenant}/{name}`, or `{prefix}{name}` for a global secret. */
  perSecret(ref: SecretRef): string {
    checkRef(ref);
    return this.#fit(`${this.perSecretBase(ref.scope)}${ref.name}`, ref);
  }

  /** What every per-secret name of a tenant (or of the global scope) starts with. */
  perSecretBase(scope: string | undefined): string {
    return `${this.prefix}${scope === undefined ? '' : `${scope}/`}`;
  }

  /** `{prefix}{tenant}`, or `{prefix}{global_document}` for global secrets. */
  document(ref: SecretRef): string {
    checkRef(ref);
    if (ref.scope === this.globalDocument) {
      throw new LockboxError('NAME_UNMAPPABLE', `secret ${JSON.stringify(ref.name)} of tenant ${JSON.stringify(ref.scope)} cannot be mapped: the tenant document "${this.prefix}${ref.scope}" is the global document (global_document: ${JSON.stringify(this.globalDocument)})`, {
        hint: 'rename the tenant, set another global_document, or use layout per-secret',
      });
    }
    return this.#fit(`${this.prefix}${ref.scope ?? this.globalDocument}`, ref);
  }

  /** The lockbox name of a listed per-secret AWS name, or undefined when it is not one of `scope`'s. */
  reverse(awsName: string, scope: string | undefined, tags: AwsTags): string | undefined {
    const base = this.perSecretBase(scope);
    if (!awsName.startsWith(base) || tagValue(tags, DOCUMENT_TAG) !== undefined) return undefined;
    const owner = tagValue(tags, SCOPE_TAG);
    if (owner !== undefined && owner !== (scope ?? '')) return undefined;
    const name = awsName.slice(base.length);
    if (this.documents && scope === undefined && name === this.globalDocument) return undefined;
    try {
      return assertValidName(name);
    } catch {
      return undefined;
    }
  }

  /** Tags a new AWS secret gets so that later writes can tell whose it is. */
  ownerTags(kind: 'secret' | 'document', scope: string | undefined): Array<{ Key: string; Value: string }> {
    return [{ Key: kind === 'secret' ? SCOPE_TAG : DOCUMENT_TAG, Value: scope ?? '' }];
  }

  /**
   * NAME_UNMAPPABLE when the existing AWS secret `awsName` belongs to another lockbox address
   * (its ownership tags say so): e.g. global "acme/x" and tenant acme's "x" both map to
   * `{prefix}acme/x`. Untagged secrets (made outside lockbox) are taken as they are.
   */
  assertOwner(awsName: string, tags: AwsTags, kind: 'secret' | 'document', ref: SecretRef): void {
    const scopeTag = tagValue(tags, SCOPE_TAG);
    const documentTag = tagValue(tags, DOCUMENT_TAG);
    const mine = ref.scope ?? '';
    let holder: string | undefined;
    if (kind === 'secret' && documentTag !== undefined) holder = `the tenant document of ${documentTag ? `tenant "${documentTag}"` : 'the global scope'}`;
    else if (kind === 'document' && scopeTag !== undefined) holder = `a per-secret secret of ${scopeTag ? `tenant "${scopeTag}"` : 'the global scope'}`;
    else if (kind === 'secret' && scopeTag !== undefined && scopeTag !== mine) holder = `a secret of ${scopeTag ? `tenant "${scopeTag}"` : 'the global scope'}`;
    if (holder === undefined) return;
    const who = ref.scope === undefined ? 'global secret' : `secret of tenant ${JSON.stringify(ref.scope)}`;
    throw new LockboxError('NAME_UNMAPPABLE', `${who} ${JSON.stringify(ref.name)} cannot be mapped: the AWS secret "${awsName}" already holds ${holder} (per-secret names are {prefix}{tenant}/{name} and {prefix}{name}, tenant documents {prefix}{tenant}, so a global name starting with a tenant id collides)`, {
      hint: 'choose a global name whose first segment is not a tenant id, or another prefix',
    });
  }

  #fit(awsName: string, ref: SecretRef): string {
    if (awsName.length > MAX_AWS_NAME) {
      throw new LockboxError('NAME_UNMAPPABLE', `secret ${JSON.stringify(ref.name.slice(0, 80))} cannot be mapped: the AWS secret name would be ${awsName.length} characters, more than AWS's ${MAX_AWS_NAME}`, {
        hint: 'use a shorter name or prefix',
      });
    }
    return awsName;
  }
}

/** lockbox's version selector → GetSecretValue's; `current` when none is given. */
export function toSelector(version: string | undefined): VersionSelector {
  const label = version ?? 'current';
  const stage = LABEL_TO_STAGE[label];
  if (stage) return { VersionStage: stage };
  if (/^[A-Za-z0-9-]{32,64}$/.test(label)) return { VersionId: label };
  return { VersionStage: label };
}

/** True when a selector can be sent as is (AWS: VersionStage 1–256 characters). */
export function selectorIsValid(selector: VersionSelector): boolean {
  return 'VersionId' in selector || (selector.VersionStage.length >= 1 && selector.VersionStage.length <= 256);
}

/** lockbox labels (current/previous/pending) of a version's staging labels. */
export function labelsOf(stages: string[] | undefined): string[] {
  return (stages ?? []).map((s) => STAGE_TO_LABEL[s]).filter((l): l is string => l !== undefined)
    .sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
}
const ORDER = ['current', 'previous', 'pending'];

/** The expiry a version carries in its staging labels, if any. */
export function expiryOf(stages: string[] | undefined): Date | undefined {
  const label = (stages ?? []).find((s) => s.startsWith(EXPIRY_STAGE_PREFIX));
  const ms = label === undefined ? NaN : Number(label.slice(EXPIRY_STAGE_PREFIX.length).split('.')[0]);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/**
 * The staging labels a write attaches: AWSCURRENT or AWSPENDING, plus an expiry label made
 * unique by the version id (a label sits on one version only, so two writes sharing an expiry
 * must not steal each other's).
 */
export function stagesFor(opts: { pending?: boolean; expiresAt?: Date }, versionId: string): string[] {
  const stages = [opts.pending ? 'AWSPENDING' : 'AWSCURRENT'];
  if (opts.expiresAt) stages.push(`${EXPIRY_STAGE_PREFIX}${opts.expiresAt.getTime()}.${versionId.slice(0, 8)}`);
  return stages;
}

/** User tags (lockbox's own ownership tags left out). */
export function userTags(tags: AwsTags): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined && !t.Key.startsWith('lockbox:')) out[t.Key] = t.Value ?? '';
  return out;
}

export function tagValue(tags: AwsTags, key: string): string | undefined {
  const tag = (tags ?? []).find((t) => t.Key === key);
  return tag === undefined ? undefined : (tag.Value ?? '');
}

function checkRef(ref: SecretRef): void {
  assertValidName(ref.name);
  if (ref.scope !== undefined) assertValidScope(ref.scope);
}
