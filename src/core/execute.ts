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
 * Consecutive plain steps are also pipelined with each other (`LOOKAHEAD_STEPS`): while step N
 * runs, steps N+1… are already on the wire, each in its own transaction. Their safety does not
 * depend on the client: each look-ahead step opens with a check, run by the server after its
 * BEGIN, that the step before it has its history row (committed: up) or no longer has one
 * (down). If step N fails, its COMMIT turns into a ROLLBACK, the check of N+1 fails (division by
 * zero on a count), and so does every later one: nothing after a failed step ever runs. A plain
 * step is a real (not dry) run of a transactional SQL file without destructive statements: a
 * destructive statement waits for its backup, a module runs JavaScript between statements, and a
 * no-transaction file runs statement by statement, so those end a look-ahead.
 *
 * Dry runs (SPEC §7) run the same steps inside the run's single transaction, each step under a
 * SAVEPOINT (so a lock-timeout retry can roll back just that step); the runner rolls it all back.
 */
import type { Database } from '../db/connect.js';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { MigrationFailed, StrataError } from '../errors.js';
import type { DestructiveAction } from '../sql/destructive.js';
import type { SqlStatement } from '../sql/statements.js';
import { isLockTimeout, moduleFailure, statementFailure } from './failure.js';
import type { HistoryStore } from './history.js';
import { recordingSql, type StatementReport } from './module-context.js';
import { declaredDestruction, type PreparedStep } from './steps.js';
import type { Logger, MigrationContext } from './types.js';

export type { StatementReport } from './module-context.js';

/** What one step did, for the SPEC §5 JSON `steps` and the human report. */
export interface StepReport {
  name: string;
  direction: 'up' | 'down';
  /** A SQL directory or a TS/JS module. */
  kind: 'sql' | 'module';
  statements: StatementReport[];
  /**
   * Milliseconds, rounded. A real run's applied step reports the `duration_ms` its history row
   * records (measured by the server, or for no-transaction steps the same number strata wrote).
   */
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
  /** A step destroyed only tables that were empty when it ran (checked under lock): say so, as protect() does. */
  noteEmpty?(step: PreparedStep, tables: { schema: string; name: string }[]): void;
  /**
   * What the run's confirmation covered (core/runner.ts): the tables assessed as holding rows
   * (`schema.name`), and whether destroying data was confirmed (--yes, or a yes on the terminal).
   * `protect` refuses (exit 6) a table it finds holding rows that the plan did not foresee — one
   * the run created, renamed or reached through its own `SET search_path` — unless confirmed.
   */
  expect?(plan: { foreseen: ReadonlySet<string>; confirmed: boolean }): void;
}

/**
 * Destructive steps whose tables all existed and were empty when the run was assessed. They are
 * sent like plain steps, with each destructive statement preceded by a lock on its tables and a
 * server-side check that they are still empty and that the names the statement writes without a
 * schema still find them (a division by zero if not: a `SET search_path` earlier in the run may
 * point a name at another table); if the check fails, the step is rolled back and run again the
 * guarded way, which judges the statement as it is then, with its backup. Keys: statement index.
 */
export type EmptyAtAssessment = Map<PreparedStep, Map<number, EmptyStatement>>;

/** A destructive statement's tables, empty when the run was assessed, and the unqualified names it writes. */
export interface EmptyStatement {
  tables: { schema: string; name: string }[];
  unqualified: string[];
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
  constructor(
    readonly statement: SqlStatement | undefined,
    readonly error: unknown,
    readonly ended: boolean,
    readonly chainedTo?: string,
    readonly stillEmpty = false,
  ) {
    super('pipeline failed');
  }
}

type Sent = {
  promise: Promise<{ count?: number | null; command?: string }>;
  statement?: SqlStatement;
  report?: StatementReport;
  /** The step's COMMIT (or RELEASE SAVEPOINT of a dry run). */
  ends?: boolean;
  /** Receives the statement's result (the history row's RETURNING duration_ms). */
  onResult?: (value: unknown) => void;
  /** The look-ahead check that the step before this one committed. */
  chainedTo?: string;
  /** The check that the tables of a destructive statement are still empty (see EmptyAtAssessment). */
  stillEmpty?: boolean;
};

/** A plain step whose whole pipeline has been sent (see the module comment). */
interface InFlight {
  queue: Sent[];
  statements: StatementReport[];
  notices: string[];
  /** Characters of its statements (for LOOKAHEAD_BYTES). */
  size: number;
}

/** How many steps may be on the wire after the running one, and how much SQL. */
const LOOKAHEAD_STEPS = 32;
const LOOKAHEAD_BYTES = 1 << 20;

/** Runs prepared steps on the run's connection. */
export class StepExecutor {
  /** The run's steps in order, for the look-ahead. */
  private plan: PreparedStep[] = [];
  private readonly position = new Map<PreparedStep, number>();
  /** Plain steps sent ahead of the running one, in plan order. */
  private readonly ahead = new Map<PreparedStep, InFlight>();
  private emptyAtAssessment: EmptyAtAssessment = new Map();
  /** The duration_ms each step's history row recorded (real runs), for its report. */
  private readonly recordedMs = new Map<PreparedStep, number>();

  constructor(
    private readonly db: Database,
    private readonly history: HistoryStore,
    private readonly settings: ExecutionSettings,
    private readonly log: Logger,
    private readonly guard?: DestructiveGuard,
  ) {}

  /** The steps of the run, in the order they will be run: plain ones are sent ahead. */
  setPlan(steps: PreparedStep[], emptyAtAssessment: EmptyAtAssessment = new Map()): void {
    this.plan = steps;
    // Without a guard nothing is backed up anyway (--no-backup): no check is owed.
    this.emptyAtAssessment = this.guard ? emptyAtAssessment : new Map();
    this.position.clear();
    steps.forEach((step, i) => this.position.set(step, i));
  }

  /** Runs a step, retrying on lock_timeout with backoff 1 s, 2 s, 4 s… (SPEC §5). */
  async run(step: PreparedStep): Promise<StepReport> {
    const report: StepReport = {
      name: step.name, direction: step.direction, kind: step.module ? 'module' : 'sql', statements: [], durationMs: 0, notices: [], warnings: [], backups: [], retries: 0,
    };
    const started = performance.now();
    // Kept with the step (rendered after it, and in the JSON); live on stderr only with -v. A notice
    // of a step sent ahead goes to that step: it arrives while one of its queries is the active one.
    this.db.setNoticeHandler((message) => {
      const owner = this.aheadOwning();
      (owner ? owner[1].notices : report.notices).push(message);
      this.log.debug(`${owner ? owner[0].name : step.name}: ${message}`);
    });
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
      // What history recorded, when it did: the report and `schema_migrations` never disagree.
      report.durationMs = this.recordedMs.get(step) ?? Math.round(performance.now() - started);
      this.recordedMs.delete(step);
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
    if (this.isPlain(step)) return this.runPlain(step, report);
    return step.transactional || this.settings.dryRun ? this.runSqlInTransaction(step, report) : this.runSqlAutocommit(step, report);
  }

  /** A step that can be sent ahead whole (see the module comment). */
  private isPlain(step: PreparedStep): boolean {
    if (this.settings.dryRun || step.module || !step.transactional || step.source === undefined) return false;
    // Without a guard (--no-backup, confirmed) a destructive statement waits for nothing either.
    return step.destructive.length === 0 || !this.guard || this.emptyAtAssessment.has(step);
  }

  /** A plain step: sent (unless already sent ahead), the next plain steps sent behind it, then read. */
  private async runPlain(step: PreparedStep, report: StepReport): Promise<void> {
    const flight = this.ahead.get(step) ?? this.sendPlain(step);
    this.ahead.delete(step);
    report.statements = flight.statements;
    this.sendAhead(step);
    try {
      await this.flush(flight.queue);
    } catch (error) {
      // Everything sent behind a failed step fails its check; wait until the session is quiet.
      await this.settleAhead();
      if (error instanceof PipelineFailure && error.stillEmpty) {
        // Rows arrived in a table the step destroys: roll back, and run it the guarded way (backup
        // first). What the rolled-back attempt said is dropped: the step says it again.
        await this.abort(error.ended);
        report.statements = [];
        return this.runSqlInTransaction(step, report);
      }
      if (error instanceof PipelineFailure) {
        await this.abort(error.ended);
        throw error.chainedTo !== undefined
          ? new MigrationFailed(`${step.name} did not run: the server did not see ${error.chainedTo} committed before it`, { cause: error.error })
          : statementFailure(step, error.statement, error.error);
      }
      throw error;
    }
    report.notices.unshift(...flight.notices);
    this.noteHistory(step);
    const emptied = [...(this.emptyAtAssessment.get(step)?.values() ?? [])].flatMap((entry) => entry.tables);
    if (emptied.length > 0) this.guard?.noteEmpty?.(step, emptied);
  }

  /** Sends the plain steps after `step` (up to the look-ahead limits), each chained to the one before. */
  private sendAhead(step: PreparedStep): void {
    let bytes = 0;
    for (const flight of this.ahead.values()) bytes += flight.size;
    for (let i = (this.position.get(step) ?? this.plan.length) + 1; i < this.plan.length; i++) {
      const next = this.plan[i]!;
      if (this.ahead.has(next)) continue;
      if (!this.isPlain(next) || this.ahead.size >= LOOKAHEAD_STEPS || bytes >= LOOKAHEAD_BYTES) return;
      const flight = this.sendPlain(next, this.plan[i - 1]!);
      bytes += flight.size;
      this.ahead.set(next, flight);
    }
  }

  /** Writes a plain step's whole pipeline: BEGIN, timeouts (+ the chain check), statements, history, COMMIT. */
  private sendPlain(step: PreparedStep, after?: PreparedStep): InFlight {
    const flight: InFlight = { queue: [], statements: [], notices: [], size: 0 };
    if (after) {
      this.send(flight.queue, 'BEGIN');
      this.send(flight.queue, this.chainCheckSql(after), { chainedTo: after.name });
    } else {
      for (const line of this.opening()) this.send(flight.queue, line);
    }
    const empty = this.emptyAtAssessment.get(step);
    for (const statement of step.statements) {
      const check = empty?.get(statement.index);
      if (check && check.tables.length > 0) {
        // Locked first, as the guard would, so no row can arrive between the check and the statement.
        const names = check.tables.map((t) => quoteQualified(t.schema, t.name));
        // (A failed LOCK falls back too: a table dropped since the assessment is the guarded path's business.)
        this.send(flight.queue, `LOCK TABLE ${names.join(', ')} IN ACCESS EXCLUSIVE MODE`, { stillEmpty: true });
        const anyRows = names.map((n) => `EXISTS (SELECT 1 FROM ${n})`);
        // A name that finds no table now makes the statement itself fail: not this check's business.
        const planned = names.map((n) => `${quoteLiteral(n)}::regclass`).join(', ');
        const elsewhere = check.unqualified.map((name) => `NOT coalesce(to_regclass(${quoteLiteral(quoteIdent(name))}) IN (${planned}), true)`);
        this.send(flight.queue, `SELECT 1 / (CASE WHEN ${[...anyRows, ...elsewhere].join(' OR ')} THEN 0 ELSE 1 END) AS still_empty`, { stillEmpty: true });
      }
      const entry: StatementReport = { sql: statement.sql, rowCount: null, line: statement.startLine };
      flight.statements.push(entry);
      flight.size += statement.sql.length;
      this.send(flight.queue, statement.sql, { statement, report: entry });
    }
    this.sendHistory(flight.queue, step);
    this.send(flight.queue, this.closing(), { ends: true });
    return flight;
  }

  /**
   * The opening of a step sent ahead, after its BEGIN: the SET LOCAL timeouts, and a division by
   * zero unless the step before it committed (up: its history row exists; down: it is gone).
   */
  private chainCheckSql(previous: PreparedStep): string {
    const settings = [`set_config('lock_timeout', '${Math.round(this.settings.ddlLockTimeoutMs)}ms', true)`];
    if (this.settings.statementTimeoutMs !== undefined) settings.push(`set_config('statement_timeout', '${Math.round(this.settings.statementTimeoutMs)}ms', true)`);
    const divisor = previous.direction === 'up' ? 'count(*)' : '1 - count(*)';
    return `SELECT ${settings.join(', ')}, 1 / (${divisor}) AS previous_committed FROM ${this.history.qualified} WHERE name = ${quoteLiteral(previous.name)}`;
  }

  /**
   * Waits for the steps still sent ahead and forgets them; returns those that committed. After a
   * failed step, none can have (each fails its chain check); only when the loop stopped for
   * another reason (it threw) can some be applied, with their history rows, and the run says so.
   */
  async settleAhead(): Promise<PreparedStep[]> {
    const flights = [...this.ahead];
    this.ahead.clear();
    const committed: PreparedStep[] = [];
    for (const [step, flight] of flights) {
      const results = await Promise.allSettled(flight.queue.map((s) => s.promise));
      const last = results.at(-1);
      if (results.every((r) => r.status === 'fulfilled') && last?.status === 'fulfilled' && last.value.command === 'COMMIT') {
        this.noteHistory(step);
        committed.push(step);
      }
    }
    return committed;
  }

  /** The step sent ahead whose query is being answered, when a notice arrives. */
  private aheadOwning(): [PreparedStep, InFlight] | undefined {
    for (const entry of this.ahead) {
      // postgres 3.4.9 marks the query it is reading results for as `active` (src/connection.js).
      if (entry[1].queue.some((s) => (s.promise as { active?: boolean }).active === true)) return entry;
    }
    return undefined;
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

  /**
   * The step's history row (up) or its removal (down), in its transaction. A real up step keeps the
   * duration_ms the row records; a dry run's would count from the rehearsal's start (its now()).
   */
  private sendHistory(queue: Sent[], step: PreparedStep): void {
    if (step.direction === 'down') return this.send(queue, this.history.deleteSql(step.name));
    const onResult = this.settings.dryRun ? undefined : (value: unknown) => {
      const ms = (value as { duration_ms?: unknown }[] | undefined)?.[0]?.duration_ms;
      if (typeof ms === 'number') this.recordedMs.set(step, ms);
    };
    this.send(queue, this.history.insertAppliedSql(step.name, step.migration.checksum), onResult ? { onResult } : {});
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
      if (result.status === 'rejected') {
        // A lock timeout is retried like any other, not taken for rows that arrived.
        const fallBack = item.stillEmpty === true && !isLockTimeout(result.reason);
        failure ??= new PipelineFailure(item.statement, result.reason, ended, item.chainedTo, fallBack);
      }
      else if (item.ends && result.value.command === 'ROLLBACK') {
        // COMMIT of an aborted transaction reports ROLLBACK; an error must have come first, but a
        // rolled-back step must never count as applied, whatever the reason.
        failure ??= new PipelineFailure(undefined, new Error('the transaction was rolled back at COMMIT'), ended);
      } else {
        if (item.report) item.report.rowCount = typeof result.value.count === 'number' ? result.value.count : null;
        item.onResult?.(result.value);
      }
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
        if (this.settings.dryRun && statement.transactionControl) {
          // Only a no-transaction file gets here with one: its own COMMIT would end the dry run's
          // transaction and let the rest of the rehearsal persist.
          report.statements.push({ sql: statement.sql, rowCount: null, line: statement.startLine, skipped: 'not executed in dry run (transaction control: the dry run is one transaction, rolled back)' });
          continue;
        }
        const entry: StatementReport = { sql: statement.sql, rowCount: null, line: statement.startLine };
        report.statements.push(entry);
        this.send(queue, statement.sql, { statement, report: entry });
      }
      this.sendHistory(queue, step);
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

  /**
   * A module's destruction as its `destroys(ctx)` sees it now, in the step's transaction: tables
   * earlier steps of the run created and filled count too (steps.ts `declaredDestruction`).
   */
  private async destructionNow(step: PreparedStep, report: StepReport): Promise<DestructiveAction[]> {
    if (!this.guard || !step.module || typeof step.module.destroys !== 'function') return step.destructive;
    // Not the recording context: destroys() only looks, and its queries are not the step's statements.
    const { schema, options, dryRun } = this.settings;
    const log = { info: (m: string) => report.notices.push(m), warn: (m: string) => report.warnings.push(m), debug: (m: string) => this.log.debug(`${step.name}: ${m}`) };
    try {
      return await declaredDestruction(step.module, step.name, step.direction, { sql: this.db.sql, direction: step.direction, dryRun, schema, log, options });
    } catch (error) {
      throw moduleFailure(step, error, undefined, 'destroys');
    }
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
      await this.guardActions(step, await this.destructionNow(step, report), report, new Set());
      await this.callModule(step, this.moduleContext(step, report, true));
      this.sendHistory(queue, step);
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
    // Inside a transaction block the file opened itself (BEGIN … COMMIT; steps.ts checks it closes).
    let inFileBlock = false;
    try {
      for (const statement of step.statements) {
        const entry: StatementReport = { sql: statement.sql, rowCount: null, line: statement.startLine };
        report.statements.push(entry);
        const actions = step.destructive.filter((a) => a.statementIndex === statement.index);
        let ownTransaction = false;
        try {
          let result: { count?: number | null };
          if (actions.length > 0 && statement.transactional && inFileBlock) {
            // The file's own transaction: the backup runs in it, before the statement (a BEGIN and
            // COMMIT of ours would commit the file's work half-way).
            await this.guardActions(step, actions, report, covered);
            result = await sql.unsafe(statement.sql);
          } else if (actions.length > 0 && statement.transactional && endsTransactions(statement)) {
            // A DO block or CALL that COMMITs cannot run inside our transaction ("invalid transaction
            // termination"): the backup commits first, then the statement runs on its own.
            await sql.unsafe('BEGIN');
            ownTransaction = true;
            await this.guardActions(step, actions, report, covered);
            await sql.unsafe('COMMIT');
            ownTransaction = false;
            const warning = `${step.name}: line ${statement.startLine} manages its own transactions: its tables were backed up just before it, not under its lock`;
            report.warnings.push(warning);
            this.log.warn(warning);
            result = await sql.unsafe(statement.sql);
          } else if (actions.length > 0 && statement.transactional) {
            // A destructive statement gets a transaction of its own, so its backup and the drop see the same rows.
            await sql.unsafe('BEGIN');
            ownTransaction = true;
            // Autocommit: each destructive statement is backed up in its own transaction.
            await this.guardActions(step, actions, report, covered);
            result = await sql.unsafe(statement.sql);
            await sql.unsafe('COMMIT');
            ownTransaction = false;
          } else {
            result = await sql.unsafe(statement.sql);
          }
          entry.rowCount = typeof result.count === 'number' ? result.count : null;
          if (statement.blockEffect) inFileBlock = statement.blockEffect === 'opens';
        } catch (error) {
          // The failed statement aborted the file's block (or ours): end it, so the session can record the failure.
          if (ownTransaction || inFileBlock) await sql.unsafe('ROLLBACK').catch(() => undefined);
          throw statementFailure(step, statement, error, hint);
        }
      }
    } finally {
      await sql.unsafe('RESET lock_timeout').catch(() => undefined);
      await sql.unsafe('RESET statement_timeout').catch(() => undefined);
    }
    await this.recordEnd(step, started);
  }

  /** A no-transaction step's end in history: applied with its duration (which its report shows too), or removed. */
  private async recordEnd(step: PreparedStep, started: number): Promise<void> {
    if (step.direction === 'down') return this.history.remove(step.name);
    const ms = Math.round(performance.now() - started);
    await this.history.markApplied(step.name, ms);
    this.recordedMs.set(step, ms);
  }

  /** no-transaction module: recorded as failed first; ctx.sql is the plain session. */
  private async runModuleAutocommit(step: PreparedStep, report: StepReport): Promise<void> {
    // What destroys() declares is backed up first, in a transaction of its own that commits before
    // the module runs: a no-transaction module cannot hold the tables' lock until its own statements
    // (rows written in between are not in the backup — the price of no-transaction, README).
    const actions = await this.destructionNow(step, report);
    if (this.guard && actions.length > 0) {
      await this.db.sql.unsafe('BEGIN');
      try {
        await this.guardActions(step, actions, report, new Set());
        await this.db.sql.unsafe('COMMIT');
      } catch (error) {
        await this.db.sql.unsafe('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
    if (step.direction === 'up') await this.history.markStarted(step.name, step.migration.checksum);
    else await this.history.markRevertStarted(step.name);
    const started = performance.now();
    try {
      await this.callModule(step, this.moduleContext(step, report, false));
    } catch (error) {
      throw moduleFailure(step, error, `${step.name} is recorded as failed; fix the database, then run: migrate repair ${step.name}`);
    }
    await this.recordEnd(step, started);
  }
}

/** A DO block or CALL whose text holds COMMIT or ROLLBACK: it ends transactions itself (no-transaction files only). */
function endsTransactions(statement: SqlStatement): boolean {
  return (statement.kind === 'DoStmt' || statement.kind === 'CallStmt') && /\b(commit|rollback)\b/i.test(statement.sql);
}
