/**
 * The hot statements of the config-secrets service, built with Kysely's query builder once per
 * shape and then re-run with new parameters. Kysely rebuilds and recompiles a query on every call
 * (~20–100 µs for a join, ~2 µs per inserted row on a 2-core VM), more than SQLite needs to run a
 * small statement. A statement is compiled with a marker value in each parameter slot, so the
 * SQL is the dialect's own (placeholders, quoting); each run only swaps the parameter array.
 * Multi-row inserts go in chunks whose sizes are powers of two (≤ 256 rows) or, for the last
 * ≤ 32 rows, their exact count, so a batch of any size uses at most 40 distinct statements per table.
 */
import { CompiledQuery, sql, type Compilable, type Insertable, type QueryResult } from 'kysely';
import type { ConfigSecretsDb, DocumentRow, Owner, ReferenceWithSecret } from './repository.js';
import { isUniqueViolation, toBoolean } from './repository.js';
import type { ConfigDocumentTable, SecretConfigTable, SecretReferenceTable } from './schema.js';

/** A parameter slot while a statement is built; `never` fits wherever the builder expects a value. */
type Slot = (index: number) => never;
interface Prepared { sql: string; slots: number[]; literals: readonly unknown[] }

/** What hydrate needs of a config: the partial config and, per reference of its owner, the secret it points at. */
export interface HydrationRow {
  partial_config: string | null;
  reference_id: string | null;
  coordinate: string | null;
  provider_id: string | null;
}

const MARKER = '\u0000lockbox-slot:';
const MAX_CHUNK = 256;
const EXACT_CHUNK = 32;
const CONFIG_COLUMNS = ['id', 'secret_storage_id', 'descriptor', 'external_coordinate', 'managed', 'tombstone', 'created_by', 'updated_by', 'created_at', 'updated_at'] as const;
const REFERENCE_COLUMNS = ['id', 'secret_config_id', 'scope_type', 'scope_id', 'hydration_path', 'created_at', 'updated_at'] as const;
const DOCUMENT_COLUMNS = ['id', 'scope_type', 'scope_id', 'owner_type', 'owner_id', 'spec', 'partial_config', 'revision', 'expires_at', 'created_by', 'updated_by', 'created_at', 'updated_at'] as const;

/** Prepared statements of one database; run them on that database or on a transaction of it. */
export class Statements {
  readonly #db: ConfigSecretsDb;
  readonly #prepared = new Map<string, Prepared>();

  constructor(db: ConfigSecretsDb) {
    this.#db = db;
  }

  /**
   * Inserts secret_config rows in one commit (a transaction when it takes more than one
   * statement), skipping coordinates already taken; returns the ids that were inserted. New
   * coordinates are fresh UUIDs, so a plain insert is tried first (outside a caller's
   * transaction); only when it hits a taken coordinate does it run again `ON CONFLICT DO NOTHING`.
   */
  async reserveSecretConfigs(db: ConfigSecretsDb, rows: readonly Insertable<SecretConfigTable>[]): Promise<Set<string>> {
    const inOneCommit = (work: (executor: ConfigSecretsDb) => Promise<void>): Promise<void> =>
      (db.isTransaction || rows.length <= Math.min(EXACT_CHUNK, MAX_CHUNK) ? work(db) : db.transaction().execute(work));
    if (!db.isTransaction) {
      try {
        await inOneCommit((executor) => this.#insertChunks('secret_config', CONFIG_COLUMNS, rows, async (key, n, args) => {
          await this.#run(executor, key, (kdb, slot) => kdb.insertInto('secret_config').values(slotRows(slot, n, CONFIG_COLUMNS.length, CONFIG_COLUMNS)), args);
        }));
        return new Set(rows.map((row) => row.id));
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
    }
    const inserted = new Set<string>();
    await inOneCommit((executor) => this.#insertChunks('secret_config', CONFIG_COLUMNS, rows, async (key, n, args) => {
      const result = await this.#run<{ id: string }>(executor, `${key}:skip-taken`, (kdb, slot) => kdb.insertInto('secret_config').values(slotRows(slot, n, CONFIG_COLUMNS.length, CONFIG_COLUMNS))
        .onConflict((oc) => oc.columns(['secret_storage_id', 'external_coordinate']).doNothing()).returning('id'), args);
      for (const row of result.rows) inserted.add(row.id);
    }));
    return inserted;
  }

  async insertReferences(executor: ConfigSecretsDb, rows: readonly Insertable<SecretReferenceTable>[]): Promise<void> {
    await this.#insertChunks('secret_reference', REFERENCE_COLUMNS, rows, async (key, n, args) => {
      await this.#run(executor, key, (db, slot) => db.insertInto('secret_reference').values(slotRows(slot, n, REFERENCE_COLUMNS.length, REFERENCE_COLUMNS)), args);
    });
  }

  async insertDocuments(executor: ConfigSecretsDb, rows: readonly Insertable<ConfigDocumentTable>[]): Promise<void> {
    await this.#insertChunks('config_document', DOCUMENT_COLUMNS, rows, async (key, n, args) => {
      await this.#run(executor, key, (db, slot) => db.insertInto('config_document').values(slotRows(slot, n, DOCUMENT_COLUMNS.length, DOCUMENT_COLUMNS)), args);
    });
  }

  /** The config id of each owner that has one, keyed by ownerKey. */
  async configsOfOwners(executor: ConfigSecretsDb, owners: readonly Owner[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const [start, n] of chunks(owners.length, 64)) {
      const args = owners.slice(start, start + n).flatMap((owner) => [owner.type, owner.id]);
      const result = await this.#run<{ id: string; owner_type: string; owner_id: string }>(executor, `owners:${n}`, (db, slot) => db.selectFrom('config_document')
        .select(['id', 'owner_type', 'owner_id'])
        .where((eb) => eb.or(Array.from({ length: n }, (_, i) => eb.and([eb('owner_type', '=', slot(2 * i)), eb('owner_id', '=', slot(2 * i + 1))])))), args);
      for (const row of result.rows) found.set(ownerKey({ type: row.owner_type, id: row.owner_id }), row.id);
    }
    return found;
  }

  /**
   * One query for hydrate: a row with the config's partial config (other columns null), then one
   * row per reference of its owner with the secret it points at. No rows: no such config.
   */
  async hydrationRows(executor: ConfigSecretsDb, id: string): Promise<HydrationRow[]> {
    const result = await this.#run<HydrationRow>(executor, 'hydration', (db, slot) => db.selectFrom('config_document')
      .select([sql<string | null>`${sql.ref('partial_config')}`.as('partial_config'), sql<string | null>`null`.as('reference_id'), sql<string | null>`null`.as('coordinate'), sql<string | null>`null`.as('provider_id')])
      .where('id', '=', slot(0))
      .unionAll(db.selectFrom('config_document as d')
        .innerJoin('secret_reference as r', (join) => join.onRef('r.scope_type', '=', 'd.owner_type').onRef('r.scope_id', '=', 'd.owner_id'))
        .innerJoin('secret_config as c', 'c.id', 'r.secret_config_id')
        .innerJoin('secret_storage as s', 's.id', 'c.secret_storage_id')
        .select([sql<string | null>`null`.as('partial_config'), sql<string | null>`${sql.ref('r.id')}`.as('reference_id'), sql<string | null>`${sql.ref('c.external_coordinate')}`.as('coordinate'), sql<string | null>`${sql.ref('s.provider_id')}`.as('provider_id')])
        .where('d.id', '=', slot(0))), [id]);
    return result.rows;
  }

  async document(executor: ConfigSecretsDb, id: string): Promise<DocumentRow | undefined> {
    const result = await this.#run<DocumentRow>(executor, 'document', (db, slot) => db.selectFrom('config_document').selectAll().where('id', '=', slot(0)), [id]);
    return result.rows[0];
  }

  /** Every reference of an owner with its secret, ordered by path (as listOwnerReferences). */
  async ownerReferences(executor: ConfigSecretsDb, owner: Owner): Promise<ReferenceWithSecret[]> {
    const result = await this.#run<Omit<ReferenceWithSecret, 'managed'> & { managed: number | boolean }>(executor, 'owner-references', (db, slot) => db.selectFrom('secret_reference as r')
      .innerJoin('secret_config as c', 'c.id', 'r.secret_config_id')
      .innerJoin('secret_storage as s', 's.id', 'c.secret_storage_id')
      .select(['r.id as id', 'r.hydration_path as path', 'c.id as secretConfigId', 'c.external_coordinate as coordinate', 'c.managed as managed', 's.id as storageId', 's.provider_id as providerId'])
      .where('r.scope_type', '=', slot(0)).where('r.scope_id', '=', slot(1))
      .orderBy('r.hydration_path'), [owner.type, owner.id]);
    return result.rows.map((row) => ({ ...row, managed: toBoolean(row.managed) }));
  }

  async #insertChunks<Row>(
    table: string, columns: readonly (keyof Row & string)[], rows: readonly Row[], insert: (key: string, n: number, args: unknown[]) => Promise<void>,
  ): Promise<void> {
    for (const [start, n] of chunks(rows.length, MAX_CHUNK)) {
      const args: unknown[] = [];
      for (let i = start; i < start + n; i++) for (const column of columns) args.push(rows[i]![column] ?? null);
      await insert(`${table}:${n}`, n, args);
    }
  }

  async #run<R>(executor: ConfigSecretsDb, key: string, build: (db: ConfigSecretsDb, slot: Slot) => Compilable<unknown>, args: readonly unknown[]): Promise<QueryResult<R>> {
    let prepared = this.#prepared.get(key);
    if (prepared === undefined) {
      const compiled = build(this.#db, ((index: number) => `${MARKER}${index}`) as Slot).compile();
      const slots = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(MARKER) ? Number(p.slice(MARKER.length)) : -1));
      prepared = { sql: compiled.sql, slots, literals: compiled.parameters };
      this.#prepared.set(key, prepared);
    }
    const { sql, slots, literals } = prepared;
    const parameters = slots.map((slot, i) => (slot < 0 ? literals[i] : args[slot]));
    return executor.executeQuery(CompiledQuery.raw(sql, parameters) as CompiledQuery<R>);
  }
}

/** Map key of an owner. */
export function ownerKey(owner: Owner): string {
  return `${owner.type}\u0000${owner.id}`;
}

/**
 * [start, size] pieces of `total`: powers of two no larger than `max` (largest first), and the
 * last ≤ EXACT_CHUNK rows in one piece of their own size (one statement for a single config).
 */
function* chunks(total: number, max: number): Generator<[number, number]> {
  let start = 0;
  while (start < total) {
    let size = max;
    if (total - start <= Math.min(EXACT_CHUNK, max)) size = total - start;
    else while (size > total - start) size >>= 1;
    yield [start, size];
    start += size;
  }
}

function slotRows(slot: Slot, rows: number, width: number, columns: readonly string[]): never {
  return Array.from({ length: rows }, (_, r) => Object.fromEntries(columns.map((column, c) => [column, slot(r * width + c)]))) as never;
}
