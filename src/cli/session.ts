/**
 * What every database command needs before it calls core: which database (SPEC §2), which
 * migrations directory (SPEC §3), and an open connection with its notices routed to stderr.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, resolveConnection, type ConnectionTarget, type Database } from '../db/connect.js';
import { SUPPORTED_PARAMS, type ConnectionParts } from '../db/url.js';
import { UsageError } from '../errors.js';
import { resolveMigrations, type ResolvedMigration } from '../core/resolver.js';
import type { GlobalSettings } from './options.js';
import type { Output } from './output.js';

/** Everything a command handler receives. */
export interface CommandContext {
  settings: GlobalSettings;
  out: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** A human is at the terminal (stdin and stderr are TTYs): the embedded default and prompts apply. */
  interactive: boolean;
  /** The command being run (`up`, `status`, …): shown to other sessions as application_name. */
  command: string;
}

/** The package's own migrations/ (the bundled coaching schema). */
export const BUNDLED_MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/** SPEC §2 resolution, without connecting. A password found on the way (PGPASSWORD, a password file) is masked from then on. */
export function connectionTarget(ctx: CommandContext): ConnectionTarget {
  const target = resolveConnection({ databaseUrl: ctx.settings.databaseUrl, embedded: ctx.settings.embedded, interactive: ctx.interactive }, ctx.env);
  if (target.kind === 'server') ctx.out.addSecret(target.parts.password);
  return target;
}

/**
 * The server the user named explicitly (flag, DATABASE_URL, libpq variables), if any — never the
 * embedded default. For commands that work without one (`plan` offline, `check` on its own server).
 */
export function givenServer(ctx: CommandContext): Extract<ConnectionTarget, { kind: 'server' }> | undefined {
  const { databaseUrl } = ctx.settings;
  if (!databaseUrl && !ctx.env.DATABASE_URL && !ctx.env.PGHOST && !ctx.env.PGDATABASE) return undefined;
  const target = resolveConnection({ databaseUrl, embedded: false, interactive: false }, ctx.env);
  if (target.kind !== 'server') return undefined;
  ctx.out.addSecret(target.parts.password);
  return target;
}

/** The migrations directory and whether it is the bundled set. */
export interface MigrationsSource {
  dir: string;
  bundled: boolean;
  migrations: ResolvedMigration[];
}

/**
 * SPEC §3: --migrations DIR, else ./migrations if it exists, else the bundled set only with
 * --bundled or on the embedded database. Never the bundled set against a real server by accident.
 * Where the SPEC's order is silent, an explicit choice wins and is said: `--bundled` uses the
 * bundled set even where ./migrations exists (with a warning), and `--migrations` with `--bundled`
 * is a contradiction (exit 2), not a silent pick.
 */
export async function migrationsSource(ctx: CommandContext, target: ConnectionTarget | undefined): Promise<MigrationsSource> {
  let dir: string;
  let bundled = false;
  if (ctx.settings.migrations && ctx.settings.bundled) {
    throw new UsageError('--migrations and --bundled name two different migration sets: pass one of them');
  }
  if (ctx.settings.migrations) {
    dir = path.resolve(ctx.cwd, ctx.settings.migrations);
    assertDirectory(dir, ctx.settings.migrations);
  } else if (ctx.settings.bundled) {
    dir = BUNDLED_MIGRATIONS;
    bundled = true;
    if (fs.existsSync(path.join(ctx.cwd, 'migrations'))) ctx.out.warn('using the bundled coaching schema (--bundled); ./migrations is not used');
  } else if (fs.existsSync(path.join(ctx.cwd, 'migrations'))) {
    dir = path.join(ctx.cwd, 'migrations');
    assertDirectory(dir, './migrations');
  } else if (target?.kind === 'embedded') {
    dir = BUNDLED_MIGRATIONS;
    bundled = true;
  } else {
    throw new UsageError('no migrations directory: pass --migrations DIR, or --bundled for the coaching schema');
  }
  const migrations = await resolveMigrations(dir);
  ctx.out.addPublicWords(migrations.flatMap((m) => [m.name, m.phase]));
  return { dir, bundled, migrations };
}

/** A migrations directory that is missing or is a file is a usage error (exit 2), said as such. */
function assertDirectory(dir: string, shown: string): void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`migrations directory ${shown} does not exist`);
  if (!stat.isDirectory()) throw new UsageError(`migrations directory ${shown} is not a directory`, { hint: 'pass the directory that holds the NNN_name migrations' });
}

/**
 * Warnings about the connection settings: URL parameters strata ignores (db/url.ts,
 * parseDatabaseUrl), and a password file it would not use (db/passfile.ts).
 */
export function warnAboutConnection(ctx: CommandContext, parts: ConnectionParts): void {
  if (parts.passfileWarning) ctx.out.warn(parts.passfileWarning);
  if (!parts.ignored?.length) return;
  const names = parts.ignored.map((name) => `"${name}"`).join(', ');
  ctx.out.warn(`ignoring database URL parameter${parts.ignored.length === 1 ? '' : 's'} ${names} (strata reads ${SUPPORTED_PARAMS})`);
}

/** Starts the embedded server if needed and says so on stderr (SPEC §2). */
async function embeddedParts(ctx: CommandContext): Promise<ConnectionParts> {
  const { projectLayout, startEmbedded } = await import('../db/embedded.js');
  const { parseDatabaseUrl } = await import('../db/url.js');
  const layout = projectLayout(ctx.cwd);
  const server = await startEmbedded(layout);
  ctx.out.progress(`using embedded PostgreSQL at ${path.relative(ctx.cwd, layout.dataDir) || layout.dataDir} (port ${server.port})${server.started ? ', started' : ''}`);
  return parseDatabaseUrl(server.url);
}

/** Opens the run's connection; search_path starts with the target schema. */
export async function connect(ctx: CommandContext, target: ConnectionTarget, options: { fetchTypes?: boolean; probe?: boolean } = {}): Promise<Database> {
  const parts = target.kind === 'embedded' ? await embeddedParts(ctx) : target.parts;
  warnAboutConnection(ctx, parts);
  ctx.out.addPublicWords([parts.user, parts.database]);
  ctx.out.addSecret(parts.password);
  const schema = ctx.settings.schema;
  return openDatabase(parts, {
    connectTimeoutSeconds: ctx.settings.connectTimeout,
    applicationName: `strata ${ctx.command}`.slice(0, 63),
    searchPath: schema === 'public' ? '"public"' : `"${schema.replace(/"/g, '""')}", public`,
    onNotice: (message) => ctx.out.progress(message),
    ...(options.fetchTypes !== undefined ? { fetchTypes: options.fetchTypes } : {}),
    ...(options.probe !== undefined ? { probe: options.probe } : {}),
  });
}

/** How `withDatabase` opens and closes the connection. */
export interface DatabaseUse {
  fetchTypes?: boolean;
  probe?: boolean;
  /**
   * `false`: once `fn` has resolved, close without waiting for the server to end the session
   * (Terminate is sent; see Database.close): everything `fn` sent has been answered, and the
   * backend's exit (~5 ms after DDL) is no business of ours. After a failure the close always
   * waits, so that nothing still in flight is cut off by the process exiting.
   */
  waitForClose?: boolean;
}

/** Runs `fn` with an open database and closes it afterwards, whatever happens. */
export async function withDatabase<T>(ctx: CommandContext, target: ConnectionTarget, fn: (db: Database) => Promise<T>, options: DatabaseUse = {}): Promise<T> {
  const { waitForClose, ...open } = options;
  const db = await connect(ctx, target, open);
  let result: T;
  try {
    result = await fn(db);
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  await db.close(waitForClose === false ? { wait: false } : undefined).catch(() => undefined);
  return result;
}
