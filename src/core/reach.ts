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
 *   PostgreSQL's dependency.c does: normal dependents with CASCADE; automatic, internal, extension
 *   and DEPENDS ON EXTENSION dependents always; and the owner of an internal part that is dropped.
 *   `DROP COLUMN … CASCADE` and `ALTER TYPE … DROP ATTRIBUTE … CASCADE` the same from the column.
 * - Row types: a table that loses a column (a composite type an attribute) loses it from every
 *   value of its row type stored elsewhere, at any depth (arrays, domains, ranges, composites);
 *   typed tables and their children lose the column with CASCADE.
 * - Names: as PostgreSQL finds them (a qualified name in its schema, an unqualified one through the
 *   search path), from their parts as written (sql/destructive.ts ObjectAddress).
 *
 * One query for all the actions of a run. The result leaves out the tables each action names
 * already, and partitions whose partitioned ancestor is in the result.
 */
import type { Sql } from '../db/connect.js';
import type { ObjectAddress } from '../sql/destructive.js';

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
  /**
   * DROP COLUMN: these columns go (from its children too, unless ONLY), and with them a field of
   * every stored value of its row type; with CASCADE, whatever depends on the column.
   */
  droppedColumns?: { name: string; cascade: boolean }[];
  /** It loses rows (TRUNCATE, DELETE): so do its foreign children, on their servers. */
  rows?: boolean;
}

/** An object a statement drops or alters, as the catalog looks it up (sql/destructive.ts ObjectAddress). */
export interface ReachObject {
  action: number;
  /**
   * The DROP's object type as SQL writes it ('TYPE', 'FUNCTION', 'TEXT SEARCH CONFIGURATION', …,
   * 'OWNED' for a role of DROP OWNED BY): every type a DROP … CASCADE may lose rows through
   * (sql/destructive.ts, CASCADE_SAFE lists the others); or 'ATTRIBUTE', a composite type whose
   * attributes `ALTER TYPE` drops or retypes.
   */
  type: string;
  address: ObjectAddress;
  /** The statement says CASCADE: normal dependents go too (without it, they would make it fail). */
  cascade?: boolean;
  /**
   * ATTRIBUTE: the attributes are dropped (every stored value of the type loses them; with CASCADE,
   * the typed tables lose the column and what depends on the attribute goes) or retyped (with
   * CASCADE, the typed tables' column is retyped).
   */
  change?: 'drop' | 'retype';
  attributes?: { name: string; cascade: boolean }[];
}

/** A table reached by an action. */
export interface ReachedTable {
  action: number;
  schema: string;
  name: string;
}

/** The tables the actions reach beyond the ones they name (see the top of this file). */
export async function tablesReached(sql: Sql, starts: ReachStart[], objects: ReachObject[]): Promise<ReachedTable[]> {
  const reaching = starts.some((s) => s.children || s.foreignKeys || s.dependents || s.droppedColumns?.length) || objects.length > 0;
  if (!reaching) return [];
  const startRows = starts.map((s) => ({
    i: s.action, relid: s.oid, children: s.children, fk: s.foreignKeys ?? null, depend: s.dependents, dropped: s.droppedColumns ?? [],
    rows: s.rows === true,
  }));
  const objectRows = objects.map((o) => ({
    i: o.action, type: o.type, cascade: o.cascade === true, change: o.change ?? null, attributes: o.attributes ?? [],
    schema: o.address.schema ?? null, name: o.address.name, args: o.address.args ?? null, typ: o.address.type ?? null,
    method: o.address.method ?? null, language: o.address.language ?? null,
  }));
  return sql.unsafe<ReachedTable[]>(REACH_SQL, [JSON.stringify(startRows), JSON.stringify(objectRows)]);
}

const REACH_SQL = `
WITH RECURSIVE
start AS (
  SELECT s.i, s.relid, s.children, s.fk, s.depend, s.dropped, s.rows
  FROM jsonb_to_recordset($1::text::jsonb) AS s(i int, relid oid, children boolean, fk text, depend boolean, dropped jsonb, rows boolean)
),
named AS (
  SELECT o.i, o.type, o.cascade, o.change, o.attributes, o.schema, o.name, o.args, o.typ, o.method, o.language,
    -- The name as SQL text with every part quoted, for the to_reg*() lookups (a keyword such as
    -- "position" must not reach their parser bare), and the schema when the name is qualified.
    CASE WHEN o.schema IS NULL THEN '' ELSE quote_ident(o.schema) || '.' END || quote_ident(o.name) AS qname,
    to_regnamespace(quote_ident(o.schema))::oid AS nsp
  FROM jsonb_to_recordset($2::text::jsonb) AS o(i int, type text, cascade boolean, change text, attributes jsonb,
    schema text, name text, args text[], typ text, method text, language text)
),
-- Each object as PostgreSQL finds it: a qualified name in its schema, an unqualified one through the
-- search path (a migration that changes it is judged again at its statement, core/execute.ts).
objects AS (
  SELECT n.i, 'pg_type'::regclass::oid AS classid, to_regtype(n.typ)::oid AS objid FROM named n WHERE n.type IN ('TYPE', 'DOMAIN')
  UNION ALL
  -- A routine with its argument types is that one; without them, every one of that name it may mean.
  SELECT n.i, 'pg_proc'::regclass::oid, to_regprocedure(n.qname || '(' || array_to_string(n.args, ',') || ')')::oid
  FROM named n WHERE n.type IN ('FUNCTION', 'PROCEDURE', 'ROUTINE', 'AGGREGATE') AND n.args IS NOT NULL
  UNION ALL
  SELECT n.i, 'pg_proc'::regclass::oid, p.oid FROM named n
  JOIN pg_proc p ON p.proname = n.name AND CASE WHEN n.schema IS NULL THEN pg_function_is_visible(p.oid) ELSE p.pronamespace = n.nsp END
  WHERE n.type IN ('FUNCTION', 'PROCEDURE', 'ROUTINE', 'AGGREGATE') AND n.args IS NULL
  UNION ALL
  -- An operator's name is its symbol, never quoted.
  SELECT n.i, 'pg_operator'::regclass::oid,
    to_regoperator(CASE WHEN n.schema IS NULL THEN '' ELSE quote_ident(n.schema) || '.' END || n.name || '(' || array_to_string(n.args, ',') || ')')::oid
  FROM named n WHERE n.type = 'OPERATOR' AND n.args IS NOT NULL
  UNION ALL
  -- A relation's row type may be the type of a column elsewhere.
  -- (An index or a sequence too: a regclass constant in a generated column, a view on a sequence.)
  SELECT n.i, 'pg_class'::regclass::oid, to_regclass(n.qname)::oid FROM named n
  WHERE n.type IN ('VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE', 'INDEX', 'SEQUENCE')
  UNION ALL
  SELECT n.i, 'pg_extension'::regclass::oid, e.oid FROM named n JOIN pg_extension e ON e.extname = n.name WHERE n.type = 'EXTENSION'
  UNION ALL
  SELECT n.i, 'pg_namespace'::regclass::oid, s.oid FROM named n JOIN pg_namespace s ON s.nspname = n.name WHERE n.type = 'SCHEMA'
  UNION ALL
  SELECT n.i, 'pg_am'::regclass::oid, a.oid FROM named n JOIN pg_am a ON a.amname = n.name WHERE n.type = 'ACCESS METHOD'
  UNION ALL
  SELECT n.i, 'pg_language'::regclass::oid, l.oid FROM named n JOIN pg_language l ON l.lanname = n.name WHERE n.type = 'LANGUAGE'
  UNION ALL
  SELECT n.i, 'pg_foreign_data_wrapper'::regclass::oid, w.oid FROM named n
  JOIN pg_foreign_data_wrapper w ON w.fdwname = n.name WHERE n.type = 'FOREIGN DATA WRAPPER'
  UNION ALL
  SELECT n.i, 'pg_foreign_server'::regclass::oid, s.oid FROM named n JOIN pg_foreign_server s ON s.srvname = n.name WHERE n.type = 'SERVER'
  UNION ALL
  SELECT n.i, 'pg_transform'::regclass::oid, t.oid FROM named n
  JOIN pg_transform t ON t.trftype = to_regtype(n.typ)
  JOIN pg_language l ON l.oid = t.trflang AND l.lanname = n.language
  WHERE n.type = 'TRANSFORM'
  UNION ALL
  -- Other schema objects: by name, in the schema given or the one the search path shows.
  SELECT n.i, o.classid, o.oid FROM named n JOIN (
    SELECT 'pg_collation'::regclass::oid, oid, collnamespace, collname, NULL::oid, 'COLLATION' FROM pg_collation
    UNION ALL SELECT 'pg_ts_config'::regclass::oid, oid, cfgnamespace, cfgname, NULL::oid, 'TEXT SEARCH CONFIGURATION' FROM pg_ts_config
    UNION ALL SELECT 'pg_ts_dict'::regclass::oid, oid, dictnamespace, dictname, NULL::oid, 'TEXT SEARCH DICTIONARY' FROM pg_ts_dict
    UNION ALL SELECT 'pg_ts_parser'::regclass::oid, oid, prsnamespace, prsname, NULL::oid, 'TEXT SEARCH PARSER' FROM pg_ts_parser
    UNION ALL SELECT 'pg_ts_template'::regclass::oid, oid, tmplnamespace, tmplname, NULL::oid, 'TEXT SEARCH TEMPLATE' FROM pg_ts_template
    UNION ALL SELECT 'pg_opclass'::regclass::oid, oid, opcnamespace, opcname, opcmethod, 'OPERATOR CLASS' FROM pg_opclass
    UNION ALL SELECT 'pg_opfamily'::regclass::oid, oid, opfnamespace, opfname, opfmethod, 'OPERATOR FAMILY' FROM pg_opfamily
  ) AS o(classid, oid, nsp, name, method, type)
    ON o.type = n.type AND o.name = n.name
    AND (n.method IS NULL OR o.method = (SELECT a.oid FROM pg_am a WHERE a.amname = n.method))
    AND CASE WHEN n.schema IS NOT NULL THEN o.nsp = n.nsp ELSE CASE o.type
      WHEN 'COLLATION' THEN pg_collation_is_visible(o.oid)
      WHEN 'TEXT SEARCH CONFIGURATION' THEN pg_ts_config_is_visible(o.oid)
      WHEN 'TEXT SEARCH DICTIONARY' THEN pg_ts_dict_is_visible(o.oid)
      WHEN 'TEXT SEARCH PARSER' THEN pg_ts_parser_is_visible(o.oid)
      WHEN 'TEXT SEARCH TEMPLATE' THEN pg_ts_template_is_visible(o.oid)
      WHEN 'OPERATOR CLASS' THEN pg_opclass_is_visible(o.oid)
      ELSE pg_opfamily_is_visible(o.oid) END END
  UNION ALL
  -- DROP OWNED BY: everything the role owns in this database.
  SELECT n.i, d.classid, d.objid FROM named n
  JOIN pg_roles r ON r.rolname = CASE n.name WHEN 'CURRENT_USER' THEN current_user WHEN 'CURRENT_ROLE' THEN current_role
                                             WHEN 'SESSION_USER' THEN session_user ELSE n.name END
  JOIN pg_shdepend d ON d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid AND d.deptype = 'o'
                    AND d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  WHERE n.type = 'OWNED'
),
-- ALTER TYPE … DROP / ALTER ATTRIBUTE: the composite type, its typed tables and their inheritance children.
altered AS (
  SELECT n.i, n.change, n.attributes, t.oid AS typid, t.typrelid
  FROM named n JOIN pg_type t ON t.oid = to_regtype(n.typ) AND t.typtype = 'c' WHERE n.type = 'ATTRIBUTE'
),
typed(i, relid, change, attributes) AS (
  SELECT a.i, c.oid, a.change, a.attributes FROM altered a JOIN pg_class c ON c.reloftype = a.typid
  UNION
  SELECT t.i, h.inhrelid, t.change, t.attributes FROM typed t JOIN pg_inherits h ON h.inhparent = t.relid
),
kids(i, relid) AS (
  SELECT i, relid FROM start WHERE children
  UNION
  SELECT k.i, h.inhrelid FROM kids k JOIN pg_inherits h ON h.inhparent = k.relid
),
-- DROP COLUMN: the tables that lose the column, the named one and its children unless ONLY.
losing(i, relid, dropped) AS (
  SELECT s.i, r.relid, s.dropped FROM start s
  JOIN (SELECT i, relid FROM start UNION SELECT i, relid FROM kids) AS r ON r.i = s.i
  WHERE jsonb_array_length(s.dropped) > 0
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
-- What is dropped: objects, and columns (objsubid > 0). Without CASCADE only what goes whatever the
-- behaviour (an extension's members, automatic and internal parts): a normal dependent would make
-- the statement fail instead.
deps(i, classid, objid, objsubid, cascade) AS (
  SELECT * FROM (
    SELECT i, 'pg_class'::regclass::oid, relid, 0, true FROM start WHERE depend
    UNION
    SELECT o.i, o.classid, o.objid, 0, n.cascade FROM objects o
    JOIN (SELECT DISTINCT i, cascade FROM named) AS n ON n.i = o.i
    WHERE o.objid IS NOT NULL
    UNION
    -- DROP COLUMN: the column, where it is now.
    SELECT l.i, 'pg_class'::regclass::oid, a.attrelid, a.attnum::int, c.cascade
    FROM losing l CROSS JOIN LATERAL jsonb_to_recordset(l.dropped) AS c(name text, cascade boolean)
    JOIN pg_attribute a ON a.attrelid = l.relid AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped
    UNION
    -- ALTER TYPE … DROP ATTRIBUTE: the attribute; with CASCADE, the typed tables' column.
    SELECT al.i, 'pg_class'::regclass::oid, a.attrelid, a.attnum::int, c.cascade
    FROM altered al CROSS JOIN LATERAL jsonb_to_recordset(al.attributes) AS c(name text, cascade boolean)
    JOIN pg_attribute a ON a.attrelid = al.typrelid AND a.attname = c.name AND NOT a.attisdropped
    WHERE al.change = 'drop'
    UNION
    SELECT t.i, 'pg_class'::regclass::oid, a.attrelid, a.attnum::int, true
    FROM typed t CROSS JOIN LATERAL jsonb_to_recordset(t.attributes) AS c(name text, cascade boolean)
    JOIN pg_attribute a ON a.attrelid = t.relid AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped
    WHERE t.change = 'drop' AND c.cascade
  ) AS base
  UNION
  SELECT d0.i, e.classid, e.objid, e.objsubid, d0.cascade FROM deps d0
  CROSS JOIN LATERAL (
    -- What depends on it is dropped with it (DEPENDS ON EXTENSION, 'x', like an automatic dependency) …
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
    WHERE d.refclassid = d0.classid AND d.refobjid = d0.objid
      AND (d0.objsubid = 0 OR d.refobjsubid = d0.objsubid)
      AND (d.deptype IN ('a', 'i', 'e', 'x') OR (d0.cascade AND d.deptype = 'n'))
    UNION ALL
    -- … and so is the owner of an internal part of it: a stored generated column whose expression
    -- (its pg_attrdef) is dropped goes with it, as dependency.c does.
    SELECT d.refclassid, d.refobjid, d.refobjsubid FROM pg_depend d
    WHERE d.classid = d0.classid AND d.objid = d0.objid AND d.objsubid = d0.objsubid AND d.deptype = 'i'
  ) AS e
),
-- Relations that lose a column or attribute: so does every value of their row type stored elsewhere
-- (PostgreSQL drops the field without a word, where it refuses a type change).
shrunk(i, relid) AS (
  SELECT i, objid FROM deps WHERE classid = 'pg_class'::regclass AND objsubid > 0
  -- A DROP COLUMN or DROP ATTRIBUTE whether its column is there now or not: an earlier step of the
  -- run may add it, or rename another to its name.
  UNION SELECT i, relid FROM losing
  UNION SELECT i, typrelid FROM altered WHERE change = 'drop'
),
-- The types whose values hold such a row, at any depth, through pg_depend (its reference index, not a
-- scan of the catalogs): arrays, domains, ranges and multiranges of a type depend on it, and so does
-- a column of it in a composite type or a table, whose row type then holds it.
holding(i, typid) AS (
  SELECT s.i, c.reltype FROM shrunk s JOIN pg_class c ON c.oid = s.relid AND c.reltype <> 0
  UNION
  SELECT h.i, x.typid FROM holding h
  CROSS JOIN LATERAL (
    SELECT d.objid FROM pg_depend d
    WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = h.typid AND d.classid = 'pg_type'::regclass
    UNION ALL
    SELECT c.reltype FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND c.reltype <> 0
    WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = h.typid AND d.classid = 'pg_class'::regclass AND d.objsubid > 0
  ) AS x(typid)
),
reached(i, relid) AS (
  SELECT i, relid FROM kids
  UNION SELECT i, relid FROM fks
  UNION SELECT i, objid FROM deps WHERE classid = 'pg_class'::regclass
  UNION SELECT i, relid FROM typed WHERE change = 'retype'
  UNION SELECT h.i, d.objid FROM holding h JOIN pg_depend d
    ON d.refclassid = 'pg_type'::regclass AND d.refobjid = h.typid AND d.classid = 'pg_class'::regclass AND d.objsubid > 0
)
SELECT r.i AS action, n.nspname::text AS schema, c.relname::text AS name
FROM reached r
JOIN pg_class c ON c.oid = r.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (c.relkind IN ('r', 'p')
    -- A foreign child of a table a TRUNCATE or DELETE empties: its rows on the other server go too.
    OR (c.relkind = 'f' AND EXISTS (SELECT 1 FROM start s WHERE s.i = r.i AND s.rows)))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND NOT EXISTS (SELECT 1 FROM start s WHERE s.i = r.i AND s.relid = r.relid)
  AND NOT (c.relispartition AND EXISTS (
    SELECT 1 FROM pg_partition_ancestors(c.oid) AS a
    WHERE a.relid <> c.oid
      AND (EXISTS (SELECT 1 FROM reached o WHERE o.i = r.i AND o.relid = a.relid)
        OR EXISTS (SELECT 1 FROM start s WHERE s.i = r.i AND s.relid = a.relid))))
ORDER BY 1, 2, 3`;
