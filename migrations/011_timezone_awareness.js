// @ts-check
/**
 * 011_timezone_awareness — every `timestamp without time zone` column of the target schema becomes
 * `timestamptz`, its stored values read as UTC (or as `--assume-timezone ZONE`), its precision kept
 * (`timestamp(3)` becomes `timestamptz(3)`); down converts them back to `timestamp` of the same
 * precision as wall-clock times of the zone up read them in, so the original values return (SPEC §8,
 * seeds/003).
 *
 * A JavaScript module (plain ESM + JSDoc, like 002) rather than SQL files: the columns are found in
 * the catalog at run time — tables the bundled set did not create included — and so are the views,
 * materialized views and triggers that block ALTER COLUMN TYPE. Plain JS loads without tsx.
 *
 * How (PostgreSQL 12+):
 * - UTC (the default): `SET LOCAL timezone = 'UTC'`, then per table ONE
 *   `ALTER TABLE t ALTER COLUMN a TYPE timestamptz, ALTER COLUMN b TYPE timestamptz` WITHOUT USING.
 *   With a zero-offset session zone PostgreSQL knows timestamp → timestamptz is binary-identical, so
 *   the heap keeps its relfilenode and only indexes that use the columns are rebuilt. `USING a AT
 *   TIME ZONE 'UTC'` gives the same values but rewrites the whole table; a non-UTC session without
 *   USING rewrites it AND shifts every instant. The same holds for down (timestamptz → timestamp
 *   under UTC is catalog-only too; measured on PostgreSQL 17).
 * - A column with a precision below 6 (`timestamp(0)` … `timestamp(5)`) keeps it: `TYPE
 *   timestamptz(3)`. PostgreSQL cannot do that without rewriting the table, whatever the zone: its
 *   rewrite test (tablecmds.c ATColumnChangeRequiresRewrite) skips a precision coercion only when it
 *   can prove the input already has that precision, and the output of the timestamp → timestamptz
 *   cast carries none, so `timestamptz(3)` from `timestamp(3)` (and back) rewrites the heap while
 *   plain `timestamptz` and `timestamptz(6)` do not (measured on PostgreSQL 17). Dropping the
 *   precision instead would change what the column stores from then on and make down differ from
 *   the schema before (`migrate check`). So such a table is rewritten, said so in the output and
 *   declared by `destroys()`, in both directions, like the next case. The values do not change.
 * - Another zone: `USING a AT TIME ZONE '<zone>'` — a rewrite of every such table, said per table in
 *   the run's output (and the dry run) and declared by `destroys()`, so the tables are backed up first
 *   (see `destroys`). Down converts back with `USING a AT TIME ZONE '<zone>'` (the zone up recorded):
 *   the same wall-clock times return, except those that do not exist in that zone (a spring-forward
 *   gap: 02:30 on the night clocks jump from 02:00 to 03:00 was read as 03:30 and comes back so).
 *   Times of the repeated hour of a fall-back night return unchanged (up picked one of the two
 *   instants; down gives back its wall-clock time). That down rewrites the tables too, and declares them.
 * - Partitioned tables are converted through their parent (PostgreSQL recurses; partitions and
 *   inheritance children are never altered on their own). A partition key column cannot change type
 *   at all: such a column stops the migration before anything changed, with a hint.
 * - Arrays, ranges and domains of timestamp (`timestamp[]`, `tsrange`, `CREATE DOMAIN d AS
 *   timestamp`) are left as they are, with a warning naming each such column: an array or range
 *   column cannot change element type without a rewrite (PostgreSQL converts element by element, and
 *   has no cast from tsrange to tstzrange at all), and a domain is a type of its own that other
 *   columns and functions may share, whose base type cannot be changed (ALTER DOMAIN has no SET DATA
 *   TYPE) and whose constraints a column converted to plain timestamptz would lose. Whether they hold
 *   UTC times, and what should replace the domain, is the schema owner's call. verify does not report
 *   them (its check is about timestamp columns).
 * - Composite types holding timestamps (`CREATE TYPE t AS (at timestamp)`, or an attribute that is an
 *   array, range or domain of timestamp, or another such type) are left as they are too, with a
 *   warning naming each type, those attributes and the columns of the schema's tables that use it:
 *   PostgreSQL refuses ALTER TYPE … ALTER ATTRIBUTE … TYPE for a type a column uses (even with
 *   CASCADE), and the other ways (a new attribute filled by UPDATE, or a new type and a rewriting
 *   ALTER COLUMN … TYPE … USING) rewrite rows or change the type's attribute order. Their attributes
 *   are rows of pg_attribute too (attrelid: the type's pg_class row, relkind 'c'), but not columns
 *   of a table: verify's check does not count them, as it does not count arrays or domains.
 * - Tables whose ALTER COLUMN … TYPE PostgreSQL refuses are left as they are, with a warning naming
 *   their timestamp columns, why, and what to do by hand (see refusedTables, warnRefused): a typed
 *   table (`CREATE TABLE t OF type`: converted through its type, `ALTER TYPE … ALTER ATTRIBUTE … TYPE
 *   timestamptz CASCADE`), and a table whose row type — or a partition's or child's — a column of a
 *   table or materialized view uses, directly or inside an array, domain, range or composite type.
 *   Without this the whole migration failed on them. They are not locked, sampled, recorded (down
 *   leaves them) or declared by destroys(). Unlike arrays, domains and composite types they are
 *   `timestamp without time zone` columns of tables, so verify's check reports them, as it does a
 *   column inherited from a table of another schema that 011 cannot reach either: each with a
 *   `reason` saying that 011 left it and why. Its check stays true to its name; converting them by
 *   hand makes verify pass.
 * - A table whose ALTER PostgreSQL refuses only when it runs — an expression index or constraint
 *   that is immutable on timestamp but not on timestamptz, `((created_at::date))` — is left the same
 *   way: each table's ALTER runs under a savepoint (alterOrRefusal), and a refusal of the table's own
 *   (SQLSTATE classes 0A, 22, 23, 42) rolls that table back and names it at the end (warnFailed).
 * - Views and materialized views that depend on a converted column (and views on those views, in any
 *   schema) are saved — definition, WITH options, owner, grants (table and column level), comments,
 *   view column defaults, rules, INSTEAD OF triggers, a materialized view's access method, tablespace,
 *   indexes (comments, CLUSTER, tablespace) and populated state — dropped newest-first (never
 *   CASCADE), and recreated after the ALTERs in dependency order, in the same transaction. Triggers
 *   whose column list or WHEN clause uses a converted column are dropped and recreated likewise.
 * - A column default whose expression yields `timestamp` (e.g. `timezone('utc', now())`, a constant)
 *   would be cast with the session's time zone on every insert once the column is timestamptz; it
 *   becomes `(<expr>) AT TIME ZONE '<zone>'` — the same instants the conversion reads — and down puts
 *   the original expression back. `DEFAULT now()` is timestamptz already and is left as it is.
 *
 * The record table `strata_011_timezone_awareness` (in the target schema, dropped by down, so
 * `migrate check` finds nothing left behind) holds one row per converted column: the zone, the
 * default 011 replaced, and a sample — the first and last rows by primary key (or by ctid without
 * one, when the table is not rewritten), each with its key, its `xmin` and its instant as read
 * before the conversion. Up compares the sample right after converting (and fails, rolling
 * everything back, on any difference); `verify` compares it again later, skipping rows updated since
 * (their xmin changed). Down converts exactly the recorded columns back, in the recorded zone:
 * columns that were timestamptz before 011 stay so.
 *
 * @typedef {import('../src/core/types.js').MigrationContext} MigrationContext
 * @typedef {import('../src/core/types.js').ModuleCheckResult} ModuleCheckResult
 * @typedef {import('../src/core/types.js').DestroyedTable} DestroyedTable
 */

/** The record of what up converted; lives in the target schema while 011 is applied. */
export const RECORD_TABLE = 'strata_011_timezone_awareness';

/** Rows sampled from each end of a table's primary key order. */
export const SAMPLE_ROWS_PER_END = 8;

/**
 * Zone names (as in pg_timezone_names) that are UTC at every instant: with these the conversion
 * needs no rewrite, and 011 uses its UTC form.
 */
const UTC_ZONES = new Set([
  'UTC', 'Etc/UTC', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu',
  'GMT', 'Etc/GMT', 'GMT0', 'Etc/GMT0', 'GMT+0', 'Etc/GMT+0', 'GMT-0', 'Etc/GMT-0', 'Greenwich', 'Etc/Greenwich',
]);

/** OID of `timestamp without time zone` (pg_type), as the wire protocol reports it. */
const TIMESTAMP_OID = 1114;

/**
 * The highest precision of the timestamp types. A column without a precision, or with this one,
 * converts catalog-only under UTC; a lower one cannot keep its precision without a rewrite (see the
 * module comment).
 */
const MAX_PRECISION = 6;

/**
 * The type to convert a column to, with its precision (atttypmod; -1: none).
 * @param {'timestamptz' | 'timestamp'} type
 * @param {number} typmod
 */
export function columnType(type, typmod) {
  return typmod >= 0 ? `${type}(${typmod})` : type;
}

/**
 * Whether keeping the column's precision makes PostgreSQL rewrite the table.
 * @param {{ typmod: number }} column
 */
function precisionForcesRewrite(column) {
  return column.typmod >= 0 && column.typmod < MAX_PRECISION;
}

/**
 * @typedef {object} Zone
 * @property {string} name  the name as pg_timezone_names spells it ('UTC' by default)
 * @property {boolean} utc  the conversion is catalog-only (no USING, no rewrite)
 */

/**
 * The zone stored values are read in: `--assume-timezone`, validated against pg_timezone_names
 * (any case; PostgreSQL's spelling is used), else UTC. A bad zone throws before anything changed.
 * @param {Pick<MigrationContext, 'sql' | 'options'>} ctx
 * @returns {Promise<Zone>}
 */
export async function resolveZone(ctx) {
  const given = ctx.options.assumeTimezone?.trim();
  if (!given || given.toUpperCase() === 'UTC') return { name: 'UTC', utc: true };
  const rows = await ctx.sql`SELECT name FROM pg_timezone_names WHERE lower(name) = lower(${given}) ORDER BY name`;
  const exact = rows.find((r) => r.name === given) ?? rows[0];
  if (!exact) {
    const error = new Error(
      `--assume-timezone ${JSON.stringify(given)} is not a time zone PostgreSQL knows (see pg_timezone_names; e.g. UTC, Europe/London): nothing was changed`,
    );
    // A bad argument: strata turns an error with exitCode 2 into a usage error (exit 2).
    Object.assign(error, { exitCode: 2 });
    throw error;
  }
  /** @type {string} */
  const name = exact.name;
  return { name, utc: UTC_ZONES.has(name) };
}

/** @param {string} name */
export function quoteIdent(name) {
  return `"${name.replace(/"/g, '""')}"`;
}

/** @param {string} text */
export function quoteLiteral(text) {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * @typedef {object} ColumnPlan
 * @property {string} name
 * @property {string | null} defaultExpr  pg_get_expr of its default
 * @property {string | null} newDefault   the default 011 sets (a timestamp-typed default read in the zone), else null
 * @property {number} typmod  its precision (atttypmod), kept by the conversion; -1: none
 * @property {string} [zone]  down: the zone up read it in (the record's assumed_zone)
 */

/**
 * @typedef {object} TablePlan
 * @property {number} oid
 * @property {string} name
 * @property {'r' | 'p'} relkind
 * @property {ColumnPlan[]} columns
 * @property {{ name: string, timestamp: boolean }[] | null} primaryKey
 * @property {boolean} rewrite  the conversion rewrites the table (another zone, or a precision below 6)
 */

/**
 * The statement that converts one table's columns (all of them in one ALTER TABLE).
 * @param {string} schema
 * @param {string} table
 * @param {{ name: string, typmod?: number, setDefault?: string | null, usingZone?: string | null }[]} columns
 *   typmod: the precision to keep (-1 or absent: none); usingZone: this column's own, else `usingZone`
 * @param {'timestamptz' | 'timestamp'} type
 * @param {string | null} usingZone  null: no USING (the catalog-only form under SET LOCAL timezone = 'UTC')
 */
export function alterTableStatement(schema, table, columns, type, usingZone) {
  const parts = columns.flatMap((c) => {
    const zone = c.usingZone === undefined ? usingZone : c.usingZone;
    const using = zone === null ? '' : ` USING ${quoteIdent(c.name)} AT TIME ZONE ${quoteLiteral(zone)}`;
    const alter = [`ALTER COLUMN ${quoteIdent(c.name)} TYPE ${columnType(type, c.typmod ?? -1)}${using}`];
    if (c.setDefault) alter.push(`ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT ${c.setDefault}`);
    return alter;
  });
  return `ALTER TABLE ${quoteIdent(schema)}.${quoteIdent(table)} ${parts.join(', ')}`;
}

/**
 * The timestamp columns of ordinary and partitioned tables in the schema, except inherited ones
 * (converted through their parent), extension members and the record table.
 * @param {MigrationContext} ctx
 * @param {'timestamp' | 'timestamptz'} type
 */
async function timestampColumns(ctx, type) {
  const { sql } = ctx;
  const typeName = type === 'timestamp' ? 'pg_catalog.timestamp' : 'pg_catalog.timestamptz';
  return sql`
    SELECT c.oid::int8 AS oid, c.relname::text AS table_name, c.relkind::text AS relkind,
           a.attname::text AS column_name, a.atttypmod AS typmod, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
           (SELECT json_agg(json_build_object('name', ka.attname::text, 'timestamp', ka.atttypid = 'pg_catalog.timestamp'::regtype) ORDER BY k.ord)
              FROM pg_constraint pk
              CROSS JOIN unnest(pk.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute ka ON ka.attrelid = pk.conrelid AND ka.attnum = k.attnum
             WHERE pk.conrelid = c.oid AND pk.contype = 'p') AS primary_key
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = ${ctx.schema} AND c.relkind IN ('r', 'p') AND c.relname <> ${RECORD_TABLE}
      AND c.relname <> ${ctx.options.historyTable ?? 'schema_migrations'}
      AND a.attnum > 0 AND NOT a.attisdropped AND a.attinhcount = 0
      AND a.atttypid = ${typeName}::regtype
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
    ORDER BY c.relname, a.attnum`;
}

/**
 * Every `timestamp without time zone` column left in the schema's tables (partitions and inherited
 * columns included; extension members excluded): what verify reports. Composite types' attributes
 * (relkind 'c') are not tables' columns: 011 warns about them and leaves them (see the module comment).
 * @param {MigrationContext} ctx
 */
async function remainingTimestampColumns(ctx) {
  return ctx.sql`
    SELECT c.relname::text AS table_name, a.attname::text AS column_name,
           CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE CASE WHEN c.relispartition THEN 'partition' ELSE 'table' END END AS kind
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${ctx.schema} AND c.relkind IN ('r', 'p')
      AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'pg_catalog.timestamp'::regtype
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
    ORDER BY 1, 2`;
}

/**
 * Columns of the schema's tables whose type holds timestamps without being `timestamp`: arrays,
 * ranges, multiranges and domains of it, at any depth (a domain over timestamp[], an array of such a
 * domain). 011 leaves them as they are (see the module comment) and names them in up's output.
 * @param {MigrationContext} ctx
 * @returns {Promise<readonly { table_name: string, column_name: string, type: string }[]>}
 */
async function unconvertedTimestampColumns(ctx) {
  return /** @type {any} */ (await ctx.sql`
    WITH RECURSIVE cols AS (
      SELECT c.relname::text AS table_name, a.attname::text AS column_name, a.attnum,
             format_type(a.atttypid, a.atttypmod) AS type, a.atttypid AS typ
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${ctx.schema} AND c.relkind IN ('r', 'p') AND c.relname <> ${RECORD_TABLE}
        AND a.attnum > 0 AND NOT a.attisdropped AND a.attinhcount = 0
        AND a.atttypid NOT IN ('pg_catalog.timestamp'::regtype, 'pg_catalog.timestamptz'::regtype)
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
    ), inside(table_name, column_name, attnum, type, typ, depth) AS (
      SELECT table_name, column_name, attnum, type, typ, 0 FROM cols
      UNION ALL
      SELECT i.table_name, i.column_name, i.attnum, i.type, next.typ, i.depth + 1
      FROM inside i
      JOIN pg_type t ON t.oid = i.typ
      CROSS JOIN LATERAL (
        SELECT t.typbasetype AS typ WHERE t.typtype = 'd'
        UNION ALL
        SELECT t.typelem WHERE t.typcategory = 'A' AND t.typelem <> 0
        UNION ALL
        -- rngmultitypid (multiranges) exists from PostgreSQL 14 on.
        SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid OR (to_jsonb(r) ->> 'rngmultitypid')::oid = t.oid
      ) next
      WHERE i.depth < 8
    )
    SELECT table_name, column_name, type FROM inside
    WHERE depth > 0 AND typ = 'pg_catalog.timestamp'::regtype
    GROUP BY table_name, column_name, attnum, type
    ORDER BY table_name, attnum`);
}

/**
 * The composite types (`CREATE TYPE t AS (at timestamp)`) of the schema that hold timestamps — an
 * attribute of type timestamp, or an array, range or domain of it, or another composite type that
 * holds one — and those of other schemas that a column of the schema's tables uses; each with those
 * attributes and the columns of the schema's tables whose type is, or holds, it. 011 leaves them as
 * they are (see the module comment) and names them in up's output. Tables' own row types are not
 * followed: their timestamp columns are the tables' columns, which 011 converts (or, where
 * PostgreSQL refuses, names on their own: refusedTables).
 * @param {MigrationContext} ctx
 * @returns {Promise<readonly { type_name: string, attributes: string, used_by: string[] }[]>}
 */
async function compositeTimestampTypes(ctx) {
  return /** @type {any} */ (await ctx.sql`
    WITH RECURSIVE parts(outer_type, inner_type) AS (
      SELECT oid, typbasetype FROM pg_type WHERE typtype = 'd'
      UNION ALL
      SELECT oid, typelem FROM pg_type WHERE typcategory = 'A' AND typelem <> 0
      UNION ALL
      -- rngmultitypid (multiranges) exists from PostgreSQL 14 on.
      SELECT t.oid, r.rngsubtype FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid OR t.oid = (to_jsonb(r) ->> 'rngmultitypid')::oid
      UNION ALL
      SELECT c.reltype, a.atttypid FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped
    ), holding(type) AS (
      SELECT 'pg_catalog.timestamp'::regtype::oid
      UNION
      SELECT p.outer_type FROM holding h JOIN parts p ON p.inner_type = h.type
    ), composites AS (
      SELECT t.oid, n.nspname::text AS schema, t.typname::text AS name,
             string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS attributes
      FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE a.atttypid IN (SELECT type FROM holding)
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid AND e.deptype = 'e')
      GROUP BY t.oid, n.nspname, t.typname
    ), containing(composite, type) AS (
      SELECT oid, oid FROM composites
      UNION
      SELECT h.composite, p.outer_type FROM containing h JOIN parts p ON p.inner_type = h.type
    ), users AS (
      SELECT DISTINCT h.composite, c.relname::text || '.' || a.attname AS used_by, c.relname, a.attnum
      FROM containing h
      JOIN pg_attribute a ON a.atttypid = h.type AND a.attnum > 0 AND NOT a.attisdropped AND a.attinhcount = 0
      JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p') AND c.relname <> ${RECORD_TABLE}
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ${ctx.schema}
      WHERE NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
    )
    SELECT CASE WHEN t.schema = ${ctx.schema} THEN t.name ELSE t.schema || '.' || t.name END AS type_name, t.attributes,
           coalesce((SELECT array_agg(u.used_by ORDER BY u.relname, u.attnum) FROM users u WHERE u.composite = t.oid), '{}') AS used_by
    FROM composites t
    WHERE t.schema = ${ctx.schema} OR EXISTS (SELECT 1 FROM users u WHERE u.composite = t.oid)
    ORDER BY t.schema <> ${ctx.schema}, t.schema, t.name`);
}

/**
 * @typedef {object} RefusedTable
 * @property {TablePlan} table
 * @property {string | null} typeOf  a typed table's type (CREATE TABLE … OF type), else null
 * @property {{ through: string | null, column: string }[]} usedBy  the columns that use its row type
 *   (`through`: the partition or inheritance child whose row type it is, null for the table's own)
 */

/**
 * The tables among `tables` whose ALTER COLUMN … TYPE PostgreSQL refuses, so that 011 leaves them as
 * they are and names them in up's output (measured on PostgreSQL 17): a typed table ("cannot alter
 * column type of typed table"), and a table whose row type, or the row type of a partition or child
 * the ALTER recurses to, a column of a table, partitioned table, materialized view or index uses
 * ("cannot alter table … because column … uses its row type") — directly, or inside an array,
 * domain, range, or a composite type's, view's or foreign table's row type, at any depth. Like
 * PostgreSQL (tablecmds.c find_composite_type_dependencies) this follows pg_depend and stops at the
 * first such column on each path; a dependency on a whole relation (objsubid 0: an expression
 * index, PostgreSQL 15+ checks its columns) counts when the relation has a column of the type, so
 * a typed table's dependency on its type is no column. (PostgreSQL 12–14 do not check those, and
 * neither does this there.)
 * @param {MigrationContext} ctx
 * @param {TablePlan[]} tables
 * @returns {Promise<Map<number, RefusedTable>>} by table oid
 */
async function refusedTables(ctx, tables) {
  /** @type {Map<number, RefusedTable>} */
  const refused = new Map();
  if (tables.length === 0) return refused;
  const rows = await ctx.sql`
    WITH RECURSIVE tree(root, relid) AS (
      SELECT t.root, t.root FROM jsonb_to_recordset(${JSON.stringify(tables.map((t) => ({ root: t.oid })))}::text::jsonb) AS t(root oid)
      UNION
      SELECT tree.root, i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid
    ), used(root, relid, type) AS (
      SELECT tree.root, tree.relid, c.reltype FROM tree JOIN pg_class c ON c.oid = tree.relid
      UNION
      SELECT u.root, u.relid, next.type
      FROM used u
      JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND d.refobjid = u.type
      CROSS JOIN LATERAL (
        -- a type built on it: an array, domain, range or multirange
        SELECT d.objid AS type WHERE d.classid = 'pg_type'::regclass
        UNION ALL
        -- the row type of a composite type, view or foreign table with a column of it
        SELECT r.reltype FROM pg_class r
        WHERE d.classid = 'pg_class'::regclass AND r.oid = d.objid
          AND r.relkind NOT IN ('r', 'p', 'm', 'i', 'I') AND r.reltype <> 0
          AND (d.objsubid > 0 OR EXISTS (SELECT 1 FROM pg_attribute x WHERE x.attrelid = r.oid AND x.attnum > 0 AND NOT x.attisdropped AND x.atttypid = u.type))
      ) next
    )
    SELECT c.oid::int8 AS root, CASE WHEN tn.nspname = ${ctx.schema} THEN '' ELSE tn.nspname || '.' END || t.typname AS type_of,
           NULL AS through, NULL AS used_by
    FROM pg_class c JOIN pg_type t ON t.oid = c.reloftype JOIN pg_namespace tn ON tn.oid = t.typnamespace
    WHERE c.oid IN (SELECT root FROM tree)
    UNION ALL
    SELECT DISTINCT u.root::int8, NULL,
           CASE WHEN u.relid = u.root THEN NULL WHEN rn.nspname = ${ctx.schema} THEN rel.relname::text ELSE rn.nspname || '.' || rel.relname END,
           CASE uc.relkind WHEN 'm' THEN 'materialized view ' WHEN 'i' THEN 'index ' WHEN 'I' THEN 'index ' ELSE '' END ||
           CASE WHEN un.nspname = ${ctx.schema} THEN '' ELSE un.nspname || '.' END || uc.relname || '.' || a.attname
    FROM used u
    JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND d.refobjid = u.type AND d.classid = 'pg_class'::regclass
    JOIN pg_class uc ON uc.oid = d.objid AND uc.relkind IN ('r', 'p', 'm', 'i', 'I')
    JOIN pg_namespace un ON un.oid = uc.relnamespace
    -- A whole-relation dependency (objsubid 0: an expression index) names no column: like PostgreSQL
    -- 15+, look for a column of the type (none: the type only passes through an expression, no
    -- refusal); PostgreSQL 12–14 do not look.
    JOIN pg_attribute a ON a.attrelid = uc.oid AND a.attnum > 0 AND NOT a.attisdropped
      AND CASE WHEN d.objsubid > 0 THEN a.attnum = d.objsubid
               ELSE a.atttypid = u.type AND current_setting('server_version_num')::int >= 150000 END
    JOIN pg_class rel ON rel.oid = u.relid
    JOIN pg_namespace rn ON rn.oid = rel.relnamespace
    ORDER BY 1, 3 NULLS FIRST, 4`;
  for (const table of tables) {
    const mine = rows.filter((r) => Number(r.root) === table.oid);
    if (mine.length === 0) continue;
    refused.set(table.oid, {
      table,
      typeOf: mine.find((r) => r.type_of !== null)?.type_of ?? null,
      usedBy: mine.filter((r) => r.used_by !== null).map((r) => ({ through: r.through, column: r.used_by })),
    });
  }
  return refused;
}

/**
 * Why PostgreSQL refuses to convert a table's columns, for up's warnings and verify's rows.
 * @param {RefusedTable} refused
 */
function refusalReason(refused) {
  /** @type {Map<string | null, string[]>} */
  const through = new Map();
  for (const u of refused.usedBy) through.set(u.through, [...(through.get(u.through) ?? []), u.column]);
  const uses = [...through].map(([rel, columns]) => `${rel === null ? (refused.typeOf ? 'its row type' : 'row type') : `row type of ${rel}`} used by ${columns.join(', ')}`);
  return [...(refused.typeOf ? [`typed table of ${refused.typeOf}`] : []), ...uses].join('; ');
}

/**
 * Splits the tables into those 011 converts and those PostgreSQL refuses to alter (refusedTables).
 * @param {MigrationContext} ctx
 * @param {TablePlan[]} found
 */
async function splitRefused(ctx, found) {
  const refused = await refusedTables(ctx, found);
  return { tables: found.filter((t) => !refused.has(t.oid)), refused: [...refused.values()] };
}

/**
 * The columns PostgreSQL refuses to convert, their partitions' and children's included, each with
 * why, keyed as `leftoverKey` keys the rows of remainingTimestampColumns (which up's and verify's
 * leftover lists come from).
 * @param {MigrationContext} ctx
 * @param {RefusedTable[]} refused
 * @returns {Promise<Map<string, string>>}
 */
async function refusedColumns(ctx, refused) {
  /** @type {Map<string, string>} */
  const columns = new Map();
  if (refused.length === 0) return columns;
  for (const row of await inheritanceTrees(ctx, refused.map((r) => r.table))) {
    const entry = refused.find((r) => r.table.oid === Number(row.root));
    // inheritanceTrees names a relation `schema.name` (format('%s.%s')).
    if (entry) columns.set(`${row.relation}\0${row.column_name}`, refusalReason(entry));
  }
  return columns;
}

/**
 * @param {MigrationContext} ctx
 * @param {Record<string, any>} row  a row of remainingTimestampColumns
 */
function leftoverKey(ctx, row) {
  return `${ctx.schema}.${row.table_name}\0${row.column_name}`;
}

/**
 * Groups column rows into per-table plans.
 * @param {readonly Record<string, any>[]} rows
 * @returns {TablePlan[]}
 */
function groupByTable(rows) {
  /** @type {Map<number, TablePlan>} */
  const tables = new Map();
  for (const row of rows) {
    const oid = Number(row.oid);
    let table = tables.get(oid);
    if (!table) {
      table = { oid, name: row.table_name, relkind: row.relkind, columns: [], primaryKey: row.primary_key ?? null, rewrite: false };
      tables.set(oid, table);
    }
    table.columns.push({ name: row.column_name, defaultExpr: row.default_expr ?? null, newDefault: null, typmod: Number(row.typmod ?? -1) });
  }
  return [...tables.values()];
}

/**
 * The relations of the tables' inheritance trees (the tables, their partitions and children, any
 * depth), with the columns to convert as attnums of each, and the storage of each.
 * @param {MigrationContext} ctx
 * @param {TablePlan[]} tables
 */
async function inheritanceTrees(ctx, tables) {
  if (tables.length === 0) return [];
  const columns = tables.flatMap((t) => t.columns.map((c) => ({ root: t.oid, attname: c.name })));
  return ctx.sql`
    WITH RECURSIVE tree(root, relid, attname) AS (
      SELECT t.root, t.root, t.attname FROM jsonb_to_recordset(${JSON.stringify(columns)}::text::jsonb) AS t(root oid, attname text)
      UNION
      SELECT tree.root, i.inhrelid, tree.attname FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid
    )
    SELECT tree.root::int8 AS root, tree.relid::int8 AS relid, a.attnum, tree.attname::text AS column_name,
           c.relkind::text AS relkind, c.relfilenode::int8 AS relfilenode, format('%s.%s', n.nspname, c.relname) AS relation,
           -- A partition key column (plain or inside a key expression) depends internally on its own table.
           c.relkind = 'p' AND EXISTS (
             SELECT 1 FROM pg_depend k
             WHERE k.classid = 'pg_class'::regclass AND k.objid = c.oid AND k.objsubid = a.attnum
               AND k.refclassid = 'pg_class'::regclass AND k.refobjid = c.oid AND k.refobjsubid = 0 AND k.deptype = 'i') AS in_partition_key
    FROM tree
    JOIN pg_class c ON c.oid = tree.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = tree.relid AND a.attname = tree.attname
    ORDER BY relation, column_name`;
}

/**
 * @typedef {object} SavedTrigger
 * @property {string} relation  qualified name of its table or view
 * @property {string} name
 * @property {string} definition  pg_get_triggerdef
 * @property {string} enabled  tgenabled: O, D, R, A
 * @property {string | null} comment
 */

/**
 * @typedef {object} Grant
 * @property {string} grantor
 * @property {string | null} grantee  null: PUBLIC
 * @property {string} privilege
 * @property {boolean} grantable
 */

/**
 * @typedef {object} SavedView
 * @property {number} oid
 * @property {string} schema
 * @property {string} name
 * @property {'v' | 'm'} relkind
 * @property {number} depth  1: depends on a converted column; n + 1: on a view of depth n
 * @property {string} definition  pg_get_viewdef, without the final semicolon
 * @property {string[] | null} options  reloptions
 * @property {string} owner
 * @property {Grant[] | null} acl  null: default privileges (relacl IS NULL)
 * @property {boolean} ownerDefault  the owner holds exactly its default privileges in `acl`
 * @property {string | null} comment
 * @property {{ name: string, comment: string | null, default: string | null, acl: Grant[] | null }[]} columns
 * @property {boolean} populated
 * @property {string | null} tablespace
 * @property {string | null} accessMethod
 * @property {{ name: string, definition: string, comment: string | null, clustered: boolean, tablespace: string | null }[]} indexes
 * @property {{ name: string, definition: string, comment: string | null }[]} rules
 * @property {SavedTrigger[]} triggers
 */

/**
 * @typedef {object} Dependents
 * @property {SavedView[]} views  in creation order (dependencies first)
 * @property {SavedTrigger[]} triggers  triggers on the converted tables that use a converted column
 */

/** The grants of an ACL expression (aclexplode), as JSON in order. @param {string} acl */
const GRANTS = (acl) => `(SELECT json_agg(json_build_object('grantor', pg_get_userbyid(x.grantor)::text,
      'grantee', CASE WHEN x.grantee = 0 THEN NULL ELSE pg_get_userbyid(x.grantee)::text END,
      'privilege', x.privilege_type, 'grantable', x.is_grantable) ORDER BY x.ord)
    FROM aclexplode(${acl}) WITH ORDINALITY AS x(grantor, grantee, privilege_type, is_grantable, ord))`;

/**
 * Views, materialized views and triggers that block ALTER COLUMN TYPE on the columns of `trees`
 * (and the views that depend on those views), with everything needed to recreate them.
 * @param {MigrationContext} ctx
 * @param {readonly Record<string, any>[]} trees  rows of inheritanceTrees
 * @returns {Promise<Dependents>}
 */
async function findDependents(ctx, trees) {
  const { sql } = ctx;
  if (trees.length === 0) return { views: [], triggers: [] };
  const columns = trees.map((t) => ({ relid: Number(t.relid), attnum: t.attnum }));
  const found = await sql`
    WITH RECURSIVE cols(relid, attnum) AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(columns)}::text::jsonb) AS c(relid oid, attnum int2)
    ), direct AS (
      SELECT DISTINCT r.ev_class AS view_oid
      FROM cols
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = cols.relid AND d.refobjsubid = cols.attnum
                      AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_rewrite r ON r.oid = d.objid
      JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
      WHERE r.ev_class <> cols.relid
    ), views(view_oid, depth) AS (
      SELECT view_oid, 1 FROM direct
      UNION
      SELECT r.ev_class, views.depth + 1
      FROM views
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = views.view_oid AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_rewrite r ON r.oid = d.objid
      JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
      WHERE r.ev_class <> views.view_oid
    )
    SELECT 'view' AS kind, view_oid::int8 AS oid, max(depth) AS depth FROM views GROUP BY view_oid
    UNION ALL
    SELECT DISTINCT 'trigger', t.oid::int8, 0
    FROM cols
    JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = cols.relid AND d.refobjsubid = cols.attnum
                    AND d.classid = 'pg_trigger'::regclass
    JOIN pg_trigger t ON t.oid = d.objid
    WHERE NOT t.tgisinternal AND coalesce((to_jsonb(t) ->> 'tgparentid')::oid, 0) = 0`;
  const viewDepth = new Map(found.filter((r) => r.kind === 'view').map((r) => [Number(r.oid), Number(r.depth)]));
  const triggerOids = found.filter((r) => r.kind === 'trigger').map((r) => Number(r.oid));

  /** @param {string} where */
  const triggerSelect = (where) => `
    SELECT json_agg(json_build_object('relation', t.tgrelid::regclass::text, 'name', t.tgname::text,
             'definition', pg_get_triggerdef(t.oid), 'enabled', t.tgenabled::text,
             'comment', obj_description(t.oid, 'pg_trigger')) ORDER BY t.tgname)
    FROM pg_trigger t WHERE ${where}`;
  const [triggerRow] = triggerOids.length === 0 ? [{ triggers: null }] : await sql.unsafe(
    `SELECT (${triggerSelect(`t.oid = ANY ('{${triggerOids.join(',')}}'::oid[])`)}) AS triggers`);
  /** @type {SavedTrigger[]} */
  const triggers = triggerRow?.triggers ?? [];

  if (viewDepth.size === 0) return { views: [], triggers };
  const rows = await sql.unsafe(`
    SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind,
           pg_get_viewdef(c.oid) AS definition, to_json(c.reloptions) AS options, pg_get_userbyid(c.relowner)::text AS owner,
           ${GRANTS('c.relacl')} AS acl, c.relacl IS NULL AS default_acl,
           (SELECT array_agg(x.privilege_type || x.is_grantable::text ORDER BY 1) FROM aclexplode(c.relacl) x
             WHERE x.grantee = c.relowner AND x.grantor = c.relowner)::text IS NOT DISTINCT FROM
           (SELECT array_agg(x.privilege_type || x.is_grantable::text ORDER BY 1) FROM aclexplode(acldefault('r', c.relowner)) x)::text AS owner_default,
           obj_description(c.oid, 'pg_class') AS comment,
           (SELECT json_agg(json_build_object('name', a.attname::text, 'comment', col_description(c.oid, a.attnum),
                     'default', pg_get_expr(d.adbin, d.adrelid), 'acl', ${GRANTS('a.attacl')}) ORDER BY a.attnum)
              FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
           c.relispopulated AS populated,
           (SELECT spcname::text FROM pg_tablespace WHERE oid = c.reltablespace) AS tablespace,
           (SELECT amname::text FROM pg_am WHERE oid = c.relam) AS access_method,
           (SELECT json_agg(json_build_object('name', ic.relname::text, 'definition', pg_get_indexdef(i.indexrelid),
                     'comment', obj_description(i.indexrelid, 'pg_class'), 'clustered', i.indisclustered,
                     'tablespace', (SELECT spcname::text FROM pg_tablespace WHERE oid = ic.reltablespace)) ORDER BY ic.relname)
              FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid) AS indexes,
           (SELECT json_agg(json_build_object('name', r.rulename::text, 'definition', pg_get_ruledef(r.oid),
                     'comment', obj_description(r.oid, 'pg_rewrite')) ORDER BY r.rulename)
              FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN') AS rules,
           (${triggerSelect('t.tgrelid = c.oid AND NOT t.tgisinternal')}) AS triggers
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = ANY ('{${[...viewDepth.keys()].join(',')}}'::oid[])`);
  /** @type {SavedView[]} */
  const views = rows.map((r) => ({
    oid: Number(r.oid),
    schema: r.schema,
    name: r.name,
    relkind: r.relkind,
    depth: viewDepth.get(Number(r.oid)) ?? 1,
    definition: String(r.definition).trim().replace(/;$/, ''),
    options: r.options ?? null,
    owner: r.owner,
    acl: r.default_acl ? null : (r.acl ?? []),
    ownerDefault: Boolean(r.owner_default),
    comment: r.comment ?? null,
    columns: r.columns ?? [],
    populated: r.populated,
    tablespace: r.tablespace ?? null,
    accessMethod: r.access_method ?? null,
    indexes: r.indexes ?? [],
    rules: r.rules ?? [],
    triggers: r.triggers ?? [],
  }));
  views.sort((a, b) => a.depth - b.depth || a.schema.localeCompare(b.schema) || a.name.localeCompare(b.name));
  return { views, triggers };
}

/** @param {SavedView} view */
function viewName(view) {
  return `${quoteIdent(view.schema)}.${quoteIdent(view.name)}`;
}

/** @param {SavedView} view */
function viewKeyword(view) {
  return view.relkind === 'm' ? 'MATERIALIZED VIEW' : 'VIEW';
}

/** @param {string[] | null} options */
function withOptions(options) {
  if (!options || options.length === 0) return '';
  const pairs = options.map((o) => {
    const eq = o.indexOf('=');
    return eq < 0 ? o : `${o.slice(0, eq)} = ${quoteLiteral(o.slice(eq + 1))}`;
  });
  return ` WITH (${pairs.join(', ')})`;
}

/**
 * Drops what blocks the ALTERs: triggers on the tables, then the views, dependents first.
 * @param {MigrationContext} ctx
 * @param {Dependents} deps
 */
async function dropDependents(ctx, deps) {
  for (const trigger of deps.triggers) {
    await ctx.sql.unsafe(`DROP TRIGGER ${quoteIdent(trigger.name)} ON ${trigger.relation}`);
  }
  for (const view of [...deps.views].reverse()) {
    await ctx.sql.unsafe(`DROP ${viewKeyword(view)} ${viewName(view)}`);
  }
}

/**
 * GRANT statements reproducing an ACL (SPEC: views come back "with their grants"). A superuser's
 * GRANT is recorded as the owner's; grants some other role made are re-made under that role.
 * @param {string} target  e.g. `TABLE "s"."v"`
 * @param {Grant[]} grants
 * @param {string} owner
 * @param {string} currentUser
 * @param {string | null} column
 */
function grantStatements(target, grants, owner, currentUser, column) {
  /** @type {{ grantor: string, grantee: string | null, grantable: boolean, privileges: string[] }[]} */
  const groups = [];
  for (const g of grants) {
    const last = groups.find((x) => x.grantor === g.grantor && x.grantee === g.grantee && x.grantable === g.grantable);
    if (last) last.privileges.push(g.privilege);
    else groups.push({ grantor: g.grantor, grantee: g.grantee, grantable: g.grantable, privileges: [g.privilege] });
  }
  return groups.flatMap((g) => {
    const privileges = g.privileges.map((p) => (column ? `${p} (${quoteIdent(column)})` : p)).join(', ');
    const grant = `GRANT ${privileges} ON ${target} TO ${g.grantee === null ? 'PUBLIC' : quoteIdent(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`;
    if (g.grantor === owner || g.grantor === currentUser) return [grant];
    return [`SET LOCAL ROLE ${quoteIdent(g.grantor)}`, grant, `SET LOCAL ROLE ${quoteIdent(currentUser)}`];
  });
}

/**
 * @param {SavedTrigger} trigger
 * @returns {string[]}
 */
function triggerStatements(trigger) {
  const statements = [trigger.definition];
  const on = `ALTER TABLE ${trigger.relation}`;
  if (trigger.enabled === 'D') statements.push(`${on} DISABLE TRIGGER ${quoteIdent(trigger.name)}`);
  if (trigger.enabled === 'R') statements.push(`${on} ENABLE REPLICA TRIGGER ${quoteIdent(trigger.name)}`);
  if (trigger.enabled === 'A') statements.push(`${on} ENABLE ALWAYS TRIGGER ${quoteIdent(trigger.name)}`);
  if (trigger.comment !== null) statements.push(`COMMENT ON TRIGGER ${quoteIdent(trigger.name)} ON ${trigger.relation} IS ${quoteLiteral(trigger.comment)}`);
  return statements;
}

/**
 * The statements that recreate a saved view as it was.
 * @param {SavedView} view
 * @param {string} currentUser
 * @returns {string[]}
 */
export function viewStatements(view, currentUser) {
  const name = viewName(view);
  const keyword = viewKeyword(view);
  const statements = [];
  if (view.relkind === 'm') {
    const using = view.accessMethod && view.accessMethod !== 'heap' ? ` USING ${quoteIdent(view.accessMethod)}` : '';
    const tablespace = view.tablespace ? ` TABLESPACE ${quoteIdent(view.tablespace)}` : '';
    statements.push(`CREATE MATERIALIZED VIEW ${name}${using}${withOptions(view.options)}${tablespace} AS\n${view.definition}\nWITH ${view.populated ? '' : 'NO '}DATA`);
  } else {
    statements.push(`CREATE VIEW ${name}${withOptions(view.options)} AS\n${view.definition}`);
  }
  if (view.owner !== currentUser) statements.push(`ALTER ${keyword} ${name} OWNER TO ${quoteIdent(view.owner)}`);
  for (const column of view.columns) {
    if (column.default !== null) statements.push(`ALTER VIEW ${name} ALTER COLUMN ${quoteIdent(column.name)} SET DEFAULT ${column.default}`);
  }
  if (view.acl !== null) {
    // The first GRANT makes the owner's implicit default privileges explicit; only when the owner
    // had fewer (or grant options) does its entry need revoking and granting exactly.
    const grants = view.ownerDefault ? view.acl.filter((g) => !(g.grantee === view.owner && g.grantor === view.owner)) : view.acl;
    if (!view.ownerDefault || grants.length === 0) statements.push(`REVOKE ALL ON TABLE ${name} FROM ${quoteIdent(view.owner)}`);
    if (view.ownerDefault && grants.length === 0) statements.push(`GRANT ALL ON TABLE ${name} TO ${quoteIdent(view.owner)}`);
    statements.push(...grantStatements(`TABLE ${name}`, grants, view.owner, currentUser, null));
  }
  for (const column of view.columns) {
    if (column.acl) statements.push(...grantStatements(`TABLE ${name}`, column.acl, view.owner, currentUser, column.name));
  }
  if (view.comment !== null) statements.push(`COMMENT ON ${keyword} ${name} IS ${quoteLiteral(view.comment)}`);
  for (const column of view.columns) {
    if (column.comment !== null) statements.push(`COMMENT ON COLUMN ${name}.${quoteIdent(column.name)} IS ${quoteLiteral(column.comment)}`);
  }
  for (const index of view.indexes) {
    const indexName = `${quoteIdent(view.schema)}.${quoteIdent(index.name)}`;
    statements.push(index.definition);
    if (index.tablespace) statements.push(`ALTER INDEX ${indexName} SET TABLESPACE ${quoteIdent(index.tablespace)}`);
    if (index.clustered) statements.push(`ALTER MATERIALIZED VIEW ${name} CLUSTER ON ${quoteIdent(index.name)}`);
    if (index.comment !== null) statements.push(`COMMENT ON INDEX ${indexName} IS ${quoteLiteral(index.comment)}`);
  }
  for (const rule of view.rules) {
    statements.push(rule.definition.trim().replace(/;$/, ''));
    if (rule.comment !== null) statements.push(`COMMENT ON RULE ${quoteIdent(rule.name)} ON ${name} IS ${quoteLiteral(rule.comment)}`);
  }
  for (const trigger of view.triggers) statements.push(...triggerStatements(trigger));
  return statements;
}

/**
 * Recreates what dropDependents dropped: the views, dependencies first, then the triggers.
 * @param {MigrationContext} ctx
 * @param {Dependents} deps
 * @param {string} currentUser
 */
async function restoreDependents(ctx, deps, currentUser) {
  for (const view of deps.views) {
    for (const statement of viewStatements(view, currentUser)) await ctx.sql.unsafe(statement);
  }
  for (const trigger of deps.triggers) {
    for (const statement of triggerStatements(trigger)) await ctx.sql.unsafe(statement);
  }
  if (deps.views.length > 0) {
    ctx.log.info(`recreated ${deps.views.length} dependent view${deps.views.length === 1 ? '' : 's'}: ${deps.views.map(viewName).join(', ')}`);
  }
}

/**
 * The type each default expression yields, without evaluating it (a Describe of `SELECT <expr>`).
 * Sets `newDefault` on columns whose default yields timestamp.
 * @param {MigrationContext} ctx
 * @param {TablePlan[]} tables
 * @param {Zone} zone
 */
async function planDefaults(ctx, tables, zone) {
  const withDefault = tables.flatMap((t) => t.columns.filter((c) => c.defaultExpr !== null));
  if (withDefault.length === 0) return;
  const described = /** @type {any} */ (await ctx.sql.unsafe(
    `SELECT ${withDefault.map((c, i) => `(${c.defaultExpr}) AS "d${i}"`).join(', ')}`).describe());
  /** @type {{ type: number }[]} */
  const columns = described.columns ?? [];
  withDefault.forEach((column, i) => {
    if (columns[i]?.type === TIMESTAMP_OID) column.newDefault = `(${column.defaultExpr}) AT TIME ZONE ${quoteLiteral(zone.name)}`;
  });
}

/**
 * @param {TablePlan} table
 * @param {string} schema
 */
function tableName(table, schema) {
  return `${quoteIdent(schema)}.${quoteIdent(table.name)}`;
}

/**
 * `FROM` a table for sampling: ONLY the table itself for legacy inheritance parents (a pk is not
 * inherited), the whole tree for a partitioned table (which stores nothing itself).
 * @param {{ relkind: string }} table
 * @param {string} name
 */
function fromTable(table, name) {
  return table.relkind === 'p' ? name : `ONLY ${name}`;
}

/**
 * The sample of each table: first and last rows by primary key (ctid rows without one), each as
 * { key, xmin, instants: { column: instant read in the zone } }. One round trip for all tables.
 * @param {MigrationContext} ctx
 * @param {TablePlan[]} tables
 * @param {Zone} zone
 * @returns {Promise<Map<string, { key: Record<string, unknown>, xmin: string, instants: Record<string, string | null> }[]>>}
 */
async function takeSamples(ctx, tables, zone) {
  const zoneLiteral = quoteLiteral(zone.name);
  const branches = tables.flatMap((table) => {
    const name = tableName(table, ctx.schema);
    const instants = `json_build_object(${table.columns.map((c) => `${quoteLiteral(c.name)}, to_jsonb(t.${quoteIdent(c.name)} AT TIME ZONE ${zoneLiteral})`).join(', ')})`;
    if (table.primaryKey) {
      const key = `jsonb_build_object(${table.primaryKey.map((k) => `${quoteLiteral(k.name)}, to_jsonb(t.${quoteIdent(k.name)}${k.timestamp ? ` AT TIME ZONE ${zoneLiteral}` : ''})`).join(', ')})`;
      /** @param {string} dir */
      const order = (dir) => table.primaryKey?.map((k) => `t.${quoteIdent(k.name)}${dir}`).join(', ');
      /** @param {string} dir */
      const select = (dir) => `(SELECT ${key} AS key, t.xmin::text AS xmin, ${instants}::jsonb AS instants FROM ${fromTable(table, name)} t ORDER BY ${order(dir)} LIMIT ${SAMPLE_ROWS_PER_END})`;
      return [`SELECT ${quoteLiteral(table.name)} AS table_name, (SELECT json_agg(s) FROM (${select('')} UNION ${select(' DESC')}) s) AS sample`];
    }
    // Without a primary key rows are found again by ctid, which only a catalog-only conversion keeps.
    if (table.rewrite) return [];
    return [`SELECT ${quoteLiteral(table.name)} AS table_name, (SELECT json_agg(s) FROM (SELECT jsonb_build_object('tableoid', t.tableoid::int8, 'ctid', t.ctid::text) AS key, t.xmin::text AS xmin, ${instants} AS instants FROM ${fromTable(table, name)} t LIMIT ${2 * SAMPLE_ROWS_PER_END}) s) AS sample`];
  });
  /** @type {Map<string, any[]>} */
  const samples = new Map();
  if (branches.length === 0) return samples;
  for (const row of await ctx.sql.unsafe(branches.join('\nUNION ALL\n'))) samples.set(row.table_name, row.sample ?? []);
  return samples;
}

/**
 * After a rewrite every row has a new xmin: read it again for the sampled keys.
 * @param {MigrationContext} ctx
 * @param {TablePlan} table
 * @param {{ key: Record<string, unknown>, xmin: string }[]} sample
 */
async function refreshXmins(ctx, table, sample) {
  if (!table.primaryKey || sample.length === 0) return;
  const name = tableName(table, ctx.schema);
  const match = table.primaryKey.map((k) => `t.${quoteIdent(k.name)} = k.${quoteIdent(k.name)}`).join(' AND ');
  const rows = await ctx.sql.unsafe(`
    SELECT e.ord, t.xmin::text AS xmin
    FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS e(value, ord)
    CROSS JOIN LATERAL jsonb_populate_record(NULL::${name}, e.value) AS k
    JOIN ${fromTable(table, name)} t ON ${match}`, [JSON.stringify(sample.map((s) => s.key))]);
  for (const row of rows) {
    const entry = sample[Number(row.ord) - 1];
    if (entry) entry.xmin = row.xmin;
  }
}

/**
 * Compares the recorded samples with the tables as they are: per sampled row and column, whether the
 * row is still there unchanged (same key, same xmin) and whether it holds the recorded instant.
 * Recorded tables or columns that no longer exist (or are not timestamptz) are left out.
 * @param {MigrationContext} ctx
 */
async function compareSamples(ctx) {
  const { sql } = ctx;
  const record = `${quoteIdent(ctx.schema)}.${quoteIdent(RECORD_TABLE)}`;
  const targets = await sql.unsafe(`
    SELECT r.table_name, r.column_name, c.relkind::text AS relkind, (r.sample -> 0 -> 'key') ? 'ctid' AS by_ctid,
           (SELECT json_agg(ka.attname::text ORDER BY k.ord)
              FROM pg_constraint pk CROSS JOIN unnest(pk.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute ka ON ka.attrelid = pk.conrelid AND ka.attnum = k.attnum
             WHERE pk.conrelid = c.oid AND pk.contype = 'p') AS primary_key
    FROM ${record} r
    JOIN pg_namespace n ON n.nspname = $1
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.table_name AND c.relkind IN ('r', 'p')
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = r.column_name AND NOT a.attisdropped
                       AND a.atttypid = 'pg_catalog.timestamptz'::regtype
    WHERE jsonb_array_length(r.sample) > 0
    ORDER BY 1, 2`, [ctx.schema]);
  // One branch per column, each looking its rows up by an index-friendly equality (the primary key
  // the sample was keyed by, or ctid); a row counts only while its xmin is the recorded one.
  const branches = targets.flatMap((t) => {
    const name = `${quoteIdent(ctx.schema)}.${quoteIdent(t.table_name)}`;
    const column = `t.${quoteIdent(t.column_name)}`;
    /** @type {string[] | null} */
    const pk = t.primary_key;
    let keyed;
    let match;
    if (t.by_ctid) {
      keyed = '';
      match = `t.ctid = (e.value -> 'key' ->> 'ctid')::tid AND t.tableoid = (e.value -> 'key' ->> 'tableoid')::oid`;
    } else if (pk) {
      keyed = `CROSS JOIN LATERAL jsonb_populate_record(NULL::${name}, e.value -> 'key') AS k`;
      match = pk.map((c) => `t.${quoteIdent(c)} = k.${quoteIdent(c)}`).join(' AND ');
    } else {
      return []; // keyed by a primary key that is gone: nothing to find the rows by
    }
    return [`
    SELECT r.table_name, r.column_name, e.value -> 'key' AS key, e.value ->> 'instant' AS recorded,
           m.current, m.hit IS NOT NULL AS found,
           m.hit IS NOT NULL AND (e.value ->> 'instant')::timestamptz IS NOT DISTINCT FROM m.value AS same
    FROM ${record} r
    CROSS JOIN LATERAL jsonb_array_elements(r.sample) AS e(value)
    ${keyed}
    LEFT JOIN LATERAL (
      SELECT true AS hit, ${column} AS value, to_jsonb(${column}) #>> '{}' AS current
      FROM ${fromTable({ relkind: t.relkind }, name)} t
      WHERE ${match} AND t.xmin::text = e.value ->> 'xmin'
      LIMIT 1
    ) m ON true
    WHERE r.table_name = ${quoteLiteral(t.table_name)} AND r.column_name = ${quoteLiteral(t.column_name)}`];
  });
  if (branches.length === 0) return [];
  return sql.unsafe(branches.join('\nUNION ALL\n'));
}

/**
 * Enough maintenance_work_mem for the rebuild of the indexes on converted columns — the floor of
 * 011's time, the heap not being rewritten — to sort in memory rather than spill to disk (2M
 * timestamps need ~110 MB, over the 64 MB default). Only ever raised, and only for the migration's
 * transaction (set_config(..., true) is SET LOCAL).
 */
const REBUILD_MEMORY_SQL = `SELECT set_config('maintenance_work_mem', '256MB', true) AS maintenance_work_mem
WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('256MB')`;

/**
 * Whether up rewrites the table: read in another zone (USING), or keeping a precision below 6.
 * @param {TablePlan} table
 * @param {Zone} zone
 */
function rewritesOnUp(table, zone) {
  return !zone.utc || table.columns.some(precisionForcesRewrite);
}

/**
 * Why a table is rewritten, for the run's output.
 * @param {TablePlan} table
 * @param {boolean} utc  the values are read (up) or written back (down) as UTC
 */
function rewriteReason(table, utc) {
  if (!utc) return 'USING … AT TIME ZONE';
  const kept = table.columns.filter(precisionForcesRewrite).map((c) => `${c.name}(${c.typmod})`).join(', ');
  return `PostgreSQL rewrites it to keep the precision of ${kept}; the values do not change`;
}

/**
 * `a, b → timestamptz`, or with a precision to keep, `a → timestamptz(3), b → timestamptz`.
 * @param {TablePlan} table
 * @param {'timestamptz' | 'timestamp'} type
 */
function conversionList(table, type) {
  if (table.columns.every((c) => c.typmod < 0)) return `${table.columns.map((c) => c.name).join(', ')} → ${type}`;
  return table.columns.map((c) => `${c.name} → ${columnType(type, c.typmod)}`).join(', ');
}

// The savepoint each table's ALTER runs under (alterOrRefusal).
const ALTER_SAVEPOINT = 'strata_011_alter';

// SQLSTATE classes of an ALTER that PostgreSQL refuses for the table's own sake (an index or
// constraint expression that would no longer be immutable, an unsupported dependent, a value or
// constraint the new type breaks): that table is left, the others converted. Anything else — a lock
// timeout (retried by strata), a cancel, a lost connection, no memory — fails the step as before.
const REFUSAL_CLASSES = ['0A', '22', '23', '42'];

/**
 * Runs one table's ALTER under a savepoint. If PostgreSQL refuses it (REFUSAL_CLASSES), rolls back to
 * the savepoint and returns why; the transaction goes on. Caught in the field: an expression index
 * such as `((created_at::date))` — immutable on timestamp, not on timestamptz, whose cast to date
 * depends on the time zone — makes the ALTER fail with "functions in index expression must be marked
 * IMMUTABLE", which used to fail the whole migration.
 * @param {MigrationContext} ctx
 * @param {string} statement
 * @returns {Promise<string | undefined>}
 */
async function alterOrRefusal(ctx, statement) {
  await ctx.sql.unsafe(`SAVEPOINT ${ALTER_SAVEPOINT}`);
  try {
    await ctx.sql.unsafe(statement);
  } catch (error) {
    const code = String(/** @type {{ code?: unknown }} */ (error)?.code ?? '');
    if (!REFUSAL_CLASSES.some((c) => code.startsWith(c))) throw error;
    await ctx.sql.unsafe(`ROLLBACK TO SAVEPOINT ${ALTER_SAVEPOINT}`);
    await ctx.sql.unsafe(`RELEASE SAVEPOINT ${ALTER_SAVEPOINT}`);
    return `${/** @type {Error} */ (error).message} (SQLSTATE ${code})`;
  }
  await ctx.sql.unsafe(`RELEASE SAVEPOINT ${ALTER_SAVEPOINT}`);
  return undefined;
}

/**
 * Names the tables whose ALTER PostgreSQL refused when it ran (alterOrRefusal), with its reason and,
 * for the expression case, what to do by hand.
 * @param {MigrationContext} ctx
 * @param {Map<TablePlan, string>} failed
 */
function warnFailed(ctx, failed) {
  if (failed.size === 0) return;
  const list = [...failed].map(([t, why]) => `${t.columns.map((c) => `${t.name}.${c.name}`).join(', ')} (${why})`);
  const immutable = [...failed.values()].some((why) => why.includes('42P17'));
  ctx.log.warn(`tables PostgreSQL refused to convert, left as they are: ${list.join(', ')}` + (immutable
    ? '; an index (or constraint) expression on such a column is immutable on timestamp but not on timestamptz — a cast to date or text, ' +
      'date_trunc, extract — because it depends on the session\'s time zone: drop it, convert the column yourself, and create it again with the ' +
      "zone written out, e.g. ((created_at AT TIME ZONE 'UTC')::date)"
    : '; convert these yourself once what PostgreSQL names is out of the way'));
}

/**
 * Names the tables PostgreSQL refuses to alter (refusedTables), with what to do by hand (each way
 * tried on PostgreSQL 17), in the zone 011 read the other columns in.
 * @param {MigrationContext} ctx
 * @param {RefusedTable[]} refused
 * @param {Zone} zone
 */
function warnRefused(ctx, refused, zone) {
  // (see also warnFailed: the tables whose ALTER PostgreSQL refused when it ran)
  /** @param {RefusedTable} r */
  const item = (r) => `${r.table.columns.map((c) => `${r.table.name}.${c.name}`).join(', ')} (${refusalReason(r)})`;
  const setZone = `SET LOCAL timezone = ${quoteLiteral(zone.name)}`;
  const typed = refused.filter((r) => r.typeOf !== null);
  if (typed.length > 0) {
    ctx.log.warn(`typed tables not converted, left as they are: ${typed.map(item).join(', ')}; ` +
      'PostgreSQL refuses ALTER TABLE … ALTER COLUMN … TYPE for a table created with CREATE TABLE … OF a type: convert these yourself if they hold ' +
      `${zone.name} times, through their type — with ${setZone} first (the values are read in the session's time zone), ` +
      'ALTER TYPE … ALTER ATTRIBUTE … TYPE timestamptz CASCADE converts the type and every table of it, partitions included ' +
      '(catalog-only under UTC unless the precision is below 6, as for 011\'s own conversion); PostgreSQL refuses it while a column uses ' +
      'the type or the row type of a table of it, and while a view uses the column (drop and recreate such views around it)');
  }
  const used = refused.filter((r) => r.typeOf === null);
  if (used.length > 0) {
    ctx.log.warn(`tables whose row type is in use not converted, left as they are: ${used.map(item).join(', ')}; ` +
      'PostgreSQL refuses ALTER TABLE … ALTER COLUMN … TYPE for a table whose row type (or a partition\'s or child\'s) a column of a table ' +
      'or materialized view uses, directly or inside an array, domain, range or composite type: convert these yourself if they hold ' +
      `${zone.name} times — in one transaction with ${setZone}, move each using column to text (ALTER TABLE … ALTER COLUMN c TYPE text USING c::text; ` +
      'when PostgreSQL refuses that because a column uses that table\'s row type in turn, move that one first), convert the columns with ' +
      'ALTER TABLE … ALTER COLUMN … TYPE timestamptz, and move each back (ALTER TABLE … ALTER COLUMN c TYPE <its type> USING c::<its type>), ' +
      'which rewrites those tables; drop a materialized view instead and create it again after');
  }
}

/**
 * Converts the timestamp columns of the schema to timestamptz (see the module comment).
 * @param {MigrationContext} ctx
 */
export async function up(ctx) {
  const { sql } = ctx;
  const zone = await resolveZone(ctx);
  const [session] = await sql`SELECT current_setting('TimeZone') AS timezone, current_user::text AS current_user`;
  // The session zone decides whether PostgreSQL may skip the rewrite (UTC) and how timestamp-typed
  // expressions in recreated materialized views are evaluated (the zone the values are read in).
  await sql.unsafe(`SET LOCAL timezone = ${quoteLiteral(zone.utc ? 'UTC' : zone.name)}`);
  await sql.unsafe(REBUILD_MEMORY_SQL);

  // Tables PostgreSQL refuses to alter are left out of everything below: not locked, sampled,
  // altered or recorded (so down leaves them too); they are named at the end.
  const { tables, refused } = await splitRefused(ctx, groupByTable(await timestampColumns(ctx, 'timestamp')));
  for (const table of tables) table.rewrite = rewritesOnUp(table, zone);
  const record = `${quoteIdent(ctx.schema)}.${quoteIdent(RECORD_TABLE)}`;
  const trees = await inheritanceTrees(ctx, tables);
  const keyColumns = trees.filter((t) => t.in_partition_key);
  if (keyColumns.length > 0) {
    const list = keyColumns.map((k) => `${k.relation}.${k.column_name}`).join(', ');
    throw new Error(`cannot convert ${list}: part of a partition key, whose type PostgreSQL cannot change; nothing was changed. ` +
      'Recreate the partitioned table with a timestamptz key (or convert that column yourself), then run 011 again');
  }

  if (tables.length > 0) {
    await sql.unsafe(`LOCK TABLE ${tables.map((t) => tableName(t, ctx.schema)).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  }
  const deps = await findDependents(ctx, trees);
  await planDefaults(ctx, tables, zone);
  const samples = await takeSamples(ctx, tables, zone);
  await dropDependents(ctx, deps);
  /** @type {Map<TablePlan, string>} */
  const failed = new Map();

  for (const table of tables) {
    const columns = table.columns.map((c) => ({ name: c.name, typmod: c.typmod, setDefault: c.newDefault }));
    const list = conversionList(table, 'timestamptz');
    const partitions = trees.filter((t) => Number(t.root) === table.oid && Number(t.relid) !== table.oid && t.relkind === 'r');
    const through = partitions.length > 0 ? ` (and its ${new Set(partitions.map((p) => p.relid)).size} partitions/children, through it)` : '';
    // Said before the ALTER, which may take long (a rewrite); a table PostgreSQL refuses is named at the end.
    if (!table.rewrite) {
      ctx.log.info(`${table.name}: ${list} read as UTC${through}; catalog-only, the table is not rewritten (indexes on these columns are rebuilt)`);
    } else {
      ctx.log.warn(`${table.name}: ${list} read as ${zone.name}${through}; the table WILL BE REWRITTEN (${rewriteReason(table, zone.utc)})`);
    }
    for (const c of table.columns.filter((c) => c.newDefault)) {
      // Left alone, a timestamp-typed default would be cast in each inserting session's time zone.
      const say = zone.utc ? ctx.log.info : ctx.log.warn;
      say(`${table.name}.${c.name}: default ${c.defaultExpr} yields timestamp; it becomes ${c.newDefault}` +
        (zone.utc ? '' : ` (check that it produced ${zone.name} wall-clock times)`));
    }
    const refusal = await alterOrRefusal(ctx, alterTableStatement(ctx.schema, table.name, columns, 'timestamptz', zone.utc ? null : zone.name));
    if (refusal !== undefined) failed.set(table, refusal);
  }
  await restoreDependents(ctx, deps, session?.current_user);
  // Tables whose ALTER PostgreSQL refused are left as they were, like the refused ones above.
  const converted = tables.filter((t) => !failed.has(t));

  await sql.unsafe(`
    CREATE TABLE ${record} (
      table_name       text NOT NULL,
      column_name      text NOT NULL,
      assumed_zone     text NOT NULL,
      rewritten        boolean NOT NULL,
      original_default text,
      sample           jsonb NOT NULL,
      PRIMARY KEY (table_name, column_name)
    )`);
  await sql.unsafe(`COMMENT ON TABLE ${record} IS ${quoteLiteral(
    'strata 011_timezone_awareness: the columns it converted to timestamptz (its down converts exactly these back, ' +
    'as wall-clock times of assumed_zone) ' +
    'and sampled instants its verify compares; dropped by its down')}`);
  /** @type {{ table_name: string, column_name: string, assumed_zone: string, rewritten: boolean, original_default: string | null, sample: unknown[] }[]} */
  const rows = [];
  for (const table of converted) {
    const sample = samples.get(table.name) ?? [];
    if (table.rewrite) await refreshXmins(ctx, table, sample);
    for (const column of table.columns) {
      rows.push({
        table_name: table.name, column_name: column.name, assumed_zone: zone.name, rewritten: table.rewrite,
        original_default: column.newDefault ? column.defaultExpr : null,
        sample: sample.map((s) => ({ key: s.key, xmin: s.xmin, instant: s.instants[column.name] ?? null })),
      });
    }
  }
  if (rows.length > 0) {
    await sql.unsafe(`
      INSERT INTO ${record} (table_name, column_name, assumed_zone, rewritten, original_default, sample)
      SELECT table_name, column_name, assumed_zone, rewritten, original_default, sample
      FROM jsonb_to_recordset($1::text::jsonb) AS r(table_name text, column_name text, assumed_zone text, rewritten boolean, original_default text, sample jsonb)`,
    [JSON.stringify(rows)]);
  }

  // The proof, before committing: every sampled row is still there (no rewrite in the UTC form,
  // fresh xmins after one) and holds the instant read before the conversion.
  const compared = await compareSamples(ctx);
  const lost = compared.filter((r) => !r.found);
  const differ = compared.filter((r) => r.found && !r.same);
  if (differ.length > 0 || lost.length > 0) {
    /** @param {Record<string, any>} r */
    const show = (r) => `${r.table_name}.${r.column_name} ${JSON.stringify(r.key)}: ${r.recorded} → ${r.found ? r.current : 'row not found'}`;
    throw new Error(`the conversion changed sampled values; nothing was changed: ${[...differ, ...lost].slice(0, 5).map(show).join('; ')}`);
  }

  const refusedLeft = await refusedColumns(ctx, refused);
  warnRefused(ctx, refused, zone);
  warnFailed(ctx, failed);
  const failedOids = new Set([...failed.keys()].map((t) => t.oid));
  const failedLeft = new Set(trees.filter((row) => failedOids.has(Number(row.root))).map((row) => `${row.relation}\0${row.column_name}`));
  const left = (await remainingTimestampColumns(ctx)).filter((r) => !refusedLeft.has(leftoverKey(ctx, r)) && !failedLeft.has(leftoverKey(ctx, r)));
  if (left.length > 0) {
    ctx.log.warn(`left as timestamp (not convertible from this schema, e.g. inherited from a table elsewhere): ${left.map((r) => `${r.table_name}.${r.column_name}`).join(', ')}`);
  }
  const unconverted = await unconvertedTimestampColumns(ctx);
  if (unconverted.length > 0) {
    ctx.log.warn(`not converted, left as they are: ${unconverted.map((r) => `${r.table_name}.${r.column_name} (${r.type})`).join(', ')}; ` +
      '011 converts timestamp columns only, not arrays, ranges or domains of timestamp: convert these yourself if they hold UTC times');
  }
  const composites = await compositeTimestampTypes(ctx);
  if (composites.length > 0) {
    // ALTER TYPE … ALTER ATTRIBUTE … TYPE is refused for a type a column uses (even with CASCADE).
    const list = composites.map((t) => `${t.type_name} (${t.attributes}; used by ${t.used_by.length > 0 ? t.used_by.join(', ') : `no column in ${ctx.schema}`})`);
    ctx.log.warn(`composite types not converted, left as they are: ${list.join(', ')}; ` +
      '011 converts timestamp columns only, not composite types holding timestamps: convert these yourself if they hold UTC times ' +
      '(ALTER TYPE … ALTER ATTRIBUTE … TYPE timestamptz CASCADE for a type no column uses — CASCADE converts the tables of that type too; PostgreSQL refuses it for one a column uses: ' +
      'ADD ATTRIBUTE a timestamptz one, fill it with UPDATE, DROP ATTRIBUTE the old one — or move the columns to a new type with ALTER TABLE … ALTER COLUMN … TYPE … USING, a rewrite)');
  }
  const count = converted.reduce((n, t) => n + t.columns.length, 0);
  ctx.log.info(converted.length === 0
    ? `no timestamp without time zone columns ${refused.length + failed.size > 0 ? 'that PostgreSQL lets 011 convert ' : ''}in schema ${ctx.schema}`
    : `converted ${count} column${count === 1 ? '' : 's'} in ${converted.length} table${converted.length === 1 ? '' : 's'} to timestamptz (${zone.name}); sampled ${compared.length} values, all the same instants`);
  await sql`SELECT set_config('TimeZone', ${session?.timezone ?? 'UTC'}, true)`;
}

/**
 * What down converts back: the recorded columns that are still timestamptz columns of their own,
 * grouped by table, each with the zone up read it in, its precision and the default to put back;
 * `gone`: recorded columns that are not (left alone); `zones`: the recorded zones.
 * @param {MigrationContext} ctx
 */
async function planDown(ctx) {
  const record = `${quoteIdent(ctx.schema)}.${quoteIdent(RECORD_TABLE)}`;
  const recorded = await ctx.sql.unsafe(`SELECT table_name, column_name, assumed_zone, original_default FROM ${record} ORDER BY table_name, column_name`);
  const current = await timestampColumns(ctx, 'timestamptz');
  /** @param {Record<string, any>} r */
  const key = (r) => `${r.table_name}\0${r.column_name}`;
  const wanted = new Map(recorded.map((r) => [key(r), r]));
  const converted = new Set(current.map(key));
  const gone = recorded.filter((r) => !converted.has(key(r)));
  const tables = groupByTable(current.filter((r) => wanted.has(key(r))));
  for (const table of tables) {
    for (const column of table.columns) {
      const row = wanted.get(`${table.name}\0${column.name}`);
      column.newDefault = row?.original_default ?? null;
      column.zone = row?.assumed_zone ?? 'UTC';
    }
    table.rewrite = table.columns.some((c) => !UTC_ZONES.has(c.zone ?? 'UTC') || precisionForcesRewrite(c));
  }
  return { tables, gone, zones: new Set(recorded.map((r) => /** @type {string} */ (r.assumed_zone))) };
}

/**
 * Converts the columns 011 converted back to `timestamp` of the same precision, as wall-clock times
 * of the zone up read them in (catalog-only under UTC without a precision below 6; else
 * `USING … AT TIME ZONE`, a rewrite), puts replaced defaults back, and drops the record table.
 * @param {MigrationContext} ctx
 */
export async function down(ctx) {
  const { sql } = ctx;
  const record = `${quoteIdent(ctx.schema)}.${quoteIdent(RECORD_TABLE)}`;
  const [exists] = await sql`SELECT to_regclass(${record}) IS NOT NULL AS ok`;
  if (!exists?.ok) {
    throw new Error(`${ctx.schema}.${RECORD_TABLE} is missing: 011 cannot tell which columns it converted, so it converts none back`);
  }
  const [session] = await sql`SELECT current_setting('TimeZone') AS timezone, current_user::text AS current_user`;
  const { tables, gone, zones } = await planDown(ctx);
  // As up: the one recorded zone (UTC for a catalog-only down) is the session's while views are
  // recreated; columns of any other zone (never from one run of 011) get their own USING.
  const [only] = zones.size === 1 ? [...zones] : ['UTC'];
  const sessionZone = only === undefined || UTC_ZONES.has(only) ? 'UTC' : only;
  await sql.unsafe(`SET LOCAL timezone = ${quoteLiteral(sessionZone)}`);
  await sql.unsafe(REBUILD_MEMORY_SQL);
  if (gone.length > 0) {
    ctx.log.warn(`not converted back (no longer a timestamptz column of its own): ${gone.map((r) => `${r.table_name}.${r.column_name}`).join(', ')}`);
  }

  if (tables.length > 0) {
    await sql.unsafe(`LOCK TABLE ${tables.map((t) => tableName(t, ctx.schema)).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  }
  const trees = await inheritanceTrees(ctx, tables);
  const deps = await findDependents(ctx, trees);
  await dropDependents(ctx, deps);
  for (const table of tables) {
    const list = conversionList(table, 'timestamp');
    const zone = [...new Set(table.columns.map((c) => c.zone ?? 'UTC'))].join(', ');
    const utc = table.columns.every((c) => UTC_ZONES.has(c.zone ?? 'UTC'));
    if (table.rewrite) {
      ctx.log.warn(`${table.name}: ${list} (${utc ? 'UTC' : zone} wall-clock); the table WILL BE REWRITTEN (${rewriteReason(table, utc)})`);
    } else {
      ctx.log.info(`${table.name}: ${list} (UTC wall-clock); catalog-only`);
    }
    const columns = table.columns.map((c) => {
      const zoneOf = c.zone ?? 'UTC';
      const usingZone = UTC_ZONES.has(zoneOf) && sessionZone === 'UTC' ? null : zoneOf;
      return { name: c.name, typmod: c.typmod, setDefault: c.newDefault, usingZone };
    });
    await sql.unsafe(alterTableStatement(ctx.schema, table.name, columns, 'timestamp', null));
  }
  await restoreDependents(ctx, deps, session?.current_user);
  await sql.unsafe(`DROP TABLE ${record}`);
  await sql`SELECT set_config('TimeZone', ${session?.timezone ?? 'UTC'}, true)`;
}

/**
 * SPEC §8's check for 011, and the sample comparison.
 * @param {MigrationContext} ctx
 * @returns {Promise<ModuleCheckResult[]>}
 */
export async function verify(ctx) {
  /** @type {Record<string, unknown>[]} */
  let left = [...await remainingTimestampColumns(ctx)];
  if (left.length > 0) {
    // Columns PostgreSQL refuses to convert are reported too (the check says what the schema is),
    // each with why 011 left it.
    const { refused } = await splitRefused(ctx, groupByTable(await timestampColumns(ctx, 'timestamp')));
    const reasons = await refusedColumns(ctx, refused);
    left = left.map((r) => {
      const reason = reasons.get(leftoverKey(ctx, r));
      return reason === undefined ? r : { ...r, reason: `left by 011: PostgreSQL refuses to alter it (${reason})` };
    });
  }
  const record = `${quoteIdent(ctx.schema)}.${quoteIdent(RECORD_TABLE)}`;
  const [exists] = await ctx.sql`SELECT to_regclass(${record}) IS NOT NULL AS ok`;
  /** @type {Record<string, unknown>[]} */
  let differ = [];
  if (!exists?.ok) {
    differ = [{ problem: `${ctx.schema}.${RECORD_TABLE} is missing: no sample to compare` }];
  } else {
    differ = (await compareSamples(ctx))
      .filter((r) => r.found && !r.same)
      .map((r) => ({ table: r.table_name, column: r.column_name, key: r.key, recorded: r.recorded, current: r.current }));
  }
  return [
    { check: `no timestamp without time zone column remains in schema ${ctx.schema}`, violations: left },
    { check: 'sampled values are the same instants as before the conversion (rows not updated since)', violations: differ },
  ];
}

/**
 * What each direction destroys (SPEC §6). Read as UTC the conversion loses nothing and rewrites
 * nothing (the SPEC's exception): nothing to back up. Read in another zone every table with a
 * timestamp column is rewritten and its values change meaning — and wall-clock times that do not
 * exist in that zone (a spring-forward gap) collapse onto the same instant, so down cannot give
 * those original values back: those tables are declared, so they are backed up (and confirmed)
 * first. So are the tables whose columns keep a precision below 6, which PostgreSQL rewrites even
 * under UTC (a rewriting ALTER COLUMN TYPE, which SPEC §6 counts as destructive; the values do not
 * change). Down declares the tables it rewrites by the same rules, the zone being the one up
 * recorded: timestamptz → UTC wall-clock without such a precision is lossless and catalog-only. The
 * zone is validated here, when the whole run is classified, so a bad zone stops the run before
 * anything of it ran.
 * @param {MigrationContext} ctx
 * @returns {Promise<DestroyedTable[]>}
 */
export async function destroys(ctx) {
  if (ctx.direction === 'down') {
    const record = `${quoteIdent(ctx.schema)}.${quoteIdent(RECORD_TABLE)}`;
    const [exists] = await ctx.sql`SELECT to_regclass(${record}) IS NOT NULL AS ok`;
    if (!exists?.ok) return []; // down itself says why it cannot run
    const { tables } = await planDown(ctx);
    return tables.filter((t) => t.rewrite).map((t) => ({ schema: ctx.schema, table: t.name }));
  }
  const zone = await resolveZone(ctx);
  // Tables PostgreSQL refuses to alter are not rewritten: up leaves them.
  const { tables } = await splitRefused(ctx, groupByTable(await timestampColumns(ctx, 'timestamp')).filter((t) => rewritesOnUp(t, zone)));
  return tables.map((t) => ({ schema: ctx.schema, table: t.name }));
}
