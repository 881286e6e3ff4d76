/**
 * `lockbox doctor` — per configured provider: configuration (options valid, where the
 * credentials would come from), reachability (a live health check with its latency),
 * authentication and permission (a live listing, its error classified by code), and for every
 * problem what to check, in the words of seed 002's Troubleshooting section. Exit 1 when any
 * provider has a problem. Reads names only (to count them), never a value.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, type LoadedConfig, type ProviderConfig } from '../../config/index.js';
import { LockboxError, type ErrorCode } from '../../errors.js';
import { loadProviderModule } from '../../providers/registry.js';
import type { HealthStatus, Provider } from '../../types.js';
import type { GlobalOptions } from '../context.js';
import { out, outJson, parseDurationMs } from '../io.js';
import { adviceFor, authSource, type ProblemKind, type ProviderFacts } from './doctor-advice.js';

/** Options of `lockbox doctor`. */
export interface DoctorOptions extends GlobalOptions {
  /** Longest wait for one provider's checks (a duration: 10s, 1m). @default "10s" */
  timeout?: string;
}

/** One line of a diagnosis. */
export interface DoctorCheck {
  check: 'configuration' | 'reachability' | 'authentication' | 'permission';
  result: 'ok' | 'warning' | 'failed' | 'skipped';
  detail: string;
}

/** The diagnosis of one provider. */
export interface ProviderDiagnosis {
  id: string;
  type: string;
  ok: boolean;
  problem?: { kind: ProblemKind | 'other'; code: ErrorCode; message: string };
  checks: DoctorCheck[];
  /** What to check, in seed 002's words (empty when there is no problem). */
  advice: string[];
}

const CODE_KINDS: Partial<Record<ErrorCode, ProblemKind>> = {
  AUTH_FAILED: 'authentication',
  PERMISSION_DENIED: 'permission', ACCESS_DENIED: 'permission',
  PROVIDER_UNAVAILABLE: 'reachability', TIMEOUT: 'reachability', THROTTLED: 'reachability',
  SDK_MISSING: 'configuration', CONFIG_INVALID: 'configuration', UNKNOWN_PROVIDER_TYPE: 'configuration',
  MASTER_KEY_MISSING: 'configuration', MASTER_KEY_INVALID: 'configuration', KMS_ERROR: 'configuration',
};

/** `lockbox doctor [--json] [--timeout D]` (global --provider diagnoses one provider, --tenant sets the tenant listed). */
export async function doctor(options: DoctorOptions): Promise<void> {
  const deadlineMs = options.timeout ? parseDurationMs(options.timeout, '--timeout') : 10_000;
  let config: LoadedConfig;
  try {
    config = await loadConfig({ path: options.config, cwd: process.cwd(), env: process.env });
  } catch (error) {
    if (!(error instanceof LockboxError)) throw error;
    const advice = ['Fix lockbox.yaml at the line named (docs/config.md lists every key)', 'Check that every ${env:…} variable it names is set'];
    if (options.json) outJson({ ok: false, config: { code: error.code, message: error.describe() }, advice });
    else out(`configuration  FAILED  ${error.code}: ${error.describe()}\n  what to check:\n${advice.map((line) => `    - ${line}`).join('\n')}`);
    process.exitCode = 1;
    return;
  }
  const entries = options.provider ? config.providers.filter((p) => p.id === options.provider) : config.providers;
  if (entries.length === 0) {
    throw new LockboxError('UNKNOWN_PROVIDER', `no provider with id "${options.provider}"`, { hint: `configured providers: ${config.providers.map((p) => p.id).join(', ')}` });
  }
  const tenant = options.tenant ?? config.tenant;
  const diagnoses = await Promise.all(entries.map((entry) => diagnose(entry, config.baseDir, tenant, deadlineMs)));
  const problems = diagnoses.filter((d) => !d.ok);
  if (options.json) {
    outJson({ ok: problems.length === 0, config: config.path ?? null, tenant: tenant ?? null, providers: diagnoses });
  } else {
    out(`config: ${config.path ?? '(none: the built-in default, environment variables)'}${tenant ? `, tenant ${tenant}` : ''}`);
    for (const diagnosis of diagnoses) printDiagnosis(diagnosis);
    out(problems.length === 0
      ? `doctor: ${diagnoses.length === 1 ? 'the provider is' : `all ${diagnoses.length} providers are`} ready`
      : `doctor: ${problems.length} of ${diagnoses.length} providers ${problems.length === 1 ? 'has a problem' : 'have problems'} (${problems.map((p) => p.id).join(', ')})`);
  }
  if (problems.length > 0) process.exitCode = 1;
}

/** Diagnoses one configured provider (never throws). */
export async function diagnose(entry: ProviderConfig, baseDir: string, tenant: string | undefined, deadlineMs: number): Promise<ProviderDiagnosis> {
  const facts: ProviderFacts = { type: entry.type, options: entry.options ?? {}, tenant, baseDir };
  const diagnosis: ProviderDiagnosis = { id: entry.id, type: entry.type, ok: true, checks: [], advice: [] };
  let provider: Provider;
  try {
    const module = await loadProviderModule(entry.type);
    const parsed = module.optionsSchema.parse(entry.options ?? {}) as Record<string, unknown>;
    facts.options = parsed;
    provider = (module.create as (id: string, o: unknown, c: unknown) => Provider)(entry.id, parsed, { baseDir, env: process.env });
  } catch (error) {
    const failure = asLockboxError(error, 'CONFIG_INVALID');
    return fail(diagnosis, facts, 'configuration', failure, ['reachability', 'authentication', 'permission']);
  }
  const source = LOCAL_TYPES.has(facts.type) ? 'reads' : 'credentials';
  diagnosis.checks.push({ check: 'configuration', result: 'ok', detail: `${location(facts)}${source}: ${authSource(facts, process.env)}` });
  const missingStore = facts.type === 'local' ? localStoreMissing(facts) : undefined;
  if (missingStore) {
    // Opening a store creates it: doctor looks without touching anything.
    diagnosis.checks.push({ check: 'reachability', result: 'warning', detail: `the store ${missingStore} does not exist yet: the first write (or \`lockbox init\`) creates it` });
    await provider.dispose?.().catch(() => undefined);
    return diagnosis;
  }
  try {
    const [health, probe] = await Promise.all([
      withDeadline(provider.health().catch((error: unknown): HealthStatus => ({
        provider: entry.id, status: 'down', latencyMs: 0, message: asLockboxError(error, 'PROVIDER_ERROR').describe(),
      })), deadlineMs),
      withDeadline(probeAccess(provider, tenant), deadlineMs),
    ]);
    return conclude(diagnosis, facts, health, probe, deadlineMs);
  } finally {
    await provider.dispose?.().catch(() => undefined);
  }
}

type Probe = { ok: true; detail: string } | { ok: false; error: unknown };

/** A live listing (names counted, never printed); a read of a name that does not exist where the provider cannot list. */
async function probeAccess(provider: Provider, tenant: string | undefined): Promise<Probe> {
  try {
    if (provider.list) {
      const listed = await provider.list('', tenant);
      return { ok: true, detail: `listed ${listed.length} secret${listed.length === 1 ? '' : 's'}${tenant ? ` of tenant ${tenant}` : ''}` };
    }
    await provider.get({ name: 'lockbox-doctor-probe', scope: tenant });
    return { ok: true, detail: 'a read was answered' };
  } catch (error) {
    return { ok: false, error };
  }
}

function conclude(diagnosis: ProviderDiagnosis, facts: ProviderFacts, health: HealthStatus | undefined, probe: Probe | undefined, deadlineMs: number): ProviderDiagnosis {
  const latency = health ? ` in ${health.latencyMs.toFixed(1)} ms` : '';
  let failure: LockboxError | undefined;
  if (probe && !probe.ok) failure = asLockboxError(probe.error, 'PROVIDER_ERROR');
  else if (!health || !probe) failure = new LockboxError('TIMEOUT', `no answer within ${deadlineMs} ms`, { hint: 'raise --timeout, or check the network' });
  else if (health.status === 'down') failure = new LockboxError('PROVIDER_UNAVAILABLE', health.message ?? 'the health check failed');
  if (failure) {
    const kind = CODE_KINDS[failure.code] ?? 'other';
    // A health message (the provider's own words) explains an unreachable backend best.
    if (kind === 'reachability' && health?.status === 'down' && health.message && failure.code !== 'TIMEOUT') {
      failure = new LockboxError(failure.code, health.message);
    }
    const skipped = kind === 'configuration' || kind === 'reachability' ? ['authentication', 'permission'] as const
      : kind === 'authentication' ? ['permission'] as const : [] as const;
    if (kind !== 'reachability' && kind !== 'configuration') diagnosis.checks.push({ check: 'reachability', result: 'ok', detail: `answered${latency}` });
    if (kind === 'permission' || kind === 'other') diagnosis.checks.push({ check: 'authentication', result: 'ok', detail: authenticated(facts) });
    return fail(diagnosis, facts, kind, failure, [...skipped]);
  }
  const degraded = health!.status === 'degraded';
  diagnosis.checks.push(
    { check: 'reachability', result: degraded ? 'warning' : 'ok', detail: `${health!.status}${latency}${health!.message ? ` — ${health!.message}` : ''}` },
    { check: 'authentication', result: 'ok', detail: authenticated(facts) },
    { check: 'permission', result: 'ok', detail: (probe as { detail: string }).detail },
  );
  return diagnosis;
}

/** Records the problem: its check fails, the later checks are skipped, the advice is added. */
function fail(diagnosis: ProviderDiagnosis, facts: ProviderFacts, kind: ProblemKind | 'other', error: LockboxError, skipped: DoctorCheck['check'][]): ProviderDiagnosis {
  diagnosis.ok = false;
  diagnosis.problem = { kind, code: error.code, message: error.describe() };
  const check = kind === 'other' ? 'permission' : kind;
  diagnosis.checks.push({ check, result: 'failed', detail: `${error.code}: ${error.describe()}` });
  for (const later of skipped) diagnosis.checks.push({ check: later, result: 'skipped', detail: `not checked: ${kind} failed first` });
  diagnosis.advice = adviceFor(kind === 'other' ? 'general' : kind, facts);
  return diagnosis;
}

function printDiagnosis(diagnosis: ProviderDiagnosis): void {
  out('');
  out(`${diagnosis.id} (${diagnosis.type}): ${diagnosis.ok ? 'ok' : `${diagnosis.problem!.kind} problem`}`);
  for (const check of diagnosis.checks) out(`  ${check.check.padEnd(15)} ${RESULT_WORDS[check.result].padEnd(8)} ${check.detail}`);
  if (diagnosis.advice.length > 0) {
    out('  what to check:');
    for (const line of diagnosis.advice) out(`    - ${line}`);
  }
}

/** Types that read local data and have no credentials of their own (the local store's master key aside). */
const LOCAL_TYPES = new Set(['env', 'file', 'filesystem', 'dotenv', 'memory']);

function authenticated(facts: ProviderFacts): string {
  if (LOCAL_TYPES.has(facts.type)) return 'no credentials needed';
  return facts.type === 'local' ? 'the master key opens the store' : 'credentials accepted';
}

const RESULT_WORDS: Record<DoctorCheck['result'], string> = { ok: 'ok', warning: 'WARNING', failed: 'FAILED', skipped: 'skipped' };

/** The address a remote provider talks to, for the configuration line. */
function location(facts: ProviderFacts): string {
  const o = facts.options;
  const parts: string[] = [];
  for (const key of ['url', 'vault_url', 'endpoint', 'api_endpoint', 'namespace', 'mount_point', 'prefix', 'layout']) {
    if (typeof o[key] === 'string' && o[key] !== '') parts.push(`${key} ${String(o[key])}`);
  }
  return parts.length > 0 ? `${parts.join(', ')}; ` : '';
}

/** The local store's path when its file does not exist, else undefined. */
function localStoreMissing(facts: ProviderFacts): string | undefined {
  const path = resolve(facts.baseDir, typeof facts.options.path === 'string' ? facts.options.path : '.lockbox/store.db');
  return existsSync(path) ? undefined : path;
}

function asLockboxError(error: unknown, code: ErrorCode): LockboxError {
  if (error instanceof LockboxError) return error;
  const name = error instanceof Error ? error.name : typeof error;
  // zod errors list the option paths and rules, never the values given.
  const issues = (error as { issues?: Array<{ path: unknown[]; message: string }> }).issues;
  const detail = Array.isArray(issues) ? issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ') : `unexpected ${name}`;
  return new LockboxError(code, detail);
}

async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
