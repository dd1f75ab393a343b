/**
 * The `migrate` program: global options, commands, and the one place that turns errors into exit
 * codes (SPEC §5; the rendering is report-error.ts). Command modules are imported lazily so `status` loads almost nothing; a plain
 * `migrate status [global options]` does not even load commander (see statusFastPath).
 */
import { isatty } from 'node:tty';
import type * as CommanderModule from 'commander';
import type { Command, OutputConfiguration } from 'commander';
import { ExitCode, UsageError } from '../errors.js';
import { assertFlagsApply, parseGlobalOptions, PHASE_COMMAND } from './options.js';
import { Output } from './output.js';
import { reportError } from './report-error.js';
import type { CommandContext } from './session.js';

type Commander = typeof CommanderModule;

const VERSION = '0.1.0';

/** Reads the output flags before commander runs, so even usage errors honour --json and -q. */
function earlyOutput(argv: string[], env: NodeJS.ProcessEnv): Output {
  const has = (...flags: string[]) => argv.some((a) => flags.includes(a));
  const out = new Output({
    json: has('--json'),
    quiet: has('-q', '--quiet'),
    verbose: has('-v', '--verbose'),
    color: !has('--no-color') && !(env.NO_COLOR !== undefined && env.NO_COLOR !== ''),
  });
  // Errors before a command has its own output (usage errors) must not print a password either.
  for (const url of [...databaseUrlArguments(argv), env.DATABASE_URL]) out.addSecret(passwordOf(url));
  out.addSecret(env.PGPASSWORD);
  return out;
}

/** The values given to -d / --database-url on the command line. */
function databaseUrlArguments(argv: string[]): string[] {
  const urls: string[] = [];
  argv.forEach((arg, i) => {
    if ((arg === '-d' || arg === '--database-url') && argv[i + 1] !== undefined) urls.push(argv[i + 1]!);
    else if (arg.startsWith('--database-url=')) urls.push(arg.slice('--database-url='.length));
  });
  return urls;
}

/** The password of a URL, decoded, if it has one (loosely: the URL may be malformed). */
function passwordOf(url: string | undefined): string | undefined {
  const match = url === undefined ? null : /^[a-z]+:\/\/[^:@/]*:(.*)@/is.exec(url);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return match[1];
  }
}

function globalOptions(program: Command, Option: Commander['Option']): void {
  program
    .option('-d, --database-url <url>', 'PostgreSQL URL (else DATABASE_URL, libpq PG* variables, or the embedded database)')
    .option('--migrations <dir>', 'migrations directory (default ./migrations)')
    .option('--schema <name>', 'target schema; history lives here', 'public')
    .option('--history-table <name>', 'history table name', 'schema_migrations')
    .option('--json', 'print one JSON document on stdout')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .option('--lock-timeout <ms>', 'wait this long for another run to finish (0: do not wait)', '10000')
    .option('--connect-timeout <s>', "connection timeout in seconds (0: no limit; default: the URL's connect_timeout, PGCONNECT_TIMEOUT, else 10)")
    .option('--ddl-lock-timeout <ms>', 'lock_timeout for every migration statement (0: no limit, as in PostgreSQL)', '5000')
    .option('--retries <n>', 'retries of a migration that hit lock_timeout (0 … 10)', '3')
    .option('--statement-timeout <ms>', 'statement_timeout (0: no limit; dry runs default to 60000)')
    .option('--bundled', 'use the bundled coaching-schema migrations')
    .option('--embedded', 'use the embedded PostgreSQL in .strata/pgdata')
    .option('-y, --yes', 'confirm destructive steps (required without a terminal)')
    .option('-q, --quiet', 'no progress output')
    .option('-v, --verbose', 'more detail, stack traces on errors')
    .option('--dry-run', 'PHASE, up, down, import-profiles, baseline: rehearse in a transaction that is rolled back')
    .option('--rollback', 'PHASE, plan: revert down to and including PHASE')
    .option('--allow-changed', 'PHASE, up, down: run even if applied migrations were edited (still listed)')
    .option('--no-backup', 'PHASE, up, down, restore: skip automatic backups before destructive steps (needs --yes)')
    .option('--backup-dir <dir>', 'backup root directory (automatic backups, backup, restore --truncate)', 'backups')
    .addOption(new Option('--assume-timezone <zone>', '011: read timestamp values as this zone (default UTC)'));
}

/** A command module's entry point; commander hands it the positional arguments (and options). */
type Handler = (ctx: CommandContext, ...args: never[]) => Promise<number>;
type AnyHandler = (ctx: CommandContext, ...args: unknown[]) => Promise<number>;

/**
 * Runs a command module with the settings of its (merged global) options; resolves with its exit
 * code. `given`: the long spellings of the program's options given on the command line.
 */
async function runCommand(name: string, raw: Record<string, unknown>, env: NodeJS.ProcessEnv, load: () => Promise<{ run: Handler }>, args: unknown[], given: readonly string[]): Promise<number> {
  assertFlagsApply(name === 'migrate' ? PHASE_COMMAND : name, given, typeof args[0] === 'string' ? args[0] : undefined);
  const settings = parseGlobalOptions(raw, env);
  const out = await new Output({ json: settings.json, quiet: settings.quiet, verbose: settings.verbose, color: settings.color }).init();
  const ctx: CommandContext = {
    settings, out, env, cwd: process.cwd(),
    // isatty rather than process.stdin.isTTY: the same answer without constructing a stdin stream.
    interactive: isatty(0) && isatty(2),
    command: name === 'migrate' ? (settings.rollback ? 'down' : 'up') : name,
  };
  try {
    const { run } = await load();
    return await (run as unknown as AnyHandler)(ctx, ...args);
  } catch (error) {
    // Through the command's own output: it knows the connection's password, and scrubs it.
    return reportError(out, error);
  }
}

/**
 * The global options as commander would hand them to `status` (its `optsWithGlobals()`), for the
 * plain forms only: `status` once, and global options spelled out (`--name value`, `--name=value`,
 * `-d value`, boolean flags alone). Anything else — help, version, clustered or attached short
 * options, unknown options, values that start with `-`, extra arguments, `--` — returns undefined
 * and goes through commander, so its messages and exit codes stay the only ones.
 * Why: commander and building the whole program cost ~9 ms of a ~95 ms cold `status` (SPEC §10).
 */
export function statusFastPath(args: readonly string[]): Record<string, unknown> | undefined {
  const raw: Record<string, unknown> = { ...OPTION_DEFAULTS };
  let operands = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === 'status') {
      operands++;
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const flag = BOOLEAN_FLAGS.get(name);
    if (flag) {
      if (eq > 0) return undefined;
      raw[flag[0]] = flag[1];
      continue;
    }
    const key = VALUE_OPTIONS.get(name);
    if (!key || (name === '-d' && eq > 0)) return undefined;
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value.startsWith('-')) return undefined;
    raw[key] = value;
  }
  return operands === 1 ? raw : undefined;
}

/**
 * Boolean global options: spelling → [key, value], as commander sets them. The options that do not
 * apply to status (--dry-run, --rollback, --allow-changed, --no-backup) are not here: commander's
 * path refuses them (options.ts, assertFlagsApply), so the fast path never has to.
 */
const BOOLEAN_FLAGS = new Map<string, [string, boolean]>([
  ['--json', ['json', true]], ['--no-color', ['color', false]], ['--bundled', ['bundled', true]],
  ['--embedded', ['embedded', true]], ['-y', ['yes', true]], ['--yes', ['yes', true]],
  ['-q', ['quiet', true]], ['--quiet', ['quiet', true]], ['-v', ['verbose', true]], ['--verbose', ['verbose', true]],
]);

/** Global options that take a value: spelling → key. */
const VALUE_OPTIONS = new Map<string, string>([
  ['-d', 'databaseUrl'], ['--database-url', 'databaseUrl'], ['--migrations', 'migrations'], ['--schema', 'schema'],
  ['--history-table', 'historyTable'], ['--lock-timeout', 'lockTimeout'], ['--connect-timeout', 'connectTimeout'],
  ['--ddl-lock-timeout', 'ddlLockTimeout'], ['--retries', 'retries'], ['--statement-timeout', 'statementTimeout'],
  ['--backup-dir', 'backupDir'], ['--assume-timezone', 'assumeTimezone'],
]);

/** The defaults of globalOptions(), as commander stores them (negatable flags default to true). */
const OPTION_DEFAULTS: Readonly<Record<string, unknown>> = {
  schema: 'public', historyTable: 'schema_migrations', color: true, lockTimeout: '10000',
  ddlLockTimeout: '5000', retries: '3', backup: true, backupDir: 'backups',
};

/**
 * What an action hands over: the command's name, its merged options, its module and arguments, and
 * the long spellings of the program's options given on the command line (not defaults).
 */
type Dispatch = (name: string, raw: Record<string, unknown>, load: () => Promise<{ run: Handler }>, args: unknown[], given: string[]) => Promise<void>;

/** Builds the program; every action goes to `dispatch`. */
function buildProgram({ Command, Option }: Commander, dispatch: Dispatch, output: OutputConfiguration): Command {
  const program = new Command('migrate')
    .description('phase-based PostgreSQL migrations: rehearse, apply, verify, roll back, and never lose data')
    .version(VERSION, '-V, --version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    // Before the subcommands exist: each copies its parent's output settings when created.
    .configureOutput(output);
  globalOptions(program, Option);

  const action = (load: () => Promise<{ run: Handler }>, pick: (args: unknown[]) => unknown[] = (a) => a) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const given = program.options.filter((o) => o.long && program.getOptionValueSource(o.attributeName()) === 'cli').map((o) => o.long!);
      await dispatch(command.name(), command.optsWithGlobals(), load, pick(args.slice(0, -1)), given);
    };

  program.argument('[phase]', 'apply up to PHASE (with --rollback: revert down to it)')
    .action(action(() => import('./commands/run.js').then((m) => ({
      run: (ctx: CommandContext, phase: unknown) => {
        if (phase === undefined) {
          if (ctx.settings.rollback) throw new UsageError('--rollback needs a PHASE (or use migrate down)');
          // With --json the one document on stdout is the error; the help text is for people.
          if (ctx.out.json) throw new UsageError('no command or phase given', { hint: 'see migrate --help' });
          program.outputHelp({ error: true });
          return Promise.resolve(ExitCode.usage);
        }
        return m.run(ctx, ctx.settings.rollback ? 'down' : 'up', phase as string);
      },
    })), (a) => [a[0]]));

  program.command('status').description('every migration and its state')
    .action(action(loadStatus, () => []));
  program.command('up').argument('[target]', 'phase or name to stop at').description('apply pending migrations (up to TARGET)')
    .action(action(() => import('./commands/run.js').then((m) => ({ run: (ctx: CommandContext, t: unknown) => m.run(ctx, 'up', t as string | undefined) })), (a) => [a[0]]));
  program.command('down').argument('[target]', 'phase or name to revert down to (default: the newest)').description('revert applied migrations, newest first')
    .action(action(() => import('./commands/run.js').then((m) => ({ run: (ctx: CommandContext, t: unknown) => m.run(ctx, 'down', t as string | undefined) })), (a) => [a[0]]));
  program.command('plan').argument('[target]').description('the steps and SQL a run would execute (offline unless a database is given)')
    .action(action(() => import('./commands/plan.js'), (a) => [a[0]]));
  program.command('verify').argument('[target]').description('run the checks of applied migrations and the checksum check')
    .action(action(() => import('./commands/verify.js'), (a) => [a[0]]));
  program.command('check').argument('[target]').description('CI gate: apply, verify, roll back, compare schema, re-apply each migration on a throwaway database')
    .action(action(() => import('./commands/check.js'), (a) => [a[0]]));
  program.command('backup').argument('<table...>', 'tables to back up (schema-qualified or not)')
    .option('--out <dir>', 'backup root for this backup (default --backup-dir)')
    .option('--jobs <n>', 'parallel COPY connections sharing one snapshot (default: min(4, cores))')
    .description('write a verified CSV backup of tables, all in one snapshot')
    .action(action(() => import('./commands/backup.js'), (a) => [a[0], a[1]]));
  program.command('restore').argument('<dir>', 'backup directory')
    .option('--table <name>', 'restore only this table (repeatable)', (value: string, list: string[]) => [...list, value], [] as string[])
    .option('--truncate', 'empty the tables first (backed up and confirmed first)')
    .description('verify a backup against its manifest, then load it in one transaction')
    .action(action(() => import('./commands/restore.js'), (a) => [a[0], a[1]]));
  program.command('import-profiles').argument('<dir>', 'DIR/<user>/profile.md, preferences.md, patterns.md')
    .option('--verify', 'compare the files with the database instead of writing (exit 1 on differences)')
    .option('--create-users', 'create unknown users with the 002 id mapping')
    .option('--skip-invalid', 'import the valid users and list the rest')
    .description('import markdown profiles into user_profiles (all validated before anything is written)')
    .action(action(() => import('./commands/import-profiles.js'), (a) => [a[0], a[1]]));
  program.command('demo').option('--users <n>', 'sample users to generate', '200')
    .description('the coaching schema story on a demo database: load MVP data, rehearse, apply, verify, roll back, re-apply')
    .action(action(() => import('./commands/demo.js'), (a) => [a[0]]));
  program.command('create').argument('<name>').option('--sql', 'a SQL directory (default)').option('--ts', 'a TypeScript module')
    .description('scaffold the next-numbered migration')
    .action(action(() => import('./commands/create.js'), (a) => [a[0], a[1]]));
  program.command('baseline').argument('<target>', 'the last migration the existing schema already has')
    .description('adopt an existing database: record migrations up to TARGET as applied without running them')
    .action(action(() => import('./commands/baseline.js'), (a) => [a[0]]));
  program.command('repair').argument('<name>').description('mark a failed migration as resolved after fixing the database')
    .action(action(() => import('./commands/repair.js'), (a) => [a[0]]));
  program.command('db').argument('<action>', 'start | stop | status | url | reset').description('manage the embedded database')
    .action(action(() => import('./commands/db.js'), (a) => [a[0]]));
  return program;
}

function loadStatus(): Promise<{ run: Handler }> {
  return import('./commands/status.js');
}

/**
 * For tests of statusFastPath: the command and merged options commander's parse of `args` hands to
 * an action (nothing runs, nothing is printed), or undefined when commander stops with an error,
 * help or the version.
 */
export async function commanderParse(args: readonly string[]): Promise<{ name: string; raw: Record<string, unknown> } | undefined> {
  let parsed: { name: string; raw: Record<string, unknown> } | undefined;
  const program = buildProgram(await import('commander'), async (name, raw) => { parsed = { name, raw }; }, { writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  try {
    await program.parseAsync(['node', 'migrate', ...args]);
  } catch {
    return undefined;
  }
  return parsed;
}

/**
 * `migrate status` in the plain forms of statusFastPath, without commander: resolves with the exit
 * code; undefined for any other command line (then main() parses it). bin/migrate calls this from
 * dist/bundle/status.cjs, a one-file build of it (scripts/bundle-cli.mjs).
 */
export function runStatusFastPath(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): Promise<number> | undefined {
  const fast = statusFastPath(argv.slice(2));
  if (!fast) return undefined;
  // No flag of the fast path is one that could not apply to status (see BOOLEAN_FLAGS).
  return runCommand('status', fast, env, loadStatus, [], []).catch((error: unknown) => reportError(earlyOutput(argv, env), error));
}

/**
 * `migrate status --truncate`: commander says "unknown option"; say that it is an option of another
 * command (restore), and which command it does not apply to. Undefined for options no command has.
 */
function optionOfAnotherCommand(program: Command, subcommand: string | undefined, message: string): UsageError | undefined {
  const flag = /'(-[^'=]+)/.exec(message)?.[1];
  if (!flag) return undefined;
  const owners = program.commands.filter((c) => c.name() !== subcommand && c.options.some((o) => o.long === flag || o.short === flag)).map((c) => c.name());
  if (owners.length === 0) return undefined;
  return new UsageError(`${flag} does not apply to migrate ${subcommand ?? 'PHASE'}`, { hint: `${flag} is an option of migrate ${owners.join(', ')}` });
}

/** Runs the CLI; resolves with the exit code (bin/migrate sets process.exitCode). */
export async function main(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const fast = runStatusFastPath(argv, env);
  if (fast) return fast;
  let code: number = ExitCode.ok;
  const out = earlyOutput(argv, env);
  const commander = await import('commander');
  const { CommanderError } = commander;
  let commanderMessage = '';
  const program = buildProgram(commander, async (name, raw, load, args, given) => { code = await runCommand(name, raw, env, load, args, given); }, {
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
    // Kept, not printed: reportError prints it once, in strata's format (or as the JSON document).
    outputError: (s) => { commanderMessage = s.replace(/^error:\s*/, '').trim(); },
  });
  let subcommand: string | undefined;
  program.hook('preSubcommand', (_program, sub) => { subcommand = sub.name(); });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help, --version
      if (error.code === 'commander.unknownOption') {
        const misplaced = optionOfAnotherCommand(program, subcommand, commanderMessage || error.message);
        if (misplaced) return reportError(out, misplaced);
      }
      const known = program.commands.some((c) => c.name() === program.args[0]);
      if (error.code === 'commander.excessArguments' && program.args.length > 1 && !known) {
        // `migrate frobnicate x`: the first word was taken as a PHASE with one argument too many.
        return reportError(out, new UsageError(`unknown command "${program.args[0]}"`, { hint: 'see migrate --help for the commands; a PHASE takes no argument' }));
      }
      return reportError(out, new UsageError(commanderMessage || error.message.replace(/^error:\s*/, ''), { hint: 'see migrate --help' }));
    }
    return reportError(out, error);
  }
  return code;
}
