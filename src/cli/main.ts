/**
 * The `migrate` program: global options, commands, and the one place that turns errors into exit
 * codes (SPEC §5). Command modules are imported lazily so `status` loads almost nothing.
 */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, StrataError, UsageError } from '../errors.js';
import { parseGlobalOptions } from './options.js';
import { Output } from './output.js';
import type { CommandContext } from './session.js';

const VERSION = '0.1.0';

/** Reads the output flags before commander runs, so even usage errors honour --json and -q. */
function earlyOutput(argv: string[], env: NodeJS.ProcessEnv): Output {
  const has = (...flags: string[]) => argv.some((a) => flags.includes(a));
  return new Output({
    json: has('--json'),
    quiet: has('-q', '--quiet'),
    verbose: has('-v', '--verbose'),
    color: !has('--no-color') && !(env.NO_COLOR !== undefined && env.NO_COLOR !== ''),
  });
}

function globalOptions(program: Command): void {
  program
    .option('-d, --database-url <url>', 'PostgreSQL URL (else DATABASE_URL, libpq PG* variables, or the embedded database)')
    .option('--migrations <dir>', 'migrations directory (default ./migrations)')
    .option('--schema <name>', 'target schema; history lives here', 'public')
    .option('--history-table <name>', 'history table name', 'schema_migrations')
    .option('--json', 'print one JSON document on stdout')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .option('--lock-timeout <ms>', 'wait this long for another run to finish', '10000')
    .option('--connect-timeout <s>', 'connection timeout in seconds', '10')
    .option('--ddl-lock-timeout <ms>', 'lock_timeout for every migration statement', '5000')
    .option('--retries <n>', 'retries of a migration that hit lock_timeout', '3')
    .option('--statement-timeout <ms>', 'statement_timeout (dry runs default to 60000)')
    .option('--bundled', 'use the bundled coaching-schema migrations')
    .option('--embedded', 'use the embedded PostgreSQL in .strata/pgdata')
    .option('-y, --yes', 'confirm destructive steps (required without a terminal)')
    .option('-q, --quiet', 'no progress output')
    .option('-v, --verbose', 'more detail, stack traces on errors')
    .option('--dry-run', 'rehearse in a transaction that is rolled back')
    .option('--rollback', 'with PHASE: revert down to and including PHASE')
    .option('--allow-changed', 'run even if applied migrations were edited (still listed)')
    .option('--no-backup', 'skip automatic backups before destructive steps (needs --yes)')
    .option('--backup-dir <dir>', 'backup root directory', 'backups')
    .addOption(new Option('--assume-timezone <zone>', '011: read timestamp values as this zone (default UTC)'));
}

/** A command module's entry point; commander hands it the positional arguments (and options). */
type Handler = (ctx: CommandContext, ...args: never[]) => Promise<number>;
type AnyHandler = (ctx: CommandContext, ...args: unknown[]) => Promise<number>;

/** Builds the program; `setCode` receives each command's exit code. */
function buildProgram(env: NodeJS.ProcessEnv, setCode: (code: number) => void): Command {
  const program = new Command('migrate')
    .description('phase-based PostgreSQL migrations: rehearse, apply, verify, roll back, and never lose data')
    .version(VERSION, '-V, --version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride();
  globalOptions(program);

  const action = (load: () => Promise<{ run: Handler }>, pick: (args: unknown[]) => unknown[] = (a) => a) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const settings = parseGlobalOptions(command.optsWithGlobals(), env);
      const out = await new Output({ json: settings.json, quiet: settings.quiet, verbose: settings.verbose, color: settings.color }).init();
      const ctx: CommandContext = {
        settings, out, env, cwd: process.cwd(),
        interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
        command: command.name() === 'migrate' ? (settings.rollback ? 'down' : 'up') : command.name(),
      };
      const { run } = await load();
      setCode(await (run as unknown as AnyHandler)(ctx, ...pick(args.slice(0, -1))));
    };

  program.argument('[phase]', 'apply up to PHASE (with --rollback: revert down to it)')
    .action(action(() => import('./commands/run.js').then((m) => ({
      run: (ctx: CommandContext, phase: unknown) => {
        if (phase === undefined) {
          if (ctx.settings.rollback) throw new UsageError('--rollback needs a PHASE (or use migrate down)');
          program.outputHelp({ error: true });
          return Promise.resolve(ExitCode.usage);
        }
        return m.run(ctx, ctx.settings.rollback ? 'down' : 'up', phase as string);
      },
    })), (a) => [a[0]]));

  program.command('status').description('every migration and its state')
    .action(action(() => import('./commands/status.js'), () => []));
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

/** Renders an error and returns its exit code; with --json the error is the stdout document. */
export function reportError(out: Output, error: unknown): number {
  const strata = error instanceof StrataError ? error : undefined;
  const code = strata?.exitCode ?? ExitCode.failed;
  const message = strata?.message ?? (error instanceof Error ? error.message : String(error));
  if (out.json) {
    out.document({ error: { code, message, ...(strata?.hint ? { hint: strata.hint } : {}) }, ...strata?.details });
  } else {
    out.errorLines([out.paint.red(`error: ${message}`), ...(strata?.hint ? [`hint: ${strata.hint}`] : [])]);
  }
  // STYLE: unknown errors show their stack with -v (so do ours, with their cause).
  if (out.verbose && error instanceof Error) {
    out.debug(error.stack ?? String(error));
    if (error.cause instanceof Error) out.debug(`caused by: ${error.cause.stack ?? error.cause.message}`);
  }
  return code;
}

/** Runs the CLI; resolves with the exit code (bin/migrate sets process.exitCode). */
export async function main(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let code: number = ExitCode.ok;
  const out = earlyOutput(argv, env);
  let commanderMessage = '';
  const program = buildProgram(env, (c) => { code = c; });
  program.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
    outputError: (s) => { commanderMessage = s.replace(/^error:\s*/, '').trim(); },
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help, --version
      if (error.code === 'commander.excessArguments' && program.args.length > 1) {
        // `migrate frobnicate x`: the first word was taken as a PHASE with one argument too many.
        return reportError(out, new UsageError(`unknown command "${program.args[0]}"`, { hint: 'see migrate --help for the commands; a PHASE takes no argument' }));
      }
      return reportError(out, new UsageError(commanderMessage || error.message.replace(/^error:\s*/, ''), { hint: 'see migrate --help' }));
    }
    return reportError(out, error);
  }
  return code;
}
