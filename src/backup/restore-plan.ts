/**
 * What a restore would do, worked out against the live database (SPEC §6): which tables of the
 * manifest, in foreign-key order (parents first; reference cycles: see restore-cycles.ts), whether
 * they still exist with the backed-up columns, and — with `truncate` — which tables outside the restore reference them and must be
 * empty (they are emptied with them; nothing is ever truncated by CASCADE).
 */
import { MigrationFailed, UsageError } from '../errors.js';
import { hasRows } from './catalog.js';
import type { AnySql } from './copy.js';
import type { ManifestTable } from './manifest.js';
import { displayName, parseTableRef, type QualifiedName } from './names.js';
import { foreignKeys, liveTables, type ForeignKey, type LiveTable } from './restore-catalog.js';
import { orderForLoad, requireUncheckedAllowed } from './restore-cycles.js';

/** Options of `planRestore` / `restoreBackup`. */
export interface RestoreOptions {
  /** Restore only these tables of the backup (`--table`): `users`, `public.users`, `'"Mixed Case"'`. */
  tables?: readonly string[];
  /** Empty the tables first (`--truncate`): destructive, the caller backs up and confirms first. */
  truncate?: boolean;
  /** Schema for unqualified names in `tables` (default: any schema of the backup, if unambiguous). */
  schema?: string;
  /** Longest wait for table locks, in ms (`--ddl-lock-timeout`, default 5000). */
  lockTimeoutMs?: number;
  /** Called after each table is loaded (progress). */
  onTable?: (table: { table: string; rows: number }) => void;
  /**
   * With `truncate`: called inside the restore's transaction once the tables are locked ACCESS
   * EXCLUSIVE and before they are emptied, with every table about to be emptied. The CLI backs
   * them up here (SPEC §6: `--truncate` backs up what it empties), so no row can arrive between
   * that backup and the TRUNCATE.
   */
  beforeTruncate?: (tx: AnySql, tables: QualifiedName[]) => Promise<void>;
}

/** A table to load, in load order. */
export interface PlannedTable {
  entry: ManifestTable;
  live: LiveTable;
}

/** A table outside the restore that references a restored one. */
export interface ReferencingTable extends QualifiedName {
  oid: string;
}

/** Tables found and checked; what the load will touch. */
export interface PreparedRestore {
  /** Load order: parents before children. */
  tables: PlannedTable[];
  /** Tables outside the restore that reference restored ones (with `truncate`: emptied with them). */
  referencing: ReferencingTable[];
  /** DEFERRABLE keys of a reference cycle whose child loads first: deferred, checked at COMMIT. */
  deferred: ForeignKey[];
  /** Keys of a cycle that are not DEFERRABLE and whose child loads first: loaded unchecked, then checked by query (see restore-cycles.ts). */
  unchecked: ForeignKey[];
}

/** Picks the manifest entries `--table` names (all when none); unknown names are a `UsageError`. */
export function selectEntries(entries: ManifestTable[], options: RestoreOptions): ManifestTable[] {
  if (!options.tables || options.tables.length === 0) return entries;
  const chosen = new Set<ManifestTable>();
  const problems: string[] = [];
  for (const wanted of options.tables) {
    const ref = parseTableRef(wanted);
    const matches = ref === undefined ? [] : entries.filter((e) => e.name === ref.name
      && (ref.schema !== undefined ? e.schema === ref.schema : options.schema === undefined || e.schema === options.schema));
    if (matches.length === 1) chosen.add(matches[0] as ManifestTable);
    else if (matches.length === 0) problems.push(`${wanted} is not in this backup`);
    else problems.push(`${wanted} is ambiguous (${matches.map((m) => m.table).join(', ')})`);
  }
  if (problems.length > 0) {
    throw new UsageError(`restore: ${problems.join('; ')}`, { hint: `tables in this backup: ${entries.map((e) => e.table).join(', ')}` });
  }
  return entries.filter((e) => chosen.has(e));
}

/** Resolves the entries against the live database and orders them; throws `MigrationFailed` when a table or column is gone. */
export async function prepareRestore(sql: AnySql, entries: ManifestTable[]): Promise<PreparedRestore> {
  const live = await liveTables(sql, entries);
  const missing = entries.filter((_, i) => live[i] === undefined).map((e) => e.table);
  if (missing.length > 0) {
    throw new MigrationFailed(`restore: table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} no longer exist${missing.length > 1 ? '' : 's'}; nothing was loaded`, {
      hint: 're-apply the migration that creates it (migrate up), then restore again',
    });
  }
  const planned = entries.map((entry, i) => ({ entry, live: live[i] as LiveTable }));
  for (const table of planned) checkColumns(table);
  const fks = await foreignKeys(sql);
  const { order, deferred, unchecked, cycles } = orderForLoad(planned, (t) => t.live.oid, (t) => t.live, fks);
  await requireUncheckedAllowed(sql, unchecked, cycles);
  return { tables: order, referencing: referencingClosure(planned, fks), deferred, unchecked };
}

/** Every backed-up column must still exist and be writable. */
function checkColumns({ entry, live }: PlannedTable): void {
  const byName = new Map(live.columns.map((c) => [c.name, c]));
  for (const column of entry.columns) {
    const now = byName.get(column.name);
    if (!now) {
      throw new MigrationFailed(`restore: ${entry.table} has no column "${column.name}" any more (the backup holds it); nothing was loaded`, {
        hint: 're-apply the migration that created the column, or restore into the schema the backup was taken from',
      });
    }
    if (now.generated) throw new MigrationFailed(`restore: ${entry.table}.${column.name} is now a generated column and cannot be loaded; nothing was loaded`);
  }
}

/** Tables outside the restore that reference a restored table, directly or through each other. */
function referencingClosure(tables: PlannedTable[], fks: ForeignKey[]): ReferencingTable[] {
  const inside = new Set(tables.map((t) => t.live.oid));
  const outside = new Map<string, ReferencingTable>();
  for (let changed = true; changed;) {
    changed = false;
    for (const fk of fks) {
      if (inside.has(fk.parent) && !inside.has(fk.child)) {
        inside.add(fk.child);
        outside.set(fk.child, { ...fk.childTable, oid: fk.child });
        changed = true;
      }
    }
  }
  return [...outside.values()];
}

/** SPEC §6: with `truncate`, a table outside the restore that references a restored one must be empty. */
export async function checkReferencingEmpty(sql: AnySql, referencing: QualifiedName[]): Promise<void> {
  const holding: string[] = [];
  for (const table of referencing) if (await hasRows(sql, table)) holding.push(displayName(table));
  if (holding.length > 0) {
    throw new MigrationFailed(
      `restore --truncate: ${holding.join(', ')} reference${holding.length > 1 ? '' : 's'} the restored tables and hold${holding.length > 1 ? '' : 's'} rows; nothing was changed`,
      { hint: 'restore those tables too (they are in the backup?), or empty them first: strata never truncates with CASCADE' },
    );
  }
}
