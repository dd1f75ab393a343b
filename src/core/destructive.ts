/**
 * Before a run starts: which tables its destructive steps would destroy, whether they hold rows,
 * and therefore whether the run needs confirmation (SPEC §6: "a destructive step that affects a
 * table holding rows needs --yes in a non-interactive run (else exit 6, nothing touched)").
 */
import type { Sql } from '../db/connect.js';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import type { DestructiveAction, TableRef } from '../sql/destructive.js';
import type { PreparedStep } from './steps.js';
import { tablesReached, type ReachObject, type ReachStart } from './reach.js';

/** A table a destructive action touches, as found in the catalog before the run. */
export interface AffectedTable {
  schema: string;
  name: string;
  exists: boolean;
  hasRows: boolean;
  /** It does not exist yet, but an earlier step of this run may create and fill it. */
  mayHoldRowsLater: boolean;
}

/** One destructive action of the run and its tables. */
export interface DestructiveFinding {
  step: string;
  direction: 'up' | 'down';
  action: DestructiveAction;
  tables: AffectedTable[];
}

/** `schema.name` for messages. */
export function tableLabel(table: { schema: string; name: string }): string {
  return `${table.schema}.${table.name}`;
}

// `timestamptz` or `timestamptz(p)` as names.ts displays a type.
const TIMESTAMPTZ = /^(?:pg_catalog\.)?(?:timestamptz|timestamp with time zone)(?:\((\d+)\))?$/i;

/**
 * Zone names that are UTC at every instant (lower case; PostgreSQL reads zone names in any case):
 * under these, timestamp → timestamptz keeps every stored value and rewrites nothing.
 */
const UTC_ZONES = new Set([
  'utc', 'etc/utc', 'uct', 'etc/uct', 'universal', 'etc/universal', 'zulu', 'etc/zulu', 'gmt', 'etc/gmt',
  'gmt0', 'etc/gmt0', 'gmt+0', 'etc/gmt+0', 'gmt-0', 'etc/gmt-0', 'greenwich', 'etc/greenwich',
]);

/** An ALTER COLUMN TYPE that may be the SPEC §6 exception: to timestamptz, without USING. */
function mayBeLosslessTypeChange(action: DestructiveAction): boolean {
  if (action.kind !== 'alter_column_type' || !action.columns?.length) return false;
  return action.columns.every((c) => !c.using && TIMESTAMPTZ.test(c.newType ?? ''));
}

/**
 * The actions that are SPEC §6's exception — "conversions that lose nothing and rewrite nothing,
 * such as 011's timestamp → timestamptz read as UTC" — decided in the catalog, not by the new type
 * alone: every column is `timestamp` now with the same precision — the default one: a lower
 * precision makes PostgreSQL rewrite the table —, no USING converts it, and the session's time
 * zone at that statement is UTC (the `SET TimeZone` earlier in the file, else the
 * session's). Anything else — text to timestamptz, a USING, another zone, which rewrites the table
 * and shifts every instant — destroys the column's values as they were, and is backed up.
 */
async function losslessTypeChanges(sql: Sql, actions: DestructiveAction[]): Promise<Set<number>> {
  const candidates = actions.flatMap((action, i) => (mayBeLosslessTypeChange(action) ? [i] : []));
  if (candidates.length === 0) return new Set();
  const columns = candidates.flatMap((i) => (actions[i]!.columns ?? []).map((c) => ({
    i,
    rel: c.table.schema !== undefined ? quoteQualified(c.table.schema, c.table.name) : quoteIdent(c.table.name),
    col: c.column,
    typmod: Number(TIMESTAMPTZ.exec(c.newType ?? '')?.[1] ?? -1),
  })));
  const [row] = await sql.unsafe<{ zone: string; kept: number[] }[]>(`
    SELECT current_setting('TimeZone') AS zone,
           coalesce((SELECT array_agg(c.i) FROM jsonb_to_recordset($1::text::jsonb) AS c(i int, rel text, col text, typmod int)
                     JOIN pg_attribute a ON a.attrelid = to_regclass(c.rel) AND a.attname = c.col AND NOT a.attisdropped
                     -- Only the default precision (or 6, the same) stays catalog-only: timestamp(3) →
                     -- timestamptz(3) rewrites the table (the cast hides that the values already fit).
                     WHERE a.atttypid = 'pg_catalog.timestamp'::regtype AND a.atttypmod = c.typmod AND c.typmod IN (-1, 6)), '{}') AS kept`,
  [JSON.stringify(columns)]);
  const kept = new Map<number, number>();
  for (const i of row?.kept ?? []) kept.set(i, (kept.get(i) ?? 0) + 1);
  return new Set(candidates.filter((i) => {
    const action = actions[i]!;
    const zone = (action.sessionZone ?? row?.zone ?? '').toLowerCase();
    return UTC_ZONES.has(zone) && kept.get(i) === action.columns!.length;
  }));
}

interface CatalogRow {
  ref: number; schema: string | null; name: string | null; has_rows: boolean | null; surely_empty?: boolean | null; oid?: number | null; foreign?: boolean | null;
}

/** A table looked up: as AffectedTable, plus its oid when it exists, and whether it is a foreign table. */
type FoundTable = Omit<AffectedTable, 'mayHoldRowsLater'> & { oid?: number; foreign?: boolean };

/** Looks tables up through the session's search_path, and whether they hold rows: two round trips at most. */
async function lookUp(sql: Sql, refs: TableRef[], schema: string): Promise<FoundTable[]> {
  if (refs.length === 0) return [];
  // One array of names, not a UNION ALL branch per table: planning 300 branches took ~100 ms. A
  // plain table whose heap has no page holds no row, committed or not (an insert extends it
  // first): only the others need an EXISTS — partitioned and foreign tables always do.
  const names = refs.map((ref) => quoteLiteral(ref.schema ? quoteQualified(ref.schema, ref.name) : quoteIdent(ref.name)));
  // A table whose rows row-level security may hide from this role counts as holding rows: an
  // EXISTS could see none of them (the backup's COPY then runs with row_security off, and fails
  // loudly rather than back up a filtered table, backup/copy-settings.ts). So does a foreign table:
  // its rows live on another server, which is not queried to find out (a TRUNCATE or DELETE of it
  // destroys them there, and its backup stops the run: a foreign table cannot be locked or copied).
  const found = await sql.unsafe<CatalogRow[]>(`SELECT (r.i - 1)::int AS ref, n.nspname::text AS schema, c.relname::text AS name,
      CASE WHEN c.relkind = 'f' THEN true
           WHEN c.relrowsecurity AND (c.relforcerowsecurity OR c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user))
            AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN true END AS has_rows, c.oid::int8 AS oid,
      c.relkind = 'r' AND pg_relation_size(c.oid) = 0 AS surely_empty, c.relkind = 'f' AS foreign
    FROM unnest(ARRAY[${names.join(', ')}]::text[]) WITH ORDINALITY AS r(name, i)
    JOIN pg_class c ON c.oid = to_regclass(r.name) JOIN pg_namespace n ON n.oid = c.relnamespace`);
  const byRef = new Map(found.filter((r) => r.schema && r.name).map((r) => [r.ref, r]));
  const hidden = [...byRef.values()].filter((r) => r.has_rows === true && r.surely_empty !== true);
  const toCheck = [...byRef.values()].filter((r) => r.surely_empty !== true && r.has_rows !== true);
  const rows = toCheck.length === 0 ? [] : await sql.unsafe<CatalogRow[]>(toCheck.map((r) =>
    `SELECT ${r.ref} AS ref, NULL::text AS schema, NULL::text AS name, EXISTS (SELECT 1 FROM ${quoteQualified(r.schema!, r.name!)}) AS has_rows`).join('\nUNION ALL\n'));
  const hasRows = new Map([...rows, ...hidden].map((r) => [r.ref, r.has_rows === true]));
  return refs.map((ref, i) => {
    const hit = byRef.get(i);
    return hit
      ? { schema: hit.schema!, name: hit.name!, exists: true, hasRows: hasRows.get(i) ?? false, oid: Number(hit.oid), ...(hit.foreign ? { foreign: true } : {}) }
      : { schema: ref.schema ?? schema, name: ref.name, exists: false, hasRows: false };
  });
}

/** Tables of the schemas a DROP SCHEMA removes. */
async function tablesOfSchemas(sql: Sql, schemas: string[]): Promise<TableRef[]> {
  if (schemas.length === 0) return [];
  const rows = await sql<{ schema: string; name: string }[]>`
    SELECT n.nspname::text AS schema, c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(${schemas}::text[]) ORDER BY 1, 2`;
  return rows.map((r) => ({ schema: r.schema, name: r.name }));
}

function dedupe<T extends { schema: string; name: string }>(tables: T[]): T[] {
  const seen = new Set<string>();
  return tables.filter((t) => {
    const key = `${t.schema}\0${t.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The table references of each action (DROP SCHEMA expanded to its tables); none for the lossless ones. */
async function referencesOf(sql: Sql, actions: DestructiveAction[], lossless: Set<number>): Promise<TableRef[][]> {
  const schemas = [...new Set(actions.filter((a) => a.kind === 'drop_schema').flatMap((a) => a.schemas ?? []))];
  const inSchemas = await tablesOfSchemas(sql, schemas);
  return actions.map((action, i) => {
    if (lossless.has(i)) return [];
    if (action.kind !== 'drop_schema') return action.tables;
    return inSchemas.filter((t) => action.schemas?.includes(t.schema ?? ''));
  });
}

// Statements that recurse into inheritance children unless ONLY is written (DROP TABLE: with CASCADE).
const RECURSING: ReadonlySet<DestructiveAction['kind']> = new Set(['truncate', 'delete_without_where', 'drop_column', 'alter_column_type']);

/** The columns (attributes) an action drops or retypes, each with its subcommand's CASCADE. */
function droppedOf(action: DestructiveAction): { name: string; cascade: boolean }[] {
  return (action.columns ?? []).map((column) => ({ name: column.column, cascade: column.cascade === true }));
}

/** How far each named table's destruction reaches (core/reach.ts), and the objects a DROP … CASCADE names. */
function reachRequests(actions: DestructiveAction[], refs: TableRef[][], found: FoundTable[][]): { starts: ReachStart[]; objects: ReachObject[] } {
  const starts: ReachStart[] = [];
  const objects: ReachObject[] = [];
  actions.forEach((action, i) => {
    (found[i] ?? []).forEach((table, k) => {
      if (table.oid === undefined) return;
      const only = refs[i]?.[k]?.only === true;
      const foreignKeys = action.kind === 'truncate' && action.cascade ? 'all' : action.kind === 'delete_without_where' ? 'delete' : undefined;
      starts.push({
        action: i, oid: table.oid,
        children: !only && (RECURSING.has(action.kind) || (action.kind === 'drop_table' && action.cascade === true)),
        ...(foreignKeys ? { foreignKeys } : {}),
        dependents: action.kind === 'drop_table' && action.cascade === true,
        ...(action.kind === 'drop_column' ? { droppedColumns: droppedOf(action) } : {}),
        ...(action.kind === 'truncate' || action.kind === 'delete_without_where' ? { rows: true } : {}),
      });
    });
    if (action.kind === 'drop_schema' && action.cascade) {
      for (const name of action.schemas ?? []) objects.push({ action: i, type: 'SCHEMA', address: { name }, cascade: true });
    }
    if (action.kind === 'drop_cascade') {
      for (const address of action.addresses ?? []) objects.push({ action: i, type: action.objectType ?? '', address, cascade: action.cascade === true });
    }
    if (action.kind === 'drop_attribute' || action.kind === 'alter_attribute_type') {
      const change = action.kind === 'drop_attribute' ? 'drop' : 'retype';
      for (const address of action.addresses ?? []) objects.push({ action: i, type: 'ATTRIBUTE', address, change, attributes: droppedOf(action) });
    }
  });
  return { starts, objects };
}

/**
 * The tables each action destroys, resolved in the catalog as it is now (a few queries for all):
 * the tables it names, and what PostgreSQL will reach from them (core/reach.ts).
 */
export async function resolveAffectedAll(sql: Sql, actions: DestructiveAction[], schema: string): Promise<Omit<AffectedTable, 'mayHoldRowsLater'>[][]> {
  const lossless = await losslessTypeChanges(sql, actions);
  const refs = await referencesOf(sql, actions, lossless);
  const named = split(await lookUp(sql, refs.flat(), schema), refs);
  const { starts, objects } = reachRequests(actions, refs, named);
  const reached = await tablesReached(sql, starts, objects);
  const extraRefs: TableRef[][] = actions.map(() => []);
  for (const table of reached) extraRefs[table.action]?.push({ schema: table.schema, name: table.name });
  const extra = reached.length === 0 ? extraRefs.map(() => []) : split(await lookUp(sql, extraRefs.flat(), schema), extraRefs);
  return named.map((tables, i) => {
    // Dropping or retyping a column of a foreign table changes its definition here, not the rows on
    // its server: nothing of it to back up (its children and the tables holding its row type are).
    const own = LOCAL_DEFINITION_KINDS.has(actions[i]!.kind) ? tables.filter((t) => !t.foreign) : tables;
    return dedupe([...own, ...(extra[i] ?? [])]).map(({ oid: _oid, foreign: _foreign, ...table }) => table);
  });
}

const LOCAL_DEFINITION_KINDS: ReadonlySet<DestructiveAction['kind']> = new Set(['drop_column', 'alter_column_type']);

/** `flat` cut back into lists as long as those of `lists`. */
function split<T>(flat: T[], lists: unknown[][]): T[][] {
  let offset = 0;
  return lists.map((list) => {
    const part = flat.slice(offset, offset + list.length);
    offset += list.length;
    return part;
  });
}

/** The tables an action destroys, resolved in the catalog as it is now. */
export async function resolveAffected(sql: Sql, action: DestructiveAction, schema: string): Promise<Omit<AffectedTable, 'mayHoldRowsLater'>[]> {
  return (await resolveAffectedAll(sql, [action], schema))[0] ?? [];
}

/** Every destructive action of the run with its tables; one catalog pass for the whole run. */
export async function assessDestructive(sql: Sql, steps: PreparedStep[], schema: string): Promise<DestructiveFinding[]> {
  const pairs = steps.flatMap((step, index) => step.destructive.map((action) => ({ step, index, action })));
  if (pairs.length === 0) return [];
  const resolved = await resolveAffectedAll(sql, pairs.map((p) => p.action), schema);
  return pairs.map(({ step, index, action }, i) => ({
    step: step.name,
    direction: step.direction,
    action,
    tables: resolved[i]!.map((t) => ({ ...t, mayHoldRowsLater: !t.exists && index > 0 })),
  }));
}

/** Tables whose rows the run may destroy: those are what confirmation is about. */
export function tablesAtRisk(findings: DestructiveFinding[]): AffectedTable[] {
  return findings.flatMap((f) => f.tables.filter((t) => t.hasRows || t.mayHoldRowsLater));
}
