/**
 * Name and scope validation for the store's hot path: each name or scope is checked once and
 * remembered (validation is the costliest JS on the read path).
 */
import { assertValidName, assertValidScope } from '../names.js';

/** Names and scopes already checked. */
const validNames = new Set<string>();
const validScopes = new Set<string>();

/** `name`, once it is a valid secret name (InvalidNameError otherwise). */
export function checkName(name: string): string {
  return validNames.has(name) ? name : remember(validNames, assertValidName(name));
}

/** `scope`, once it is a valid tenant scope (InvalidNameError otherwise). */
export function checkScope(scope: string): string {
  return validScopes.has(scope) ? scope : remember(validScopes, assertValidScope(scope));
}

function remember(checked: Set<string>, value: string): string {
  if (checked.size >= 4096) checked.clear();
  checked.add(value);
  return value;
}
