/**
 * The store side of a master-key rotation: record it, re-wrap data keys in batches (one
 * transaction each), switch the store's active key, clear the record. Only the 60-byte wrapped
 * data key at the head of each envelope and the row's `key_id` change; the sealed values (iv,
 * tag, ciphertext) are never touched. Each step commits on its own, and at every instant each row
 * opens with the old or the new key — which the rotation record lets either key reach.
 */
import type Database from 'better-sqlite3';
import { LockboxError } from '../errors.js';
import { dataKeyAad, envelopeWrappedKey, sealKeyCheck, sharedDataKeyAad, unwrapVersionKey, wrapDataKey, WRAPPED_KEY_BYTES } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import type { MasterKey } from '../crypto/master-key.js';
import { ROTATION_META_KEYS, wrapMasterKey, type RotationState } from './key-meta.js';

/**
 * Points of a rotation where the crash tests kill the process (LOCKBOX_TEST_KILL_AT=<step>):
 * after the record is committed, inside the first batch's transaction, after the first batch,
 * after the switch, with the new key file staged but not renamed, after the rename, after the clear.
 */
export const ROTATION_STEPS = ['rotation-recorded', 'mid-batch', 'batch-committed', 'key-switched', 'key-file-staged', 'key-installed', 'rotation-cleared'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** Test seam, honoured only here: SIGKILLs this process at `step` when LOCKBOX_TEST_KILL_AT names it. */
export function crashPoint(step: RotationStep): void {
  if (process.env.LOCKBOX_TEST_KILL_AT === step) process.kill(process.pid, 'SIGKILL');
}

/** Primary key of the last row a batch visited. */
export type RowCursor = readonly [scope: string, name: string, version: number];

type Row = [scope: string, name: string, version: number, keyId: string | null, envelope: Buffer];

const SELECT_AFTER = `SELECT scope, name, version, key_id, envelope FROM versions
  WHERE envelope IS NOT NULL AND (key_id IS NULL OR key_id != ?) AND (scope, name, version) > (?, ?, ?)
  ORDER BY scope, name, version LIMIT ?`;
const SELECT_ALL = 'SELECT scope, name, version, key_id, envelope FROM versions WHERE envelope IS NOT NULL AND (key_id IS NULL OR key_id != ?)';
const UPDATE_ROW = 'UPDATE versions SET key_id = ?, envelope = ? WHERE scope = ? AND name = ? AND version = ? AND key_id IS ?';

/** Reads the meta table. */
export function readMetaTable(db: Database.Database): Map<string, string> {
  return new Map(db.prepare('SELECT key, value FROM meta').raw().all() as Array<[string, string]>);
}

/**
 * Records the rotation from the keyring's active key to `target` (both wrapped under each other)
 * in one transaction, and adds `target` to the keyring.
 */
export function recordRotation(db: Database.Database, storeId: string, keyring: Keyring, target: MasterKey, kms?: { kmsKeyId: string; wrappedKey: Buffer }): RotationState {
  const from = keyring.active;
  const state: RotationState = {
    from: from.keyId, to: target.keyId, started_at: new Date().toISOString(),
    ...(kms ? { kms_key_id: kms.kmsKeyId, kms_wrapped_key: kms.wrappedKey.toString('base64') } : {}),
  };
  const upsert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const running = db.prepare('SELECT 1 FROM meta WHERE key = ?').pluck();
  db.transaction(() => {
    if (running.get(ROTATION_META_KEYS.state)) throw rotationFailed('another `lockbox keys rotate` started a rotation meanwhile', undefined, 'run one rotation at a time: `lockbox keys rotate` again finishes the one in progress');
    upsert.run(ROTATION_META_KEYS.next, wrapMasterKey(from, target, storeId));
    upsert.run(ROTATION_META_KEYS.previous, wrapMasterKey(target, from, storeId));
    upsert.run(ROTATION_META_KEYS.state, JSON.stringify(state));
  }).immediate();
  keyring.add(target);
  return state;
}

/**
 * Re-wraps up to `limit` rows after `cursor` (primary-key order) not yet wrapped by `targetKeyId`,
 * in one transaction. Returns how many it re-wrapped and where the next batch starts (undefined
 * once the table has been walked).
 */
export function rewrapBatch(db: Database.Database, storeId: string, keyring: Keyring, targetKeyId: string, cursor: RowCursor | undefined, limit: number): { rewrapped: number; cursor?: RowCursor } {
  const select = db.prepare(SELECT_AFTER).raw();
  const update = db.prepare(UPDATE_ROW);
  const target = targetKey(keyring, targetKeyId);
  return db.transaction(() => {
    const [scope, name, version] = cursor ?? ['', '', 0];
    const rows = select.all(targetKeyId, scope, name, version, limit) as Row[];
    rows.forEach((row, i) => {
      rewrapRow(row, storeId, keyring, target, update);
      if (i === 0) crashPoint('mid-batch');
    });
    const last = rows.at(-1);
    return { rewrapped: rows.length, cursor: rows.length < limit || last === undefined ? undefined : [last[0], last[1], last[2]] as const };
  }).immediate();
}

/**
 * In one transaction: re-wraps any row still not wrapped by the target (written meanwhile by a
 * process that had the store open), then makes the target the store's active key (meta key_id
 * and key check). Returns the number of rows re-wrapped.
 */
export function switchActiveKey(db: Database.Database, storeId: string, keyring: Keyring, targetKeyId: string): number {
  const target = targetKey(keyring, targetKeyId);
  const update = db.prepare(UPDATE_ROW);
  const setMeta = db.prepare('UPDATE meta SET value = ? WHERE key = ?');
  const rewrapped = db.transaction(() => {
    const rows = db.prepare(SELECT_ALL).raw().all(targetKeyId) as Row[];
    for (const row of rows) rewrapRow(row, storeId, keyring, target, update);
    setMeta.run(target.keyId, 'key_id');
    setMeta.run(sealKeyCheck(target.key, storeId).toString('base64'), 'key_check');
    return rows.length;
  }).immediate();
  keyring.activate(target.keyId);
  return rewrapped;
}

/** Deletes the rotation record (and so the wrapped copies of both keys), then truncates the WAL. */
export function clearRotation(db: Database.Database): void {
  const { state, next, previous } = ROTATION_META_KEYS;
  db.prepare('DELETE FROM meta WHERE key IN (?, ?, ?)').run(state, next, previous);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // best effort: a busy reader only delays when old WAL frames are overwritten
  }
}

/** Versions holding a value, per master key id that wraps their data key; and erased ones. */
export function countVersionsByKey(db: Database.Database): { byKey: Array<{ keyId: string; versions: number }>; erased: number } {
  const rows = db.prepare('SELECT key_id, count(*) FROM versions WHERE envelope IS NOT NULL GROUP BY key_id ORDER BY count(*) DESC, key_id').raw().all() as Array<[string | null, number]>;
  const erased = db.prepare('SELECT count(*) FROM versions WHERE envelope IS NULL').pluck().get() as number;
  return { byKey: rows.map(([keyId, versions]) => ({ keyId: keyId ?? '(none)', versions })), erased };
}

function rewrapRow(row: Row, storeId: string, keyring: Keyring, target: MasterKey, update: Database.Statement): void {
  const [scope, name, version, keyId, envelope] = row;
  const where = `secret ${name} version ${version}${scope ? ` (tenant ${scope})` : ''}`;
  const from = keyring.get(keyId);
  if (from === undefined) {
    throw rotationFailed(`${where} is wrapped by master key id ${String(keyId)}, which is neither the old nor the new key`);
  }
  let unwrapped: { dataKey: Buffer; shared: boolean };
  try {
    unwrapped = unwrapVersionKey(from.key, envelopeWrappedKey(envelope), dataKeyAad(storeId, scope, name, version, from.keyId), sharedDataKeyAad(storeId, from.keyId));
  } catch (error) {
    throw rotationFailed(`the data key of ${where} failed authentication (changed or moved)`, error);
  }
  const { dataKey, shared } = unwrapped;
  try {
    // A key shared by a batch stays shared (its AAD names no version); each row gets its own wrapping of it.
    const keyAad = shared ? sharedDataKeyAad(storeId, target.keyId) : dataKeyAad(storeId, scope, name, version, target.keyId);
    wrapDataKey(target.key, dataKey, keyAad).copy(envelope, 0, 0, WRAPPED_KEY_BYTES);
    update.run(target.keyId, envelope, scope, name, version, keyId);
  } finally {
    dataKey.fill(0);
  }
}

function targetKey(keyring: Keyring, keyId: string): MasterKey {
  const key = keyring.get(keyId);
  if (key === undefined) throw rotationFailed(`the new master key (key id ${keyId}) is not available`);
  return key;
}

function rotationFailed(why: string, cause?: unknown, hint?: string): LockboxError {
  return new LockboxError('KEY_ROTATION_FAILED', `key rotation stopped: ${why}`, {
    cause,
    hint: hint ?? 'every secret stays readable with the old or the new key; destroy that version (lockbox delete NAME --destroy --version N) or restore it, then run `lockbox keys rotate` again to finish',
  });
}
