import { loadConfig, type LoadedConfig } from '../config/index.js';
import { createManagerFromConfig } from '../manager/create.js';
import type { SecretManager } from '../manager/secret-manager.js';
import { globalRedactor } from '../redaction/index.js';
import { parseSecretReference } from '../references/index.js';
import type { SecretRef } from '../types.js';

/** Options every command takes. */
export interface GlobalOptions {
  config?: string;
  provider?: string;
  tenant?: string;
  json?: boolean;
}

/** What a command works with: the loaded config and a manager built from it. */
export interface CommandContext {
  config: LoadedConfig;
  manager: SecretManager;
  options: GlobalOptions;
}

/** Loads lockbox.yaml (or the default) and builds the manager; the caller disposes it. */
export async function openContext(options: GlobalOptions): Promise<CommandContext> {
  const config = await loadConfig({ path: options.config, cwd: process.cwd(), env: process.env });
  const manager = await createManagerFromConfig(config, { redactor: globalRedactor, scope: options.tenant, auditStream: process.stderr });
  return { config, manager, options };
}

/** Runs a command body with a context, always disposing the manager. */
export async function withContext<T>(options: GlobalOptions, body: (context: CommandContext) => Promise<T>): Promise<T> {
  const context = await openContext(options);
  try {
    return await body(context);
  } finally {
    await context.manager.dispose();
  }
}

/**
 * Reads a secret argument: a plain name, or reference text (`provider:name@version#field`).
 * Global --provider / --tenant and the command's --version / --field fill what it leaves out.
 */
export function secretArgument(text: string, options: GlobalOptions & { version?: string; field?: string }): SecretRef {
  const parsed = parseSecretReference(text).ref;
  return {
    name: parsed.name,
    provider: parsed.provider ?? options.provider,
    scope: parsed.scope ?? options.tenant,
    version: options.version ?? parsed.version,
    field: options.field ?? parsed.field,
  };
}
