/**
 * `lockbox rotate`: rotate one secret (staged: pending, then current), set or remove its
 * rotation policy (`--every`), or rotate every secret that is due (`--due`, cron-friendly).
 * See docs/rotation.md.
 */
import { readFileSync } from 'node:fs';
import { LockboxError } from '../../errors.js';
import { assertGeneratorOptions, CHARACTER_CLASSES, type CharacterClass, type GeneratorOptions } from '../../rotation/generator.js';
import { policyTags, readPolicyGenerator } from '../../rotation/policy-tags.js';
import type { RotateDueEntry, RotateDueSummary } from '../../rotation/policy.js';
import type { SecretManager } from '../../manager/secret-manager.js';
import type { SecretRef } from '../../types.js';
import { secretArgument, withContext, type GlobalOptions } from '../context.js';
import { out, outJson, stripTrailingNewline } from '../io.js';

/** Options of `lockbox rotate` (see main.ts for their help text). */
export interface RotateCommandOptions extends GlobalOptions {
  fromFile?: string;
  generate?: string | boolean;
  charset?: string;
  exclude?: string;
  excludeAmbiguous?: boolean;
  every?: string;
  due?: boolean;
  dryRun?: boolean;
}

/** `lockbox rotate [NAME]` — see the module comment. */
export async function rotate(name: string | undefined, options: RotateCommandOptions): Promise<void> {
  const generator = generatorOptions(options);
  if (options.due) return rotateDueCommand(name, options, generator);
  if (options.dryRun) throw argument('--dry-run goes with --due', 'run lockbox rotate --due --dry-run');
  if (name === undefined) throw argument('name the secret to rotate, or use --due', 'e.g. lockbox rotate db/password --generate=32');
  if (options.fromFile !== undefined && generator !== undefined) throw argument('--from-file and the generator options (--generate, --charset, --exclude…) exclude each other', 'drop one of them');
  const turnsOff = options.every !== undefined && options.every.trim().toLowerCase() === 'off';
  const newValue = options.fromFile !== undefined || options.generate !== undefined;
  if (turnsOff && newValue) throw argument('--every off removes the policy without rotating; it takes no new value', 'run lockbox rotate NAME --every off on its own');
  const value = options.fromFile !== undefined ? readValueFile(options.fromFile) : undefined;
  await withContext(options, async ({ manager, config }) => {
    const ref = target(name, options, config.tenant);
    if (options.every !== undefined && !newValue) {
      const policy = turnsOff ? null : { every: options.every, generate: generator ?? await storedGenerator(manager, ref) };
      const result = await manager.setRotationPolicy(ref, policy);
      if (options.json) outJson({ name: ref.name, provider: result.provider, changed: result.changed, version: result.metadata.version, every: policy?.every ?? null, dueAt: result.dueAt?.toISOString() ?? null });
      else if (policy === null) out(result.changed ? `${ref.name}: rotation policy removed` : `${ref.name}: has no rotation policy`);
      else out(`${ref.name}: rotate every ${policy.every}${result.changed ? '' : ' (unchanged)'}; next due ${result.dueAt!.toISOString()}`);
      return;
    }
    const tags = options.every !== undefined ? policyTags({ every: options.every, generate: generator }) : undefined;
    const metadata = await manager.rotate(ref, value !== undefined ? { value, tags } : { generate: generator, tags });
    if (options.json) {
      outJson({ name: ref.name, version: metadata.version, labels: metadata.labels });
      return;
    }
    const policy = options.every !== undefined ? `; rotate every ${options.every.trim()}` : '';
    out(`rotated ${name}: now version ${metadata.version} (the old value stays readable as ${ref.name}@previous)${policy}`);
  });
}

async function rotateDueCommand(name: string | undefined, options: RotateCommandOptions, generator: GeneratorOptions | undefined): Promise<void> {
  if (name !== undefined) throw argument('--due rotates every secret that is due and takes no NAME', 'run lockbox rotate --due, or lockbox rotate NAME');
  if (options.fromFile !== undefined || options.every !== undefined) throw argument('--due takes no --from-file or --every', 'set values and policies per secret: lockbox rotate NAME --every 30d');
  await withContext(options, async ({ manager }) => {
    const summary = await manager.rotateDue({ scope: options.tenant, provider: options.provider, generate: generator, dryRun: options.dryRun });
    if (options.json) outJson({ dryRun: options.dryRun === true, ...summary, entries: summary.entries.map(entryJson) });
    else {
      for (const entry of summary.entries) out(entryLine(entry));
      out(totalsLine(summary, options.dryRun === true));
    }
    if (summary.failed > 0) process.exitCode = 1;
  });
}

/** One plain line per secret: `STATUS NAME: detail`. */
function entryLine(entry: RotateDueEntry): string {
  const name = entry.scope ? `${entry.name} (tenant ${entry.scope})` : entry.name;
  switch (entry.status) {
    case 'rotated': return `rotated ${name}: version ${entry.version}`;
    case 'would-rotate': return `due ${name}: due since ${entry.dueAt!.toISOString()}`;
    case 'not-due': return `not-due ${name}: next due ${entry.dueAt!.toISOString()}`;
    default: return `failed ${name}: ${entry.code}: ${entry.message}`;
  }
}

function totalsLine(summary: RotateDueSummary, dryRun: boolean): string {
  return dryRun
    ? `dry run: ${summary.wouldRotate} due, ${summary.notDue} not due, ${summary.failed} failed`
    : `${summary.rotated} rotated, ${summary.notDue} not due, ${summary.failed} failed`;
}

function entryJson(entry: RotateDueEntry): Record<string, unknown> {
  return { ...entry, dueAt: entry.dueAt?.toISOString() };
}

/** The generator the options describe; undefined when none of them is given. */
function generatorOptions(options: RotateCommandOptions): GeneratorOptions | undefined {
  const { generate, charset, exclude, excludeAmbiguous } = options;
  if (generate === undefined && charset === undefined && exclude === undefined && !excludeAmbiguous) return undefined;
  const generator: GeneratorOptions = {};
  if (generate !== undefined && generate !== true) {
    const length = Number(generate);
    if (!/^\d+$/.test(String(generate)) || !Number.isSafeInteger(length)) throw argument(`--generate=${String(generate)} is not a length`, 'write --generate=32');
    generator.length = length;
  }
  if (charset !== undefined) {
    const names = charset.split(',').map((c) => c.trim()).filter(Boolean);
    const unknown = names.find((c) => !Object.hasOwn(CHARACTER_CLASSES, c));
    if (names.length === 0 || unknown !== undefined) {
      throw argument(`--charset "${charset}" ${unknown ? `names an unknown class "${unknown}"` : 'names no class'}`, `use a comma list of ${Object.keys(CHARACTER_CLASSES).join(', ')}`);
    }
    generator.classes = names as CharacterClass[];
  }
  if (exclude !== undefined) generator.exclude = exclude;
  if (excludeAmbiguous) generator.excludeAmbiguous = true;
  assertGeneratorOptions(generator);
  return generator;
}

/** The generator kept with the secret's current policy (a malformed one is dropped: the new policy replaces it). */
async function storedGenerator(manager: SecretManager, ref: SecretRef): Promise<GeneratorOptions | undefined> {
  const tags = (await manager.get({ ...ref, version: undefined }))?.metadata.tags;
  try {
    return readPolicyGenerator(tags);
  } catch {
    return undefined;
  }
}

/** The secret NAME names; without --tenant, the config's default tenant (as for get and set). */
function target(name: string, options: RotateCommandOptions, defaultTenant: string | undefined): SecretRef {
  const ref = secretArgument(name, options);
  ref.scope ??= defaultTenant;
  if (ref.version !== undefined || ref.field !== undefined) {
    throw argument(`rotate acts on a whole secret: "${name}" names a version or a field`, 'drop the @version / #field part');
  }
  return ref;
}

function readValueFile(path: string): string {
  try {
    return stripTrailingNewline(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new LockboxError('NO_VALUE', `cannot read --from-file ${path} (${(error as { code?: string }).code ?? 'error'})`, { hint: 'check the path and its permissions' });
  }
}

function argument(message: string, hint: string): LockboxError {
  return new LockboxError('INVALID_ARGUMENT', message, { hint });
}
