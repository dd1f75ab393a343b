/**
 * What a restore reads from the live database: the tables of the manifest as they are now,
 * foreign keys (load order, tables that reference restored ones), user triggers, and the
 * sequences behind serial/identity columns. Names go in as parameters; identifiers that end up
 * in SQL text are quoted with `quoteIdent`.
 */
import { quoteIdent, quoteQualified } from '../db/quote.js';
import type { AnySql } from './copy.js';
import type { QualifiedName } from './names.js';

/** A live table (found by exact schema and name). */
export interface LiveTable extends QualifiedName {
  oid: string;
  relkind: string;
  columns: { name: string; generated: boolean }[];
}

/** A foreign key: `child` references `parent` (both oids). */
export interface ForeignKey {
  /** The constraint's oid. */
  oid: string;
  child: string;
  parent: string;
  name: string;
  childTable: QualifiedName;
  parentTable: QualifiedName;
  /** DEFERRABLE: `SET CONSTRAINTS … DEFERRED` moves its check to the end of the transaction. */
  deferrable: boolean;
}

/** A user trigger that is enabled (`O`, `A` always, `R` replica). */
export interface UserTrigger {
  table: QualifiedName;
  name: string;
  enabled: string;
}

/** Looks up tables by exact names; the result is aligned with the input (undefined = missing). */
export async function liveTables(sql: AnySql, names: readonly QualifiedName[]): Promise<(LiveTable | undefined)[]> {
  const wanted = names.map((n, i) => ({ i, schema: n.schema, name: n.name }));
  const rows = await sql<{ i: number; oid: string | null; relkind: string | null; columns: LiveTable['columns'] | null }[]>`
    SELECT r.i, c.oid::text AS oid, c.relkind::text AS relkind,
           (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'generated', a.attgenerated <> '') ORDER BY a.attnum), '[]')
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
      FROM jsonb_to_recordset(${JSON.stringify(wanted)}::text::jsonb) AS r(i int, schema text, name text)
      LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.schema
      LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.name AND c.relkind IN ('r', 'p')
     ORDER BY r.i`;
  return rows.map((row) => {
    const name = names[row.i] as QualifiedName;
    if (row.oid === null || row.relkind === null) return undefined;
    return { schema: name.schema, name: name.name, oid: row.oid, relkind: row.relkind, columns: row.columns ?? [] };
  });
}

/** Every top-level foreign key of the database (partition clones left out: their parent stands for them). */
export async function foreignKeys(sql: AnySql): Promise<ForeignKey[]> {
  const rows = await sql<{ oid: string; child: string; parent: string; name: string; schema: string; table: string; pschema: string; ptable: string; deferrable: boolean }[]>`
    SELECT con.oid::text AS oid, con.conrelid::text AS child, con.confrelid::text AS parent, con.conname AS name,
           n.nspname AS schema, c.relname AS table, pn.nspname AS pschema, pc.relname AS ptable, con.condeferrable AS deferrable
      FROM pg_catalog.pg_constraint con
      JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_class pc ON pc.oid = con.confrelid
      JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
     WHERE con.contype = 'f' AND con.conparentid = 0`;
  return rows.map((r) => ({
    oid: r.oid, child: r.child, parent: r.parent, name: r.name, deferrable: r.deferrable,
    childTable: { schema: r.schema, name: r.table }, parentTable: { schema: r.pschema, name: r.ptable },
  }));
}

/** Enabled user triggers (not the internal ones behind foreign keys) of the tables and their partitions. */
export async function userTriggers(sql: AnySql, oids: readonly string[]): Promise<UserTrigger[]> {
  if (oids.length === 0) return [];
  return (await sql<{ schema: string; table: string; name: string; enabled: string }[]>`
    WITH t AS (SELECT o.oid::oid AS oid FROM jsonb_array_elements_text(${JSON.stringify(oids)}::text::jsonb) AS o(oid)),
    rels AS (SELECT oid FROM t UNION SELECT p.relid FROM t, LATERAL pg_catalog.pg_partition_tree(t.oid) AS p)
    SELECT n.nspname AS schema, c.relname AS table, tg.tgname AS name, tg.tgenabled::text AS enabled
      FROM pg_catalog.pg_trigger tg
      JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT tg.tgisinternal AND tg.tgenabled <> 'D' AND tg.tgrelid IN (SELECT oid FROM rels)
     ORDER BY n.nspname, c.relname, tg.tgname`).map((r) => ({ table: { schema: r.schema, name: r.table }, name: r.name, enabled: r.enabled }));
}

/** SQL that disables one trigger, and SQL that puts it back as it was. */
export function triggerToggles(trigger: UserTrigger): { disable: string; restore: string } {
  const table = quoteQualified(trigger.table.schema, trigger.table.name);
  const name = quoteIdent(trigger.name);
  const mode = trigger.enabled === 'A' ? 'ALWAYS ' : trigger.enabled === 'R' ? 'REPLICA ' : '';
  return {
    disable: `ALTER TABLE ${table} DISABLE TRIGGER ${name}`,
    restore: `ALTER TABLE ${table} ENABLE ${mode}TRIGGER ${name}`,
  };
}

/** A sequence that feeds an integer column (serial, identity, or a `nextval` default). */
export interface ColumnSequence {
  tableOid: string;
  column: string;
  sequenceOid: string;
}

/** Sequences owned by, or used in the default of, integer columns of the tables. */
export async function columnSequences(sql: AnySql, oids: readonly string[]): Promise<ColumnSequence[]> {
  if (oids.length === 0) return [];
  return sql<ColumnSequence[]>`
    WITH t AS (SELECT o.oid::oid AS oid FROM jsonb_array_elements_text(${JSON.stringify(oids)}::text::jsonb) AS o(oid)),
    links AS (
      SELECT d.refobjid AS rel, d.refobjsubid AS attnum, d.objid AS seq
        FROM pg_catalog.pg_depend d
       WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
         AND d.deptype IN ('a', 'i') AND d.refobjid IN (SELECT oid FROM t) AND d.refobjsubid > 0
      UNION
      SELECT ad.adrelid, ad.adnum, d.refobjid
        FROM pg_catalog.pg_attrdef ad
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
                                    AND d.refclassid = 'pg_catalog.pg_class'::regclass
       WHERE ad.adrelid IN (SELECT oid FROM t))
    SELECT l.rel::text AS "tableOid", a.attname AS column, l.seq::text AS "sequenceOid"
      FROM links l
      JOIN pg_catalog.pg_class s ON s.oid = l.seq AND s.relkind = 'S'
      JOIN pg_catalog.pg_attribute a ON a.attrelid = l.rel AND a.attnum = l.attnum
     WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)`;
}

/**
 * Moves the sequence past the restored values, never back: `setval(max(col))` unless the
 * sequence is already further (a descending sequence: below `min(col)`).
 */
export async function resetSequence(sql: AnySql, table: QualifiedName, seq: ColumnSequence): Promise<void> {
  const column = quoteIdent(seq.column);
  await sql.unsafe(`
    SELECT pg_catalog.setval(s.seqrelid::regclass,
             CASE WHEN s.seqincrement > 0 THEN GREATEST(x.hi, pg_catalog.pg_sequence_last_value(s.seqrelid))
                  ELSE LEAST(x.lo, pg_catalog.pg_sequence_last_value(s.seqrelid)) END)
      FROM pg_catalog.pg_sequence s,
           (SELECT max(${column})::bigint AS hi, min(${column})::bigint AS lo FROM ${quoteQualified(table.schema, table.name)}) x
     WHERE s.seqrelid = $1::oid AND x.hi IS NOT NULL`, [seq.sequenceOid]);
}

/** Exact row count (for the plan: rows a truncate would remove); `only` leaves inheritance children out. */
export async function countRows(sql: AnySql, table: QualifiedName, only = false): Promise<number> {
  const [row] = await sql.unsafe<{ n: number }[]>(`SELECT count(*)::float8 AS n FROM ${only ? 'ONLY ' : ''}${quoteQualified(table.schema, table.name)}`);
  return row?.n ?? 0;
}
