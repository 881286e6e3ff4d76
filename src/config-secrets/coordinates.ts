/**
 * Secret coordinates (seed 000 §2): the name a config's secret field is stored under.
 * A managed coordinate — `{prefix}{scopeType}_{scopeId}_secret_{uuid}_v{N}` — is owned by
 * lockbox (written, versioned, deleted by it); `airbyte_…` coordinates are parsed as managed
 * too. Anything else is an external coordinate: a secret name the manager can read, never
 * written or deleted by config-secrets.
 */
import { LockboxError } from '../errors.js';
import { MAX_NAME_BYTES } from '../names.js';
import { timeOrderedUuid } from './ids.js';

/** Prefixes that make a coordinate managed. The first one is the default for new coordinates. */
export const MANAGED_PREFIXES = ['lockbox_', 'airbyte_'] as const;

/** Scope id of secrets that belong to no scope yet (e.g. written for a check before a save). */
export const EPHEMERAL_SCOPE_ID = '00000000-0000-0000-0000-000000000000';

/** A coordinate lockbox owns: `base` + `_v` + `version` = `full`. */
export type ManagedCoordinate = { kind: 'managed'; base: string; version: number; full: string };
/** A secret name owned by someone else; read, never written or deleted. */
export type ExternalCoordinate = { kind: 'external'; full: string };
export type SecretCoordinate = ManagedCoordinate | ExternalCoordinate;

export interface NewManagedCoordinateOptions {
  /** Scope kind, e.g. `workspace` or `organization`: `[A-Za-z0-9-]+`. */
  scopeType: string;
  /** Scope id, e.g. a workspace UUID (or EPHEMERAL_SCOPE_ID): `[A-Za-z0-9-]+`. */
  scopeId: string;
  /** Coordinate prefix; must start with one of MANAGED_PREFIXES. @default 'lockbox_' */
  prefix?: string;
  /** Source of the coordinate's unique part. @default timeOrderedUuid (a version 7 UUID) */
  uuid?: () => string;
}

const VERSION_DELIMITER = '_v';
const MANAGED_FORM = /^([A-Za-z0-9._-]+)_v([1-9][0-9]*)$/;
const NAME_CHARS = /^[A-Za-z0-9._-]+$/;
const SCOPE_PART = /^[A-Za-z0-9-]+$/;
/** A UUID's length and characters, for checking a coordinate's length once. */
const UUID_SHAPE = '00000000-0000-7000-8000-000000000000';

/**
 * Parses a full coordinate. Strings starting with a managed prefix must end with `_v<N>`
 * (N ≥ 1) and use only `[A-Za-z0-9._-]`; anything else non-empty is external.
 * @throws LockboxError INVALID_COORDINATE for an empty string or a malformed managed coordinate.
 */
export function parseCoordinate(full: string): SecretCoordinate {
  if (typeof full !== 'string' || full.length === 0) {
    throw new LockboxError('INVALID_COORDINATE', 'invalid secret coordinate: it is empty');
  }
  const prefix = MANAGED_PREFIXES.find((candidate) => full.startsWith(candidate));
  if (prefix === undefined) return { kind: 'external', full };
  const match = MANAGED_FORM.exec(full);
  const base = match?.[1];
  const version = Number(match?.[2]);
  if (base === undefined || base.length <= prefix.length || !Number.isSafeInteger(version)) {
    throw new LockboxError(
      'INVALID_COORDINATE',
      `invalid secret coordinate ${quote(full)}: a coordinate starting with "${prefix}" must be [A-Za-z0-9._-] characters ending with "_v<version>" (version ≥ 1)`,
      { hint: 'send the coordinate exactly as lockbox returned it, or use "secret_coordinate::NAME" for a secret you manage' },
    );
  }
  return { kind: 'managed', base, version, full };
}

/**
 * A fresh managed coordinate at version 1:
 * `{prefix}{scopeType}_{scopeId}_secret_{uuid}_v1`.
 * @throws LockboxError INVALID_INPUT when a part breaks its character rule.
 */
export function newManagedCoordinate(options: NewManagedCoordinateOptions): ManagedCoordinate {
  const { scopeType, scopeId, prefix = MANAGED_PREFIXES[0], uuid = () => timeOrderedUuid() } = options;
  if (typeof prefix !== 'string' || !NAME_CHARS.test(prefix) || !MANAGED_PREFIXES.some((p) => prefix.startsWith(p))) {
    throw new LockboxError('INVALID_INPUT', `invalid coordinate prefix ${quote(String(prefix))}: it must start with ${MANAGED_PREFIXES.map((p) => `"${p}"`).join(' or ')} and use only [A-Za-z0-9._-]`);
  }
  assertScopePart('scopeType', scopeType);
  assertScopePart('scopeId', scopeId);
  const unique = uuid();
  assertScopePart('uuid', unique);
  return managedCoordinate(`${prefix}${scopeType}_${scopeId}_secret_${unique}`, 1);
}

/**
 * newManagedCoordinate for many coordinates of one scope: the prefix and scope parts are
 * checked once, each call of the returned function makes one more coordinate (a default UUID each).
 * @throws LockboxError INVALID_INPUT when a part breaks its character rule.
 */
export function managedCoordinateSource(options: Omit<NewManagedCoordinateOptions, 'uuid'>): () => ManagedCoordinate {
  const head = newManagedCoordinate({ ...options, uuid: () => UUID_SHAPE }).base.slice(0, -UUID_SHAPE.length);
  return () => {
    const base = head + timeOrderedUuid();
    return { kind: 'managed', base, version: 1, full: `${base}${VERSION_DELIMITER}1` };
  };
}

/** The next version of a managed coordinate: same base, version + 1. */
export function nextVersion(coordinate: ManagedCoordinate): ManagedCoordinate {
  return managedCoordinate(coordinate.base, coordinate.version + 1);
}

/** True when a full coordinate string starts with a managed prefix. */
export function hasManagedPrefix(full: string): boolean {
  return MANAGED_PREFIXES.some((prefix) => full.startsWith(prefix));
}

function managedCoordinate(base: string, version: number): ManagedCoordinate {
  const full = `${base}${VERSION_DELIMITER}${version}`;
  if (full.length > MAX_NAME_BYTES) {
    throw new LockboxError('INVALID_INPUT', `secret coordinate would be longer than ${MAX_NAME_BYTES} bytes; use shorter scope ids`);
  }
  return { kind: 'managed', base, version, full };
}

function assertScopePart(label: string, value: unknown): void {
  if (typeof value !== 'string' || !SCOPE_PART.test(value)) {
    throw new LockboxError('INVALID_INPUT', `invalid coordinate ${label} ${quote(String(value))}: only letters, digits and "-" are allowed`);
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 197)}...` : text);
}
