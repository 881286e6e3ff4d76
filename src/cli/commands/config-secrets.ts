import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { newManagedCoordinate, type SecretCoordinate } from '../../config-secrets/coordinates.js';
import { pointerNode } from '../../config-secrets/nodes.js';
import { hydrateConfig, maskConfig, processConfig, replaceAtPaths } from '../../config-secrets/transform.js';
import type { JsonSchema } from '../../config-secrets/spec.js';
import { LockboxError, NotFoundError } from '../../errors.js';
import type { SecretManager } from '../../manager/secret-manager.js';
import { parseSecretReference } from '../../references/index.js';
import type { SecretValue } from '../../secret-value.js';
import type { SecretRef } from '../../types.js';
import { withContext, type GlobalOptions } from '../context.js';
import { writePrivateFile } from '../io.js';

export interface SplitOptions extends GlobalOptions {
  scopeType?: string;
  scopeId?: string;
  output?: string;
}

/**
 * `lockbox config split SPEC CONFIG` — writes every raw secret field to the secret backend under
 * a new managed coordinate and prints the config with `{"_secret": coordinate}` pointers.
 */
export async function split(specFile: string, configFile: string, options: SplitOptions): Promise<void> {
  const spec = readJsonOrYaml(specFile, 'spec') as JsonSchema;
  const config = readJsonOrYaml(configFile, 'config');
  const processed = processConfig(spec, config);
  const scopeType = options.scopeType ?? 'workspace';
  const scopeId = options.scopeId ?? options.tenant ?? 'default';
  await withContext(options, async ({ manager }) => {
    const replacements = new Map<string, unknown>();
    const writes: Array<{ name: string; value: SecretValue }> = [];
    for (const { path, node } of processed) {
      if (node.kind === 'raw') {
        const coordinate = newManagedCoordinate({ scopeType, scopeId });
        writes.push({ name: coordinate.full, value: node.value });
        replacements.set(path, pointerNode(coordinate.full));
      } else if (node.kind === 'coordinate') {
        await assertExists(manager, node.coordinate, path, options);
        replacements.set(path, pointerNode(node.coordinate.full));
      } else if (node.kind === 'reference') {
        throw new LockboxError('SECRET_REFERENCE_NOT_FOUND', `${path}: reference ids need the config store, not files`, {
          hint: 'give the raw value, a {"_secret": coordinate} pointer or secret_coordinate::NAME',
        });
      } else {
        throw new LockboxError('SECRET_NODE_INVALID', `${path}: a masked value has nothing stored to keep`, {
          hint: 'give the raw value or the {"_secret": coordinate} pointer instead of the mask',
        });
      }
    }
    if (writes.length > 0) await manager.setMany(writes, { provider: options.provider });
    emit(replaceAtPaths(config, replacements), options.output);
  });
}

/** `lockbox config hydrate PARTIAL` — the config with every `{"_secret": …}` pointer replaced by its value. */
export async function hydrate(partialFile: string, options: GlobalOptions & { output?: string }): Promise<void> {
  const partial = readJsonOrYaml(partialFile, 'partial config');
  await withContext(options, async ({ manager }) => {
    const full = await hydrateConfig(partial, async (path, pointer) => {
      if (pointer.coordinate === undefined) {
        throw new LockboxError('SECRET_REFERENCE_NOT_FOUND', `${path}: only a _secret_reference_id, which needs the config store`, {
          hint: 'hydrate through the library (createConfigSecrets) or keep the _secret coordinate in the file',
        });
      }
      const ref = coordinateRef(pointer.coordinate, options);
      const record = await manager.get(ref);
      if (!record) throw new NotFoundError(`${pointer.coordinate} (at ${path})`);
      return record.value;
    });
    emit(full, options.output);
  });
}

/** `lockbox config mask SPEC CONFIG` — secret fields (and pointers) as "**********"; reads no secret. */
export async function mask(specFile: string, configFile: string, options: GlobalOptions & { output?: string }): Promise<void> {
  const spec = readJsonOrYaml(specFile, 'spec') as JsonSchema;
  emit(maskConfig(spec, readJsonOrYaml(configFile, 'config')), options.output);
}

async function assertExists(manager: SecretManager, coordinate: SecretCoordinate, path: string, options: GlobalOptions): Promise<void> {
  if (!(await manager.get(coordinateRef(coordinate.full, options)))) {
    throw new NotFoundError(`${coordinate.full} (at ${path})`, { hint: 'set it first (lockbox set NAME), or give the raw value' });
  }
}

function coordinateRef(coordinate: string, options: GlobalOptions): SecretRef {
  const ref = parseSecretReference(coordinate).ref;
  return { ...ref, provider: ref.provider ?? options.provider };
}

function readJsonOrYaml(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new LockboxError('INVALID_ARGUMENT', `cannot read the ${what} ${file} (${(error as { code?: string }).code ?? 'error'})`, { hint: 'check the path' });
  }
  try {
    return JSON.parse(text);
  } catch {
    if (extname(file) === '.json') throw new LockboxError('INVALID_INPUT', `the ${what} ${file} is not valid JSON`, { hint: 'fix the JSON syntax' });
  }
  throw new LockboxError('INVALID_INPUT', `the ${what} ${file} is not JSON`, { hint: 'config commands read JSON files' });
}

function emit(document: unknown, output: string | undefined): void {
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (output) writePrivateFile(output, text);
  else process.stdout.write(text);
}
