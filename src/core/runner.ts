/**
 * A run of `up`/`down` (SPEC §5, §7): lock, read history, select and classify the steps, decide
 * on confirmation, then execute them with umzug v3 as the loop (our storage, our migrations, our
 * executor). Returns the SPEC's JSON shape; the CLI renders it.
 */
import { createRequire } from 'node:module';
import type * as UmzugModule from 'umzug';
import type { Database } from '../db/connect.js';
import { Refused, StrataError } from '../errors.js';
import { assessDestructive, tableLabel, tablesAtRisk, type DestructiveFinding } from './destructive.js';
import { StepExecutor, type DestructiveGuard, type EmptyAtAssessment, type EmptyStatement, type StepReport } from './execute.js';
import { HistoryStore } from './history.js';
import { withRunLock } from './lock.js';
import { migrationStatus, selectDown, selectUp } from './plan.js';
import type { ResolvedMigration } from './resolver.js';
import { prepareSteps, type PreparedStep } from './steps.js';
import type { Direction, Logger } from './types.js';

/**
 * umzug without its command-line front end (dist/vendor/umzug.cjs, built by scripts/bundle-vendor.mjs):
 * the package's own entry loads @rushstack/ts-command-line and costs 140–220 ms per run. Running
 * from the TypeScript sources (tests of core modules), the package itself is used.
 */
async function loadUmzug(): Promise<typeof UmzugModule> {
  let umzug: typeof UmzugModule;
  try {
    umzug = createRequire(import.meta.url)('../vendor/umzug.cjs') as typeof UmzugModule;
  } catch {
    umzug = await import('umzug');
  }
  readDebugFlagOnce(umzug.Umzug);
  return umzug;
}

/**
 * umzug's base class (emittery) reads `process.env.DEBUG` twice on every event it emits, through
 * a static getter; an environment read is a call into C++ (~20 µs here), 13 ms of CPU over 300
 * migrations. The flag cannot change during a run: read it once.
 */
function readDebugFlagOnce(umzugClass: object): void {
  for (let c: object | null = Object.getPrototypeOf(umzugClass) as object | null; c && c !== Function.prototype; c = Object.getPrototypeOf(c) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(c, 'isDebugEnabled');
    if (!descriptor?.get) continue;
    const enabled: unknown = descriptor.get.call(c);
    Object.defineProperty(c, 'isDebugEnabled', { configurable: true, get: () => enabled, set: descriptor.set });
    return;
  }
}

/** Default statement_timeout of dry runs (SPEC §7). */
export const DRY_RUN_STATEMENT_TIMEOUT_MS = 60_000;

/** What to run and how. */
export interface RunRequest {
  direction: Direction;
  /** Phase or full name; undefined: everything pending (up) / the newest (down). */
  target?: string | undefined;
  dryRun: boolean;
  allowChanged: boolean;
  /** `--yes`: confirmation given for destructive steps. */
  yes: boolean;
  /** `--no-backup`: skip automatic backups (requires --yes). */
  noBackup: boolean;
  /** Whether a human can be asked (stdin and stderr are a terminal). */
  interactive: boolean;
  lockTimeoutMs: number;
  ddlLockTimeoutMs: number;
  retries: number;
  statementTimeoutMs?: number | undefined;
  schema: string;
  historyTable: string;
  /** Passed to modules as ctx.options (e.g. assumeTimezone). */
  options: Readonly<Record<string, string | undefined>>;
}

/** Collaborators the CLI injects. */
export interface RunDependencies {
  log: Logger;
  /** Asks a yes/no question on the terminal (interactive runs only). */
  confirm?: (question: string) => Promise<boolean>;
  /** Backs up before destructive statements (SPEC §6); absent with --no-backup. */
  guard?: DestructiveGuard;
  /**
   * The run's plan, once every step is classified and before anything runs or is confirmed
   * (SPEC §5: a rollback's plan is printed first, also when the run is then refused).
   */
  onPlan?: (plan: PlannedStep[], direction: Direction) => void;
  /** Step progress for spinners. */
  onStepStart?: (name: string, direction: Direction) => void | Promise<void>;
  onStepEnd?: (report: StepReport) => void;
  /** Tests shorten retry backoff. */
  sleep?: (ms: number) => Promise<void>;
}

/** A table a planned step destroys, as assessed before the run. */
export interface PlannedDestruction {
  /** `schema.name`. */
  table: string;
  exists: boolean;
  /** It held rows when assessed (or may, being created earlier in the run). */
  hasRows: boolean;
  /** It does not exist yet: an earlier step of this run creates it. */
  createdByRun: boolean;
}

/** One step of a run's plan, in run order (rollbacks: newest first). */
export interface PlannedStep {
  name: string;
  direction: Direction;
  /** The tables its destructive statements (or its module's destroys()) reach; empty: none found. */
  destroys: PlannedDestruction[];
}

/** SPEC §5 JSON of up/down/PHASE/--rollback, plus what a reader needs to trust it. */
export interface RunResult {
  dryRun: boolean;
  direction: Direction;
  applied: string[];
  reverted: string[];
  backups: string[];
  steps: StepReport[];
  warnings: string[];
  /** What destructive steps would destroy (tables with rows), assessed before the run. */
  destructive: { step: string; summary: string; tables: string[] }[];
  /** The steps the run was about to run, in order, each with what it destroys (see PlannedStep). */
  plan: PlannedStep[];
}

function emptyResult(request: RunRequest): RunResult {
  return { dryRun: request.dryRun, direction: request.direction, applied: [], reverted: [], backups: [], steps: [], warnings: [], destructive: [], plan: [] };
}

/** The plan of classified steps: each step with the tables its findings reach (existing or created by the run). */
export function planOf(steps: PreparedStep[], findings: DestructiveFinding[]): PlannedStep[] {
  return steps.map((step) => {
    const destroys = new Map<string, PlannedDestruction>();
    for (const finding of findings) {
      if (finding.step !== step.name) continue;
      for (const t of finding.tables) {
        if (!t.exists && !t.mayHoldRowsLater) continue; // not there, and nothing in the run makes it: nothing to lose
        const table = tableLabel(t);
        const seen = destroys.get(table);
        const hasRows = t.hasRows || t.mayHoldRowsLater || (seen?.hasRows ?? false);
        destroys.set(table, { table, exists: t.exists, hasRows, createdByRun: !t.exists });
      }
    }
    return { name: step.name, direction: step.direction, destroys: [...destroys.values()] };
  });
}

/** SPEC §6 confirmation: non-interactive needs --yes (exit 6); a terminal is asked. True when destroying data was confirmed. */
async function confirmDestruction(findings: DestructiveFinding[], steps: PreparedStep[], request: RunRequest, deps: RunDependencies): Promise<boolean> {
  const atRisk = tablesAtRisk(findings);
  if (request.noBackup && !request.yes) {
    throw new Refused('--no-backup skips the safety backups and needs --yes', { hint: 'add --yes if you mean it' });
  }
  if (request.yes || request.dryRun) return true;
  if (atRisk.length === 0) return false;
  const names = atRisk.map((t) => (t.exists ? tableLabel(t) : `${tableLabel(t)} (created earlier in this run)`)).join(', ');
  // A rollback names what it reverts (SPEC §5: its plan comes first; the question repeats it).
  const reverts = request.direction === 'down' ? `reverts ${steps.map((s) => s.name).join(', ')} and ` : '';
  const what = `this run ${reverts}destroys data in ${names}${request.noBackup ? ' WITHOUT a backup' : ' (backed up first)'}`;
  if (!request.interactive || !deps.confirm) {
    throw new Refused(`refusing to run a destructive step without confirmation: ${what}`, {
      hint: 'nothing was changed; rehearse with --dry-run, then rerun with --yes',
    });
  }
  if (!(await deps.confirm(`${what}. Continue?`))) throw new Refused('cancelled: nothing was changed');
  return true;
}

/** Runs the migrations of a request on `db`; see the module comment. */
export async function runMigrations(db: Database, migrations: ResolvedMigration[], request: RunRequest, deps: RunDependencies): Promise<RunResult> {
  const history = new HistoryStore(db.sql, { schema: request.schema, table: request.historyTable });
  const result = emptyResult(request);
  try {
    await withRunLock(db.sql, history.location, request.lockTimeoutMs, () => runLocked(db, history, migrations, request, deps, result));
  } catch (error) {
    // A refusal (exit 6) or a failure after the plan was made: the JSON error document carries it too.
    if (error instanceof StrataError && result.plan.length > 0) error.details = { ...error.details, plan: result.plan };
    throw error;
  }
  return result;
}

/** The run once the lock is held: classify everything, confirm, then execute (or rehearse). */
async function runLocked(db: Database, history: HistoryStore, migrations: ResolvedMigration[], request: RunRequest, deps: RunDependencies, result: RunResult): Promise<void> {
  let inDryRunTransaction = false;
  try {
    // Read before any transaction: a missing history table is an error PostgreSQL would abort it for.
    const rows = await history.load();
    if (request.dryRun) {
      // SPEC §7: one transaction for the whole rehearsal, always rolled back.
      await db.sql.unsafe('BEGIN');
      inDryRunTransaction = true;
      await db.sql.unsafe(`SET LOCAL lock_timeout = '${Math.round(request.ddlLockTimeoutMs)}ms'`);
      await db.sql.unsafe(`SET LOCAL statement_timeout = '${Math.round(request.statementTimeoutMs ?? DRY_RUN_STATEMENT_TIMEOUT_MS)}ms'`);
    }
    const entries = migrationStatus(migrations, rows);
    const selection = request.direction === 'up'
      ? selectUp(entries, request.target, { allowChanged: request.allowChanged })
      : selectDown(entries, request.target, { allowChanged: request.allowChanged });
    result.warnings.push(...selection.warnings);
    for (const warning of selection.warnings) deps.log.warn(warning);
    const steps = await prepareSteps(selection.steps, request.direction, {
      sql: db.sql, schema: request.schema, dryRun: request.dryRun, log: deps.log, options: request.options,
    });
    const findings = await assessDestructive(db.sql, steps, request.schema);
    const emptyAtAssessment = emptyDestruction(steps, findings);
    result.destructive = findings.map((f) => ({ step: f.step, summary: f.action.summary, tables: tablesAtRisk([f]).map(tableLabel) }));
    result.plan = planOf(steps, findings);
    if (steps.length > 0) deps.onPlan?.(result.plan, request.direction);
    const confirmed = await confirmDestruction(findings, steps, request, deps);
    deps.guard?.expect?.({ foreseen: new Set(tablesAtRisk(findings).map(tableLabel)), confirmed });
    // Only now, with every step classified and confirmed, does the run write anything.
    if (steps.length > 0) await history.ensure();
    await executeSteps(db, history, steps, request, deps, result, emptyAtAssessment);
  } finally {
    if (inDryRunTransaction) await db.sql.unsafe('ROLLBACK').catch(() => undefined);
  }
}

/** Action kinds whose tables at risk are exactly the tables they name (no catalog resolution at run time). */
// Not DROP COLUMN: the values of its table's row type stored elsewhere, and what depends on the
// column, may be made by earlier steps of the run, where no check of its own table would see them.
const NAMED_TABLE_KINDS = new Set(['drop_table', 'alter_column_type', 'truncate', 'delete_without_where', 'declared']);

/**
 * SQL steps whose destructive statements only touch tables that existed and were empty when the
 * run was assessed (see EmptyAtAssessment in execute.ts): statement index → those tables. A
 * CASCADE truncation, a dropped schema, a table created earlier in the run, or a module step
 * keeps the guarded path.
 */
function emptyDestruction(steps: PreparedStep[], findings: DestructiveFinding[]): EmptyAtAssessment {
  const byStep = new Map<string, DestructiveFinding[]>();
  for (const f of findings) {
    const own = byStep.get(f.step);
    if (own) own.push(f);
    else byStep.set(f.step, [f]);
  }
  const result: EmptyAtAssessment = new Map();
  for (const step of steps) {
    const own = byStep.get(step.name) ?? [];
    if (step.module || step.destructive.length === 0 || own.length !== step.destructive.length) continue;
    // An action with no table here (a timestamptz change judged lossless in the plan's session)
    // keeps the guarded path: the guard judges it again in the session as it is at that statement.
    const eligible = own.every((f) => NAMED_TABLE_KINDS.has(f.action.kind) && !(f.action.kind === 'truncate' && f.action.cascade)
      && f.action.statementIndex >= 0 && f.tables.length > 0 && f.tables.every((t) => t.exists && !t.hasRows && !t.mayHoldRowsLater));
    if (!eligible) continue;
    const perStatement = new Map<number, EmptyStatement>();
    for (const f of own) {
      const entry = perStatement.get(f.action.statementIndex) ?? { tables: [], unqualified: [] };
      for (const t of f.tables) if (!entry.tables.some((u) => u.schema === t.schema && u.name === t.name)) entry.tables.push({ schema: t.schema, name: t.name });
      for (const ref of f.action.tables) if (ref.schema === undefined && !entry.unqualified.includes(ref.name)) entry.unqualified.push(ref.name);
      perStatement.set(f.action.statementIndex, entry);
    }
    result.set(step, perStatement);
  }
  return result;
}

async function executeSteps(db: Database, history: HistoryStore, steps: PreparedStep[], request: RunRequest, deps: RunDependencies, result: RunResult, emptyAtAssessment: EmptyAtAssessment): Promise<void> {
  if (steps.length === 0) return;
  const executor = new StepExecutor(db, history, {
    ddlLockTimeoutMs: request.ddlLockTimeoutMs,
    retries: request.retries,
    statementTimeoutMs: request.dryRun ? undefined : request.statementTimeoutMs,
    dryRun: request.dryRun,
    schema: request.schema,
    options: request.options,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  }, deps.log, request.noBackup ? undefined : deps.guard);
  executor.setPlan(steps, emptyAtAssessment);
  const byName = new Map(steps.map((s) => [s.name, s]));
  const run = async (name: string) => {
    const step = byName.get(name)!;
    await deps.onStepStart?.(step.name, step.direction);
    const report = await executor.run(step);
    result.steps.push(report);
    result.backups.push(...report.backups);
    (step.direction === 'up' ? result.applied : result.reverted).push(step.name);
    deps.onStepEnd?.(report);
  };
  const { Umzug } = await loadUmzug();
  const umzug = new Umzug({
    migrations: steps.map((s) => ({ name: s.name, path: s.migration.path, up: () => run(s.name), down: () => run(s.name) })),
    storage: history,
    logger: undefined,
    context: {},
  });
  const names = steps.map((s) => s.name);
  try {
    if (request.direction === 'up') await umzug.up({ migrations: names });
    else await umzug.down({ migrations: names });
  } catch (error) {
    // umzug wraps our errors in MigrationError; the cause carries the exit code and the message.
    const cause = (error as { cause?: unknown }).cause ?? error;
    if (cause instanceof StrataError) {
      const kept = (cause.details?.failedStepBackups as string[] | undefined) ?? [];
      const { failedStepBackups: _kept, ...details } = cause.details ?? {};
      cause.details = { ...details, dryRun: result.dryRun, applied: result.applied, reverted: result.reverted, backups: [...result.backups, ...kept], steps: result.steps };
      if (kept.length > 0 && !cause.hint?.includes(kept[0]!)) {
        const note = `the backup taken before the failed step is kept: ${kept.join(', ')}`;
        cause.hint = cause.hint ? `${cause.hint}; ${note}` : note;
      }
    }
    throw cause;
  } finally {
    // Steps sent ahead and never reached (only if the loop itself threw) may have committed.
    for (const step of await executor.settleAhead()) {
      (step.direction === 'up' ? result.applied : result.reverted).push(step.name);
      result.warnings.push(`${step.name} was ${step.direction === 'up' ? 'applied' : 'rolled back'} ahead of the run's stop (it is recorded in history)`);
    }
  }
}
