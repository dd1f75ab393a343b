/**
 * The automatic backup before a destructive statement (SPEC §6), as the runner's
 * `DestructiveGuard` (core/execute.ts): on the migration's own transaction, lock the affected
 * tables ACCESS EXCLUSIVE (within the step's `lock_timeout`), then back up those holding rows
 * with `backupInTransaction`; in dry runs, only say what would be backed up.
 * Lock and backup errors propagate unchanged, so the runner's lock-timeout retry sees them.
 */
import path from 'node:path';
import { resolveAffectedAll } from '../core/destructive.js';
import type { DestructiveGuard } from '../core/execute.js';
import type { PreparedStep } from '../core/steps.js';
import type { Logger } from '../core/types.js';
import { quoteQualified } from '../db/quote.js';
import type { DestructiveAction } from '../sql/destructive.js';
import type { AnySql } from './copy.js';
import { displayName } from './names.js';
import { Refused } from '../errors.js';
import { withCopySettings } from './copy-settings.js';

/** Settings of the automatic backups of a run. */
export interface GuardOptions {
  /** `--backup-dir` (default `backups`), relative to `cwd`. */
  root: string;
  cwd: string;
  /** Redacted URL for the manifest. */
  database: string;
  /** Schema for unqualified names (`--schema`, default `public`). */
  schema?: string;
  log?: Logger;
}

/** The runner's guard: backs up what destructive actions destroy, before they run. */
export function createBackupGuard(options: GuardOptions): DestructiveGuard {
  const root = path.resolve(options.cwd, options.root);
  const schema = options.schema ?? 'public';
  const shown = (dir: string) => path.relative(options.cwd, dir) || dir;
  // Empty tables are checked again at their own statement (rows may arrive in between) but said once.
  const saidEmpty = new Set<string>();
  const firstTime = (step: PreparedStep, table: { schema: string; name: string }) => {
    const key = `${step.name}\0${step.direction}\0${table.schema}\0${table.name}`;
    if (saidEmpty.has(key)) return false;
    saidEmpty.add(key);
    return true;
  };
  let plan: { foreseen: ReadonlySet<string>; confirmed: boolean } = { foreseen: new Set(), confirmed: true };
  return {
    expect(expected) {
      plan = expected;
    },
    async protect(tx, step, actions, covered) {
      const tables = await uncoveredTables(tx, actions, schema, covered);
      if (tables.length === 0) return [];
      const unforeseen = plan.confirmed ? [] : tables.filter((t) => t.hasRows && !plan.foreseen.has(`${t.schema}.${t.name}`));
      if (unforeseen.length > 0) {
        // Before anything is written: the step's transaction rolls back, earlier steps stay applied.
        // A no-transaction file's earlier statements have run (autocommit), and it is recorded as failed.
        const outcome = step.transactional
          ? 'nothing of this step was applied'
          : `the statements before it ran (no-transaction) and ${step.name} is recorded as failed`;
        throw new Refused(`refusing to run ${step.name} (${step.direction}) without confirmation: it destroys data in ${unforeseen.map(displayName).join(', ')}, `
          + `which the run's plan did not see holding rows (created or renamed by the run, or found through its own search_path); ${outcome}`, {
          hint: step.transactional
            ? 'migrate status shows what this run applied before it; rehearse with --dry-run, then rerun with --yes'
            : `check the database, then migrate repair ${step.name} and rerun with --yes`,
        });
      }
      // Loaded only when something must be backed up: the engine (and zod) cost ~40 ms to import.
      const { backupInTransaction } = await import('./backup.js');
      // SPEC §6: locked before the copy, so no row can arrive between the backup and the drop.
      await tx.unsafe(`LOCK TABLE ${tables.map((t) => quoteQualified(t.schema, t.name)).join(', ')} IN ACCESS EXCLUSIVE MODE`);
      const { backup } = await backupInTransaction(tx, tables.map((t) => ({ schema: t.schema, table: t.name })), {
        root, reason: reasonOf(step), database: options.database,
      });
      const empty = tables.filter((t) => !backup?.manifest.tables.some((m) => m.schema === t.schema && m.name === t.name) && firstTime(step, t));
      if (empty.length > 0) options.log?.info(`${empty.map(displayName).join(', ')}: empty, nothing to back up`);
      if (!backup) return [];
      // Only tables actually backed up count as covered: an empty one is checked again at its own statement.
      for (const t of backup.manifest.tables) covered.add(`${t.schema}.${t.name}`);
      options.log?.info(`backed up ${backup.manifest.tables.map((t) => `${t.table} (${rowsText(t.rows)})`).join(', ')} to ${shown(backup.dir)}`);
      return [shown(backup.dir)];
    },
    noteEmpty(step, tables) {
      const empty = tables.filter((t) => firstTime(step, t));
      if (empty.length > 0) options.log?.info(`${empty.map(displayName).join(', ')}: empty, nothing to back up`);
    },
    async rehearse(tx, step, actions, covered) {
      const lines: string[] = [];
      const { countRows } = await import('./restore-catalog.js');
      const tables = await uncoveredTables(tx, actions, schema, covered);
      // Counted as the backup would see them (row_security off among the COPY settings): a table
      // whose rows a policy hides must not be said empty here and fail the real run.
      const counts = await withCopySettings(tx as AnySql, async () => {
        const found: number[] = [];
        for (const table of tables) found.push(await countRows(tx as AnySql, table));
        return found;
      });
      for (const [i, table] of tables.entries()) {
        const rows = counts[i] ?? 0;
        if (rows === 0) {
          if (firstTime(step, table)) lines.push(`${displayName(table)} is empty: nothing to back up before ${step.name} ${step.direction} destroys it`);
          continue;
        }
        covered.add(`${table.schema}.${table.name}`);
        lines.push(`would back up ${displayName(table)} (${rowsText(rows)}) before ${step.name} ${step.direction} destroys it`);
      }
      return lines;
    },
  };
}

async function uncoveredTables(tx: Parameters<DestructiveGuard['protect']>[0], actions: DestructiveAction[], schema: string, covered: Set<string>) {
  const seen = new Set<string>();
  const tables = [];
  for (const affected of await resolveAffectedAll(tx, actions, schema)) {
    for (const t of affected) {
      const key = `${t.schema}.${t.name}`;
      if (!t.exists || covered.has(key) || seen.has(key)) continue;
      seen.add(key);
      tables.push(t);
    }
  }
  return tables;
}

/** `003_add_program_tables_down`: the step and its direction, as the directory's reason. */
function reasonOf(step: PreparedStep): string {
  return `${step.name}_${step.direction}`;
}

/** `1 row`, `30 rows`. */
function rowsText(rows: number): string {
  return rows === 1 ? '1 row' : `${rows} rows`;
}
