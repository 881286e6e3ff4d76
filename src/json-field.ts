import { LockboxError } from './errors.js';
import { SecretValue } from './secret-value.js';

/**
 * Picks `#field` out of a JSON-valued secret: a top-level key, or a JSON pointer
 * (`/a/b`, RFC 6901). Non-string leaves are returned as JSON text.
 */
export function extractField(value: SecretValue, field: string, label: string): SecretValue {
  let document: unknown;
  try {
    document = JSON.parse(value.reveal());
  } catch {
    throw fieldNotJson(field, label);
  }
  if (typeof document !== 'object' || document === null) throw fieldNotJson(field, label);
  const path = field.startsWith('/') ? field.slice(1).split('/').map(unescapePointer) : [field];
  let node: unknown = document;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.prototype.hasOwnProperty.call(node, key)) {
      throw new LockboxError('FIELD_NOT_FOUND', `secret ${label} has no field "${field}"`, {
        hint: 'check the #field; `lockbox get NAME --json` shows the fields',
      });
    }
    node = (node as Record<string, unknown>)[key];
  }
  return new SecretValue(typeof node === 'string' ? node : JSON.stringify(node));
}

function fieldNotJson(field: string, label: string): LockboxError {
  return new LockboxError('FIELD_NOT_JSON', `cannot read field "${field}" of secret ${label}: its value is not a JSON object`, {
    hint: 'drop the #field, or store the secret as a JSON object',
  });
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
