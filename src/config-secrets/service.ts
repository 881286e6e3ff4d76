/**
 * Config secrets (issue 5; seeds 000 and 001): stores JSON configs whose spec-marked secret
 * fields live in the secret manager, the config itself keeping pointers
 * `{ "_secret": coordinate, "_secret_reference_id": id }`. Reference rows record which owner
 * uses which secret at which path, so updates version secrets, deletes clean them up and a
 * secret in use cannot be deleted. See docs/config-secrets.md.
 */
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import type { SecretManager } from '../manager/secret-manager.js';
import type { ConfigSecrets, ConfigSecretsOptions, CreateConfigInput, SavedConfig, UpdateConfigOptions } from './api.js';
import { parseCoordinate } from './coordinates.js';
import { CreateBatcher } from './create-batch.js';
import {
  DEFAULT_SECRET_STORAGE_ID, bumpRevision, deleteDocument, deleteOwnerReferences, findSecretConfig, findStorage,
  getOrCreateSecretConfig, listExpiredDocuments, listOwnerReferences, setPartialConfig, settleUnreferenced, toBoolean, usagesOf,
  type ConfigSecretsDb, type DocumentRow, type Owner, type SecretUsage, type StorageRow,
} from './repository.js';
import { collectGarbage, destroySecret, loadStorage, readSecrets } from './secret-io.js';
import { bindPlan, commitOrRollback, isEphemeral, legacyCoordinates, persistedPointers, planSecrets, type ConfigScope, type PlanContext } from './secret-plan.js';
import { conflict, inUse, notFound, parse } from './service-errors.js';
import { Statements } from './statements.js';
import { hydrateConfigWith, maskConfig, processConfig } from './transform.js';

export type { ConfigScope, Owner, SecretUsage };
export type { ConfigSecrets, ConfigSecretsOptions, CreateConfigInput, SavedConfig, SecretBinding, UpdateConfigOptions } from './api.js';

/** Builds the service; nothing touches the database until the first call. */
export function createConfigSecrets(options: ConfigSecretsOptions): ConfigSecrets {
  return new ConfigSecretsService(parse(optionsSchema, options, 'config-secrets options') as Required<ConfigSecretsOptions>);
}

const scopeSchema = z.object({
  type: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'letters, digits and "-" (at most 64)'),
  id: z.string().regex(/^[A-Za-z0-9-]{1,128}$/, 'letters, digits and "-" (at most 128)'),
}).strict();
const ownerSchema = z.object({ type: z.string().min(1).max(64), id: z.string().min(1).max(256) }).strict();
const jsonObject = z.record(z.unknown());
const actorSchema = z.string().min(1).max(256).optional();
const createSchema = z.object({ scope: scopeSchema, owner: ownerSchema, spec: jsonObject, config: jsonObject, actor: actorSchema }).strict();
const updateSchema = z.object({ expectedRevision: z.number().int().min(1).optional(), actor: actorSchema, spec: jsonObject.optional() }).strict();
const idSchema = z.string().min(1).max(256);
const optionsSchema = z.object({
  manager: z.custom<SecretManager>((m) => typeof m === 'object' && m !== null && 'set' in m && 'get' in m, 'a SecretManager'),
  db: z.custom<ConfigSecretsDb>((d) => typeof d === 'object' && d !== null && 'transaction' in d, 'a Kysely instance'),
  prefix: z.string().regex(/^(lockbox_|airbyte_)[A-Za-z0-9._-]*$/, 'starts with "lockbox_" or "airbyte_", then [A-Za-z0-9._-]').default('lockbox_'),
  storageId: z.string().min(1).default(DEFAULT_SECRET_STORAGE_ID),
  now: z.custom<() => Date>((f) => typeof f === 'function', 'a function returning a Date').default(() => () => new Date()),
  actor: z.string().min(1).default('lockbox'),
  ephemeralTtlMs: z.number().int().positive().default(2 * 60 * 60 * 1000),
  migrate: z.boolean().default(true),
  maxCreateBatch: z.number().int().min(1).max(1024).default(64),
});

class ConfigSecretsService implements ConfigSecrets {
  readonly #o: Required<ConfigSecretsOptions>;
  readonly #statements: Statements;
  readonly #creates: CreateBatcher;
  #storage?: Promise<StorageRow>;

  constructor(options: Required<ConfigSecretsOptions>) {
    this.#o = options;
    this.#statements = new Statements(options.db);
    this.#creates = new CreateBatcher({ get: (id) => this.get(id), maxCreates: options.maxCreateBatch });
  }

  async create(input: CreateConfigInput): Promise<SavedConfig> {
    const { scope, owner, config, actor } = parse(createSchema, input, 'create input');
    // The caller's spec object (not zod's copy) keeps its compiled form cached; its text is taken now.
    const processed = processConfig(input.spec, config);
    const specText = JSON.stringify(input.spec);
    const ctx = await this.#context(actor);
    const expiresAt = isEphemeral(scope) ? new Date(ctx.now.getTime() + this.#o.ephemeralTtlMs) : undefined;
    return new Promise<SavedConfig>((resolve, reject) => {
      this.#creates.submit({ ctx, scope, owner, specText, config, processed, expiresAt, resolve, reject });
    });
  }

  async get(id: string): Promise<SavedConfig> {
    const document = await this.#document(id);
    const references = await this.#statements.ownerReferences(this.#o.db, ownerOf(document));
    const secrets = references.filter((r) => r.path !== null).map((r) => ({ path: r.path!, coordinate: r.coordinate, referenceId: r.id, secretConfigId: r.secretConfigId, managed: r.managed }));
    return {
      id: document.id, revision: document.revision, scope: { type: document.scope_type, id: document.scope_id }, owner: ownerOf(document),
      spec: JSON.parse(document.spec), config: JSON.parse(document.partial_config), secrets,
      createdAt: new Date(document.created_at), updatedAt: new Date(document.updated_at),
      ...(document.expires_at === null ? {} : { expiresAt: new Date(document.expires_at) }),
    };
  }

  async update(id: string, nextConfig: Record<string, unknown>, options: UpdateConfigOptions = {}): Promise<SavedConfig> {
    const config = parse(jsonObject, nextConfig, 'config');
    const { expectedRevision, actor, spec } = parse(updateSchema, options, 'update options');
    const document = await this.#document(id);
    const expected = expectedRevision ?? document.revision;
    if (expected !== document.revision) throw conflict(id, expected);
    const processed = processConfig((spec && options.spec) ?? JSON.parse(document.spec), config);
    const ctx = await this.#context(actor);
    const owner = ownerOf(document);
    const persisted = persistedPointers(JSON.parse(document.partial_config), await this.#statements.ownerReferences(ctx.db, owner));
    const expiresAt = document.expires_at === null ? undefined : new Date(document.expires_at);
    const scope = { type: document.scope_type, id: document.scope_id };
    const plan = await planSecrets(ctx, { processed, owner, scope, persisted, expiresAt });
    await commitOrRollback(ctx, plan, async (trx) => {
      const changes = { updated_by: ctx.actor, updated_at: ctx.now.toISOString(), ...(spec ? { spec: JSON.stringify(spec) } : {}) };
      if (!(await bumpRevision(trx, id, expected, changes))) throw conflict(id, expected);
      await setPartialConfig(trx, id, await bindPlan(trx, ctx, owner, plan, config, legacyCoordinates(persisted)));
    });
    await collectGarbage(ctx);
    return this.get(id);
  }

  async masked(id: string): Promise<unknown> {
    const document = await this.#document(id);
    return maskConfig(JSON.parse(document.spec), JSON.parse(document.partial_config));
  }

  async hydrate(id: string): Promise<unknown> {
    const ctx = await this.#context();
    const rows = await this.#statements.hydrationRows(ctx.db, parse(idSchema, id, 'config id'));
    const partial = rows.find((row) => row.partial_config !== null)?.partial_config;
    if (partial === undefined || partial === null) throw notFound(id);
    const references = new Map(rows.filter((r) => r.reference_id !== null).map((r) => [r.reference_id!, r]));
    return hydrateConfigWith(JSON.parse(partial), async (found) => {
      // Dual read (seed 000 §6): a reference id wins; a lone `_secret` is a legacy pointer.
      const reads = found.map(({ path, pointer }) => {
        const reference = pointer.referenceId === undefined ? undefined : references.get(pointer.referenceId);
        if (!reference && pointer.coordinate === undefined) {
          throw new LockboxError('SECRET_REFERENCE_NOT_FOUND', `secret field ${path} of config ${id} names _secret_reference_id ${pointer.referenceId}, which does not exist`);
        }
        return { path, coordinate: parseCoordinate(reference?.coordinate ?? pointer.coordinate!), providerId: reference?.provider_id ?? ctx.storage.provider_id };
      });
      const records = await readSecrets(ctx.manager, reads);
      return records.map((record, i) => {
        if (record) return record.value;
        const { coordinate, path } = reads[i]!;
        throw new LockboxError('NOT_FOUND', `secret ${coordinate.full} for ${path} of config ${id} not found`, { hint: 'the secret was deleted outside lockbox, or an ephemeral secret expired' });
      });
    });
  }

  async delete(id: string): Promise<void> {
    const document = await this.#document(id);
    const ctx = await this.#context();
    const owner = ownerOf(document);
    const legacy = legacyCoordinates(persistedPointers(JSON.parse(document.partial_config), await listOwnerReferences(ctx.db, owner)));
    await ctx.db.transaction().execute(async (trx) => {
      if (!(await deleteDocument(trx, id))) throw notFound(id);
      const released = await deleteOwnerReferences(trx, owner);
      for (const coordinate of legacy) released.push(await getOrCreateSecretConfig(trx, { storageId: ctx.storage.id, coordinate, managed: true, actor: ctx.actor, now: ctx.now.toISOString() }));
      await settleUnreferenced(trx, released, ctx.actor, ctx.now.toISOString());
    });
    await collectGarbage(ctx);
  }

  async deleteSecretConfig(secretConfigId: string): Promise<void> {
    const ctx = await this.#context();
    const row = await findSecretConfig(ctx.db, secretConfigId);
    if (!row) throw new LockboxError('NOT_FOUND', `secret config ${secretConfigId} not found`);
    await ctx.db.transaction().execute(async (trx) => {
      const users = await usagesOf(trx, secretConfigId);
      if (users.length > 0) throw inUse(row, users);
      if (toBoolean(row.managed)) await trx.updateTable('secret_config').set({ tombstone: 1, updated_by: ctx.actor, updated_at: ctx.now.toISOString() }).where('id', '=', row.id).execute();
      else await trx.deleteFrom('secret_config').where('id', '=', row.id).execute();
    });
    if (!toBoolean(row.managed)) return;
    const storage = await findStorage(ctx.db, row.secret_storage_id);
    await destroySecret(ctx, { id: row.id, coordinate: row.external_coordinate, providerId: storage?.provider_id ?? ctx.storage.provider_id });
  }

  async usages(secretConfigId: string): Promise<SecretUsage[]> {
    const ctx = await this.#context();
    if (!(await findSecretConfig(ctx.db, secretConfigId))) throw new LockboxError('NOT_FOUND', `secret config ${secretConfigId} not found`);
    return usagesOf(ctx.db, secretConfigId);
  }

  async purgeEphemeral(now: Date = this.#o.now()): Promise<{ configIds: string[] }> {
    await this.#context();
    const configIds: string[] = [];
    for (const id of await listExpiredDocuments(this.#o.db, now.toISOString())) {
      try {
        await this.delete(id);
        configIds.push(id);
      } catch (error) {
        if (!(error instanceof LockboxError && error.code === 'NOT_FOUND')) throw error;
      }
    }
    return { configIds };
  }

  async #document(id: string): Promise<DocumentRow> {
    await this.#context();
    const document = await this.#statements.document(this.#o.db, parse(idSchema, id, 'config id'));
    if (!document) throw notFound(id);
    return document;
  }

  async #context(actor?: string): Promise<PlanContext> {
    this.#storage ??= loadStorage(this.#o).catch((error: unknown) => {
      this.#storage = undefined;
      throw error;
    });
    const { manager, db, prefix } = this.#o;
    return { db, manager, prefix, storage: await this.#storage, actor: actor ?? this.#o.actor, now: this.#o.now(), statements: this.#statements };
  }
}

function ownerOf(document: DocumentRow): Owner {
  return { type: document.owner_type, id: document.owner_id };
}
