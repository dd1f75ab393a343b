/**
 * A structured snapshot of a database's schema, and the difference between two snapshots — what
 * `migrate check` compares before a migration and after its down (SPEC §5): tables, columns and
 * types, defaults, constraints, indexes, views, functions, triggers, enum types (and sequences,
 * domains, extensions). Not a pg_dump text diff: each object is keyed, so the difference names
 * objects ("index public.idx_goals_user: left behind by down").
 */
import type { Sql } from '../db/connect.js';
import { quoteLiteral } from '../db/quote.js';

/** Object key → its definition, per kind of object. */
export type SchemaSnapshot = Record<string, Record<string, string>>;

/** One difference between two snapshots. */
export interface SchemaChange {
  kind: string;
  name: string;
  change: 'added' | 'removed' | 'changed';
  before?: string;
  after?: string;
}

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'`;

/** The catalog queries: each returns (key, definition) pairs of one kind of object. */
function queries(exclude: { schema: string; table: string }): Record<string, string> {
  const notHistory = `NOT (n.nspname = ${quoteLiteral(exclude.schema)} AND c.relname = ${quoteLiteral(exclude.table)})`;
  return {
    schema: `SELECT quote_ident(n.nspname) AS key, '' AS def FROM pg_namespace n WHERE ${USER_SCHEMAS}`,
    table: `SELECT format('%I.%I', n.nspname, c.relname) AS key, c.relkind::text AS def
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f') AND ${USER_SCHEMAS} AND ${notHistory}`,
    column: `SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname) AS key,
        concat_ws(' ', format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'NOT NULL' END,
          'DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), NULLIF(a.attidentity, '') , NULLIF(a.attgenerated, ''),
          'COLLATE ' || NULLIF(co.collname, 'default')) AS def
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
      WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND ${USER_SCHEMAS} AND ${notHistory}`,
    constraint: `SELECT format('%I.%I', n.nspname, con.conname) || ' on ' || con.conrelid::regclass::text AS key, pg_get_constraintdef(con.oid) AS def
      FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace LEFT JOIN pg_class c ON c.oid = con.conrelid
      WHERE ${USER_SCHEMAS} AND (c.oid IS NULL OR ${notHistory})`,
    index: `SELECT format('%I.%I', n.nspname, ci.relname) AS key, pg_get_indexdef(i.indexrelid) AS def
      FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = ci.relnamespace
      WHERE ${USER_SCHEMAS} AND ${notHistory}`,
    view: `SELECT format('%I.%I', n.nspname, c.relname) AS key, c.relkind::text || ': ' || pg_get_viewdef(c.oid) AS def
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMAS}`,
    sequence: `SELECT format('%I.%I', n.nspname, c.relname) AS key, format_type(s.seqtypid, NULL) AS def
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS}`,
    function: `SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS key, pg_get_functiondef(p.oid) AS def
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      LEFT JOIN pg_depend dep ON dep.objid = p.oid AND dep.deptype = 'e'
      WHERE p.prokind IN ('f', 'p') AND dep.objid IS NULL AND ${USER_SCHEMAS}`,
    trigger: `SELECT format('%I on %s', t.tgname, t.tgrelid::regclass::text) AS key, pg_get_triggerdef(t.oid) AS def
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal AND ${USER_SCHEMAS}`,
    enum: `SELECT format('%I.%I', n.nspname, t.typname) AS key, string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) AS def
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE ${USER_SCHEMAS} GROUP BY 1`,
    type: `SELECT format('%I.%I', n.nspname, t.typname) AS key, t.typtype::text || CASE WHEN t.typtype = 'd' THEN ' ' || format_type(t.typbasetype, t.typtypmod) ELSE '' END AS def
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace LEFT JOIN pg_class c ON c.oid = t.typrelid
      LEFT JOIN pg_depend dep ON dep.objid = t.oid AND dep.deptype = 'e'
      WHERE t.typtype IN ('d', 'c') AND (c.oid IS NULL OR c.relkind = 'c') AND dep.objid IS NULL AND ${USER_SCHEMAS}`,
    extension: `SELECT quote_ident(extname) AS key, extversion AS def FROM pg_extension WHERE extname <> 'plpgsql'`,
  };
}

/** Reads the snapshot, all kinds pipelined in one round trip. */
export async function snapshotSchema(sql: Sql, historyLocation: { schema: string; table: string }): Promise<SchemaSnapshot> {
  const entries = Object.entries(queries(historyLocation));
  const results = await Promise.all(entries.map(([, query]) => sql.unsafe<{ key: string; def: string | null }[]>(query)));
  const snapshot: SchemaSnapshot = {};
  entries.forEach(([kind], i) => {
    snapshot[kind] = Object.fromEntries(results[i]!.map((r) => [r.key, r.def ?? '']));
  });
  return snapshot;
}

/** Everything that differs between two snapshots, ordered by kind and name. */
export function diffSchemas(before: SchemaSnapshot, after: SchemaSnapshot): SchemaChange[] {
  const changes: SchemaChange[] = [];
  const kinds = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  for (const kind of kinds) {
    const a = before[kind] ?? {};
    const b = after[kind] ?? {};
    for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (!(name in b)) changes.push({ kind, name, change: 'removed', before: a[name]! });
      else if (!(name in a)) changes.push({ kind, name, change: 'added', after: b[name]! });
      else if (a[name] !== b[name]) changes.push({ kind, name, change: 'changed', before: a[name]!, after: b[name]! });
    }
  }
  return changes;
}

/** One line per change, for messages: `index public.idx_x: left behind` etc. */
export function describeChange(change: SchemaChange, verbs = { added: 'left behind', removed: 'missing', changed: 'differs' }): string {
  const detail = change.change === 'changed' ? ` (was: ${change.before}; now: ${change.after})`
    : change.change === 'added' ? ` (${change.after})` : ` (${change.before})`;
  return `${change.kind} ${change.name}: ${verbs[change.change]}${detail}`;
}
