import { resolve } from 'node:path';
import { explain, decide, ACTIONS, type Action } from '../../access/index.js';
import { auditActionSchema, readAuditEvents, verifyAuditFile, type AuditAction, type AuditEvent } from '../../audit/index.js';
import { loadConfig, type LoadedConfig } from '../../config/index.js';
import { LockboxError } from '../../errors.js';
import { currentPrincipal } from '../../access/index.js';
import type { GlobalOptions } from '../context.js';
import { out, outJson, parseDurationMs } from '../io.js';

interface AuditOptions extends GlobalOptions {
  since?: string;
  secret?: string;
  principal?: string;
  action?: string[];
  file?: string;
}

/** `lockbox audit` — the events of the audit log that match the filters, oldest first; never a value. */
export async function show(options: AuditOptions): Promise<void> {
  const path = await auditPath(options);
  const actions = (options.action ?? []).map(parseAction);
  const events = await readAuditEvents(path, {
    ...(options.since ? { since: new Date(Date.now() - parseDurationMs(options.since, '--since')) } : {}),
    ...(options.secret ? { secret: options.secret } : {}),
    ...(options.principal ? { principal: options.principal } : {}),
    ...(actions.length > 0 ? { action: actions } : {}),
  });
  if (options.json) return outJson(events);
  for (const event of events) out(formatEvent(event));
  if (events.length === 0) out('no audit events match');
}

/** `lockbox audit verify` — checks the hash chain; exit 1 naming the first broken line. */
export async function verify(options: AuditOptions): Promise<void> {
  const path = await auditPath(options);
  const result = await verifyAuditFile(path);
  if (options.json) outJson({ path, ...result });
  else if (result.ok) out(`audit log intact: ${result.events.toLocaleString('en-US')} events (${path})`);
  else out(`audit log NOT intact: line ${result.line}: ${result.reason} (${result.events.toLocaleString('en-US')} events before it are intact; ${path})`);
  if (!result.ok) process.exitCode = 1;
}

/** `lockbox policy check PRINCIPAL ACTION SECRET` — the decision and the rule that made it. */
export async function policyCheck(principal: string, action: string, secret: string, options: GlobalOptions): Promise<void> {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new LockboxError('INVALID_ARGUMENT', `unknown action "${action}"`, { hint: `use one of: ${ACTIONS.join(', ')}` });
  }
  const config = await loadConfig({ path: options.config, cwd: process.cwd(), env: process.env });
  if (!config.access) {
    throw new LockboxError('INVALID_ARGUMENT', `${config.path ?? 'the configuration'} has no access: policy, so every operation is allowed`, {
      hint: 'add an access: section to lockbox.yaml (docs/access-control.md)',
    });
  }
  const decision = decide(config.access, {
    principal: principal === '-' ? currentPrincipal() : principal,
    action: action as Action,
    secret,
    ...(options.tenant ? { tenant: options.tenant } : {}),
  });
  if (options.json) outJson({ allowed: decision.allowed, reason: decision.reason, rule: decision.rule ?? null, request: decision.request });
  else out(explain(decision));
  if (!decision.allowed) process.exitCode = 1;
}

async function auditPath(options: AuditOptions): Promise<string> {
  if (options.file) return resolve(options.file);
  const config: LoadedConfig = await loadConfig({ path: options.config, cwd: process.cwd(), env: process.env });
  if (!config.audit) {
    throw new LockboxError('INVALID_ARGUMENT', `${config.path ?? 'the configuration'} has no audit: section, so there is no audit log`, {
      hint: 'add `audit: { path: .lockbox/audit.jsonl }` to lockbox.yaml (lockbox init writes it), or name a file with --file',
    });
  }
  return resolve(config.baseDir, config.audit.path);
}

function parseAction(text: string): AuditAction {
  const parsed = auditActionSchema.safeParse(text);
  if (!parsed.success) throw new LockboxError('INVALID_ARGUMENT', `unknown audit action "${text}"`, { hint: `use one of: ${auditActionSchema.options.join(', ')}` });
  return parsed.data;
}

function formatEvent(e: AuditEvent): string {
  const secret = e.name ? `${e.scope ? `[${e.scope}] ` : ''}${e.name}${e.version ? `@${e.version}` : ''}` : '-';
  const extra = [e.provider ? `provider=${e.provider}` : '', e.errorCode ? `error=${e.errorCode}` : '', e.count && e.count > 1 ? `×${e.count}` : ''].filter(Boolean).join(' ');
  return `${e.time}  ${e.principal.padEnd(12)} ${e.action.padEnd(8)} ${e.outcome.padEnd(7)} ${secret}${extra ? `  ${extra}` : ''}`;
}
