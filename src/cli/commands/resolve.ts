import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { LockboxError } from '../../errors.js';
import { parseDotenv } from '../../providers/dotenv-parse.js';
import { collectReferences, formatRef, resolveDocument, resolveString } from '../../references/index.js';
import { withContext, type GlobalOptions } from '../context.js';
import { out, outJson, writePrivateFile } from '../io.js';

type Format = 'yaml' | 'json' | 'env' | 'text';
const FORMATS: Format[] = ['yaml', 'json', 'env', 'text'];

export interface ResolveOptions extends GlobalOptions { format?: string; output?: string }

/** `lockbox resolve FILE` — the file with every `${secret:…}` resolved, as yaml, json, env or text. */
export async function resolve(file: string, options: ResolveOptions): Promise<void> {
  const { format: inputFormat, document } = await readDocument(file);
  const format = parseFormat(options.format) ?? inputFormat;
  const rendered = await withContext(options, async ({ manager, config }) => {
    const scope = options.tenant ?? config.tenant;
    if (inputFormat === 'text') {
      if (format !== 'text') throw new LockboxError('INVALID_ARGUMENT', `cannot turn the text file ${file} into ${format}`, { hint: 'use a .yaml, .json or .env input, or drop --format' });
      return resolveString(manager, document as string, { scope });
    }
    return render(await resolveDocument(manager, document, { scope }), format, file);
  });
  if (options.output) writePrivateFile(options.output, rendered);
  else process.stdout.write(rendered);
}

/** `lockbox check FILE` — every reference resolvable? Prints names and outcomes, never values. */
export async function check(file: string, options: GlobalOptions): Promise<void> {
  const { document } = await readDocument(file);
  const references = collectReferences(document);
  await withContext(options, async ({ manager, config }) => {
    const secrets = references.filter((r) => r.kind === 'secret');
    const scope = options.tenant ?? config.tenant;
    const outcomes = await manager.fetchMany(secrets.map((r) => ({ ...r.ref, scope: r.ref.scope ?? scope })));
    const rows = secrets.map((reference, i) => {
      const outcome = outcomes[i]!;
      const status = outcome.status === 'found' ? 'ok'
        : outcome.status === 'missing' ? (reference.optional || reference.defaultValue !== undefined ? 'ok (optional, missing)' : 'missing')
          : `error ${(outcome.error as { code?: string }).code ?? 'UNKNOWN'}`;
      return { reference: reference.raw, secret: formatRef(reference.ref), status };
    });
    for (const reference of references) {
      if (reference.kind !== 'env') continue;
      const set = process.env[reference.variable] !== undefined && process.env[reference.variable] !== '';
      rows.push({ reference: reference.raw, secret: `env:${reference.variable}`, status: set || reference.defaultValue !== undefined ? 'ok' : 'missing' });
    }
    const failed = rows.filter((row) => !row.status.startsWith('ok'));
    if (options.json) outJson({ file, references: rows, ok: failed.length === 0 });
    else for (const row of rows) out(`${row.status.startsWith('ok') ? 'ok     ' : 'FAIL   '} ${row.secret}  ${row.status.startsWith('ok') ? '' : row.status}`.trimEnd());
    if (failed.length > 0) {
      throw new LockboxError('UNRESOLVED_REFERENCES', `${failed.length} of ${rows.length} references in ${file} cannot be resolved`, {
        hint: 'set the missing secrets (lockbox set NAME) or mark them ?optional',
      });
    }
    if (!options.json) out(`all ${rows.length} references in ${file} resolve`);
  });
}

async function readDocument(file: string): Promise<{ format: Format; document: unknown }> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new LockboxError('INVALID_ARGUMENT', `cannot read ${file} (${(error as { code?: string }).code ?? 'error'})`, { hint: 'check the path' });
  }
  const extension = extname(file).toLowerCase();
  if (extension === '.json') {
    try {
      return { format: 'json', document: JSON.parse(text) };
    } catch {
      throw new LockboxError('INVALID_INPUT', `${file} is not valid JSON`, { hint: 'fix the JSON syntax (e.g. with `node -e "JSON.parse(...)"`)' });
    }
  }
  if (extension === '.yaml' || extension === '.yml') {
    const { parseDocument } = await import('yaml');
    const parsed = parseDocument(text, { prettyErrors: false });
    const first = parsed.errors[0];
    if (first) {
      const at = first.linePos?.[0];
      throw new LockboxError('INVALID_INPUT', `${file} is not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''} (${first.code})`, { hint: 'fix the YAML syntax there' });
    }
    return { format: 'yaml', document: parsed.toJS() };
  }
  if (extension === '.env') return { format: 'env', document: { ...parseDotenv(text) } };
  return { format: 'text', document: text };
}

function parseFormat(format: string | undefined): Format | undefined {
  if (format === undefined) return undefined;
  if (!FORMATS.includes(format as Format)) {
    throw new LockboxError('INVALID_ARGUMENT', `unknown --format "${format}"`, { hint: `use one of: ${FORMATS.join(', ')}` });
  }
  return format as Format;
}

async function render(document: unknown, format: Format, file: string): Promise<string> {
  if (format === 'json') return `${JSON.stringify(document, null, 2)}\n`;
  if (format === 'yaml') return (await import('yaml')).stringify(document);
  if (format === 'env') {
    if (typeof document !== 'object' || document === null || Array.isArray(document)) {
      throw new LockboxError('INVALID_ARGUMENT', `${file} is not a mapping, so it cannot be written as env`, { hint: 'use --format yaml or json' });
    }
    return Object.entries(document).map(([key, value]) => {
      if (typeof value === 'object' && value !== null) {
        throw new LockboxError('INVALID_ARGUMENT', `key "${key}" of ${file} is nested, so it cannot be written as env`, { hint: 'use --format yaml or json, or flatten the file' });
      }
      return `${key}=${quoteEnv(String(value ?? ''))}\n`;
    }).join('');
  }
  throw new LockboxError('INVALID_ARGUMENT', `cannot write a ${file} document as text`, { hint: 'use --format yaml, json or env' });
}

function quoteEnv(value: string): string {
  return /^[A-Za-z0-9_./:@+-]*$/.test(value) ? value : `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\$/g, '\\$')}"`;
}
