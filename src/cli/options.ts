/**
 * Global options (SPEC §5), validated once at the edge; core receives typed settings.
 *
 * Validated by hand rather than with zod: importing zod costs 40–90 ms on this class of machine,
 * a third of `migrate status`'s whole cold-start budget (SPEC §10), for a dozen flags. zod
 * validates what strata reads from files (backup manifests, profiles), where its cost is paid once.
 */
import { UsageError } from '../errors.js';

/** Typed global settings of one CLI invocation. */
export interface GlobalSettings {
  databaseUrl: string | undefined;
  migrations: string | undefined;
  schema: string;
  historyTable: string;
  json: boolean;
  color: boolean;
  lockTimeout: number;
  connectTimeout: number;
  ddlLockTimeout: number;
  retries: number;
  statementTimeout: number | undefined;
  bundled: boolean;
  embedded: boolean;
  yes: boolean;
  quiet: boolean;
  verbose: boolean;
  dryRun: boolean;
  rollback: boolean;
  allowChanged: boolean;
  /** False with --no-backup. */
  backup: boolean;
  backupDir: string;
  assumeTimezone: string | undefined;
}

function wholeNumber(raw: unknown, flag: string, fallback: number): number;
function wholeNumber(raw: unknown, flag: string, fallback: undefined): number | undefined;
function wholeNumber(raw: unknown, flag: string, fallback: number | undefined): number | undefined {
  if (raw === undefined) return fallback;
  const n = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(String(raw)) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`invalid ${flag} "${String(raw)}": expected a whole number ≥ 0`);
  return n;
}

function identifier(raw: unknown, flag: string, fallback: string): string {
  if (raw === undefined) return fallback;
  const value = String(raw);
  if (value.length === 0) throw new UsageError(`${flag} must not be empty`);
  if (Buffer.byteLength(value) > 63) throw new UsageError(`${flag} is longer than PostgreSQL's 63-byte limit for names`);
  if (value.includes('\0')) throw new UsageError(`${flag} contains a NUL byte`);
  return value;
}

function text(raw: unknown): string | undefined {
  return raw === undefined ? undefined : String(raw);
}

/** Parses commander's merged options; a bad value is a usage error (exit 2). */
export function parseGlobalOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): GlobalSettings {
  const flag = (name: string) => raw[name] === true;
  return {
    databaseUrl: text(raw.databaseUrl),
    migrations: text(raw.migrations),
    schema: identifier(raw.schema, '--schema', 'public'),
    historyTable: identifier(raw.historyTable, '--history-table', 'schema_migrations'),
    json: flag('json'),
    // SPEC §5: NO_COLOR disables colour like --no-color.
    color: raw.color !== false && !(env.NO_COLOR !== undefined && env.NO_COLOR !== ''),
    lockTimeout: wholeNumber(raw.lockTimeout, '--lock-timeout', 10_000),
    connectTimeout: wholeNumber(raw.connectTimeout, '--connect-timeout', 10),
    ddlLockTimeout: wholeNumber(raw.ddlLockTimeout, '--ddl-lock-timeout', 5_000),
    retries: wholeNumber(raw.retries, '--retries', 3),
    statementTimeout: wholeNumber(raw.statementTimeout, '--statement-timeout', undefined),
    bundled: flag('bundled'),
    embedded: flag('embedded'),
    yes: flag('yes'),
    quiet: flag('quiet'),
    verbose: flag('verbose'),
    dryRun: flag('dryRun'),
    rollback: flag('rollback'),
    allowChanged: flag('allowChanged'),
    backup: raw.backup !== false,
    backupDir: text(raw.backupDir) ?? 'backups',
    assumeTimezone: text(raw.assumeTimezone),
  };
}

/** Options a module may read through ctx.options. */
export function moduleOptions(settings: GlobalSettings): Record<string, string | undefined> {
  return { assumeTimezone: settings.assumeTimezone, historyTable: settings.historyTable };
}
