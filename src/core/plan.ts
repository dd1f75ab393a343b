/**
 * Disk + history → the state of every migration (SPEC §5 `status`), and which migrations a run
 * applies or reverts, in which order. Pure functions: no database, no files.
 */
import { IntegrityError, MigrationFailed, UsageError } from '../errors.js';
import type { HistoryRow } from './history.js';
import { compareMigrations, parseMigrationName, type ResolvedMigration } from './resolver.js';

/** SPEC §5 states. */
export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing' | 'failed';

/** One line of `status`: a migration on disk, in history, or both. */
export interface StatusEntry {
  name: string;
  number: string;
  phase: string;
  state: MigrationState;
  appliedAt: Date | null;
  /** Checksum on disk, or the recorded one for a missing migration. */
  checksum: string;
  /** The recorded checksum when it differs from disk. */
  recordedChecksum?: string;
  migration?: ResolvedMigration;
  row?: HistoryRow;
}

/** Merges migrations on disk with history rows, in migration order. */
export function migrationStatus(migrations: ResolvedMigration[], rows: HistoryRow[]): StatusEntry[] {
  const byName = new Map<string, HistoryRow>();
  for (const row of rows) byName.set(row.name, row);
  // Object literals rather than spreads of a shared base: this runs once per migration on every
  // `status`, cold (SPEC §10); the fields and their order are the same either way.
  const entries: StatusEntry[] = migrations.map((migration) => {
    const { name, number, phase, checksum } = migration;
    const row = byName.get(name);
    if (!row) return { name, number, phase, checksum, migration, state: 'pending', appliedAt: null };
    byName.delete(name);
    if (row.state === 'failed') return { name, number, phase, checksum, migration, state: 'failed', appliedAt: row.appliedAt, row };
    if (row.checksum !== checksum) {
      return { name, number, phase, checksum, migration, state: 'changed', appliedAt: row.appliedAt, recordedChecksum: row.checksum, row };
    }
    return { name, number, phase, checksum, migration, state: 'applied', appliedAt: row.appliedAt, row };
  });
  for (const row of byName.values()) {
    const parsed = parseMigrationName(row.name) ?? { number: '0', phase: row.name };
    entries.push({ name: row.name, ...parsed, state: row.state === 'failed' ? 'failed' : 'missing', checksum: row.checksum, appliedAt: row.appliedAt, row });
  }
  return entries.sort(compareMigrations);
}

/** Finds TARGET by phase name, full name or number; unknown → exit 2 naming the known phases. */
export function findTarget(entries: StatusEntry[], target: string): StatusEntry {
  const found = matchTarget(entries, target);
  if (!found) throw unknownPhase(entries.map((e) => e.phase), target);
  return found;
}

/** The entry (or migration) TARGET names: full name, phase, or number. */
export function matchTarget<T extends { name: string; phase: string; number: string }>(entries: readonly T[], target: string): T | undefined {
  return entries.find((e) => e.name === target || e.phase === target)
    ?? (/^\d+$/.test(target) ? entries.find((e) => BigInt(e.number) === BigInt(target)) : undefined);
}

/** Exit 2 for a TARGET that names no migration: the closest phase, and the known ones (a dozen at most). */
export function unknownPhase(phases: readonly string[], target: string): UsageError {
  const SHOWN = 12;
  const closest = [...phases].sort((a, b) => editDistance(a, target) - editDistance(b, target))[0];
  const suggestion = closest !== undefined && editDistance(closest, target) <= Math.max(2, Math.floor(target.length / 3)) ? `did you mean "${closest}"? ` : '';
  const known = phases.length === 0 ? 'none'
    : phases.length <= SHOWN ? phases.join(', ') : `${phases.slice(0, SHOWN).join(', ')}, … (${phases.length - SHOWN} more: migrate status lists them)`;
  return new UsageError(`unknown phase "${target}"`, { hint: `${suggestion}known phases: ${known}` });
}

/** Levenshtein distance (phases are short; quadratic is fine). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Options that relax the integrity rules. */
export interface PlanOptions {
  /** `--allow-changed`: run despite changed/missing applied migrations (still listed). */
  allowChanged?: boolean;
}

/** The migrations a run touches, in execution order, and what it noticed on the way. */
export interface RunSelection {
  direction: 'up' | 'down';
  steps: StatusEntry[];
  /** Changed/missing migrations tolerated by --allow-changed, pending ones older than applied ones. */
  warnings: string[];
}

function describe(entries: StatusEntry[]): string {
  return entries.map((e) => `${e.name} (${e.state})`).join(', ');
}

/** SPEC §5: `up` refuses on changed/missing (unless --allow-changed) and on failed (until repair). */
function assertHistoryUsable(entries: StatusEntry[], options: PlanOptions, warnings: string[]): void {
  const failed = entries.filter((e) => e.state === 'failed');
  if (failed.length > 0) {
    throw new IntegrityError(`a previous run failed part-way: ${describe(failed)}`, {
      hint: `fix the database by hand, then run: migrate repair ${failed[0]!.name}`,
    });
  }
  const drifted = entries.filter((e) => e.state === 'changed' || e.state === 'missing');
  if (drifted.length === 0) return;
  if (!options.allowChanged) {
    throw new IntegrityError(`applied migrations differ from the files on disk: ${describe(drifted)}`, {
      hint: 'restore the original files, or pass --allow-changed if the edit is intended',
    });
  }
  warnings.push(`running despite drift (--allow-changed): ${describe(drifted)}`);
}

/** Pending migrations up to and including TARGET, oldest first. */
export function selectUp(entries: StatusEntry[], target: string | undefined, options: PlanOptions = {}): RunSelection {
  const warnings: string[] = [];
  assertHistoryUsable(entries, options, warnings);
  const limit = target === undefined ? undefined : findTarget(entries, target);
  const steps = entries.filter((e) => e.state === 'pending' && (!limit || compareMigrations(e, limit) <= 0));
  const newestApplied = [...entries].reverse().find((e) => e.state !== 'pending');
  for (const step of steps) {
    if (newestApplied && compareMigrations(step, newestApplied) < 0) {
      warnings.push(`${step.name} is older than the applied ${newestApplied.name}: applying it out of order`);
    }
  }
  return { direction: 'up', steps, warnings };
}

/** Applied migrations after TARGET and TARGET itself (or only the newest), newest first. */
export function selectDown(entries: StatusEntry[], target: string | undefined, options: PlanOptions = {}): RunSelection {
  const warnings: string[] = [];
  const failed = entries.filter((e) => e.state === 'failed');
  if (failed.length > 0) {
    throw new IntegrityError(`a previous run failed part-way: ${describe(failed)}`, {
      hint: `fix the database by hand, then run: migrate repair ${failed[0]!.name}`,
    });
  }
  const applied = entries.filter((e) => e.state !== 'pending');
  let steps: StatusEntry[];
  if (target === undefined) {
    steps = applied.slice(-1);
  } else {
    const limit = findTarget(entries, target);
    steps = applied.filter((e) => compareMigrations(e, limit) >= 0);
  }
  steps.reverse();
  const missing = steps.filter((e) => e.state === 'missing');
  if (missing.length > 0) {
    throw new IntegrityError(`cannot revert migrations whose files are gone: ${describe(missing)}`, {
      hint: 'restore the files from version control',
    });
  }
  const changed = steps.filter((e) => e.state === 'changed');
  if (changed.length > 0 && !options.allowChanged) {
    throw new IntegrityError(`migrations to revert were edited after they were applied: ${describe(changed)}`, {
      hint: 'restore the original files, or pass --allow-changed if their down is still right',
    });
  }
  if (changed.length > 0) warnings.push(`reverting despite drift (--allow-changed): ${describe(changed)}`);
  const irreversible = steps.filter((e) => e.migration?.kind === 'sql' && !e.migration.down);
  if (irreversible.length > 0) {
    throw new MigrationFailed(`cannot roll back: ${irreversible.map((e) => e.name).join(', ')} has no down.sql (irreversible)`, {
      hint: 'nothing was changed; write a down.sql to make it reversible',
    });
  }
  return { direction: 'down', steps, warnings };
}
