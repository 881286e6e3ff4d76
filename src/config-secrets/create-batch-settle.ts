/**
 * The last stage of a create batch (create-batch.ts): the rows a batch commits, and how each of
 * its creates settles — from what was written when the batch committed, or on its own when the
 * batch's metadata transaction failed.
 */
import type { Insertable } from 'kysely';
import type { SavedConfig } from './api.js';
import { timeOrderedUuid } from './ids.js';
import { pointerNode } from './nodes.js';
import { getOrCreateSecretConfig, insertDocument, isUniqueViolation, setPartialConfig, type Owner } from './repository.js';
import type { ConfigDocumentTable, SecretReferenceTable } from './schema.js';
import { bindPlan, commitOrRollback, type ConfigScope, type PlanContext, type RawSecret, type SecretPlan } from './secret-plan.js';
import { ownerTaken } from './service-errors.js';
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
  /** Set when a shared step of its batch failed: it is written again in a batch of its own. */
  alone?: boolean;
  resolve: (saved: SavedConfig) => void;
  reject: (error: unknown) => void;
}

/** One create of a batch, with what the batch has done for it so far. */
export interface Member { create: PendingCreate; id: string; plan: SecretPlan; raw: RawSecret[]; referenceIds: Map<string, string>; document?: Insertable<ConfigDocumentTable> }

/** One transaction: every document and every reference of the batch. */
export async function commitMembers(members: readonly Member[]): Promise<void> {
  const { statements, db } = members[0]!.create.ctx;
  const documents: Insertable<ConfigDocumentTable>[] = [];
  for (const member of members) {
    for (const binding of member.plan.bindings) member.referenceIds.set(binding.path, timeOrderedUuid());
    const partial = replaceAtPaths(member.create.config, new Map(member.plan.bindings.map((b) => [b.path, pointerNode(b.coordinate, member.referenceIds.get(b.path))])));
    member.document = documentRow(member, JSON.stringify(partial));
    documents.push(member.document);
  }
  await db.transaction().execute(async (trx) => {
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
export async function settleCommitted(member: Member, get: (id: string) => Promise<SavedConfig>): Promise<void> {
  const document = member.document!;
  const { create } = member;
  if (member.plan.bindings.some((b) => b.secretConfigId === undefined)) {
    await get(member.id).then(create.resolve, create.reject);
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
export async function commitAlone(member: Member, get: (id: string) => Promise<SavedConfig>): Promise<() => Promise<void>> {
  const { ctx, owner, config, resolve, reject } = member.create;
  try {
    await commitOrRollback(ctx, member.plan, async (trx) => {
      await insertDocument(trx, documentRow(member, '{}'));
      await setPartialConfig(trx, member.id, await bindPlan(trx, ctx, owner, member.plan, config, []));
    }, (error) => (isUniqueViolation(error) ? ownerTaken(owner) : error));
  } catch (error) {
    return async () => reject(error);
  }
  return () => get(member.id).then(resolve, reject);
}

/** Runs `step` for every member; a member whose step throws is dropped and given to `drop` with the error. */
export async function settleEach(members: Member[], step: (member: Member) => Promise<void>, drop: (member: Member, error: unknown) => void): Promise<Member[]> {
  const kept: Member[] = [];
  for (const member of members) {
    try {
      await step(member);
      kept.push(member);
    } catch (error) {
      drop(member, error);
    }
  }
  return kept;
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
