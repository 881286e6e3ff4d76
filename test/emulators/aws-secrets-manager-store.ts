/**
 * The state of the Secrets Manager emulator and AWS's documented semantics on it: secrets
 * addressed by name or ARN, versions with UUID ids, staging labels (a label sits on at most one
 * version; moving AWSCURRENT moves AWSPREVIOUS to the former current), idempotent
 * ClientRequestTokens, scheduled deletion (RecoveryWindowInDays) vs force delete, restore.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AwsServiceError, EMULATOR_ACCOUNT_ID } from './aws-json.js';

export interface StoredVersion {
  id: string;
  secretString?: string;
  secretBinary?: Buffer;
  stages: Set<string>;
  created: Date;
  lastAccessed?: Date;
}

export interface StoredSecret {
  name: string;
  arn: string;
  description?: string;
  created: Date;
  lastChanged: Date;
  lastAccessed?: Date;
  /** Set while the secret is scheduled for deletion: the date it goes for good. */
  deletionDate?: Date;
  tags: Array<{ Key: string; Value: string }>;
  /** In creation order. */
  versions: StoredVersion[];
}

/** A secret value: text or bytes. */
export interface SecretPayload { secretString?: string; secretBinary?: Buffer }

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';

export class SecretStore {
  readonly #byName = new Map<string, StoredSecret>();

  constructor(readonly region: string) {}

  /** Every secret, in creation order (deleted ones included). */
  all(): StoredSecret[] {
    return [...this.#byName.values()];
  }

  /** The secret a SecretId (name or full ARN) names, or undefined. */
  find(secretId: string): StoredSecret | undefined {
    const byName = this.#byName.get(secretId);
    if (byName) return byName;
    return this.all().find((s) => s.arn === secretId);
  }

  /** Like find, but ResourceNotFoundException when there is none. */
  require(secretId: string): StoredSecret {
    const secret = this.find(secretId);
    if (!secret) throw notFound();
    return secret;
  }

  /** Like require, but InvalidRequestException when the secret is scheduled for deletion. */
  requireLive(secretId: string): StoredSecret {
    const secret = this.require(secretId);
    if (secret.deletionDate) {
      throw new AwsServiceError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");
    }
    return secret;
  }

  create(name: string, payload: SecretPayload, token: string, extra: { description?: string; tags?: Array<{ Key: string; Value: string }> }): { secret: StoredSecret; version?: StoredVersion } {
    const existing = this.#byName.get(name);
    if (existing?.deletionDate) {
      throw new AwsServiceError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
    }
    if (existing) {
      const replay = existing.versions.find((v) => v.id === token);
      if (replay && samePayload(replay, payload)) return { secret: existing, version: replay };
      throw new AwsServiceError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const now = new Date();
    const secret: StoredSecret = {
      name, arn: `arn:aws:secretsmanager:${this.region}:${EMULATOR_ACCOUNT_ID}:secret:${name}-${randomSuffix()}`,
      description: extra.description, created: now, lastChanged: now, tags: [...(extra.tags ?? [])], versions: [],
    };
    this.#byName.set(name, secret);
    const hasValue = payload.secretString !== undefined || payload.secretBinary !== undefined;
    return { secret, version: hasValue ? this.put(secret, payload, token, [AWSCURRENT]) : undefined };
  }

  /**
   * Adds a version carrying `stages`. Each label leaves the version it was on; when AWSCURRENT
   * moves, the former current version gets AWSPREVIOUS. A token that names an existing version
   * is a replay (same value: no-op) or a conflict (another value: ResourceExistsException).
   */
  put(secret: StoredSecret, payload: SecretPayload, token: string, stages: string[]): StoredVersion {
    const replay = secret.versions.find((v) => v.id === token);
    if (replay) {
      if (samePayload(replay, payload)) return replay;
      throw new AwsServiceError('ResourceExistsException', "You can't modify an existing version, you can only create a new version.");
    }
    const version: StoredVersion = { id: token, ...payload, stages: new Set(), created: new Date() };
    secret.versions.push(version);
    this.moveStages(secret, version, stages);
    secret.lastChanged = version.created;
    return version;
  }

  /** Attaches `stages` to `version`, detaching them elsewhere (AWSCURRENT drags AWSPREVIOUS along). */
  moveStages(secret: StoredSecret, version: StoredVersion, stages: string[]): void {
    for (const stage of stages) {
      const holder = secret.versions.find((v) => v !== version && v.stages.has(stage));
      holder?.stages.delete(stage);
      if (stage === AWSCURRENT && holder) {
        for (const v of secret.versions) v.stages.delete(AWSPREVIOUS);
        holder.stages.add(AWSPREVIOUS);
      }
      version.stages.add(stage);
      if (stage === AWSCURRENT) version.stages.delete(AWSPREVIOUS);
    }
  }

  /** The version a GetSecretValue selects (AWSCURRENT when neither id nor stage is given). */
  select(secret: StoredSecret, versionId?: string, versionStage?: string): StoredVersion {
    if (versionId !== undefined) {
      const version = secret.versions.find((v) => v.id === versionId);
      if (!version || (versionStage !== undefined && !version.stages.has(versionStage))) {
        throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
      }
      return version;
    }
    const stage = versionStage ?? AWSCURRENT;
    const version = secret.versions.find((v) => v.stages.has(stage));
    if (!version) throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${stage}`);
    return version;
  }

  /** Schedules deletion (recoveryDays) or erases the secret now (force). Returns the deletion date. */
  delete(secret: StoredSecret, recoveryDays: number | undefined): Date {
    const now = new Date();
    if (recoveryDays === undefined) {
      this.#byName.delete(secret.name);
      return now;
    }
    if (secret.deletionDate) {
      throw new AwsServiceError('InvalidRequestException', "You tried to perform the operation on a secret that's currently marked deleted.");
    }
    secret.deletionDate = new Date(now.getTime() + recoveryDays * 86_400_000);
    return secret.deletionDate;
  }

  /** Cancels a scheduled deletion (a no-op on a live secret). */
  restore(secret: StoredSecret): void {
    secret.deletionDate = undefined;
  }

  /** Adds or replaces tags by key. */
  tag(secret: StoredSecret, tags: Array<{ Key: string; Value: string }>): void {
    for (const tag of tags) {
      const existing = secret.tags.find((t) => t.Key === tag.Key);
      if (existing) existing.Value = tag.Value;
      else secret.tags.push({ ...tag });
    }
  }

  /** Records an access (AWS keeps the date only). */
  touch(secret: StoredSecret, version: StoredVersion): void {
    const day = new Date(new Date().toISOString().slice(0, 10));
    secret.lastAccessed = day;
    version.lastAccessed = day;
  }
}

/** ResourceNotFoundException, AWS's wording. */
export function notFound(message = "Secrets Manager can't find the specified secret."): AwsServiceError {
  return new AwsServiceError('ResourceNotFoundException', message);
}

/** version id → staging labels, for versions that carry at least one label. */
export function versionsToStages(secret: StoredSecret): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of secret.versions) if (v.stages.size > 0) out[v.id] = [...v.stages];
  return out;
}

function samePayload(version: StoredVersion, payload: SecretPayload): boolean {
  return version.secretString === payload.secretString
    && (version.secretBinary === undefined ? payload.secretBinary === undefined
      : payload.secretBinary !== undefined && version.secretBinary.equals(payload.secretBinary));
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** A fresh version id (AWS recommends a UUID-type value). */
export function newVersionId(): string {
  return randomUUID();
}
