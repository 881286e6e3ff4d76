/**
 * Input readers of the Secrets Manager emulator: AWS's constraints on each member (lengths,
 * list sizes, enums) with AWS's error types (ValidationException for modelled constraints,
 * InvalidParameterException for the service's own checks), and ListSecrets filters.
 */
import { AwsServiceError, validationError } from './aws-json.js';
import { newVersionId, type SecretPayload, type StoredSecret } from './aws-secrets-manager-store.js';

/** Largest SecretString / SecretBinary, in bytes. */
export const MAX_SECRET_BYTES = 65_536;

export type Input = Record<string, unknown>;

export interface Filter { key: string; values: string[] }

/** Filters AND together; the values of one filter OR together; "!" negates; prefix matches. */
export function matches(secret: StoredSecret, filters: Filter[]): boolean {
  return filters.every(({ key, values }) => {
    const positives = values.filter((v) => !v.startsWith('!'));
    const negatives = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
    const fields = key === 'name' ? [secret.name]
      : key === 'tag-key' ? secret.tags.map((t) => t.Key)
        : key === 'tag-value' ? secret.tags.map((t) => t.Value)
          : key === 'description' ? [secret.description ?? ''] : [];
    const ci = key === 'description';
    const hit = (v: string) => fields.some((f) => (ci ? f.toLowerCase().startsWith(v.toLowerCase()) : f.startsWith(v)));
    return (positives.length === 0 || positives.some(hit)) && !negatives.some(hit);
  });
}

export function readFilters(raw: unknown): Filter[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > 10) throw validationError('filters', 'Member must have length less than or equal to 10');
  return raw.map((f: { Key?: unknown; Values?: unknown }) => {
    if (!['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'].includes(String(f.Key))) {
      throw validationError('filters.member.key', 'Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]');
    }
    if (!Array.isArray(f.Values) || f.Values.length < 1 || f.Values.length > 10) {
      throw validationError('filters.member.values', 'Member must have length between 1 and 10');
    }
    return { key: String(f.Key), values: f.Values.map(String) };
  });
}

export function readPayload(input: Input, required: boolean): SecretPayload {
  const text = str(input, 'SecretString');
  const binary = str(input, 'SecretBinary');
  if (text !== undefined && binary !== undefined) {
    throw new AwsServiceError('InvalidParameterException', "You can't specify both a binary secret value and a string secret value in the same secret.");
  }
  if (required && text === undefined && binary === undefined) {
    throw new AwsServiceError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
  }
  if (text !== undefined && Buffer.byteLength(text) > MAX_SECRET_BYTES) {
    throw validationError('secretString', `Member must have length less than or equal to ${MAX_SECRET_BYTES}`);
  }
  const bytes = binary === undefined ? undefined : Buffer.from(binary, 'base64');
  if (bytes && bytes.length > MAX_SECRET_BYTES) throw validationError('secretBinary', `Member must have length less than or equal to ${MAX_SECRET_BYTES}`);
  return text !== undefined ? { secretString: text } : bytes ? { secretBinary: bytes } : {};
}

export function readTags(input: Input): Array<{ Key: string; Value: string }> | undefined {
  if (input.Tags === undefined) return undefined;
  if (!Array.isArray(input.Tags) || input.Tags.length > 50) throw validationError('tags', 'Member must have length less than or equal to 50');
  return input.Tags.map((t: { Key?: unknown; Value?: unknown }) => {
    if (typeof t.Key !== 'string' || t.Key.length < 1 || t.Key.length > 128) throw validationError('tags.member.key', 'Member must have length between 1 and 128');
    const value = typeof t.Value === 'string' ? t.Value : '';
    if (value.length > 256) throw validationError('tags.member.value', 'Member must have length less than or equal to 256');
    return { Key: t.Key, Value: value };
  });
}

/** ClientRequestToken (32–64 characters); AWS generates one when the caller gives none. */
export function token(input: Input): string {
  const value = str(input, 'ClientRequestToken');
  if (value === undefined) return newVersionId();
  if (value.length < 32 || value.length > 64) throw validationError('clientRequestToken', 'Member must have length between 32 and 64');
  return value;
}

export function maxResults(input: Input, limit: number): number {
  const value = input.MaxResults;
  if (value === undefined) return limit;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > limit) {
    throw validationError('maxResults', `Member must have value between 1 and ${limit}`);
  }
  return value;
}

export function str(input: Input, key: string, required = false): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) {
    if (required) throw validationError(lowerFirst(key), 'Member must not be null');
    return undefined;
  }
  if (typeof value !== 'string') throw new AwsServiceError('SerializationException', `${key} must be a string`);
  if (required && value.length === 0) throw validationError(lowerFirst(key), 'Member must have length greater than or equal to 1');
  return value;
}

export function strList(input: Input, key: string, max: number): string[] | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new AwsServiceError('SerializationException', `${key} must be a list of strings`);
  if (value.length < 1 || value.length > max) throw validationError(lowerFirst(key), `Member must have length between 1 and ${max}`);
  return value as string[];
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

