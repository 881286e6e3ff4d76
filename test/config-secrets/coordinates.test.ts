import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EPHEMERAL_SCOPE_ID, MANAGED_PREFIXES, hasManagedPrefix, newManagedCoordinate, nextVersion, parseCoordinate,
} from '../../src/config-secrets/coordinates.js';
import { timeOrderedUuid } from '../../src/config-secrets/ids.js';
import { LockboxError } from '../../src/errors.js';
import { assertValidName } from '../../src/names.js';

const WS = '024eaa40-75ae-4014-941d-b9e938c3a363';
const ID = '5675437d-ea6b-4f9a-9a0c-d76066004841';

function assertLockboxError(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LockboxError, 'expected a LockboxError');
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('parseCoordinate', () => {
  it('parses a lockbox-managed coordinate into base and version', () => {
    const full = `lockbox_workspace_${WS}_secret_${ID}_v1`;
    assert.deepEqual(parseCoordinate(full), { kind: 'managed', base: `lockbox_workspace_${WS}_secret_${ID}`, version: 1, full });
  });

  it('parses legacy airbyte_ coordinates as managed', () => {
    const full = `airbyte_workspace_${WS}_secret_${ID}_v1`;
    assert.deepEqual(parseCoordinate(full), { kind: 'managed', base: `airbyte_workspace_${WS}_secret_${ID}`, version: 1, full });
  });

  it('reads multi-digit versions and splits at the last _v', () => {
    const coordinate = parseCoordinate('lockbox_org_v2_secret_abc_v12');
    assert.equal(coordinate.kind, 'managed');
    assert.equal(coordinate.kind === 'managed' && coordinate.base, 'lockbox_org_v2_secret_abc');
    assert.equal(coordinate.kind === 'managed' && coordinate.version, 12);
  });

  it('treats every other non-empty string as an external coordinate', () => {
    for (const full of ['stripe/api-key', 'vault:acme/stripe', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:my-secret', 'lockbox', 'LOCKBOX_x_v1', 'my_lockbox_x_v1']) {
      assert.deepEqual(parseCoordinate(full), { kind: 'external', full });
    }
  });

  it('rejects a managed prefix without a valid _v<N> suffix with INVALID_COORDINATE', () => {
    assertLockboxError(
      () => parseCoordinate(`lockbox_workspace_${WS}_secret_${ID}`),
      'INVALID_COORDINATE',
      `invalid secret coordinate "lockbox_workspace_${WS}_secret_${ID}": a coordinate starting with "lockbox_" must be [A-Za-z0-9._-] characters ending with "_v<version>" (version ≥ 1)`,
    );
    for (const bad of ['lockbox_x_v0', 'lockbox_x_v', 'lockbox_x_vabc', 'lockbox_x_v01', 'lockbox__v1', 'lockbox_a b_v1', 'airbyte_x_v1.5', 'airbyte_x_v1_old']) {
      assertLockboxError(() => parseCoordinate(bad), 'INVALID_COORDINATE', /must be \[A-Za-z0-9._-\] characters ending with "_v<version>"/);
    }
    assertLockboxError(() => parseCoordinate('airbyte_secret'), 'INVALID_COORDINATE', /starting with "airbyte_"/);
  });

  it('rejects an empty coordinate', () => {
    assertLockboxError(() => parseCoordinate(''), 'INVALID_COORDINATE', 'invalid secret coordinate: it is empty');
  });
});

describe('newManagedCoordinate and nextVersion', () => {
  it('builds {prefix}{scopeType}_{scopeId}_secret_{uuid}_v1 with lockbox_ by default', () => {
    const coordinate = newManagedCoordinate({ scopeType: 'workspace', scopeId: WS, uuid: () => ID });
    assert.deepEqual(coordinate, {
      kind: 'managed', base: `lockbox_workspace_${WS}_secret_${ID}`, version: 1, full: `lockbox_workspace_${WS}_secret_${ID}_v1`,
    });
    assert.equal(MANAGED_PREFIXES[0], 'lockbox_');
    assert.deepEqual(parseCoordinate(coordinate.full), coordinate);
    assert.equal(assertValidName(coordinate.full), coordinate.full);
  });

  it('takes the airbyte_ prefix and the ephemeral scope id', () => {
    const coordinate = newManagedCoordinate({ scopeType: 'workspace', scopeId: EPHEMERAL_SCOPE_ID, prefix: 'airbyte_', uuid: () => ID });
    assert.equal(coordinate.full, `airbyte_workspace_00000000-0000-0000-0000-000000000000_secret_${ID}_v1`);
    assert.ok(hasManagedPrefix(coordinate.full));
  });

  it('uses a fresh time-ordered (version 7) UUID for each coordinate by default', () => {
    const before = Date.now();
    const a = newManagedCoordinate({ scopeType: 'organization', scopeId: 'acme' });
    const b = newManagedCoordinate({ scopeType: 'organization', scopeId: 'acme' });
    const match = /^lockbox_organization_acme_secret_([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}_v1$/.exec(a.full);
    assert.ok(match, a.full);
    const millis = parseInt(`${match[1]}${match[2]}`, 16);
    assert.ok(millis >= before && millis <= Date.now(), 'the UUID starts with its creation time');
    assert.notEqual(a.base, b.base);
  });

  it('time-ordered UUIDs sort by creation time', () => {
    assert.ok(timeOrderedUuid(Date.UTC(2030, 0, 1)) > timeOrderedUuid(Date.UTC(2029, 11, 31, 23, 59, 59, 999)));
    assert.match(timeOrderedUuid(0), /^00000000-0000-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('bumps the version and keeps the base', () => {
    const v1 = newManagedCoordinate({ scopeType: 'workspace', scopeId: WS, uuid: () => ID });
    const v2 = nextVersion(v1);
    const v3 = nextVersion(v2);
    assert.deepEqual(v2, { kind: 'managed', base: v1.base, version: 2, full: `${v1.base}_v2` });
    assert.equal(v3.full, `${v1.base}_v3`);
    assert.deepEqual(parseCoordinate(v3.full), v3);
    const legacy = parseCoordinate(`airbyte_workspace_${WS}_secret_${ID}_v9`);
    assert.equal(legacy.kind === 'managed' && nextVersion(legacy).full, `airbyte_workspace_${WS}_secret_${ID}_v10`);
  });

  it('rejects scope parts and prefixes that would break the coordinate with INVALID_INPUT', () => {
    assertLockboxError(() => newManagedCoordinate({ scopeType: 'work_space', scopeId: WS }), 'INVALID_INPUT',
      'invalid coordinate scopeType "work_space": only letters, digits and "-" are allowed');
    assertLockboxError(() => newManagedCoordinate({ scopeType: 'workspace', scopeId: '../etc' }), 'INVALID_INPUT',
      'invalid coordinate scopeId "../etc": only letters, digits and "-" are allowed');
    assertLockboxError(() => newManagedCoordinate({ scopeType: 'workspace', scopeId: '' }), 'INVALID_INPUT', /scopeId ""/);
    assertLockboxError(() => newManagedCoordinate({ scopeType: 'workspace', scopeId: WS, uuid: () => 'a/b' }), 'INVALID_INPUT', /uuid "a\/b"/);
    assertLockboxError(() => newManagedCoordinate({ scopeType: 'workspace', scopeId: WS, prefix: 'custom_' }), 'INVALID_INPUT',
      'invalid coordinate prefix "custom_": it must start with "lockbox_" or "airbyte_" and use only [A-Za-z0-9._-]');
    assertLockboxError(() => newManagedCoordinate({ scopeType: 'workspace', scopeId: 'x'.repeat(600) }), 'INVALID_INPUT', /longer than 512 bytes/);
  });
});
