/**
 * `migrate check` (SPEC §5): the CI gate for migrations themselves. On a throwaway database, for
 * each migration: apply it, run its checks, roll it back, compare the schema with the schema
 * before it, re-apply it, run its checks again. The first migration whose down does not restore
 * the schema exactly, or whose checks fail, ends the check (exit 1) with the difference.
 */
import type { Database } from '../db/connect.js';
import { StrataError } from '../errors.js';
import { HistoryStore } from './history.js';
import { findTarget, migrationStatus } from './plan.js';
import { compareMigrations, type ResolvedMigration } from './resolver.js';
import { runMigrations, type RunRequest } from './runner.js';
import { loadMigrationModule } from './steps.js';
import { describeChange, diffSchemas, snapshotSchema } from './schema.js';
import type { Logger } from './types.js';
import { verifyMigrations, type CheckResult } from './verify.js';

/** One action of the check (SPEC §5 JSON). */
export interface CheckStep {
  migration: string;
  action: 'up' | 'verify' | 'down' | 'compare';
  ok: boolean;
  durationMs: number;
  /** compare: what differs between the schema before up and after down. */
  diff?: string[];
  /** Why the action failed, or a note (e.g. irreversible). */
  detail?: string;
}

/** The whole check. */
export interface CheckReport {
  ok: boolean;
  steps: CheckStep[];
}

/** Settings of the runs the check makes. */
export interface CheckRequest {
  target?: string | undefined;
  schema: string;
  historyTable: string;
  ddlLockTimeoutMs: number;
  retries: number;
  statementTimeoutMs?: number | undefined;
  options: Readonly<Record<string, string | undefined>>;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; durationMs: number }> {
  const started = performance.now();
  try {
    return { value: await fn(), durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { error, durationMs: Math.round(performance.now() - started) };
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function describeFailedCheck(check: CheckResult, current: string): string {
  const owner = check.migration === current ? '' : `${check.migration}'s check, after ${current}: `;
  return `${owner}${check.check}: ${check.error ?? plural(check.violations, 'violation')}`;
}

function errorText(error: unknown): string {
  return error instanceof StrataError || error instanceof Error ? error.message : String(error);
}

/** Runs the check on `db`, which must be a database of its own (it is changed freely). */
export async function checkMigrations(db: Database, migrations: ResolvedMigration[], request: CheckRequest, log: Logger): Promise<CheckReport> {
  const location = { schema: request.schema, table: request.historyTable };
  const entries = migrationStatus(migrations, await new HistoryStore(db.sql, location).load());
  const limit = request.target === undefined ? undefined : findTarget(entries, request.target);
  const todo = entries.filter((e) => e.state === 'pending' && (!limit || compareMigrations(e, limit) <= 0));
  const steps: CheckStep[] = [];
  const run = (direction: 'up' | 'down', name: string) => {
    const runRequest: RunRequest = {
      direction, target: name, dryRun: false, allowChanged: false, yes: true, noBackup: true, interactive: false,
      lockTimeoutMs: 10_000, ddlLockTimeoutMs: request.ddlLockTimeoutMs, retries: request.retries,
      statementTimeoutMs: request.statementTimeoutMs, schema: request.schema, historyTable: request.historyTable, options: request.options,
    };
    return runMigrations(db, migrations, runRequest, { log });
  };
  const verify = (name: string) => verifyMigrations(db, migrations, { target: name, schema: request.schema, historyTable: request.historyTable, options: request.options }, log);
  const record = (step: CheckStep): boolean => { steps.push(step); return step.ok; };

  for (const entry of todo) {
    const name = entry.name;
    const before = await snapshotSchema(db.sql, location);
    const up = await timed(() => run('up', name));
    if (!record({ migration: name, action: 'up', ok: !up.error, durationMs: up.durationMs, ...(up.error ? { detail: errorText(up.error) } : {}) })) break;
    const checks = await timed(() => verify(name));
    // Every applied migration's checks, not only this one's: a later migration can break an earlier check.
    const failedChecks = checks.value?.checks.filter((c) => !c.ok) ?? [];
    if (!record({ migration: name, action: 'verify', ok: !checks.error && failedChecks.length === 0, durationMs: checks.durationMs,
      ...(checks.error ? { detail: errorText(checks.error) } : failedChecks.length ? { detail: failedChecks.map((c) => describeFailedCheck(c, name)).join('; ') } : {}) })) break;
    // A module is reversible when it exports down(ctx) (loaded once more: the import is cached).
    const reversible = entry.migration?.kind === 'module'
      ? typeof (await loadMigrationModule(entry.migration.path)).down === 'function'
      : entry.migration?.down !== undefined;
    if (!reversible) {
      record({ migration: name, action: 'down', ok: true, durationMs: 0, detail: 'irreversible (no down): not rolled back' });
      continue;
    }
    const down = await timed(() => run('down', name));
    if (!record({ migration: name, action: 'down', ok: !down.error, durationMs: down.durationMs, ...(down.error ? { detail: errorText(down.error) } : {}) })) break;
    const compared = await timed(async () => diffSchemas(before, await snapshotSchema(db.sql, location)));
    const diff = (compared.value ?? []).map((c) => describeChange(c));
    if (!record({ migration: name, action: 'compare', ok: !compared.error && diff.length === 0, durationMs: compared.durationMs, ...(diff.length ? { diff } : {}),
      ...(compared.error ? { detail: errorText(compared.error) } : diff.length ? { detail: 'down does not restore the schema' } : {}) })) break;
    const again = await timed(() => run('up', name));
    if (!record({ migration: name, action: 'up', ok: !again.error, durationMs: again.durationMs, ...(again.error ? { detail: `re-apply: ${errorText(again.error)}` } : {}) })) break;
    const recheck = await timed(() => verify(name));
    const failedAgain = recheck.value?.checks.filter((c) => !c.ok) ?? [];
    if (!record({ migration: name, action: 'verify', ok: !recheck.error && failedAgain.length === 0, durationMs: recheck.durationMs,
      ...(recheck.error ? { detail: errorText(recheck.error) } : failedAgain.length ? { detail: failedAgain.map((c) => describeFailedCheck(c, name)).join('; ') } : {}) })) break;
  }
  return { ok: steps.every((s) => s.ok), steps };
}
