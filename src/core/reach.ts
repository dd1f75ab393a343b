/**
 * What a destructive statement destroys beyond the tables it names (SPEC §6: "the affected tables …
 * are backed up"), as PostgreSQL will compute it when the statement runs — read from the catalog:
 *
 * - Inheritance children: `TRUNCATE t`, `DELETE FROM t`, `ALTER TABLE t DROP COLUMN / ALTER COLUMN
 *   TYPE` recurse into the tables that inherit from t unless ONLY is written, and `DROP TABLE t
 *   CASCADE` drops them. (Partitions need nothing: a partitioned table's backup holds their rows.)
 * - Foreign keys: `TRUNCATE … CASCADE` empties every table that references a truncated one, at
 *   any depth; a `DELETE` without WHERE deletes (ON DELETE CASCADE) or rewrites (SET NULL, SET
 *   DEFAULT) the referencing rows, at any depth.
 * - Dependencies: `DROP … CASCADE` of a table, schema, type, domain, function, extension,
 *   collation, access method, and `DROP OWNED BY`, drops whatever depends on it — whole tables,
 *   or columns of tables elsewhere (a column of a dropped type, a stored generated column whose
 *   function is dropped, a field of a composite type a column uses) — following pg_depend as
 *   PostgreSQL's dependency.c does: normal, automatic, internal and extension dependents, and the
 *   owner of an internal part that is dropped.
 *
 * One query for all the actions of a run. The result leaves out the tables each action names
 * already, and partitions whose partitioned ancestor is in the result.
 */
import type { Sql } from '../db/connect.js';

/** A table an action names, found in the catalog, and how far its destruction reaches. */
export interface ReachStart {
  /** The action's index in the caller's list. */
  action: number;
  oid: number;
  /** Its inheritance children are reached (no ONLY). */
  children: boolean;
  /** Referencing tables reached: every foreign key (TRUNCATE CASCADE), or the ON DELETE actions (DELETE). */
  foreignKeys?: 'all' | 'delete';
  /** Whatever depends on it is dropped too (DROP TABLE … CASCADE). */
  dependents: boolean;
}

/** An object a `DROP … CASCADE` names, as written: its dependents are reached. */
export interface ReachObject {
  action: number;
  /** 'TYPE', 'DOMAIN', 'FUNCTION', 'PROCEDURE', 'ROUTINE', 'AGGREGATE', 'EXTENSION', 'COLLATION', 'ACCESS METHOD', 'SCHEMA', 'OWNED' (a role). */
  type: string;
  name: string;
}

/** A table reached by an action. */
export interface ReachedTable {
  action: number;
  schema: string;
  name: string;
}

/** The tables the actions reach beyond the ones they name (see the top of this file). */
export async function tablesReached(sql: Sql, starts: ReachStart[], objects: ReachObject[]): Promise<ReachedTable[]> {
  const reaching = starts.some((s) => s.children || s.foreignKeys || s.dependents) || objects.length > 0;
  if (!reaching) return [];
  const startRows = starts.map((s) => ({ i: s.action, relid: s.oid, children: s.children, fk: s.foreignKeys ?? null, depend: s.dependents }));
  const objectRows = objects.map((o) => ({ i: o.action, type: o.type, name: o.name }));
  return sql.unsafe<ReachedTable[]>(REACH_SQL, [JSON.stringify(startRows), JSON.stringify(objectRows)]);
}

const REACH_SQL = `
WITH RECURSIVE
start AS (
  SELECT s.i, s.relid, s.children, s.fk, s.depend
  FROM jsonb_to_recordset($1::text::jsonb) AS s(i int, relid oid, children boolean, fk text, depend boolean)
),
named AS (
  SELECT o.i, o.type, o.name FROM jsonb_to_recordset($2::text::jsonb) AS o(i int, type text, name text)
),
objects AS (
  SELECT n.i, 'pg_type'::regclass::oid AS classid, to_regtype(n.name)::oid AS objid FROM named n WHERE n.type IN ('TYPE', 'DOMAIN')
  UNION ALL
  SELECT n.i, 'pg_proc'::regclass::oid, p.oid FROM named n JOIN pg_proc p
    ON p.oid = CASE WHEN strpos(n.name, '(') > 0 THEN to_regprocedure(n.name)::oid END
    OR (strpos(n.name, '(') = 0 AND (p.oid = to_regproc(n.name)::oid OR p.oid::regproc::text = n.name))
  WHERE n.type IN ('FUNCTION', 'PROCEDURE', 'ROUTINE', 'AGGREGATE')
  UNION ALL
  SELECT n.i, 'pg_extension'::regclass::oid, e.oid FROM named n JOIN pg_extension e ON n.name IN (e.extname, quote_ident(e.extname)) WHERE n.type = 'EXTENSION'
  UNION ALL
  SELECT n.i, 'pg_collation'::regclass::oid, c.oid FROM named n JOIN pg_collation c
    ON n.name IN (c.collname, quote_ident(c.collname), c.collnamespace::regnamespace::text || '.' || quote_ident(c.collname)) WHERE n.type = 'COLLATION'
  UNION ALL
  SELECT n.i, 'pg_am'::regclass::oid, a.oid FROM named n JOIN pg_am a ON n.name IN (a.amname, quote_ident(a.amname)) WHERE n.type = 'ACCESS METHOD'
  UNION ALL
  SELECT n.i, 'pg_namespace'::regclass::oid, s.oid FROM named n JOIN pg_namespace s ON n.name IN (s.nspname, quote_ident(s.nspname)) WHERE n.type = 'SCHEMA'
  UNION ALL
  -- DROP OWNED BY: everything the role owns in this database.
  SELECT n.i, d.classid, d.objid FROM named n
  JOIN pg_roles r ON r.rolname = CASE n.name WHEN 'CURRENT_USER' THEN current_user WHEN 'CURRENT_ROLE' THEN current_role
                                             WHEN 'SESSION_USER' THEN session_user ELSE n.name END
  JOIN pg_shdepend d ON d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid AND d.deptype = 'o'
                    AND d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  WHERE n.type = 'OWNED'
),
kids(i, relid) AS (
  SELECT i, relid FROM start WHERE children
  UNION
  SELECT k.i, h.inhrelid FROM kids k JOIN pg_inherits h ON h.inhparent = k.relid
),
fks(i, relid, fk) AS (
  SELECT * FROM (
    SELECT i, relid, fk FROM start WHERE fk IS NOT NULL
    UNION
    SELECT k.i, k.relid, s.fk FROM kids k JOIN start s ON s.i = k.i AND s.fk IS NOT NULL
  ) AS base
  UNION
  SELECT f.i, c.conrelid, f.fk FROM fks f
  JOIN pg_constraint c ON c.contype = 'f' AND c.confrelid = f.relid AND (f.fk = 'all' OR c.confdeltype IN ('c', 'n', 'd'))
),
deps(i, classid, objid, objsubid) AS (
  SELECT * FROM (
    SELECT i, 'pg_class'::regclass::oid, relid, 0 FROM start WHERE depend
    UNION
    SELECT i, classid, objid, 0 FROM objects WHERE objid IS NOT NULL
  ) AS base
  UNION
  SELECT d0.i, e.classid, e.objid, e.objsubid FROM deps d0
  CROSS JOIN LATERAL (
    -- What depends on it is dropped with it …
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
    WHERE d.refclassid = d0.classid AND d.refobjid = d0.objid
      AND (d0.objsubid = 0 OR d.refobjsubid = d0.objsubid) AND d.deptype IN ('n', 'a', 'i', 'e')
    UNION ALL
    -- … and so is the owner of an internal part of it: a stored generated column whose expression
    -- (its pg_attrdef) is dropped goes with it, as dependency.c does.
    SELECT d.refclassid, d.refobjid, d.refobjsubid FROM pg_depend d
    WHERE d.classid = d0.classid AND d.objid = d0.objid AND d.objsubid = d0.objsubid AND d.deptype = 'i'
  ) AS e
),
reached(i, relid) AS (
  SELECT i, relid FROM kids
  UNION SELECT i, relid FROM fks
  UNION SELECT i, objid FROM deps WHERE classid = 'pg_class'::regclass
  -- An attribute dropped from a composite type loses that field in every column of the type (or an array of it).
  UNION SELECT d.i, a.attrelid FROM deps d
    JOIN pg_class ct ON d.classid = 'pg_class'::regclass AND ct.oid = d.objid AND ct.relkind = 'c' AND d.objsubid > 0
    JOIN pg_type t ON t.oid = ct.reltype
    JOIN pg_attribute a ON a.atttypid IN (t.oid, t.typarray) AND a.attnum > 0 AND NOT a.attisdropped
)
SELECT r.i AS action, n.nspname::text AS schema, c.relname::text AS name
FROM reached r
JOIN pg_class c ON c.oid = r.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND NOT EXISTS (SELECT 1 FROM start s WHERE s.i = r.i AND s.relid = r.relid)
  AND NOT (c.relispartition AND EXISTS (
    SELECT 1 FROM pg_partition_ancestors(c.oid) AS a
    WHERE a.relid <> c.oid
      AND (EXISTS (SELECT 1 FROM reached o WHERE o.i = r.i AND o.relid = a.relid)
        OR EXISTS (SELECT 1 FROM start s WHERE s.i = r.i AND s.relid = a.relid))))
ORDER BY 1, 2, 3`;
