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
 *   collation, access method, view, materialized view, foreign table, operator, operator class or
 *   family, language, transform, text search object, foreign-data wrapper or server, and `DROP
 *   OWNED BY`, drops whatever depends on it — whole tables, or columns of tables elsewhere (a
 *   column of a dropped type or of a view's row type, a stored generated column whose function,
 *   operator or text search configuration is dropped, a field of a composite type a column uses,
 *   a partitioned table whose key uses a dropped operator class) — following pg_depend as
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
  /** It loses a column (DROP COLUMN): so does every stored value of its row type. */
  fields?: boolean;
}

/** An object a `DROP … CASCADE` names, as written: its dependents are reached. */
export interface ReachObject {
  action: number;
  /**
   * With type 'ATTRIBUTE' (`ALTER TYPE name … ATTRIBUTE …`): an attribute of the composite type is
   * dropped (every stored value of the type loses it; with `cascade`, the typed tables lose the
   * column) or retyped (with `cascade`, the typed tables' column is retyped).
   */
  change?: 'drop' | 'retype';
  /** The statement says CASCADE: normal dependents go too (without it, they would make it fail). */
  cascade?: boolean;
  /**
   * The DROP's object type as SQL writes it ('TYPE', 'FUNCTION', 'TEXT SEARCH CONFIGURATION', …, and
   * 'OWNED' for a role of DROP OWNED BY): every type a DROP … CASCADE may lose rows through
   * (sql/destructive.ts, CASCADE_SAFE lists the others).
   */
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
  const reaching = starts.some((s) => s.children || s.foreignKeys || s.dependents || s.fields) || objects.length > 0;
  if (!reaching) return [];
  const startRows = starts.map((s) => ({ i: s.action, relid: s.oid, children: s.children, fk: s.foreignKeys ?? null, depend: s.dependents, fields: s.fields === true }));
  const objectRows = objects.map((o) => ({ i: o.action, type: o.type, name: o.name, change: o.change ?? null, cascade: o.cascade === true }));
  return sql.unsafe<ReachedTable[]>(REACH_SQL, [JSON.stringify(startRows), JSON.stringify(objectRows)]);
}

const REACH_SQL = `
WITH RECURSIVE
start AS (
  SELECT s.i, s.relid, s.children, s.fk, s.depend, s.fields
  FROM jsonb_to_recordset($1::text::jsonb) AS s(i int, relid oid, children boolean, fk text, depend boolean, fields boolean)
),
named AS (
  SELECT o.i, o.type, o.name, o.change, o.cascade
  FROM jsonb_to_recordset($2::text::jsonb) AS o(i int, type text, name text, change text, cascade boolean)
),
-- ALTER TYPE … DROP / ALTER ATTRIBUTE: the composite type, and its typed tables where CASCADE reaches them.
altered AS (
  SELECT n.i, n.change, t.typrelid FROM named n JOIN pg_type t ON t.oid = to_regtype(n.name) AND t.typtype = 'c' WHERE n.type = 'ATTRIBUTE'
),
typed(i, relid, change) AS (
  SELECT n.i, c.oid, n.change FROM named n JOIN pg_class c ON c.reloftype = to_regtype(n.name) WHERE n.type = 'ATTRIBUTE' AND n.cascade
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
  -- A relation's row type may be the type of a column elsewhere.
  SELECT n.i, 'pg_class'::regclass::oid, to_regclass(n.name)::oid FROM named n WHERE n.type IN ('VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE')
  UNION ALL
  SELECT n.i, 'pg_operator'::regclass::oid, to_regoperator(n.name)::oid FROM named n WHERE n.type = 'OPERATOR'
  UNION ALL
  SELECT n.i, 'pg_language'::regclass::oid, l.oid FROM named n JOIN pg_language l ON n.name IN (l.lanname, quote_ident(l.lanname)) WHERE n.type = 'LANGUAGE'
  UNION ALL
  SELECT n.i, 'pg_transform'::regclass::oid, t.oid FROM named n
    CROSS JOIN LATERAL regexp_match(n.name, '^FOR (.+) LANGUAGE (.+)$') AS m(part)
    JOIN pg_transform t ON t.trftype = to_regtype(m.part[1])
    JOIN pg_language l ON l.oid = t.trflang AND m.part[2] IN (l.lanname, quote_ident(l.lanname)) WHERE n.type = 'TRANSFORM'
  UNION ALL
  SELECT n.i, o.classid, o.oid FROM named n JOIN (
    SELECT 'pg_ts_config'::regclass::oid, oid, cfgnamespace, cfgname, 'TEXT SEARCH CONFIGURATION' FROM pg_ts_config
    UNION ALL SELECT 'pg_ts_dict'::regclass::oid, oid, dictnamespace, dictname, 'TEXT SEARCH DICTIONARY' FROM pg_ts_dict
    UNION ALL SELECT 'pg_ts_parser'::regclass::oid, oid, prsnamespace, prsname, 'TEXT SEARCH PARSER' FROM pg_ts_parser
    UNION ALL SELECT 'pg_ts_template'::regclass::oid, oid, tmplnamespace, tmplname, 'TEXT SEARCH TEMPLATE' FROM pg_ts_template
  ) AS o(classid, oid, nsp, name, type)
    ON o.type = n.type AND n.name IN (o.name, quote_ident(o.name), o.nsp::regnamespace::text || '.' || quote_ident(o.name))
  UNION ALL
  -- DROP OPERATOR CLASS / FAMILY name USING method.
  SELECT n.i, o.classid, o.oid FROM named n
    CROSS JOIN LATERAL regexp_match(n.name, '^(.+) USING (.+)$') AS m(part)
    JOIN (
      SELECT 'pg_opclass'::regclass::oid, oid, opcnamespace, opcname, opcmethod, 'OPERATOR CLASS' FROM pg_opclass
      UNION ALL SELECT 'pg_opfamily'::regclass::oid, oid, opfnamespace, opfname, opfmethod, 'OPERATOR FAMILY' FROM pg_opfamily
    ) AS o(classid, oid, nsp, name, method, type)
    ON o.type = n.type AND m.part[1] IN (o.name, quote_ident(o.name), o.nsp::regnamespace::text || '.' || quote_ident(o.name))
    JOIN pg_am a ON a.oid = o.method AND m.part[2] IN (a.amname, quote_ident(a.amname))
  UNION ALL
  SELECT n.i, 'pg_foreign_data_wrapper'::regclass::oid, w.oid FROM named n JOIN pg_foreign_data_wrapper w
    ON n.name IN (w.fdwname, quote_ident(w.fdwname)) WHERE n.type = 'FOREIGN DATA WRAPPER'
  UNION ALL
  SELECT n.i, 'pg_foreign_server'::regclass::oid, s.oid FROM named n JOIN pg_foreign_server s
    ON n.name IN (s.srvname, quote_ident(s.srvname)) WHERE n.type = 'SERVER'
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
-- What is dropped. Without CASCADE (DROP EXTENSION, DROP OWNED) only what goes whatever the
-- behaviour: an extension's members, automatic and internal parts; a normal dependent would make
-- the statement fail instead.
deps(i, classid, objid, objsubid, cascade) AS (
  SELECT * FROM (
    SELECT i, 'pg_class'::regclass::oid, relid, 0, true FROM start WHERE depend
    UNION
    SELECT o.i, o.classid, o.objid, 0, n.cascade FROM objects o
    JOIN (SELECT DISTINCT i, cascade FROM named) AS n ON n.i = o.i
    WHERE o.objid IS NOT NULL
  ) AS base
  UNION
  SELECT d0.i, e.classid, e.objid, e.objsubid, d0.cascade FROM deps d0
  CROSS JOIN LATERAL (
    -- What depends on it is dropped with it …
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
    WHERE d.refclassid = d0.classid AND d.refobjid = d0.objid
      AND (d0.objsubid = 0 OR d.refobjsubid = d0.objsubid)
      AND (d.deptype IN ('a', 'i', 'e') OR (d0.cascade AND d.deptype = 'n'))
    UNION ALL
    -- … and so is the owner of an internal part of it: a stored generated column whose expression
    -- (its pg_attrdef) is dropped goes with it, as dependency.c does.
    SELECT d.refclassid, d.refobjid, d.refobjsubid FROM pg_depend d
    WHERE d.classid = d0.classid AND d.objid = d0.objid AND d.objsubid = d0.objsubid AND d.deptype = 'i'
  ) AS e
),
-- Relations that lose a column or attribute, and with it a field of every stored value of their row
-- type (PostgreSQL drops it without a word, unlike a type change, which it refuses then).
shrunk(i, relid) AS (
  SELECT i, relid FROM start WHERE fields
  UNION SELECT k.i, k.relid FROM kids k JOIN start s ON s.i = k.i AND s.fields
  UNION SELECT i, typrelid FROM altered WHERE change = 'drop'
  UNION SELECT i, relid FROM typed WHERE change = 'drop'
  UNION SELECT i, objid FROM deps WHERE classid = 'pg_class'::regclass AND objsubid > 0
),
-- The types whose values hold such a row: the row type, and arrays, domains, ranges and composite
-- types (row types of tables included) of it, at any depth.
holding(i, typid) AS (
  SELECT s.i, c.reltype FROM shrunk s JOIN pg_class c ON c.oid = s.relid AND c.reltype <> 0
  UNION
  SELECT h.i, x.typid FROM holding h
  CROSS JOIN LATERAL (
    SELECT t.typarray FROM pg_type t WHERE t.oid = h.typid AND t.typarray <> 0
    UNION ALL SELECT d.oid FROM pg_type d WHERE d.typbasetype = h.typid
    UNION ALL SELECT c.reltype FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid AND c.reltype <> 0
      WHERE a.atttypid = h.typid AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT r.rngtypid FROM pg_range r WHERE r.rngsubtype = h.typid
    -- Multiranges (PostgreSQL 14+; read through jsonb so that older catalogs parse the query too).
    UNION ALL SELECT (to_jsonb(r) ->> 'rngmultitypid')::oid FROM pg_range r WHERE r.rngtypid = h.typid
  ) AS x(typid)
  WHERE x.typid IS NOT NULL
),
reached(i, relid) AS (
  SELECT i, relid FROM kids
  UNION SELECT i, relid FROM fks
  UNION SELECT i, objid FROM deps WHERE classid = 'pg_class'::regclass
  UNION SELECT i, relid FROM typed
  UNION SELECT h.i, a.attrelid FROM holding h JOIN pg_attribute a ON a.atttypid = h.typid AND a.attnum > 0 AND NOT a.attisdropped
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
