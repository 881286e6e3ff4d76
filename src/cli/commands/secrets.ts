import { readFileSync } from 'node:fs';
import { LockboxError, NotFoundError } from '../../errors.js';
import { generateSecret } from '../../generate.js';
import { describeRef } from '../../manager/secret-manager.js';
import type { SecretMetadata } from '../../types.js';
import { secretArgument, withContext, type GlobalOptions } from '../context.js';
import { out, outJson, parseDurationMs, parseTags, readStdin, stripTrailingNewline } from '../io.js';

export interface GetOptions extends GlobalOptions { version?: string; field?: string }

/** `lockbox get NAME` — prints the value (or, with --json, the value and its metadata). */
export async function get(name: string, options: GetOptions): Promise<void> {
  await withContext(options, async ({ manager }) => {
    const ref = secretArgument(name, options);
    const record = await manager.get(ref);
    if (!record) throw new NotFoundError(describeRef(ref));
    if (options.json) outJson({ name: ref.name, provider: record.provider, ...metadataJson(record.metadata), value: record.value.reveal() });
    else process.stdout.write(`${record.value.reveal()}\n`);
  });
}

export interface SetCommandOptions extends GlobalOptions {
  fromFile?: string;
  generate?: string | boolean;
  ttl?: string;
  tag?: string[];
  pending?: boolean;
}

/** `lockbox set NAME` — value from stdin, --from-file or --generate[=N]; never echoed. */
export async function set(name: string, options: SetCommandOptions): Promise<void> {
  const value = readValue(options, `lockbox set ${name}`);
  const expiresAt = options.ttl ? new Date(Date.now() + parseDurationMs(options.ttl, '--ttl')) : undefined;
  const tags = parseTags(options.tag);
  await withContext(options, async ({ manager }) => {
    const ref = secretArgument(name, options);
    const meta = await manager.set(ref, value, { expiresAt, tags, pending: options.pending });
    if (options.json) outJson({ name: ref.name, ...metadataJson(meta) });
    else out(`set ${describeRef({ ...ref, provider: undefined })}: version ${meta.version}${meta.expiresAt ? `, expires ${meta.expiresAt.toISOString()}` : ''}`);
  });
}

/** `lockbox delete NAME` — soft delete (undelete restores) or --destroy. */
export async function remove(name: string, options: GlobalOptions & { destroy?: boolean; version?: string }): Promise<void> {
  await withContext(options, async ({ manager }) => {
    const ref = secretArgument(name, {});
    await manager.delete({ ...ref, provider: ref.provider ?? options.provider, scope: ref.scope ?? options.tenant }, { mode: options.destroy ? 'destroy' : 'soft', version: options.version });
    out(options.destroy ? `destroyed ${ref.name}${options.version ? ` version ${options.version}` : ''}` : `deleted ${ref.name} (restore with: lockbox undelete ${ref.name})`);
  });
}

/** `lockbox undelete NAME`. */
export async function undelete(name: string, options: GlobalOptions): Promise<void> {
  await withContext(options, async ({ manager }) => {
    await manager.undelete(secretArgument(name, options));
    out(`restored ${name}`);
  });
}

/** `lockbox list [PREFIX]` — names only, never values. */
export async function list(prefix: string | undefined, options: GlobalOptions): Promise<void> {
  await withContext(options, async ({ manager }) => {
    const listings = await manager.list(prefix ?? '', { scope: options.tenant, provider: options.provider });
    if (options.json) {
      outJson(listings.map((l) => ({ name: l.name, provider: l.provider, scope: l.scope, version: l.version, updatedAt: l.updatedAt?.toISOString(), tags: l.tags })));
      return;
    }
    for (const listing of listings) out(`${listing.name}\t${listing.provider}${listing.version ? `\tv${listing.version}` : ''}`);
  });
}

/** `lockbox versions NAME`. */
export async function versions(name: string, options: GlobalOptions): Promise<void> {
  await withContext(options, async ({ manager }) => {
    const all = await manager.versions(secretArgument(name, options));
    if (options.json) {
      outJson(all.map((v) => ({ ...v, createdAt: v.createdAt.toISOString(), expiresAt: v.expiresAt?.toISOString(), deletedAt: v.deletedAt?.toISOString() })));
      return;
    }
    for (const v of all) {
      const state = v.destroyed ? 'destroyed' : v.deletedAt ? 'deleted' : v.expiresAt && v.expiresAt.getTime() <= Date.now() ? 'expired' : '';
      out([`v${v.version}`, v.createdAt.toISOString(), v.labels.join(',') || '-', state].filter(Boolean).join('\t'));
    }
  });
}

/** `lockbox rollback NAME [VERSION]` — the old value becomes a new current version. */
export async function rollback(name: string, version: string | undefined, options: GlobalOptions): Promise<void> {
  await withContext(options, async ({ manager }) => {
    const meta = await manager.rollback(secretArgument(name, options), version ?? 'previous');
    out(`rolled back ${name} to ${version ?? 'previous'}: now version ${meta.version}`);
  });
}

function readValue(options: SetCommandOptions, command: string): string {
  if (options.generate !== undefined && options.generate !== false) {
    const length = options.generate === true ? 32 : Number(options.generate);
    if (!Number.isInteger(length)) throw new LockboxError('INVALID_ARGUMENT', `--generate=${String(options.generate)} is not a length`, { hint: 'write --generate=32' });
    return generateSecret({ length });
  }
  if (options.fromFile !== undefined) {
    try {
      return stripTrailingNewline(readFileSync(options.fromFile, 'utf8'));
    } catch (error) {
      throw new LockboxError('NO_VALUE', `cannot read --from-file ${options.fromFile} (${(error as { code?: string }).code ?? 'error'})`, { hint: 'check the path and its permissions' });
    }
  }
  const stdin = readStdin();
  if (stdin === undefined || stdin.length === 0) {
    throw new LockboxError('NO_VALUE', 'no value given: stdin is empty or a terminal', {
      hint: `pipe it (printf '%s' "$VALUE" | ${command}), or use --from-file PATH or --generate`,
    });
  }
  return stripTrailingNewline(stdin);
}

function metadataJson(meta: SecretMetadata): Record<string, unknown> {
  return {
    scope: meta.scope, version: meta.version, labels: meta.labels, createdAt: meta.createdAt.toISOString(),
    updatedAt: meta.updatedAt.toISOString(), expiresAt: meta.expiresAt?.toISOString(), tags: meta.tags,
  };
}
