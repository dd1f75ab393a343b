/**
 * Human renderings of what core returns (the JSON is the same objects, serialised).
 */
import type { StepReport } from '../core/execute.js';
import type { StatusEntry } from '../core/plan.js';
import type { PlannedStep, RunResult } from '../core/runner.js';
import type { VerifyResult } from '../core/verify.js';
import type { Output } from './output.js';

/** Pads cells into aligned columns (no box drawing: readable in logs and over ssh). */
export function table(rows: string[][], header: string[], style: (cell: string, row: number, column: number) => string = (c) => c): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], row: number) =>
    cells.map((c, i) => style(i === cells.length - 1 ? c : c.padEnd(widths[i]!), row, i)).join('  ').trimEnd();
  return [line(header, -1), ...rows.map((r, i) => line(r, i))];
}

/** `2026-11-23 12:00:00Z`, or `-`. */
export function shortTime(date: Date | null | undefined): string {
  if (!date) return '-';
  // toISOString is `<date>THH:MM:SS.sssZ` (the date part may be longer for extended years).
  const iso = date.toISOString();
  const t = iso.indexOf('T');
  return `${iso.slice(0, t)} ${iso.slice(t + 1, t + 9)}Z`;
}

/**
 * A statement on one line for display: comments dropped, whitespace collapsed, then shortened —
 * so `DROP TABLE\n  goals,\n  check_ins` reads `DROP TABLE goals, check_ins`, not `DROP TABLE`.
 * Reads lines only until the head is full: a data migration's 50 MB INSERT, one row per line,
 * costs no more to show than its first lines.
 */
export function statementHead(sql: string, width = 100): string {
  const lines: string[] = [];
  let joined = -1; // length of lines.join(' ')
  for (let start = 0; start < sql.length && joined <= width;) {
    const newline = sql.indexOf('\n', start);
    const end = newline < 0 ? sql.length : newline;
    const line = sql.slice(start, end).replace(/^\s*--.*$/, '').trim().replace(/\s+/g, ' ');
    if (line) {
      lines.push(line);
      joined += line.length + 1;
    }
    start = end + 1;
  }
  const oneLine = lines.join(' ');
  return oneLine.length > width ? `${oneLine.slice(0, width - 1)}…` : oneLine;
}

/**
 * 1234567 → `1,234,567`: what `toLocaleString('en-US')` gives for an integer, without its cost —
 * the first call initialises ICU's number formatting, ~9 ms of a run that prints one row count.
 */
export function groupDigits(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let grouped = digits.slice(0, digits.length % 3 || 3);
  for (let i = grouped.length; i < digits.length; i += 3) grouped += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${grouped}` : grouped;
}

function stateColour(out: Output, state: StatusEntry['state'], cell: string): string {
  const p = out.paint;
  switch (state) {
    case 'applied': return p.green(cell);
    case 'pending': return p.cyan(cell);
    case 'failed': return p.red(cell);
    default: return p.yellow(cell);
  }
}

/** The `status` table: one write to stdout (300 rows were 300 writes, a visible cost of a cold `status`). */
export function renderStatus(out: Output, database: string, dir: string, entries: StatusEntry[]): void {
  const rows = entries.map((e) => [e.phase, e.name, e.state, shortTime(e.appliedAt)]);
  const lines = table(rows, ['PHASE', 'NAME', 'STATE', 'APPLIED AT'], (cell, row, column) =>
    row === -1 ? out.paint.bold(cell) : column === 2 ? stateColour(out, entries[row]!.state, cell) : cell);
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
  const summary = [...counts].map(([state, n]) => `${n} ${state}`).join(', ') || 'no migrations';
  out.result([`database:   ${database}`, `migrations: ${dir}`, '', ...lines, '', summary].join('\n'));
}

/** `12 ms`; `<1 ms` for a step that took less than half a millisecond (rounded to 0, as history records it). */
export function duration(ms: number): string {
  return ms === 0 ? '<1 ms' : `${groupDigits(ms)} ms`;
}

/** `1 row`, `1,234 rows`. */
export function rowCount(n: number): string {
  return `${groupDigits(n)} ${n === 1 ? 'row' : 'rows'}`;
}

/**
 * One step's lines: its outcome, statements with row counts, notices and backups. A dry run lists
 * every statement; a real run those with a row count (or all with -v), except a module's, listed
 * whole like a dry run's: no file shows them (`plan` cannot), so a report without them would
 * leave a module's DDL unaccounted for.
 */
export function renderStep(out: Output, report: StepReport, dryRun: boolean): void {
  const verb = report.direction === 'up' ? 'applied' : 'reverted';
  const retries = report.retries > 0 ? ` after ${report.retries} ${report.retries === 1 ? 'retry' : 'retries'}` : '';
  out.result(`${out.paint.green('✓')} ${report.name} ${dryRun ? `would be ${verb}` : verb} (${duration(report.durationMs)}${retries})`);
  const showAll = dryRun || out.verbose || report.kind === 'module';
  for (const s of report.statements) {
    if (!showAll && s.rowCount === null && !s.skipped) continue;
    const tail = s.skipped ? out.paint.yellow(s.skipped) : s.rowCount === null ? '' : rowCount(s.rowCount);
    out.result(`    ${s.line ? out.paint.dim(`${String(s.line).padStart(4)}  `) : ''}${statementHead(s.sql)}${tail ? `  → ${tail}` : ''}`);
  }
  for (const notice of report.notices) out.result(`    ${out.paint.dim(notice)}`);
  for (const dir of report.backups) out.result(`    backup: ${dir}`);
}

/**
 * A rollback's plan, before anything runs (SPEC §5 "the plan is printed first"): what it reverts,
 * newest first, and what each down destroys — printed also when the run is then refused.
 */
export function renderPlan(out: Output, plan: PlannedStep[], dryRun: boolean): void {
  const n = plan.length;
  out.result(`${dryRun ? 'would revert' : 'reverting'} ${n} migration${n === 1 ? '' : 's'}, newest first:`);
  const width = Math.max(...plan.map((p) => p.name.length));
  for (const step of plan) {
    const tables = step.destroys.map((d) => `${d.table} (${d.createdByRun ? 'created earlier in this run' : d.hasRows ? 'holds rows' : 'empty'})`);
    out.result(`  ${tables.length > 0 ? `${step.name.padEnd(width)}  destroys ${tables.join(', ')}` : step.name}`);
  }
}

/** SPEC §7: the last line of a dry run, also of one that failed (stdout; stderr with --json, where stdout is the document). */
export function renderDryRunLine(out: Output): void {
  const line = 'dry run: nothing was changed';
  if (out.json) out.resultOnStderr(line);
  else out.result(line);
}

/** The end of up / down / PHASE / --rollback (steps were rendered as they finished). */
export function renderRunSummary(out: Output, result: RunResult): void {
  if (result.steps.length === 0) {
    out.result(result.direction === 'up' ? 'nothing to apply: the database is up to date' : 'nothing to revert');
  }
  if (result.backups.length > 0) out.result(`backups written: ${result.backups.join(', ')}`);
  if (result.dryRun) {
    renderDryRunLine(out);
  } else if (result.steps.length > 0) {
    const names = result.direction === 'up' ? result.applied : result.reverted;
    out.result(`${result.direction === 'up' ? 'applied' : 'reverted'} ${names.length} migration${names.length === 1 ? '' : 's'}`);
  }
}

/** The `verify` report. */
export function renderVerify(out: Output, result: VerifyResult): void {
  for (const check of result.checks) {
    const mark = check.ok ? out.paint.green('✓') : out.paint.red('✗');
    const extra = check.error ? ` — ${check.error}` : check.ok ? '' : ` — ${check.violations} violation${check.violations === 1 ? '' : 's'}`;
    out.result(`${mark} ${check.migration}: ${check.check}${extra}`);
    if (!check.ok && check.sample.length > 0) {
      for (const row of check.sample) out.result(`      ${JSON.stringify(row)}`);
      if (check.violations > check.sample.length) out.result(`      … and ${check.violations - check.sample.length} more`);
    }
  }
  const failed = result.checks.filter((c) => !c.ok).length;
  out.result(result.ok ? `all ${result.checks.length} checks passed` : `${failed} of ${result.checks.length} checks failed`);
}
