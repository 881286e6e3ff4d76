/**
 * Config secrets (issue 5; seeds 000 and 001): stores JSON configs whose spec-marked secret
 * fields live in the secret manager, the config itself keeping pointers
 * `{ "_secret": coordinate, "_secret_reference_id": id }`. Reference rows record which owner
 * uses which secret at which path, so updates version secrets, deletes clean them up and a
 * secret in use cannot be deleted. See docs/config-secrets.md.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import type { SecretManager } from '../manager/secret-manager.js';
import { parseCoordinate } from './coordinates.js';
import { pointerNode } from './nodes.js';
import {
  DEFAULT_SECRET_STORAGE_ID, bindReferences, bumpRevision, deleteDocument, deleteOwnerReferences, findDocument,
  findDocumentByOwner, findSecretConfig, findStorage, getOrCreateSecretConfig, insertDocument, isUniqueViolation,
  listExpiredDocuments, listOwnerReferences, setPartialConfig, settleUnreferenced, toBoolean, usagesOf,
  type ConfigSecretsDb, type DocumentRow, type Owner, type SecretUsage, type StorageRow,
} from './repository.js';
import {
  collectGarbage, commitOrRollback, conflict, destroySecret, inUse, isEphemeral, legacyCoordinates, loadStorage, notFound,
  ownerTaken, parse, persistedPointers, planSecrets, readSecret, type ConfigScope, type PlanContext, type SecretPlan,
} from './secret-plan.js';
import { hydrateConfig, maskConfig, processConfig, replaceAtPaths } from './transform.js';

export type { ConfigScope, Owner, SecretUsage };

/** Options of createConfigSecrets. */
export interface ConfigSecretsOptions {
  /** The manager secrets are written to and read through. */
  manager: SecretManager;
  /** Kysely over the config-secrets tables (see createConfigSecretsDatabase). */
  db: ConfigSecretsDb;
  /** Prefix of new managed coordinates; must start with "lockbox_" or "airbyte_". @default "lockbox_" */
  prefix?: string;
  /** Storage new secrets go to; the default one is created from the manager's first writable provider when missing. @default DEFAULT_SECRET_STORAGE_ID */
  storageId?: string;
  /** Clock (created/updated times, ephemeral expiry). @default () => new Date() */
  now?: () => Date;
  /** Recorded as created_by / updated_by when a call names no actor. @default "lockbox" */
  actor?: string;
  /** Lifetime of ephemeral configs and their secrets. @default 7_200_000 (2 hours) */
  ephemeralTtlMs?: number;
  /** Apply the table migrations before the first call. @default true */
  migrate?: boolean;
}

/** What create takes. */
export interface CreateConfigInput {
  /** Scope of the config; new coordinates embed it. `ephemeral` (or the all-zero id) expires after ephemeralTtlMs. */
  scope: ConfigScope;
  /** Who the secret references belong to, e.g. `{ type: 'actor', id }`; one config per owner. */
  owner: Owner;
  /** JSON Schema; fields with `airbyte_secret: true` or `x-secret: true` are secrets. */
  spec: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Recorded as created_by. @default the service's actor */
  actor?: string;
}

/** Options of update. */
export interface UpdateConfigOptions {
  /** Revision the caller read; another update committed since → CONFLICT. @default the revision read by this call */
  expectedRevision?: number;
  /** Recorded as updated_by. @default the service's actor */
  actor?: string;
  /** A new spec (e.g. a connector upgrade). @default the stored spec */
  spec?: Record<string, unknown>;
}

/** One secret field of a stored config. Never a value. */
export interface SecretBinding { path: string; coordinate: string; referenceId: string; secretConfigId: string; managed: boolean }

/** A stored config: `config` holds pointers where the secrets were. */
export interface SavedConfig {
  id: string;
  revision: number;
  scope: ConfigScope;
  owner: Owner;
  spec: Record<string, unknown>;
  config: Record<string, unknown>;
  secrets: SecretBinding[];
  createdAt: Date;
  updatedAt: Date;
  expiresAt?: Date;
}

/** The config-secrets service. */
export interface ConfigSecrets {
  create(input: CreateConfigInput): Promise<SavedConfig>;
  get(id: string): Promise<SavedConfig>;
  update(id: string, nextConfig: Record<string, unknown>, options?: UpdateConfigOptions): Promise<SavedConfig>;
  /** The config with every secret field as "**********": safe for an API response. */
  masked(id: string): Promise<unknown>;
  /** The full config with secret values, for the process that needs them. */
  hydrate(id: string): Promise<unknown>;
  delete(id: string): Promise<void>;
  /** Deletes a secret nobody uses (managed: destroyed; external: only forgotten). SECRET_IN_USE otherwise. */
  deleteSecretConfig(secretConfigId: string): Promise<void>;
  usages(secretConfigId: string): Promise<SecretUsage[]>;
  /** Deletes ephemeral configs expired at `now`, with their references and secrets. */
  purgeEphemeral(now?: Date): Promise<{ configIds: string[] }>;
}

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
});

class ConfigSecretsService implements ConfigSecrets {
  readonly #o: Required<ConfigSecretsOptions>;
  #storage?: Promise<StorageRow>;

  constructor(options: Required<ConfigSecretsOptions>) {
    this.#o = options;
  }

  async create(input: CreateConfigInput): Promise<SavedConfig> {
    const { scope, owner, spec, config, actor } = parse(createSchema, input, 'create input');
    const processed = processConfig(spec, config);
    const ctx = await this.#context(actor);
    const existing = await findDocumentByOwner(ctx.db, owner);
    if (existing) throw ownerTaken(owner, existing.id);
    const expiresAt = isEphemeral(scope) ? new Date(ctx.now.getTime() + this.#o.ephemeralTtlMs) : undefined;
    const plan = await planSecrets(ctx, { processed, owner, scope, persisted: new Map(), expiresAt });
    const id = randomUUID();
    const now = ctx.now.toISOString();
    await commitOrRollback(ctx, plan, async (trx) => {
      await insertDocument(trx, {
        id, scope_type: scope.type, scope_id: scope.id, owner_type: owner.type, owner_id: owner.id, spec: JSON.stringify(spec),
        partial_config: '{}', revision: 1, expires_at: expiresAt?.toISOString() ?? null, created_by: ctx.actor, updated_by: ctx.actor, created_at: now, updated_at: now,
      });
      await setPartialConfig(trx, id, await this.#bind(trx, ctx, owner, plan, config, []));
    }, (error) => (isUniqueViolation(error) ? ownerTaken(owner) : error));
    await collectGarbage(ctx);
    return this.get(id);
  }

  async get(id: string): Promise<SavedConfig> {
    const document = await this.#document(id);
    const references = await listOwnerReferences(this.#o.db, ownerOf(document));
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
    const nextSpec = spec ?? JSON.parse(document.spec);
    const processed = processConfig(nextSpec, config);
    const ctx = await this.#context(actor);
    const owner = ownerOf(document);
    const persisted = persistedPointers(JSON.parse(document.partial_config), await listOwnerReferences(ctx.db, owner));
    const expiresAt = document.expires_at === null ? undefined : new Date(document.expires_at);
    const scope = { type: document.scope_type, id: document.scope_id };
    const plan = await planSecrets(ctx, { processed, owner, scope, persisted, expiresAt });
    await commitOrRollback(ctx, plan, async (trx) => {
      const changes = { updated_by: ctx.actor, updated_at: ctx.now.toISOString(), ...(spec ? { spec: JSON.stringify(spec) } : {}) };
      if (!(await bumpRevision(trx, id, expected, changes))) throw conflict(id, expected);
      await setPartialConfig(trx, id, await this.#bind(trx, ctx, owner, plan, config, legacyCoordinates(persisted)));
    });
    await collectGarbage(ctx);
    return this.get(id);
  }

  async masked(id: string): Promise<unknown> {
    const document = await this.#document(id);
    return maskConfig(JSON.parse(document.spec), JSON.parse(document.partial_config));
  }

  async hydrate(id: string): Promise<unknown> {
    const document = await this.#document(id);
    const ctx = await this.#context();
    const references = new Map((await listOwnerReferences(ctx.db, ownerOf(document))).map((r) => [r.id, r]));
    return hydrateConfig(JSON.parse(document.partial_config), async (path, pointer) => {
      // Dual read (seed 000 §6): a reference id wins; a lone `_secret` is a legacy pointer.
      const reference = pointer.referenceId === undefined ? undefined : references.get(pointer.referenceId);
      if (!reference && pointer.coordinate === undefined) {
        throw new LockboxError('SECRET_REFERENCE_NOT_FOUND', `secret field ${path} of config ${id} names _secret_reference_id ${pointer.referenceId}, which does not exist`);
      }
      const coordinate = parseCoordinate(reference?.coordinate ?? pointer.coordinate!);
      const record = await readSecret(ctx.manager, coordinate, reference?.providerId ?? ctx.storage.provider_id, path);
      if (!record) throw new LockboxError('NOT_FOUND', `secret ${coordinate.full} for ${path} of config ${id} not found`, { hint: 'the secret was deleted outside lockbox, or an ephemeral secret expired' });
      return record.value;
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

  /**
   * Binds each path to its secret_config row and the owner's references; secrets that lost their
   * last user (incl. legacy managed coordinates no longer pointed at) are settled. Returns the partial config.
   */
  async #bind(trx: ConfigSecretsDb, ctx: PlanContext, owner: Owner, plan: SecretPlan, config: Record<string, unknown>, legacy: string[]): Promise<unknown> {
    const now = ctx.now.toISOString();
    const rows = new Map<string, string>();
    for (const b of plan.bindings) rows.set(b.path, b.secretConfigId ?? await getOrCreateSecretConfig(trx, { storageId: b.storageId, coordinate: b.coordinate, managed: b.managed, actor: ctx.actor, now }));
    const { referenceIds, released } = await bindReferences(trx, owner, rows, now);
    const bound = new Set(plan.bindings.map((b) => b.coordinate));
    for (const coordinate of legacy.filter((c) => !bound.has(c))) released.push(await getOrCreateSecretConfig(trx, { storageId: ctx.storage.id, coordinate, managed: true, actor: ctx.actor, now }));
    await settleUnreferenced(trx, released, ctx.actor, now);
    return replaceAtPaths(config, new Map(plan.bindings.map((b) => [b.path, pointerNode(b.coordinate, referenceIds.get(b.path))])));
  }

  async #document(id: string): Promise<DocumentRow> {
    await this.#context();
    const document = await findDocument(this.#o.db, parse(idSchema, id, 'config id'));
    if (!document) throw notFound(id);
    return document;
  }

  async #context(actor?: string): Promise<PlanContext> {
    this.#storage ??= loadStorage(this.#o).catch((error: unknown) => {
      this.#storage = undefined;
      throw error;
    });
    const { manager, db, prefix } = this.#o;
    return { db, manager, prefix, storage: await this.#storage, actor: actor ?? this.#o.actor, now: this.#o.now() };
  }
}

function ownerOf(document: DocumentRow): Owner {
  return { type: document.owner_type, id: document.owner_id };
}
