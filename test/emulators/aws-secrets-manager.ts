/**
 * An in-process AWS Secrets Manager emulator speaking the JSON 1.1 protocol closely enough that
 * `@aws-sdk/client-secrets-manager` cannot tell: CreateSecret, PutSecretValue, GetSecretValue,
 * BatchGetSecretValue, ListSecrets, ListSecretVersionIds, DescribeSecret, DeleteSecret,
 * RestoreSecret and TagResource, with AWS's error types, statuses and pagination. See
 * docs/providers/aws.md for what it does not cover.
 */
import { AwsServiceError, epochSeconds, paginate, startAwsJsonServer, validationError, type AwsJsonServer } from './aws-json.js';
import {
  matches, maxResults, readFilters, readPayload, readTags, str, strList, token, type Input,
} from './aws-secrets-manager-input.js';
import {
  AWSCURRENT, SecretStore, newVersionId, versionsToStages, type SecretPayload, type StoredSecret, type StoredVersion,
} from './aws-secrets-manager-store.js';

export { MAX_SECRET_BYTES } from './aws-secrets-manager-input.js';

export interface SecretsManagerEmulatorOptions {
  /** Region used in ARNs. @default "us-east-1" */
  region?: string;
  /** Access key ids that may call (see aws-json.ts for the defaults). */
  accessKeyIds?: string[];
  deniedAccessKeyIds?: string[];
}

/** A secret as tests see it (values included: this is the backend's side). */
export interface SecretSnapshot {
  name: string;
  arn: string;
  tags: Record<string, string>;
  deleted: boolean;
  versions: Array<{ id: string; stages: string[]; secretString?: string; secretBinary?: Buffer }>;
}

export interface SecretsManagerEmulator extends AwsJsonServer {
  readonly region: string;
  /** Creates or updates a secret directly (as the AWS CLI would), bypassing HTTP and faults. */
  seed(name: string, value: string | Buffer, tags?: Record<string, string>): { arn: string; versionId: string };
  /** The stored secret, or undefined. */
  inspect(name: string): SecretSnapshot | undefined;
}

export async function startSecretsManagerEmulator(options: SecretsManagerEmulatorOptions = {}): Promise<SecretsManagerEmulator> {
  const region = options.region ?? 'us-east-1';
  const store = new SecretStore(region);
  const server = await startAwsJsonServer({
    targetPrefix: 'secretsmanager',
    signingName: 'secretsmanager',
    handlers: handlers(store),
    internalErrorType: 'InternalServiceError',
    messageMember: 'Message',
    accessKeyIds: options.accessKeyIds,
    deniedAccessKeyIds: options.deniedAccessKeyIds,
  });
  return Object.assign(Object.create(server) as AwsJsonServer, {
    region,
    close: () => server.close(),
    seed(name: string, value: string | Buffer, tags: Record<string, string> = {}) {
      const payload: SecretPayload = typeof value === 'string' ? { secretString: value } : { secretBinary: value };
      const tagList = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
      const existing = store.find(name);
      if (!existing) {
        const { secret, version } = store.create(name, payload, newVersionId(), { tags: tagList });
        return { arn: secret.arn, versionId: version!.id };
      }
      store.tag(existing, tagList);
      return { arn: existing.arn, versionId: store.put(existing, payload, newVersionId(), [AWSCURRENT]).id };
    },
    inspect(name: string): SecretSnapshot | undefined {
      const secret = store.find(name);
      if (!secret) return undefined;
      return {
        name: secret.name, arn: secret.arn, deleted: secret.deletionDate !== undefined,
        tags: Object.fromEntries(secret.tags.map((t) => [t.Key, t.Value])),
        versions: secret.versions.map((v) => ({ id: v.id, stages: [...v.stages], secretString: v.secretString, secretBinary: v.secretBinary })),
      };
    },
  }) as SecretsManagerEmulator;
}

function handlers(store: SecretStore): Record<string, (input: Input) => unknown> {
  return {
    CreateSecret(input) {
      const name = str(input, 'Name', true)!;
      if (name.length > 512) throw validationError('name', 'Member must have length less than or equal to 512');
      if (!/^[A-Za-z0-9/_+=.@-]+$/.test(name)) {
        throw new AwsServiceError('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
      }
      const payload = readPayload(input, false);
      const tags = readTags(input);
      const { secret, version } = store.create(name, payload, token(input), { description: str(input, 'Description'), tags });
      return { ARN: secret.arn, Name: secret.name, ...(version ? { VersionId: version.id } : {}) };
    },
    PutSecretValue(input) {
      const secret = store.requireLive(str(input, 'SecretId', true)!);
      const stages = strList(input, 'VersionStages', 20) ?? [AWSCURRENT];
      const version = store.put(secret, readPayload(input, true), token(input), stages);
      return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
    },
    GetSecretValue(input) {
      const secret = store.requireLive(str(input, 'SecretId', true)!);
      const versionId = str(input, 'VersionId');
      if (versionId !== undefined && (versionId.length < 32 || versionId.length > 64)) {
        throw validationError('versionId', `Member must have length ${versionId.length < 32 ? 'greater than or equal to 32' : 'less than or equal to 64'}`);
      }
      const version = store.select(secret, versionId, str(input, 'VersionStage'));
      store.touch(secret, version);
      return valueEntry(secret, version);
    },
    BatchGetSecretValue(input) {
      const ids = strList(input, 'SecretIdList', 20);
      const filters = input.Filters;
      if ((ids === undefined) === (filters === undefined)) {
        throw new AwsServiceError('InvalidParameterException', 'Either SecretIdList or Filters must be specified, but not both.');
      }
      if (ids) {
        if (input.MaxResults !== undefined || input.NextToken !== undefined) {
          throw new AwsServiceError('InvalidParameterException', 'MaxResults and NextToken can only be used with Filters.');
        }
        const values: unknown[] = [];
        const errors: unknown[] = [];
        for (const id of ids) {
          try {
            const secret = store.requireLive(id);
            const version = store.select(secret);
            store.touch(secret, version);
            values.push(valueEntry(secret, version));
          } catch (error) {
            if (!(error instanceof AwsServiceError)) throw error;
            errors.push({ SecretId: id, ErrorCode: error.type, Message: error.message });
          }
        }
        return { SecretValues: values, Errors: errors };
      }
      const matching = store.all().filter((s) => !s.deletionDate && matches(s, readFilters(filters)));
      const { page, nextToken } = paginate(matching, maxResults(input, 20), input.NextToken, JSON.stringify(filters), 'InvalidNextTokenException');
      const values = page.flatMap((s) => {
        const current = s.versions.find((v) => v.stages.has(AWSCURRENT));
        return current ? [valueEntry(s, current)] : [];
      });
      return { SecretValues: values, Errors: [], ...(nextToken ? { NextToken: nextToken } : {}) };
    },
    ListSecrets(input) {
      const filters = readFilters(input.Filters);
      let secrets = store.all().filter((s) => (input.IncludePlannedDeletion === true || !s.deletionDate) && matches(s, filters));
      if (input.SortOrder === 'desc') secrets = secrets.reverse();
      const scope = JSON.stringify([input.Filters ?? null, input.IncludePlannedDeletion ?? false, input.SortOrder ?? 'asc']);
      const { page, nextToken } = paginate(secrets, maxResults(input, 100), input.NextToken, scope, 'InvalidNextTokenException');
      return { SecretList: page.map(listEntry), ...(nextToken ? { NextToken: nextToken } : {}) };
    },
    ListSecretVersionIds(input) {
      const secret = store.require(str(input, 'SecretId', true)!);
      const all = input.IncludeDeprecated === true ? secret.versions : secret.versions.filter((v) => v.stages.size > 0);
      const scope = `${secret.arn}:${input.IncludeDeprecated === true}`;
      const { page, nextToken } = paginate(all, maxResults(input, 100), input.NextToken, scope, 'InvalidNextTokenException');
      const versions = page.map((v) => ({
        VersionId: v.id, VersionStages: [...v.stages], CreatedDate: epochSeconds(v.created),
        ...(v.lastAccessed ? { LastAccessedDate: epochSeconds(v.lastAccessed) } : {}),
      }));
      return { Versions: versions, ARN: secret.arn, Name: secret.name, ...(nextToken ? { NextToken: nextToken } : {}) };
    },
    DescribeSecret(input) {
      const secret = store.require(str(input, 'SecretId', true)!);
      const { SecretVersionsToStages, ...entry } = listEntry(secret);
      return { ...entry, VersionIdsToStages: SecretVersionsToStages };
    },
    DeleteSecret(input) {
      const secret = store.require(str(input, 'SecretId', true)!);
      const force = input.ForceDeleteWithoutRecovery === true;
      const window = input.RecoveryWindowInDays;
      if (force && window !== undefined) {
        throw new AwsServiceError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
      }
      if (window !== undefined && (typeof window !== 'number' || !Number.isInteger(window) || window < 7 || window > 30)) {
        throw new AwsServiceError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
      }
      const date = store.delete(secret, force ? undefined : (window as number | undefined) ?? 30);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(date) };
    },
    RestoreSecret(input) {
      const secret = store.require(str(input, 'SecretId', true)!);
      store.restore(secret);
      return { ARN: secret.arn, Name: secret.name };
    },
    TagResource(input) {
      const secret = store.require(str(input, 'SecretId', true)!);
      store.tag(secret, readTags(input) ?? []);
      return {};
    },
  };
}

function valueEntry(secret: StoredSecret, version: StoredVersion): Record<string, unknown> {
  return {
    ARN: secret.arn, Name: secret.name, VersionId: version.id,
    ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
    ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary.toString('base64') } : {}),
    VersionStages: [...version.stages], CreatedDate: epochSeconds(version.created),
  };
}

function listEntry(secret: StoredSecret): Record<string, unknown> {
  return {
    ARN: secret.arn, Name: secret.name,
    ...(secret.description !== undefined ? { Description: secret.description } : {}),
    LastChangedDate: epochSeconds(secret.lastChanged),
    ...(secret.lastAccessed ? { LastAccessedDate: epochSeconds(secret.lastAccessed) } : {}),
    ...(secret.deletionDate ? { DeletedDate: epochSeconds(secret.deletionDate) } : {}),
    Tags: secret.tags.map((t) => ({ ...t })),
    SecretVersionsToStages: versionsToStages(secret),
    CreatedDate: epochSeconds(secret.created),
  };
}
