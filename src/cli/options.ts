/**
 * Global options (SPEC §5), validated once at the edge; core receives typed settings.
 *
 * Validated by hand rather than with zod: importing zod costs 40–90 ms on this class of machine,
 * a third of `migrate status`'s whole cold-start budget (SPEC §10), for a dozen flags. zod
 * validates what strata reads from files (backup manifests, profiles), where its cost is paid once.
 */
import { MAX_CONNECT_SECONDS } from '../db/url.js';
import { UsageError } from '../errors.js';

/** Typed global settings of one CLI invocation. */
export interface GlobalSettings {
  databaseUrl: string | undefined;
  migrations: string | undefined;
  schema: string;
  historyTable: string;
  json: boolean;
  color: boolean;
  /** --lock-timeout: how long to wait for the run lock; 0 = do not wait. */
  lockTimeout: number;
  /**
   * --connect-timeout in seconds; 0 = no limit (as libpq's connect_timeout). Undefined when not
   * given: the URL's connect_timeout, else PGCONNECT_TIMEOUT, else 10 (db/connect.ts).
   */
  connectTimeout: number | undefined;
  /** --ddl-lock-timeout: PostgreSQL's lock_timeout for migration statements; 0 = no limit. */
  ddlLockTimeout: number;
  retries: number;
  /** --statement-timeout: PostgreSQL's statement_timeout; 0 = no limit. */
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

/** PostgreSQL's limit for millisecond settings (lock_timeout, statement_timeout: a 32-bit int). */
export const MAX_MILLISECONDS = 2_147_483_647;
/** Backoff doubles from 1 s: the 10th retry already waits 512 s (17 minutes of waiting in all). */
export const MAX_RETRIES = 10;

/** A whole number from `min` to `max` (digits only: no signs, exponents, hex or fractions). */
export function wholeNumber(raw: unknown, flag: string, range: { min: number; max: number; unit?: string }): number {
  const text = String(raw).trim();
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    const what = range.unit ? `${range.unit} from ${range.min} to ${range.max}` : `a whole number from ${range.min} to ${range.max}`;
    throw new UsageError(`invalid ${flag} "${String(raw)}": expected ${what}`);
  }
  return n;
}

function optionalNumber(raw: unknown, flag: string, fallback: number, range: { min: number; max: number; unit?: string }): number;
function optionalNumber(raw: unknown, flag: string, fallback: undefined, range: { min: number; max: number; unit?: string }): number | undefined;
function optionalNumber(raw: unknown, flag: string, fallback: number | undefined, range: { min: number; max: number; unit?: string }): number | undefined {
  return raw === undefined ? fallback : wholeNumber(raw, flag, range);
}

// Checked before connecting (exit 2): a value PostgreSQL or Node would reject must not surface as a
// failed migration after the history table was created, or as a timer that fires at once.
const MILLISECONDS = { min: 0, max: MAX_MILLISECONDS, unit: 'milliseconds' };

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
    lockTimeout: optionalNumber(raw.lockTimeout, '--lock-timeout', 10_000, MILLISECONDS),
    connectTimeout: optionalNumber(raw.connectTimeout, '--connect-timeout', undefined, { min: 0, max: MAX_CONNECT_SECONDS, unit: 'seconds' }),
    ddlLockTimeout: optionalNumber(raw.ddlLockTimeout, '--ddl-lock-timeout', 5_000, MILLISECONDS),
    retries: optionalNumber(raw.retries, '--retries', 3, { min: 0, max: MAX_RETRIES }),
    statementTimeout: optionalNumber(raw.statementTimeout, '--statement-timeout', undefined, MILLISECONDS),
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

/** `migrate PHASE` in the table below (commander's name for it is the program's, `migrate`). */
export const PHASE_COMMAND = 'PHASE';

/**
 * Options of the program that are not SPEC §5 global options and change what a command does, and
 * the commands they apply to. Given to any other command they are exit 2, never silently ignored:
 * `migrate up init --rollback` must not apply, `status --dry-run` must not pass for a rehearsal.
 * The SPEC §5 global options (--yes included) apply everywhere, and so do the two settings
 * --backup-dir and --assume-timezone: they say where backups go and how 011 reads timestamps,
 * never what a command does, and scripts pass one set of settings to every command. Options of
 * one subcommand (backup's --out, restore's --truncate …) are commander's to refuse elsewhere.
 */
const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  '--dry-run': [PHASE_COMMAND, 'up', 'down', 'import-profiles', 'baseline'],
  '--rollback': [PHASE_COMMAND, 'plan'],
  '--allow-changed': [PHASE_COMMAND, 'up', 'down'],
  '--no-backup': [PHASE_COMMAND, 'up', 'down', 'restore'],
};

const commandName = (command: string) => (command === PHASE_COMMAND ? 'migrate PHASE' : `migrate ${command}`);

/**
 * Refuses (exit 2) a flag given on the command line that does not apply to `command`
 * (`PHASE_COMMAND` for `migrate PHASE`). `flags` are the long spellings given; `target` is the
 * command's TARGET argument, for the hint of `up X --rollback`.
 */
export function assertFlagsApply(command: string, flags: Iterable<string>, target?: string): void {
  for (const flag of flags) {
    const applies = COMMAND_FLAGS[flag];
    if (!applies || applies.includes(command)) continue;
    const message = `${flag} does not apply to ${commandName(command)}`;
    if (flag === '--rollback' && command === 'up') {
      const hint = target === undefined
        ? 'to revert, use migrate down (the newest migration) or migrate PHASE --rollback'
        : `to revert, use migrate ${target} --rollback or migrate down ${target}`;
      throw new UsageError(message, { hint });
    }
    if (flag === '--rollback' && command === 'down') throw new UsageError(message, { hint: 'migrate down reverts already: drop --rollback' });
    throw new UsageError(message, { hint: `${flag} applies to: ${applies.map((c) => (c === PHASE_COMMAND ? 'migrate PHASE' : c)).join(', ')}` });
  }
}
