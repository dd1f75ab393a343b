/**
 * Before a run starts: which tables its destructive steps would destroy, whether they hold rows,
 * and therefore whether the run needs confirmation (SPEC §6: "a destructive step that affects a
 * table holding rows needs --yes in a non-interactive run (else exit 6, nothing touched)").
 */
import type { Sql } from '../db/connect.js';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import type { DestructiveAction, TableRef } from '../sql/destructive.js';
import type { PreparedStep } from './steps.js';

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

/** True when the action is 011's kind of type change: timestamp → timestamptz read as UTC (SPEC §6 exception). */
function isLosslessTypeChange(action: DestructiveAction): boolean {
  if (action.kind !== 'alter_column_type' || !action.columns?.length) return false;
  return action.columns.every((c) => /^(pg_catalog\.)?(timestamptz|timestamp with time zone)$/i.test(c.newType ?? ''));
}

interface CatalogRow { ref: number; schema: string | null; name: string | null; has_rows: boolean | null; surely_empty?: boolean | null }

/** Looks tables up through the session's search_path, and whether they hold rows: two round trips at most. */
async function lookUp(sql: Sql, refs: TableRef[], schema: string): Promise<Omit<AffectedTable, 'mayHoldRowsLater'>[]> {
  if (refs.length === 0) return [];
  // One array of names, not a UNION ALL branch per table: planning 300 branches took ~100 ms. A
  // plain table whose heap has no page holds no row, committed or not (an insert extends it
  // first): only the others need an EXISTS — partitioned and foreign tables always do.
  const names = refs.map((ref) => quoteLiteral(ref.schema ? quoteQualified(ref.schema, ref.name) : quoteIdent(ref.name)));
  const found = await sql.unsafe<CatalogRow[]>(`SELECT (r.i - 1)::int AS ref, n.nspname::text AS schema, c.relname::text AS name, NULL::boolean AS has_rows,
      c.relkind = 'r' AND pg_relation_size(c.oid) = 0 AS surely_empty
    FROM unnest(ARRAY[${names.join(', ')}]::text[]) WITH ORDINALITY AS r(name, i)
    JOIN pg_class c ON c.oid = to_regclass(r.name) JOIN pg_namespace n ON n.oid = c.relnamespace`);
  const byRef = new Map(found.filter((r) => r.schema && r.name).map((r) => [r.ref, r]));
  const toCheck = [...byRef.values()].filter((r) => r.surely_empty !== true);
  const rows = toCheck.length === 0 ? [] : await sql.unsafe<CatalogRow[]>(toCheck.map((r) =>
    `SELECT ${r.ref} AS ref, NULL::text AS schema, NULL::text AS name, EXISTS (SELECT 1 FROM ${quoteQualified(r.schema!, r.name!)}) AS has_rows`).join('\nUNION ALL\n'));
  const hasRows = new Map(rows.map((r) => [r.ref, r.has_rows === true]));
  return refs.map((ref, i) => {
    const hit = byRef.get(i);
    return hit
      ? { schema: hit.schema!, name: hit.name!, exists: true, hasRows: hasRows.get(i) ?? false }
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

/** The table references of each action (DROP SCHEMA expanded to its tables), in two queries at most. */
async function referencesOf(sql: Sql, actions: DestructiveAction[]): Promise<TableRef[][]> {
  const schemas = [...new Set(actions.filter((a) => a.kind === 'drop_schema' && !isLosslessTypeChange(a)).flatMap((a) => a.schemas ?? []))];
  const inSchemas = await tablesOfSchemas(sql, schemas);
  return actions.map((action) => {
    if (isLosslessTypeChange(action)) return [];
    if (action.kind !== 'drop_schema') return action.tables;
    return inSchemas.filter((t) => action.schemas?.includes(t.schema ?? ''));
  });
}

/** The tables each action destroys, resolved in the catalog as it is now (a few queries for all). */
export async function resolveAffectedAll(sql: Sql, actions: DestructiveAction[], schema: string): Promise<Omit<AffectedTable, 'mayHoldRowsLater'>[][]> {
  const refs = await referencesOf(sql, actions);
  const flat = await lookUp(sql, refs.flat(), schema);
  let offset = 0;
  return refs.map((list) => {
    const tables = flat.slice(offset, offset + list.length);
    offset += list.length;
    return dedupe(tables);
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
