/**
 * Group commit for creates. A create is validated and classified by the caller's own call;
 * then it waits here, and every create that arrives while a batch is being written (or in the
 * same tick) goes into the next batch. A batch makes one owner look-up, one coordinate
 * reservation (one commit), one `manager.setMany` (one local-store transaction, one fsync) and
 * one metadata transaction (one commit) for all its creates. A create resolves only after the
 * metadata transaction that holds it has committed.
 *
 * One create cannot fail the others: per-create checks (owner taken, reference ids, coordinates)
 * reject only that create; when a shared step fails, what the batch wrote is undone and its
 * creates run again one at a time (or, when only the metadata transaction failed, each commits
 * on its own with the secrets already written), each settling with its own result or error.
 */
import type { Insertable } from 'kysely';
import type { SavedConfig } from './api.js';
import { timeOrderedUuid } from './ids.js';
import { pointerNode } from './nodes.js';
import { configRow, getOrCreateSecretConfig, insertDocument, isUniqueViolation, setPartialConfig, type Owner } from './repository.js';
import type { ConfigDocumentTable, SecretConfigTable, SecretReferenceTable } from './schema.js';
import { collectGarbage } from './secret-io.js';
import {
  bindGivenSecrets, bindPlan, commitOrRollback, freshCoordinates, reserveCoordinate, rollbackPlan,
  type ConfigScope, type PlanContext, type RawSecret, type SecretPlan,
} from './secret-plan.js';
import { ownerTaken } from './service-errors.js';
import { ownerKey } from './statements.js';
import { replaceAtPaths, type ProcessedSecret } from './transform.js';

/** A create whose input is validated and classified; nothing is written yet. */
export interface PendingCreate {
  ctx: PlanContext;
  scope: ConfigScope;
  owner: Owner;
  /** The spec as JSON text, taken when create was called. */
  specText: string;
  config: Record<string, unknown>;
  processed: ProcessedSecret[];
  expiresAt?: Date;
  resolve: (saved: SavedConfig) => void;
  reject: (error: unknown) => void;
}

/** What the batcher needs of the service. */
export interface CreateBatchOptions {
  /** Reads a committed config back (used where the batch cannot build the result itself). */
  get: (id: string) => Promise<SavedConfig>;
  /** Most creates per batch. */
  maxCreates: number;
}

/** Most secrets written by one batch (a create with more still goes, alone). */
const MAX_SECRETS_PER_BATCH = 4096;

/** One create of a batch, with what the batch has done for it so far. */
interface Member { create: PendingCreate; id: string; plan: SecretPlan; raw: RawSecret[]; referenceIds: Map<string, string>; document?: Insertable<ConfigDocumentTable> }

/** Queues creates and writes them in batches, one batch at a time. */
export class CreateBatcher {
  readonly #o: CreateBatchOptions;
  readonly #queue: PendingCreate[] = [];
  #draining = false;

  constructor(options: CreateBatchOptions) {
    this.#o = options;
  }

  /** Queues a validated create; it settles through its own resolve/reject. */
  submit(create: PendingCreate): void {
    this.#queue.push(create);
    if (this.#draining) return;
    this.#draining = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // Callers settled by the last batch often create again at once: let their calls arrive first.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = this.#take();
        try {
          this.#queue.unshift(...await this.#write(batch));
        } catch (error) {
          for (const create of batch) create.reject(error); // unexpected: never leave a caller waiting
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #take(): PendingCreate[] {
    let secrets = 0;
    let count = 0;
    while (count < this.#queue.length && count < this.#o.maxCreates) {
      secrets += this.#queue[count]!.processed.length;
      if (count > 0 && secrets > MAX_SECRETS_PER_BATCH) break;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  /** Writes one batch; returns the creates to retry in the next one (a second create of an owner). */
  async #write(batch: PendingCreate[]): Promise<PendingCreate[]> {
    const { db, statements } = batch[0]!.ctx;
    const deferred: PendingCreate[] = [];
    let members: Member[] = [];
    try {
      const taken = await statements.configsOfOwners(db, batch.map((create) => create.owner));
      const seen = new Set<string>();
      for (const create of batch) {
        const key = ownerKey(create.owner);
        if (taken.has(key)) create.reject(ownerTaken(create.owner, taken.get(key)));
        else if (seen.has(key)) deferred.push(create); // after the first one of this owner has settled
        else {
          seen.add(key);
          members.push({ create, id: timeOrderedUuid(), plan: { bindings: [], written: [] }, raw: [], referenceIds: new Map() });
        }
      }
    } catch (error) {
      return this.#alone(batch, error);
    }
    members = await settleEach(members, async (member) => {
      const { ctx, processed, owner } = member.create;
      const { bindings, raw } = await bindGivenSecrets(ctx, { processed, owner, persisted: new Map() });
      member.plan.bindings.push(...bindings);
      member.raw = raw;
    });
    if (members.length === 0) return deferred;
    try {
      await this.#reserve(members);
      await this.#writeSecrets(members);
    } catch (error) {
      for (const member of members) await rollbackPlan(member.create.ctx, member.plan);
      return [...deferred, ...await this.#alone(members.map((m) => m.create), error)];
    }
    let fast = true;
    try {
      await this.#commit(members);
    } catch {
      fast = false;
    }
    const settle: Array<() => Promise<void>> = [];
    for (const member of members) settle.push(fast ? () => this.#settleCommitted(member) : await this.#commitAlone(member));
    await collectGarbage(members[0]!.create.ctx).catch(() => undefined); // what failed is retried by the next call
    for (const settleOne of settle) await settleOne();
    return deferred;
  }

  /** A failed shared step: a lone create gets the error; several run again one at a time. */
  async #alone(creates: PendingCreate[], error: unknown): Promise<PendingCreate[]> {
    if (creates.length === 1) {
      creates[0]!.reject(error);
      return [];
    }
    const deferred: PendingCreate[] = [];
    for (const create of creates) deferred.push(...await this.#write([create]));
    return deferred;
  }

  /** Claims a fresh coordinate (its secret_config row) for every raw value, all in one transaction. */
  async #reserve(members: Member[]): Promise<void> {
    const claims: Array<{ member: Member; raw: RawSecret; row: Insertable<SecretConfigTable> }> = [];
    for (const member of members) {
      const { ctx, scope } = member.create;
      if (member.raw.length === 0) continue;
      const now = ctx.now.toISOString();
      const fresh = freshCoordinates(ctx, scope);
      for (const raw of member.raw) {
        const coordinate = fresh().full;
        claims.push({ member, raw, row: configRow(timeOrderedUuid(), { storageId: ctx.storage.id, coordinate, managed: true, actor: ctx.actor, now }) });
      }
    }
    if (claims.length === 0) return;
    const { db, statements } = members[0]!.create.ctx;
    const rows = claims.map((claim) => claim.row);
    const inserted = await statements.reserveSecretConfigs(db, rows);
    for (const { member, raw, row } of claims) {
      const { ctx, scope } = member.create;
      const claimed = inserted.has(row.id) ? { id: row.id, coordinate: row.external_coordinate } : await reserveCoordinate(ctx, scope, undefined, raw.path);
      member.plan.written.push({ secretConfigId: claimed.id, coordinate: claimed.coordinate, providerId: ctx.storage.provider_id });
      member.plan.bindings.push({ path: raw.path, coordinate: claimed.coordinate, managed: true, storageId: ctx.storage.id, secretConfigId: claimed.id });
    }
  }

  /** Every raw value of the batch in one setMany per provider (one local-store transaction). */
  async #writeSecrets(members: Member[]): Promise<void> {
    const byProvider = new Map<string, Array<{ name: string; value: RawSecret['value']; options?: { expiresAt: Date } }>>();
    for (const member of members) {
      const { expiresAt } = member.create;
      const options = expiresAt === undefined ? undefined : { expiresAt };
      member.raw.forEach((raw, i) => {
        const written = member.plan.written[i]!; // claimed in the order of member.raw
        const entries = byProvider.get(written.providerId) ?? [];
        entries.push({ name: written.coordinate, value: raw.value, options });
        byProvider.set(written.providerId, entries);
      });
    }
    const { manager } = members[0]!.create.ctx;
    for (const [provider, entries] of byProvider) await manager.setMany(entries, { provider });
  }

  /** One transaction: every document and every reference of the batch. */
  async #commit(members: Member[]): Promise<void> {
    const { statements } = members[0]!.create.ctx;
    const documents: Insertable<ConfigDocumentTable>[] = [];
    for (const member of members) {
      for (const binding of member.plan.bindings) member.referenceIds.set(binding.path, timeOrderedUuid());
      const partial = replaceAtPaths(member.create.config, new Map(member.plan.bindings.map((b) => [b.path, pointerNode(b.coordinate, member.referenceIds.get(b.path))])));
      member.document = documentRow(member, JSON.stringify(partial));
      documents.push(member.document);
    }
    await members[0]!.create.ctx.db.transaction().execute(async (trx) => {
      const references: Insertable<SecretReferenceTable>[] = [];
      for (const member of members) {
        const { ctx, owner } = member.create;
        const now = ctx.now.toISOString();
        for (const b of member.plan.bindings) {
          const secretConfigId = b.secretConfigId ?? await getOrCreateSecretConfig(trx, { storageId: b.storageId, coordinate: b.coordinate, managed: b.managed, actor: ctx.actor, now });
          references.push({ id: member.referenceIds.get(b.path)!, secret_config_id: secretConfigId, scope_type: owner.type, scope_id: owner.id, hydration_path: b.path, created_at: now, updated_at: now });
        }
      }
      await statements.insertDocuments(trx, documents);
      await statements.insertReferences(trx, references);
    });
  }

  /** Resolves a create of a committed batch, built from what was written (read back where a row was found, not made). */
  async #settleCommitted(member: Member): Promise<void> {
    const document = member.document!;
    const { create } = member;
    if (member.plan.bindings.some((b) => b.secretConfigId === undefined)) {
      await this.#o.get(member.id).then(create.resolve, create.reject);
      return;
    }
    const secrets = member.plan.bindings
      .map((b) => ({ path: b.path, coordinate: b.coordinate, referenceId: member.referenceIds.get(b.path)!, secretConfigId: b.secretConfigId!, managed: b.managed }))
      .sort((a, b) => compareCodePoints(a.path, b.path));
    create.resolve({
      id: member.id, revision: 1, scope: { type: create.scope.type, id: create.scope.id }, owner: { type: create.owner.type, id: create.owner.id },
      spec: JSON.parse(create.specText), config: JSON.parse(document.partial_config as string), secrets,
      createdAt: new Date(document.created_at as string), updatedAt: new Date(document.updated_at as string),
      ...(create.expiresAt === undefined ? {} : { expiresAt: new Date(document.expires_at as string) }),
    });
  }

  /**
   * The batch's metadata transaction failed: this create commits on its own (references bound as
   * an update binds them), with the secrets already written. Returns how to settle its caller.
   */
  async #commitAlone(member: Member): Promise<() => Promise<void>> {
    const { ctx, owner, config, resolve, reject } = member.create;
    try {
      await commitOrRollback(ctx, member.plan, async (trx) => {
        await insertDocument(trx, documentRow(member, '{}'));
        await setPartialConfig(trx, member.id, await bindPlan(trx, ctx, owner, member.plan, config, []));
      }, (error) => (isUniqueViolation(error) ? ownerTaken(owner) : error));
    } catch (error) {
      return async () => reject(error);
    }
    return () => this.#o.get(member.id).then(resolve, reject);
  }
}

/** The config_document row of a new config. */
function documentRow({ id, create }: Member, partialConfig: string): Insertable<ConfigDocumentTable> {
  const { ctx, scope, owner, specText, expiresAt } = create;
  const now = ctx.now.toISOString();
  return {
    id, scope_type: scope.type, scope_id: scope.id, owner_type: owner.type, owner_id: owner.id, spec: specText, partial_config: partialConfig,
    revision: 1, expires_at: expiresAt?.toISOString() ?? null, created_by: ctx.actor, updated_by: ctx.actor, created_at: now, updated_at: now,
  };
}

/** Runs `step` for every member; a member whose step throws is rejected with that error and dropped. */
async function settleEach(members: Member[], step: (member: Member) => Promise<void>): Promise<Member[]> {
  const kept: Member[] = [];
  for (const member of members) {
    try {
      await step(member);
      kept.push(member);
    } catch (error) {
      member.create.reject(error);
    }
  }
  return kept;
}

/** Orders strings as SQLite's BINARY collation orders their UTF-8 (by code point). */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}
