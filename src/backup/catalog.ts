/**
 * What the backup reads from the catalog: which tables the caller means, their columns, their
 * size on disk, whether they hold rows. Names travel as query parameters and are resolved by the
 * server (`to_regclass` of `quote_ident`ed parts), never spliced into SQL text.
 */
import { UsageError } from '../errors.js';
import { quoteQualified } from '../db/quote.js';
import type { AnySql } from './copy.js';
import type { ManifestColumn } from './manifest.js';
import { displayName, tableRefCandidates, type QualifiedName, type TableRef } from './names.js';

/** A table found in the catalog, ready to be copied. */
export interface CatalogTable extends QualifiedName {
  /** `r` ordinary table, `p` partitioned table. */
  relkind: string;
  /** Columns in attnum order, generated columns excluded (they are recomputed on restore). */
  columns: ManifestColumn[];
  /** `pg_table_size`: heap + TOAST + maps, without indexes (CSV holds no index). */
  sizeBytes: number;
}

/** Result of `resolveTables`: tables found, and inputs that name no table. */
export interface Resolution {
  tables: CatalogTable[];
  /** Inputs as given, with why (`no such table`, `is a view`, `not a table name`). */
  unknown: { ref: string; why: string }[];
}

const KIND_NAMES: Record<string, string> = { v: 'a view', m: 'a materialized view', S: 'a sequence', i: 'an index', I: 'an index', f: 'a foreign table', c: 'a composite type', t: 'a TOAST table' };

interface Row {
  i: number;
  k: number;
  schema: string | null;
  name: string | null;
  relkind: string | null;
  columns: ManifestColumn[] | null;
  size: number | null;
}

/** Resolves table references (search_path for unqualified names); duplicates are dropped. */
export async function resolveTables(sql: AnySql, refs: readonly TableRef[]): Promise<Resolution> {
  const unknown: Resolution['unknown'] = [];
  const wanted: { i: number; k: number; schema: string | null; name: string }[] = [];
  refs.forEach((ref, i) => {
    const candidates = tableRefCandidates(ref);
    if (candidates.length === 0) unknown.push({ ref: refText(ref), why: 'not a table name' });
    candidates.forEach((c, k) => wanted.push({ i, k, schema: c.schema ?? null, name: c.name }));
  });
  const rows = wanted.length === 0 ? [] : await sql<Row[]>`
    SELECT r.i, r.k, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
           CASE WHEN c.relkind IN ('r', 'p') THEN pg_catalog.pg_table_size(c.oid)::float8 END AS size,
           (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns
      FROM jsonb_to_recordset(${JSON.stringify(wanted)}::text::jsonb) AS r(i int, k int, schema text, name text)
      LEFT JOIN pg_catalog.pg_class c
        ON c.oid = pg_catalog.to_regclass(CASE WHEN r.schema IS NULL THEN pg_catalog.quote_ident(r.name)
                                               ELSE pg_catalog.quote_ident(r.schema) || '.' || pg_catalog.quote_ident(r.name) END)
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     ORDER BY r.i, r.k`;
  const tables: CatalogTable[] = [];
  const seen = new Set<string>();
  // Per input, the first reading that names a relation wins (rows are ordered by reading).
  const chosen = new Map<number, Row>();
  for (const row of rows) {
    if (row.relkind !== null && !chosen.has(row.i)) chosen.set(row.i, row);
  }
  for (const i of [...new Set(wanted.map((w) => w.i))]) {
    const row = chosen.get(i);
    const ref = refText(refs[i] as TableRef);
    if (!row || row.schema === null || row.name === null || row.relkind === null) { unknown.push({ ref, why: 'no such table' }); continue; }
    if (row.relkind !== 'r' && row.relkind !== 'p') { unknown.push({ ref, why: `is ${KIND_NAMES[row.relkind] ?? 'not a table'}` }); continue; }
    const key = `${row.schema}\0${row.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    tables.push({ schema: row.schema, name: row.name, relkind: row.relkind, columns: row.columns ?? [], sizeBytes: row.size ?? 0 });
  }
  return { tables, unknown };
}

/** Resolves, and throws `UsageError` (exit 2) listing every input that is not a table. */
export async function requireTables(sql: AnySql, refs: readonly TableRef[]): Promise<CatalogTable[]> {
  const { tables, unknown } = await resolveTables(sql, refs);
  if (unknown.length > 0) {
    const list = unknown.map((u) => (u.why === 'no such table' ? u.ref : `${u.ref} (${u.why})`)).join(', ');
    throw new UsageError(`unknown table${unknown.length > 1 ? 's' : ''}: ${list}`, {
      hint: 'name tables as table or schema.table, exactly as in the catalog (or SQL-quoted: \'"Mixed Case"\')',
    });
  }
  if (tables.length === 0) throw new UsageError('no tables to back up');
  return tables;
}

/** True when the table holds at least one row (cheap: stops at the first row). */
export async function hasRows(sql: AnySql, table: QualifiedName): Promise<boolean> {
  const [row] = await sql.unsafe<{ found: boolean }[]>(`SELECT EXISTS (SELECT 1 FROM ${quoteQualified(table.schema, table.name)}) AS found`);
  return row?.found === true;
}

/** `SELECT current_setting('server_version')`, e.g. `17.6`. */
export async function serverVersion(sql: AnySql): Promise<{ version: string; num: number }> {
  const [row] = await sql<{ version: string; num: number }[]>`
    SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num`;
  if (!row) throw new Error('server version query returned no row');
  return row;
}

function refText(ref: TableRef): string {
  if (typeof ref === 'string') return ref;
  return ref.schema === undefined ? ref.table : displayName({ schema: ref.schema, name: ref.table });
}
