import { Command, CommanderError, Option } from 'commander';
import { LockboxError } from '../errors.js';
import type { GlobalOptions } from './context.js';

/**
 * The `lockbox` command line. Command modules load lazily so that `lockbox get` pays only for
 * what it uses. Every failure prints one line naming the cause and the fix, and exits non-zero.
 */
const VERSION = '0.1.0';

const program = new Command('lockbox')
  .description('one CLI for secrets on every backend (docs/cli.md)')
  .option('-c, --config <file>', 'lockbox.yaml to use (default: $LOCKBOX_CONFIG or ./lockbox.yaml)')
  .option('-p, --provider <id>', 'configured provider to use instead of the chain')
  .option('-t, --tenant <id>', 'tenant (scope): tenant values first, then global ones')
  .option('--json', 'machine-readable output')
  .addHelpText('after', '\nlockbox --version prints the version. Every command: lockbox COMMAND --help. Docs: docs/cli.md')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
type Handler = (...args: never[]) => Promise<unknown>;
function action<M>(load: () => Promise<M>, pick: (module: M) => Handler) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const positional = args.slice(0, -2);
    const handler = pick(await load()) as (...a: unknown[]) => Promise<unknown>;
    await handler(...positional, { ...globals(), ...command.opts() });
  };
}
const secrets = () => import('./commands/secrets.js');

program.command('init').description('write lockbox.yaml, a master key file and the local store; update .gitignore')
  .option('--dir <dir>', 'directory to initialise (default: the current one)')
  .action(action(() => import('./commands/init.js'), (m) => m.init));

program.command('get <name>').description('print a secret value (NAME may be a reference: provider:name@version#field)')
  .option('--version <version>', 'version number or current|previous|pending')
  .option('--field <field>', 'top-level key or JSON pointer (/a/b) of a JSON value')
  .action(action(secrets, (m) => m.get));

program.command('set <name>').description('write a new version; the value comes from stdin, --from-file or --generate')
  .option('--from-file <path>', 'read the value from a file (one trailing newline stripped)')
  .addOption(new Option('--generate [length]', 'generate a random value (default 32 characters)'))
  .option('--ttl <duration>', 'expire the version after this long (30m, 12h, 7d)')
  .option('--tag <key=value>', 'tag the version (repeatable)', (tag: string, tags: string[]) => [...tags, tag], [] as string[])
  .option('--pending', 'stage the version as pending instead of current')
  .action(action(secrets, (m) => m.set));

program.command('delete <name>').description('soft-delete a secret (lockbox undelete restores it), or --destroy it')
  .option('--destroy', 'erase the values for good')
  .option('--version <version>', 'with --destroy: only this version')
  .action(action(secrets, (m) => m.remove));

program.command('undelete <name>').description('restore a soft-deleted secret')
  .action(action(secrets, (m) => m.undelete));

program.command('list [prefix]').description('list secret names (never values) across the chain')
  .action(action(secrets, (m) => m.list));

program.command('versions <name>').description('list the versions of a secret with their labels')
  .action(action(secrets, (m) => m.versions));

program.command('rollback <name> [version]').description('make an old version (default: previous) the new current one')
  .action(action(secrets, (m) => m.rollback));

program.command('rotate [name]').description('stage a new value as pending, then make it current (the old one stays as @previous); --every sets a policy, --due rotates what is due (docs/rotation.md)')
  .option('--from-file <path>', 'read the new value from a file')
  .addOption(new Option('--generate [length]', 'generate a random value of this length (default 32, or the policy\'s generator)'))
  .option('--charset <classes>', 'classes to generate from, each used at least once: lower,upper,digits,symbols (default lower,upper,digits)')
  .option('--exclude <chars>', 'characters never to generate (write --exclude=CHARS when they start with "-")')
  .option('--exclude-ambiguous', 'never generate look-alikes: 0 O o 1 l I |')
  .option('--every <duration>', 'rotation policy: every DURATION (30d, 12h), or "off"; without --generate/--from-file it changes no value')
  .option('--due', 'rotate every secret whose policy is due (no NAME): a line per secret, then totals; exit 1 if any failed')
  .option('--dry-run', 'with --due: print what is due, rotate nothing')
  .action(action(() => import('./commands/rotate.js'), (m) => m.rotate));

program.command('run').description("run a command with the config's env: mapping resolved; its output is masked; --watch restarts it when a secret changes")
  .argument('<command...>', 'the command and its arguments, after --')
  .option('--no-mask', 'do not mask secret values in the output')
  .option('--watch', 'on a change of a secret the env: mapping uses, restart the command with fresh values (docs/live-updates.md)')
  .option('--signal <signal>', 'with --watch: send this signal (e.g. SIGHUP) instead of restarting')
  .option('--poll-interval <duration>', 'with --watch: how often providers that cannot notify are checked (default 30s)')
  .option('--grace-period <duration>', 'with --watch: how long a restarted command has to exit after SIGTERM before SIGKILL (default 10s)')
  .action(action(() => import('./commands/run.js'), (m) => m.run));

const audit = () => import('./commands/audit.js');
const auditCommand = program.command('audit').description('show the audit log (who did what to which secret, when, with what outcome — never a value)')
  .option('--since <duration>', 'only events of the last DURATION (30m, 1h, 7d)')
  .option('--secret <name-or-glob>', 'only events on this secret (db/password, db/*, db/**)')
  .option('--principal <name>', 'only events of this principal')
  .option('--action <action>', 'only this action (repeatable): read, list, write, delete, rotate, rollback, …', (a: string, all: string[]) => [...all, a], [] as string[])
  .option('--file <path>', 'audit file to read (default: audit.path of lockbox.yaml)')
  .action(action(audit, (m) => m.show));
auditCommand.command('verify').description('check the hash chain: "audit log intact: N events" or the first broken line and why')
  .option('--file <path>', 'audit file to check (default: audit.path of lockbox.yaml)')
  .action(async (opts: Record<string, unknown>, command: Command) => {
    const m = await audit();
    await m.verify({ ...globals(), ...(command.parent?.opts() ?? {}), ...opts });
  });

program.command('policy').description('access policy tools (docs/access-control.md)')
  .command('check <principal> <action> <secret>').description('allow/deny for PRINCIPAL doing ACTION on SECRET, and the rule that decided (--tenant for a tenant)')
  .action(action(audit, (m) => m.policyCheck));

program.command('resolve <file>').description('print FILE (yaml, json, env or text) with every ${secret:…} resolved')
  .option('--format <format>', 'output format: yaml | json | env | text (default: the input format)')
  .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
  .action(action(() => import('./commands/resolve.js'), (m) => m.resolve));

program.command('check <file>').description('check that every reference in FILE resolves (prints no values)')
  .action(action(() => import('./commands/resolve.js'), (m) => m.check));

const configCommand = program.command('config').description('split, hydrate and mask JSON configs whose secret fields a JSON Schema marks (docs/config-secrets.md)');
const configSecrets = () => import('./commands/config-secrets.js');
configCommand.command('split <spec> <config>').description('write the secret fields to the secret backend; print the config with {"_secret": coordinate} pointers')
  .option('--scope-type <type>', 'scope type in new coordinates', 'workspace')
  .option('--scope-id <id>', 'scope id in new coordinates (default: --tenant, else "default")')
  .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
  .action(action(configSecrets, (m) => m.split));
configCommand.command('hydrate <partial>').description('print the config with every {"_secret": …} pointer replaced by its value')
  .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
  .action(action(configSecrets, (m) => m.hydrate));
configCommand.command('mask <spec> <config>').description('print the config with every secret field as "**********"')
  .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
  .action(action(configSecrets, (m) => m.mask));

program.command('health').description('check every configured provider (exit 1 when one is down)')
  .action(action(() => import('./commands/health.js'), (m) => m.health));

program.command('doctor').description('diagnose every provider: configuration, reachability, authentication, permission — and what to check (exit 1 on a problem)')
  .option('--timeout <duration>', 'longest wait for one provider\'s checks (default 10s)')
  .action(action(() => import('./commands/doctor.js'), (m) => m.doctor));

program.command('migrate').description('copy every secret of one provider into another: each copy read back and compared; resumable (docs/migrate.md)')
  .requiredOption('--from <id>', 'provider id to copy from (as in lockbox.yaml)')
  .requiredOption('--to <id>', 'provider id to copy into (must be writable)')
  .option('--prefix <prefix>', 'only secrets whose name starts with this')
  .option('--dry-run', 'print the plan (names and actions), write nothing')
  .option('--overwrite', 'replace secrets the target already has (default: skip them)')
  .action(action(() => import('./commands/migrate.js'), (m) => m.migrate));

const keysCommand = program.command('keys').description('the master key of the local store: status and rotation (docs/keys.md)');
const keys = () => import('./commands/keys.js');
keysCommand.command('status').description('the active key id, the key source and versions per key id (never key material)')
  .action(action(keys, (m) => m.status));
keysCommand.command('rotate').description('a new master key; every data key re-wrapped, values untouched; crash-safe, finishes an interrupted rotation')
  .option('--new-key-file <path>', 'take the new key from this file (base64 of 32 bytes) instead of generating one')
  .option('--new-key-env <var>', 'take the new key from this environment variable')
  .option('--kms-key-id <id>', 'kms source: wrap the new master key under this KMS key (default: master_key.kms_key_id)')
  .option('--batch-size <n>', 'versions re-wrapped per transaction (default 500)')
  .action(action(keys, (m) => m.rotate));

// `--version` is handled here, not by commander, so that `get NAME --version 2` keeps its meaning.
if (process.argv[2] === '--version' || process.argv[2] === '-V') process.stdout.write(`${VERSION}\n`);
else program.parseAsync(process.argv).catch(fail);

async function fail(error: unknown): Promise<void> {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') process.exit(0);
    process.exit(2); // commander already printed "error: …" and the usage hint
  }
  const { globalRedactor } = await import('../redaction/index.js');
  if (error instanceof LockboxError) {
    process.stderr.write(`lockbox: ${error.code}: ${globalRedactor.mask(error.describe())}\n`);
    if (process.env.LOCKBOX_DEBUG && error.stack) process.stderr.write(`${globalRedactor.mask(error.stack)}\n`);
    process.exit((error as { exitCode?: number }).exitCode ?? 1);
  }
  const e = error as { name?: string; code?: string; stack?: string };
  process.stderr.write(`lockbox: unexpected ${e.name ?? 'error'}${e.code ? ` (${e.code})` : ''} — rerun with LOCKBOX_DEBUG=1 for details and report it\n`);
  if (process.env.LOCKBOX_DEBUG && e.stack) process.stderr.write(`${globalRedactor.mask(e.stack)}\n`);
  process.exit(1);
}
