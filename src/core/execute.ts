/**
 * Runs one step (SPEC §5, §7).
 *
 * A transactional SQL step is pipelined: BEGIN, the SET LOCAL timeouts, every statement, the
 * history row and COMMIT are written to the socket together and their results read back in
 * order, so a migration costs one round trip instead of one per statement. If a statement fails,
 * PostgreSQL aborts the transaction, the statements behind it fail with "transaction aborted",
 * and the COMMIT at the end turns into a ROLLBACK: nothing of the migration and no history row
 * remains. The pipeline only stops early before a destructive statement, where the guard locks
 * and backs up the tables inside the same transaction (SPEC §6).
 *
 * Dry runs (SPEC §7) run the same steps inside the run's single transaction, each step under a
 * SAVEPOINT (so a lock-timeout retry can roll back just that step); the runner rolls it all back.
 */
import type { Database } from '../db/connect.js';
import { MigrationFailed, StrataError } from '../errors.js';
import type { DestructiveAction } from '../sql/destructive.js';
import type { SqlStatement } from '../sql/statements.js';
import { isLockTimeout, moduleFailure, statementFailure } from './failure.js';
import type { HistoryStore } from './history.js';
import { recordingSql, type StatementReport } from './module-context.js';
import type { PreparedStep } from './steps.js';
import type { Logger, MigrationContext } from './types.js';

export type { StatementReport } from './module-context.js';

/** What one step did, for the SPEC §5 JSON `steps` and the human report. */
export interface StepReport {
  name: string;
  direction: 'up' | 'down';
  statements: StatementReport[];
  durationMs: number;
  /** Server NOTICEs and the module's log lines during the step (backfill counts). */
  notices: string[];
  /** The module's warnings (also printed on stderr as they happen). */
  warnings: string[];
  /** Backup directories written before destructive statements of this step. */
  backups: string[];
  /** Lock-timeout retries this step needed. */
  retries: number;
}

/**
 * Backs up what destructive actions destroy (implemented by the backup module, SPEC §6).
 * The executor calls it once, before a step's first destructive statement, with all of the step's
 * actions — so the tables a step drops are backed up together, in one directory and one snapshot —
 * and again before a later destructive statement only for tables not yet covered (e.g. created
 * further down the same step). `covered` holds `schema.table` keys and is updated by the guard.
 */
export interface DestructiveGuard {
  /** Real runs: lock the affected tables and back up those holding rows, on `tx`. Returns backup dirs. */
  protect(tx: Database['sql'], step: PreparedStep, actions: DestructiveAction[], covered: Set<string>): Promise<string[]>;
  /** Dry runs: say what would be backed up (tables, row counts), writing nothing. Returns report lines. */
  rehearse(tx: Database['sql'], step: PreparedStep, actions: DestructiveAction[], covered: Set<string>): Promise<string[]>;
}

/** Timeouts, retries and mode of a run. */
export interface ExecutionSettings {
  /** `--ddl-lock-timeout` (SET LOCAL lock_timeout for every migration). */
  ddlLockTimeoutMs: number;
  /** `--retries`: re-runs of a step that failed on lock_timeout. */
  retries: number;
  /** `--statement-timeout`; dry runs default to 60 s (set by the runner). */
  statementTimeoutMs?: number | undefined;
  dryRun: boolean;
  schema: string;
  /** Passed to modules as `ctx.options`. */
  options: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

/** Thrown inside the pipeline: which statement failed, with the raw error. */
class PipelineFailure extends Error {
  constructor(readonly statement: SqlStatement | undefined, readonly error: unknown, readonly ended: boolean) {
    super('pipeline failed');
  }
}

type Sent = { promise: Promise<{ count?: number | null; command?: string }>; statement?: SqlStatement; report?: StatementReport; ends?: boolean };

/** Runs prepared steps on the run's connection. */
export class StepExecutor {
  constructor(
    private readonly db: Database,
    private readonly history: HistoryStore,
    private readonly settings: ExecutionSettings,
    private readonly log: Logger,
    private readonly guard?: DestructiveGuard,
  ) {}

  /** Runs a step, retrying on lock_timeout with backoff 1 s, 2 s, 4 s… (SPEC §5). */
  async run(step: PreparedStep): Promise<StepReport> {
    const report: StepReport = { name: step.name, direction: step.direction, statements: [], durationMs: 0, notices: [], warnings: [], backups: [], retries: 0 };
    const started = performance.now();
    // Kept with the step (rendered after it, and in the JSON); live on stderr only with -v.
    this.db.setNoticeHandler((message) => { report.notices.push(message); this.log.debug(`${step.name}: ${message}`); });
    try {
      for (let attempt = 0; ; attempt++) {
        report.statements = [];
        try {
          await this.runOnce(step, report);
          break;
        } catch (error) {
          const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
          const retryable = (step.transactional || this.settings.dryRun) && isLockTimeout(cause) && attempt < this.settings.retries;
          if (!retryable) throw error;
          const delay = 1000 * 2 ** attempt;
          report.retries++;
          this.log.warn(`${step.name}: lock not acquired within ${this.settings.ddlLockTimeoutMs} ms; retrying in ${delay / 1000} s (retry ${attempt + 1} of ${this.settings.retries})`);
          await (this.settings.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(delay);
        }
      }
    } catch (error) {
      // The step failed after its backup was written and verified: the backup is kept (a verified
      // backup is never deleted) and named, so nobody wonders whether the data went with it.
      if (error instanceof StrataError && report.backups.length > 0) {
        error.details = { ...error.details, failedStepBackups: [...report.backups] };
      }
      throw error;
    } finally {
      this.db.setNoticeHandler(undefined);
      report.durationMs = Math.round(performance.now() - started);
    }
    return report;
  }

  private async runOnce(step: PreparedStep, report: StepReport): Promise<void> {
    if (step.module) {
      if (!step.transactional && this.settings.dryRun) {
        report.statements.push({ sql: `${step.direction}() of ${step.name}`, rowCount: null, skipped: 'not executed in dry run (no-transaction module)' });
        return;
      }
      return step.transactional || this.settings.dryRun ? this.runModuleInTransaction(step, report) : this.runModuleAutocommit(step, report);
    }
    return step.transactional || this.settings.dryRun ? this.runSqlInTransaction(step, report) : this.runSqlAutocommit(step, report);
  }

  /** BEGIN + SET LOCAL lines of a real step, or the SAVEPOINT of a dry-run step. */
  private opening(): string[] {
    if (this.settings.dryRun) return ['SAVEPOINT strata_step'];
    const lines = ['BEGIN', `SET LOCAL lock_timeout = '${Math.round(this.settings.ddlLockTimeoutMs)}ms'`];
    if (this.settings.statementTimeoutMs !== undefined) lines.push(`SET LOCAL statement_timeout = '${Math.round(this.settings.statementTimeoutMs)}ms'`);
    return lines;
  }

  private closing(): string {
    return this.settings.dryRun ? 'RELEASE SAVEPOINT strata_step' : 'COMMIT';
  }

  private historySql(step: PreparedStep): string {
    return step.direction === 'up' ? this.history.insertAppliedSql(step.name, step.migration.checksum) : this.history.deleteSql(step.name);
  }

  private noteHistory(step: PreparedStep): void {
    if (step.direction === 'up') {
      this.history.noteRecorded({ name: step.name, checksum: step.migration.checksum, appliedAt: new Date(), durationMs: 0, appliedBy: '', state: 'applied' });
    } else {
      this.history.noteRecorded({ name: step.name, removed: true });
    }
  }

  /** Sends without waiting; results are read by `settle`. */
  private send(queue: Sent[], text: string, extra: Omit<Sent, 'promise'> = {}): void {
    const promise = this.db.sql.unsafe(text) as unknown as Sent['promise'];
    promise.catch(() => undefined); // read by settle(); keeps Node from reporting it unhandled meanwhile
    queue.push({ promise, ...extra });
  }

  /** Waits for everything sent; the first failure in order wins (later ones are "transaction aborted"). */
  private async flush(queue: Sent[]): Promise<void> {
    const items = queue.splice(0);
    const results = await Promise.allSettled(items.map((s) => s.promise));
    const ended = items.some((s) => s.ends);
    let failure: PipelineFailure | undefined;
    for (const [i, result] of results.entries()) {
      const item = items[i]!;
      if (result.status === 'rejected') failure ??= new PipelineFailure(item.statement, result.reason, ended);
      else if (item.report) item.report.rowCount = typeof result.value.count === 'number' ? result.value.count : null;
    }
    if (failure) throw failure;
  }

  private async abort(ended: boolean): Promise<void> {
    if (ended) return;
    await this.db.sql.unsafe(this.settings.dryRun ? 'ROLLBACK TO SAVEPOINT strata_step' : 'ROLLBACK').catch(() => undefined);
  }

  /** Backs up (or, in a dry run, reports) what `actions` destroy, skipping tables already covered. */
  private async guardActions(step: PreparedStep, actions: DestructiveAction[], report: StepReport, covered: Set<string>): Promise<void> {
    if (!this.guard || actions.length === 0) return;
    if (this.settings.dryRun) {
      for (const line of await this.guard.rehearse(this.db.sql, step, actions, covered)) report.notices.push(line);
    } else {
      report.backups.push(...(await this.guard.protect(this.db.sql, step, actions, covered)));
    }
  }

  private async runSqlInTransaction(step: PreparedStep, report: StepReport): Promise<void> {
    const queue: Sent[] = [];
    const covered = new Set<string>();
    let guarded = false;
    for (const line of this.opening()) this.send(queue, line);
    try {
      for (const statement of step.statements) {
        const actions = step.destructive.filter((a) => a.statementIndex === statement.index);
        if (actions.length > 0) {
          await this.flush(queue);
          // The first destructive statement backs up everything the step destroys, in one directory
          // and one snapshot; later ones only what was not there yet (tables the step created).
          await this.guardActions(step, guarded ? actions : step.destructive, report, covered);
          guarded = true;
        }
        if (this.settings.dryRun && !statement.transactional) {
          report.statements.push({ sql: statement.sql, rowCount: null, line: statement.startLine, skipped: 'not executed in dry run' });
          continue;
        }
        const entry: StatementReport = { sql: statement.sql, rowCount: null, line: statement.startLine };
        report.statements.push(entry);
        this.send(queue, statement.sql, { statement, report: entry });
      }
      this.send(queue, this.historySql(step));
      this.send(queue, this.closing(), { ends: !this.settings.dryRun });
      await this.flush(queue);
      this.noteHistory(step);
    } catch (error) {
      if (error instanceof PipelineFailure) {
        await this.abort(error.ended);
        throw statementFailure(step, error.statement, error.error);
      }
      await this.abort(false);
      throw error;
    }
  }

  private moduleContext(step: PreparedStep, report: StepReport, inTransaction: boolean): MigrationContext {
    // Warnings go to stderr at once; info lines are kept with the step (live with -v).
    const note = (level: 'info' | 'warn') => (message: string) => {
      (level === 'warn' ? report.warnings : report.notices).push(message);
      this.log[level === 'warn' ? 'warn' : 'debug'](`${step.name}: ${message}`);
    };
    return {
      sql: recordingSql(this.db.sql, report.statements, inTransaction),
      direction: step.direction,
      dryRun: this.settings.dryRun,
      schema: this.settings.schema,
      log: { info: note('info'), warn: note('warn'), debug: (m) => this.log.debug(`${step.name}: ${m}`) },
      options: this.settings.options,
    };
  }

  private async callModule(step: PreparedStep, ctx: MigrationContext): Promise<void> {
    const fn = step.direction === 'up' ? step.module?.up : step.module?.down;
    if (!fn) throw new MigrationFailed(`${step.name} has no ${step.direction}()`);
    await fn.call(step.module, ctx);
  }

  private async runModuleInTransaction(step: PreparedStep, report: StepReport): Promise<void> {
    const queue: Sent[] = [];
    for (const line of this.opening()) this.send(queue, line);
    let ended = false;
    try {
      await this.flush(queue);
      await this.guardActions(step, step.destructive, report, new Set());
      await this.callModule(step, this.moduleContext(step, report, true));
      this.send(queue, this.historySql(step));
      this.send(queue, this.closing(), { ends: !this.settings.dryRun });
      await this.flush(queue).catch((error: unknown) => { ended = error instanceof PipelineFailure && error.ended; throw error; });
      this.noteHistory(step);
    } catch (error) {
      await this.abort(ended);
      const cause = error instanceof PipelineFailure ? error.error : error;
      throw moduleFailure(step, cause);
    }
  }

  /** no-transaction SQL (SPEC §3, §5): recorded as failed first, then statement by statement. */
  private async runSqlAutocommit(step: PreparedStep, report: StepReport): Promise<void> {
    const sql = this.db.sql;
    if (step.direction === 'up') await this.history.markStarted(step.name, step.migration.checksum);
    else await this.history.markRevertStarted(step.name);
    const started = performance.now();
    const hint = `${step.name} is recorded as failed; fix the database, then run: migrate repair ${step.name}`;
    // Session-level timeouts: in autocommit each statement is its own transaction.
    await sql.unsafe(`SET lock_timeout = '${Math.round(this.settings.ddlLockTimeoutMs)}ms'`);
    if (this.settings.statementTimeoutMs !== undefined) await sql.unsafe(`SET statement_timeout = '${Math.round(this.settings.statementTimeoutMs)}ms'`);
    const covered = new Set<string>();
    try {
      for (const statement of step.statements) {
        const entry: StatementReport = { sql: statement.sql, rowCount: null, line: statement.startLine };
        report.statements.push(entry);
        const actions = step.destructive.filter((a) => a.statementIndex === statement.index);
        let inTransaction = false;
        try {
          let result: { count?: number | null };
          if (actions.length > 0 && statement.transactional) {
            // A destructive statement gets a transaction of its own, so its backup and the drop see the same rows.
            await sql.unsafe('BEGIN');
            inTransaction = true;
            // Autocommit: each destructive statement is backed up in its own transaction.
            await this.guardActions(step, actions, report, covered);
            result = await sql.unsafe(statement.sql);
            await sql.unsafe('COMMIT');
            inTransaction = false;
          } else {
            result = await sql.unsafe(statement.sql);
          }
          entry.rowCount = typeof result.count === 'number' ? result.count : null;
        } catch (error) {
          if (inTransaction) await sql.unsafe('ROLLBACK').catch(() => undefined);
          throw statementFailure(step, statement, error, hint);
        }
      }
    } finally {
      await sql.unsafe('RESET lock_timeout').catch(() => undefined);
      await sql.unsafe('RESET statement_timeout').catch(() => undefined);
    }
    if (step.direction === 'up') await this.history.markApplied(step.name, performance.now() - started);
    else await this.history.remove(step.name);
  }

  /** no-transaction module: recorded as failed first; ctx.sql is the plain session. */
  private async runModuleAutocommit(step: PreparedStep, report: StepReport): Promise<void> {
    if (step.direction === 'up') await this.history.markStarted(step.name, step.migration.checksum);
    else await this.history.markRevertStarted(step.name);
    const started = performance.now();
    try {
      await this.callModule(step, this.moduleContext(step, report, false));
    } catch (error) {
      throw moduleFailure(step, error, `${step.name} is recorded as failed; fix the database, then run: migrate repair ${step.name}`);
    }
    if (step.direction === 'up') await this.history.markApplied(step.name, performance.now() - started);
    else await this.history.remove(step.name);
  }
}
