/**
 * `verify [TARGET]` (SPEC §5): the named checks of applied migrations, plus the checksum check.
 * Checks are read-only SELECTs returning violations; each runs in its own read-only statement so
 * one broken check cannot hide the others, and all are pipelined in one round trip.
 */
import type { Database } from '../db/connect.js';
import { ExitCode, UsageError } from '../errors.js';
import { HistoryStore } from './history.js';
import { findTarget, migrationStatus, type StatusEntry } from './plan.js';
import { compareMigrations, type ResolvedMigration } from './resolver.js';
import { loadMigrationModule } from './steps.js';
import type { Logger } from './types.js';

/** One check's outcome (SPEC §5 JSON). */
export interface CheckResult {
  migration: string;
  check: string;
  ok: boolean;
  violations: number;
  /** Up to 10 violating rows. */
  sample: Record<string, unknown>[];
  /** Set when the check itself could not run. */
  error?: string;
}

/** `verify` result; `exitCode` is 0, 1 (a check failed) or 5 (a checksum failed). */
export interface VerifyResult {
  ok: boolean;
  checks: CheckResult[];
  exitCode: 0 | 1 | 5;
}

/** What verify needs to know. */
export interface VerifyRequest {
  target?: string | undefined;
  schema: string;
  historyTable: string;
  /** statement_timeout per check, so a runaway check cannot hang CI. */
  statementTimeoutMs?: number | undefined;
  options: Readonly<Record<string, string | undefined>>;
}

const SAMPLE = 10;

function checksumCheck(entry: StatusEntry): CheckResult {
  const ok = entry.state === 'applied';
  const sample = ok ? [] : [{
    state: entry.state,
    recorded: entry.row?.checksum ?? null,
    onDisk: entry.state === 'missing' ? null : entry.checksum,
  }];
  return { migration: entry.name, check: 'checksum', ok, violations: ok ? 0 : 1, sample };
}

async function sqlChecks(db: Database, migration: ResolvedMigration): Promise<CheckResult[]> {
  if (!migration.verify) return [];
  const { loadSqlParser } = await import('../sql/parser.js');
  const { parseChecks } = await import('../sql/checks.js');
  await loadSqlParser();
  const checks = parseChecks(migration.verify.text, migration.verify.displayPath);
  // count(*) OVER () gives the total number of violations alongside the first 10 rows, in one query.
  const queries = checks.map((check) => db.sql.unsafe<Record<string, unknown>[]>(
    `SELECT count(*) OVER () AS "__strata_total", v.* FROM (${check.sql}\n) AS v LIMIT ${SAMPLE}`));
  for (const q of queries) q.catch(() => undefined);
  const settled = await Promise.allSettled(queries);
  return checks.map((check, i) => {
    const outcome = settled[i]!;
    if (outcome.status === 'rejected') {
      const message = (outcome.reason as Error).message;
      return { migration: migration.name, check: check.title, ok: false, violations: 0, sample: [], error: `${migration.verify!.displayPath}:${check.line}: ${message}` };
    }
    const rows = [...outcome.value];
    const total = rows.length > 0 ? Number(rows[0]!.__strata_total) : 0;
    const sample = rows.map(({ __strata_total: _total, ...rest }) => rest);
    return { migration: migration.name, check: check.title, ok: total === 0, violations: total, sample };
  });
}

async function moduleChecks(db: Database, migration: ResolvedMigration, request: VerifyRequest, log: Logger): Promise<CheckResult[]> {
  const mod = await loadMigrationModule(migration.path);
  if (typeof mod.verify !== 'function') return [];
  try {
    const results = await mod.verify({ sql: db.sql, direction: 'up', dryRun: false, schema: request.schema, log, options: request.options });
    return results.map((r) => ({
      migration: migration.name, check: r.check, ok: r.violations.length === 0, violations: r.violations.length, sample: r.violations.slice(0, SAMPLE),
    }));
  } catch (error) {
    return [{ migration: migration.name, check: 'verify()', ok: false, violations: 0, sample: [], error: (error as Error).message }];
  }
}

/** Runs the checks of every applied migration (up to TARGET) and the checksum check. */
export async function verifyMigrations(db: Database, migrations: ResolvedMigration[], request: VerifyRequest, log: Logger): Promise<VerifyResult> {
  const history = new HistoryStore(db.sql, { schema: request.schema, table: request.historyTable });
  const entries = migrationStatus(migrations, await history.load());
  const limit = request.target === undefined ? undefined : findTarget(entries, request.target);
  const inScope = entries.filter((e) => e.state !== 'pending' && (!limit || compareMigrations(e, limit) <= 0));
  if (limit && limit.state === 'pending') {
    throw new UsageError(`${limit.name} is not applied: nothing to verify up to it`);
  }
  await db.sql.unsafe('SET default_transaction_read_only = on');
  if (request.statementTimeoutMs !== undefined) await db.sql.unsafe(`SET statement_timeout = '${Math.round(request.statementTimeoutMs)}ms'`);
  const checks: CheckResult[] = [];
  try {
    for (const entry of inScope) {
      checks.push(checksumCheck(entry));
      if (!entry.migration || entry.state === 'failed') continue;
      checks.push(...(entry.migration.kind === 'sql'
        ? await sqlChecks(db, entry.migration)
        : await moduleChecks(db, entry.migration, request, log)));
    }
  } finally {
    await db.sql.unsafe('RESET default_transaction_read_only').catch(() => undefined);
  }
  const checksumFailed = checks.some((c) => c.check === 'checksum' && !c.ok);
  const anyFailed = checks.some((c) => !c.ok);
  const exitCode = checksumFailed ? ExitCode.integrity : anyFailed ? ExitCode.failed : ExitCode.ok;
  return { ok: !anyFailed, checks, exitCode };
}
