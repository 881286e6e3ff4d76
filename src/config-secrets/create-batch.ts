/**
 * Group commit for creates. A create is validated and classified by the caller's own call;
 * then it waits here, and every create that arrives while the batch before it is being claimed
 * (or in the same tick) goes into the next batch. A batch passes three stages, in order:
 *
 * 1. claim — one owner look-up and one coordinate reservation (one database commit), so a
 *    crash after stage 2 leaves rows that garbage collection finds, never unknown secrets;
 * 2. secrets — one `manager.setMany` (one local-store transaction, one fsync);
 * 3. commit — one metadata transaction (documents and references); then each create resolves.
 *
 * Each stage holds one batch at a time, but different batches fill different stages at once: while
 * batch N's secrets are sealed and written on the main thread, batch N+1 is claimed and batch N-1
 * committed by the database (on its worker thread, see worker-dialect.ts).
 *
 * One create cannot fail the others: per-create checks (owner taken, reference ids, coordinates)
 * reject only that create; when a shared step fails, what the batch wrote is undone and its
 * creates are written again, each in a batch of its own (or, when only the metadata transaction
 * failed, each commits on its own with the secrets already written), each settling with its own
 * result or error. Two creates of one owner are never in flight together: the second waits for
 * the first to settle (and then fails as OWNER_TAKEN if the first was stored).
 */
import type { Insertable } from 'kysely';
import type { SavedConfig } from './api.js';
import { commitAlone, commitMembers, settleCommitted, settleEach, type Member, type PendingCreate } from './create-batch-settle.js';
import { timeOrderedUuid } from './ids.js';
import { configRow } from './repository.js';
import type { SecretConfigTable } from './schema.js';
import { collectGarbage } from './secret-io.js';
import { bindGivenSecrets, freshCoordinates, reserveCoordinate, rollbackPlan, type RawSecret } from './secret-plan.js';
import { ownerTaken } from './service-errors.js';
import { ownerKey } from './statements.js';

export type { PendingCreate } from './create-batch-settle.js';

/** What the batcher needs of the service. */
export interface CreateBatchOptions {
  /** Reads a committed config back (used where the batch cannot build the result itself). */
  get: (id: string) => Promise<SavedConfig>;
  /** Most creates per batch. */
  maxCreates: number;
}

/** How often create batches retry destroying tombstoned secrets. */
const COLLECT_EVERY_MS = 1000;

/** Most secrets written by one batch (a create with more still goes, alone). */
const MAX_SECRETS_PER_BATCH = 4096;

/** Queues creates and writes them in batches through the three stages. */
export class CreateBatcher {
  readonly #o: CreateBatchOptions;
  readonly #queue: PendingCreate[] = [];
  /** Creates waiting for an earlier create of the same owner to settle, by owner. */
  readonly #waiting = new Map<string, PendingCreate[]>();
  /** Owners with a create in a batch that has not settled yet. */
  readonly #inFlight = new Set<string>();
  /** When the last batch to enter each stage has left it. */
  #secretsFree: Promise<void> = Promise.resolve();
  #commitFree: Promise<void> = Promise.resolve();
  #draining = false;
  /** When create batches last collected garbage (ms since the epoch). */
  #collectedAt = 0;
  /** Batches claimed and not yet committed. */
  #pastClaim = 0;

  constructor(options: CreateBatchOptions) {
    this.#o = options;
  }

  /** Queues a validated create; it settles through its own resolve/reject. */
  submit(create: PendingCreate): void {
    const key = ownerKey(create.owner);
    if (this.#inFlight.has(key)) {
      const waiting = this.#waiting.get(key) ?? [];
      waiting.push(create);
      this.#waiting.set(key, waiting);
      return;
    }
    this.#inFlight.add(key);
    this.#queue.push(create);
    this.#kick();
  }

  #kick(): void {
    if (this.#draining || this.#queue.length === 0) return;
    this.#draining = true;
    void this.#drain();
  }

  /** Takes a batch whenever the claim stage is free; the batch goes on through the later stages by itself. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // Callers settled by the last batch often create again at once: let their calls arrive first.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = this.#take();
        const secretsTurn = this.#secretsFree;
        const commitTurn = this.#commitFree;
        let leaveSecrets!: () => void;
        let leaveCommit!: () => void;
        this.#secretsFree = new Promise((resolve) => { leaveSecrets = resolve; });
        this.#commitFree = new Promise((resolve) => { leaveCommit = resolve; });
        const claimed = await this.#claim(batch).catch((error: unknown) => this.#requeue(batch, error));
        this.#pastClaim++;
        void this.#finish(claimed, secretsTurn, commitTurn, leaveSecrets, leaveCommit).finally(() => { this.#pastClaim--; });
      }
    } finally {
      this.#draining = false;
    }
    this.#kick(); // a create requeued after the loop saw an empty queue
  }

  /**
   * The next batch. When no batch is past its claim, a burst is split in two, so that the second
   * half is claimed while the first half's secrets are written: the stages overlap from then on.
   */
  #take(): PendingCreate[] {
    if (this.#queue[0]?.alone) return this.#queue.splice(0, 1);
    const limit = this.#pastClaim === 0 ? Math.min(this.#o.maxCreates, Math.ceil(this.#queue.length / 2)) : this.#o.maxCreates;
    let secrets = 0;
    let count = 0;
    while (count < this.#queue.length && count < limit && !this.#queue[count]!.alone) {
      secrets += this.#queue[count]!.processed.length;
      if (count > 0 && secrets > MAX_SECRETS_PER_BATCH) break;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  /** Stage 1: owner look-up, the given secrets checked, fresh coordinates reserved. Returns the members left. */
  async #claim(batch: PendingCreate[]): Promise<Member[]> {
    const { db, statements } = batch[0]!.ctx;
    const taken = await statements.configsOfOwners(db, batch.map((create) => create.owner));
    let members: Member[] = [];
    for (const create of batch) {
      const key = ownerKey(create.owner);
      if (taken.has(key)) this.#settled(create, () => create.reject(ownerTaken(create.owner, taken.get(key))));
      else members.push({ create, id: timeOrderedUuid(), plan: { bindings: [], written: [] }, raw: [], referenceIds: new Map() });
    }
    members = await settleEach(members, async (member) => {
      const { ctx, processed, owner } = member.create;
      const { bindings, raw } = await bindGivenSecrets(ctx, { processed, owner, persisted: new Map() });
      member.plan.bindings.push(...bindings);
      member.raw = raw;
    }, (member, error) => this.#settled(member.create, () => member.create.reject(error)));
    if (members.length === 0) return members;
    try {
      await this.#reserve(members);
    } catch (error) {
      return this.#undo(members, error);
    }
    return members;
  }

  /** Stages 2 and 3 of a claimed batch, each in its turn. */
  async #finish(members: Member[], secretsTurn: Promise<void>, commitTurn: Promise<void>, leaveSecrets: () => void, leaveCommit: () => void): Promise<void> {
    let written = members;
    try {
      await secretsTurn;
      if (members.length > 0) {
        try {
          await this.#writeSecrets(members);
        } catch (error) {
          written = await this.#undo(members, error);
        }
      }
    } finally {
      leaveSecrets();
    }
    try {
      await commitTurn;
      if (written.length > 0) await this.#commit(written);
    } catch (error) {
      for (const member of written) this.#settled(member.create, () => member.create.reject(error)); // unexpected: never leave a caller waiting
    } finally {
      leaveCommit();
    }
  }

  /** Stage 3: the metadata transaction (or, when it fails, one per create), then every create settles. */
  async #commit(members: Member[]): Promise<void> {
    let fast = true;
    try {
      await commitMembers(members);
    } catch {
      fast = false;
    }
    const settle: Array<() => Promise<void>> = [];
    for (const member of members) settle.push(fast ? () => settleCommitted(member, this.#o.get) : await commitAlone(member, this.#o.get));
    // A batch committed together tombstones nothing: it only retries what an earlier call could not
    // destroy, at most once a second. A create committed alone may have replaced leftover references.
    if (!fast || Date.now() - this.#collectedAt >= COLLECT_EVERY_MS) {
      this.#collectedAt = Date.now();
      await collectGarbage(members[0]!.create.ctx).catch(() => undefined); // what failed is retried later
    }
    for (const [i, settleOne] of settle.entries()) {
      const { create } = members[i]!;
      this.#release(create);
      await settleOne();
    }
  }

  /**
   * A shared step failed: what the batch wrote is destroyed (what cannot be stays tombstoned for a
   * later clean-up), then its creates are requeued (see #requeue). Never throws.
   */
  async #undo(members: Member[], error: unknown): Promise<Member[]> {
    for (const member of members) await rollbackPlan(member.create.ctx, member.plan).catch(() => undefined);
    return this.#requeue(members.map((m) => m.create), error);
  }

  /** A shared step failed: a lone create gets the error; several are written again, each alone. */
  #requeue(creates: PendingCreate[], error: unknown): Member[] {
    if (creates.length === 1) {
      this.#settled(creates[0]!, () => creates[0]!.reject(error));
      return [];
    }
    for (const create of creates) create.alone = true;
    this.#queue.unshift(...creates);
    this.#kick();
    return [];
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
    const inserted = await statements.reserveSecretConfigs(db, claims.map((claim) => claim.row));
    for (const { member, raw, row } of claims) {
      const { ctx, scope } = member.create;
      const claimed = inserted.has(row.id) ? { id: row.id, coordinate: row.external_coordinate } : await reserveCoordinate(ctx, scope, undefined, raw.path);
      member.plan.written.push({ secretConfigId: claimed.id, coordinate: claimed.coordinate, providerId: ctx.storage.provider_id });
      member.plan.bindings.push({ path: raw.path, coordinate: claimed.coordinate, managed: true, storageId: ctx.storage.id, secretConfigId: claimed.id });
    }
  }

  /** Stage 2: every raw value of the batch in one setMany per provider (one local-store transaction). */
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

  /** Settles a create that will not be written (again) and lets the next create of its owner go. */
  #settled(create: PendingCreate, settle: () => void): void {
    this.#release(create);
    settle();
  }

  /** The owner's create is done: the next one waiting for that owner is queued. */
  #release(create: PendingCreate): void {
    const key = ownerKey(create.owner);
    const waiting = this.#waiting.get(key);
    const next = waiting?.shift();
    if (waiting !== undefined && waiting.length === 0) this.#waiting.delete(key);
    this.#inFlight.delete(key);
    if (next !== undefined) this.submit(next);
  }
}
