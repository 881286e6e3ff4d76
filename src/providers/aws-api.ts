/**
 * The Secrets Manager calls the `aws` provider makes, each through `callRemote` (timeout,
 * retries of transient failures, classification) with the SDK loaded lazily. Not-found and
 * scheduled-for-deletion answers come back as outcomes, not errors.
 */
import type {
  CreateSecretResponse, DescribeSecretResponse, GetSecretValueResponse, PutSecretValueResponse, SecretListEntry,
  SecretsManagerClient, SecretValueEntry, SecretVersionsListEntry,
} from '@aws-sdk/client-secrets-manager';
import type { LockboxError } from '../errors.js';
import { awsErrorMessage, awsErrorName, classifyAwsError } from './aws-errors.js';
import type { VersionSelector } from './aws-naming.js';
import { callRemote, mapLimit, type RemoteCallOptions } from './remote.js';

/** The SDK module, loaded on first use. */
export type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');

/** What the provider needs of a client: `send` (a SecretsManagerClient, or anything alike). */
export type SecretsManagerLike = Pick<SecretsManagerClient, 'send'> & { destroy?(): void };

/** A value read from AWS, text or bytes. */
export type ValueEntry = Pick<GetSecretValueResponse, 'Name' | 'VersionId' | 'VersionStages' | 'CreatedDate' | 'SecretString' | 'SecretBinary'>;

/** A read: found, no such secret, no such version/stage, or the secret is scheduled for deletion. */
export type Fetched = { kind: 'found'; entry: ValueEntry } | { kind: 'absent' } | { kind: 'version-absent' } | { kind: 'deleted' };

/** Most secret ids BatchGetSecretValue takes at once. */
export const BATCH_SIZE = 20;
/** Most calls in flight at once for one provider operation. */
export const MAX_IN_FLIGHT = 10;

export class SecretsManagerApi {
  constructor(
    readonly providerId: string,
    readonly remote: RemoteCallOptions,
    readonly prefix: string,
    readonly connect: () => Promise<{ sdk: SecretsManagerSdk; client: SecretsManagerLike }>,
  ) {}

  async getValue(name: string, selector: VersionSelector): Promise<Fetched> {
    try {
      const entry = await this.#send<GetSecretValueResponse>('GetSecretValue', name, (sdk) => new sdk.GetSecretValueCommand({ SecretId: name, ...selector }));
      return { kind: 'found', entry };
    } catch (error) {
      return missing(error);
    }
  }

  /** BatchGetSecretValue in chunks of 20 (≤ 10 in flight); AWSCURRENT of each name. */
  async batchGet(names: string[]): Promise<Map<string, Fetched>> {
    const unique = [...new Set(names)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_SIZE) chunks.push(unique.slice(i, i + BATCH_SIZE));
    const out = new Map<string, Fetched>();
    await mapLimit(chunks, MAX_IN_FLIGHT, async (chunk) => {
      const response = await this.#send<{ SecretValues?: SecretValueEntry[]; Errors?: Array<{ SecretId?: string; ErrorCode?: string; Message?: string }> }>(
        'BatchGetSecretValue', undefined, (sdk) => new sdk.BatchGetSecretValueCommand({ SecretIdList: chunk }),
      );
      for (const entry of response.SecretValues ?? []) if (entry.Name !== undefined) out.set(entry.Name, { kind: 'found', entry });
      for (const failure of response.Errors ?? []) {
        if (failure.SecretId === undefined) continue;
        const shaped = Object.assign(new Error(failure.Message ?? ''), { name: failure.ErrorCode ?? 'Error', $metadata: {} });
        if (failure.ErrorCode === 'ResourceNotFoundException' || failure.ErrorCode === 'InvalidRequestException') {
          out.set(failure.SecretId, missing(shaped));
        } else {
          throw this.#classify(`GetSecretValue "${failure.SecretId}" (in BatchGetSecretValue)`, shaped);
        }
      }
    });
    return out;
  }

  /** DescribeSecret, or null when there is no such secret. */
  async describe(name: string): Promise<DescribeSecretResponse | null> {
    try {
      return await this.#send<DescribeSecretResponse>('DescribeSecret', name, (sdk) => new sdk.DescribeSecretCommand({ SecretId: name }));
    } catch (error) {
      if (awsErrorName(error) === 'ResourceNotFoundException') return null;
      throw error;
    }
  }

  create(input: { Name: string; SecretString?: string; ClientRequestToken: string; Tags: Array<{ Key: string; Value: string }> }): Promise<CreateSecretResponse> {
    return this.#send('CreateSecret', input.Name, (sdk) => new sdk.CreateSecretCommand(input));
  }

  put(input: { SecretId: string; SecretString: string; ClientRequestToken: string; VersionStages: string[] }): Promise<PutSecretValueResponse> {
    return this.#send('PutSecretValue', input.SecretId, (sdk) => new sdk.PutSecretValueCommand(input));
  }

  /** DeleteSecret: scheduled (recoveryDays) or at once (force). */
  async delete(name: string, how: { force: true } | { recoveryDays: number }): Promise<void> {
    const input = 'force' in how ? { SecretId: name, ForceDeleteWithoutRecovery: true } : { SecretId: name, RecoveryWindowInDays: how.recoveryDays };
    await this.#send('DeleteSecret', name, (sdk) => new sdk.DeleteSecretCommand(input));
  }

  async restore(name: string): Promise<void> {
    await this.#send('RestoreSecret', name, (sdk) => new sdk.RestoreSecretCommand({ SecretId: name }));
  }

  async tag(name: string, tags: Record<string, string>): Promise<void> {
    const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    await this.#send('TagResource', name, (sdk) => new sdk.TagResourceCommand({ SecretId: name, Tags }));
  }

  /** Every live secret whose name starts with `namePrefix` (all pages). */
  async listAll(namePrefix: string): Promise<SecretListEntry[]> {
    const out: SecretListEntry[] = [];
    let token: string | undefined;
    do {
      const filters = namePrefix ? [{ Key: 'name' as const, Values: [namePrefix] }] : undefined;
      const page = await this.#send<{ SecretList?: SecretListEntry[]; NextToken?: string }>('ListSecrets', undefined,
        (sdk) => new sdk.ListSecretsCommand({ Filters: filters, MaxResults: 100, NextToken: token }));
      out.push(...(page.SecretList ?? []));
      token = page.NextToken;
    } while (token);
    return out;
  }

  /** Every version of a secret (deprecated ones included), or null when there is no such secret. */
  async listVersions(name: string): Promise<SecretVersionsListEntry[] | null> {
    const out: SecretVersionsListEntry[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#send<{ Versions?: SecretVersionsListEntry[]; NextToken?: string }>('ListSecretVersionIds', name,
          (sdk) => new sdk.ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, MaxResults: 100, NextToken: token }));
        out.push(...(page.Versions ?? []));
        token = page.NextToken;
      } while (token);
    } catch (error) {
      if (awsErrorName(error) === 'ResourceNotFoundException') return null;
      throw error;
    }
    return out;
  }

  /** One cheap live call (ListSecrets, one result) for health(). */
  async ping(): Promise<void> {
    await this.#send('ListSecrets', undefined, (sdk) => new sdk.ListSecretsCommand({ MaxResults: 1 }));
  }

  async #send<T>(operation: string, name: string | undefined, build: (sdk: SecretsManagerSdk) => unknown): Promise<T> {
    const { sdk, client } = await this.connect();
    const label = name === undefined ? operation : `${operation} "${name}"`;
    const send = client.send.bind(client) as (command: unknown, options: { abortSignal: AbortSignal }) => Promise<T>;
    return callRemote(this.providerId, label, this.remote, (signal) => send(build(sdk), { abortSignal: signal }), (error) => this.#classify(label, error));
  }

  #classify(label: string, error: unknown): LockboxError | undefined {
    const operation = label.split(' ')[0]!;
    const action = operation === 'BatchGetSecretValue' ? 'secretsmanager:BatchGetSecretValue and secretsmanager:GetSecretValue' : `secretsmanager:${operation}`;
    const hint = `the credentials lack ${action}: grant it in IAM on arn:aws:secretsmanager:REGION:ACCOUNT:secret:${this.prefix}*, then test secret access with \`aws secretsmanager get-secret-value --secret-id ${this.prefix}NAME\``;
    return classifyAwsError(this.providerId, label, error, hint);
  }
}


/** Not-found style outcomes of a read; anything else is rethrown. */
function missing(error: unknown): Fetched {
  const name = awsErrorName(error);
  if (name === 'ResourceNotFoundException') {
    return /secret value|staging label|VersionId/i.test(awsErrorMessage(error)) ? { kind: 'version-absent' } : { kind: 'absent' };
  }
  // GetSecretValue's InvalidRequestException means the secret is scheduled for deletion.
  if (name === 'InvalidRequestException') return { kind: 'deleted' };
  throw error;
}
