/**
 * The run's assessment of what destructive statements would destroy: which tables exist and hold
 * rows, in two round trips whatever their number.
 */
import { describe, expect, it } from 'vitest';
import { resolveAffectedAll } from '../../src/core/destructive.js';
import type { Sql } from '../../src/db/connect.js';
import { findDestructive, type DestructiveAction } from '../../src/sql/destructive.js';
import { loadSqlParser } from '../../src/sql/parser.js';
import { splitStatements } from '../../src/sql/statements.js';
import { withTestDatabase } from '../support/database.js';

const drop = (...names: string[]): DestructiveAction => ({
  statementIndex: 0, line: 1, kind: 'drop_table', summary: `DROP TABLE ${names.join(', ')}`,
  tables: names.map((n) => (n.includes('.') ? { schema: n.split('.')[0]!, name: n.split('.')[1]! } : { name: n })),
});

describe('resolveAffectedAll', () => {
  it('tells tables with rows from empty, emptied, missing, partitioned and foreign-schema ones', () => withTestDatabase(async (db) => {
    await db.sql.unsafe(`
      CREATE TABLE never_written (id int);
      CREATE TABLE emptied (id int); INSERT INTO emptied VALUES (1); DELETE FROM emptied;
      CREATE TABLE filled (id int); INSERT INTO filled VALUES (1);
      CREATE TABLE parted (id int) PARTITION BY RANGE (id);
      CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10); INSERT INTO parted VALUES (5);
      CREATE TABLE parted_empty (id int) PARTITION BY RANGE (id);
      CREATE SCHEMA other; CREATE TABLE other."Mixed Case" (id int); INSERT INTO other."Mixed Case" VALUES (1);
    `);
    const [tables] = await resolveAffectedAll(db.sql as unknown as Sql,
      [drop('never_written', 'emptied', 'filled', 'parted', 'parted_empty', 'other.Mixed Case', 'missing')], 'public');
    expect(tables!.map((t) => [t.name, t.exists, t.hasRows])).toEqual([
      ['never_written', true, false], ['emptied', true, false], ['filled', true, true], ['parted', true, true],
      ['parted_empty', true, false], ['Mixed Case', true, true], ['missing', false, false],
    ]);
  }));

  it('a row another session inserted and has not committed is not counted, nor lost from sight later', () => withTestDatabase(async (db) => {
    await db.sql`CREATE TABLE pending (id int)`;
    const other = await db.sql.reserve();
    try {
      await other`BEGIN`;
      await other`INSERT INTO pending VALUES (1)`;
      const before = (await resolveAffectedAll(db.sql as unknown as Sql, [drop('pending')], 'public'))[0]![0]!;
      expect(before.hasRows).toBe(false);
      await other`COMMIT`;
      const after = (await resolveAffectedAll(db.sql as unknown as Sql, [drop('pending')], 'public'))[0]![0]!;
      expect(after.hasRows).toBe(true);
    } finally {
      other.release();
    }
  }));
});

/** The tables the SQL's destructive statements destroy, by statement, as `schema.name`, with or without rows. */
async function affectedBy(sql: Sql, text: string): Promise<string[][]> {
  await loadSqlParser();
  const actions = findDestructive(splitStatements(text, 'test.sql'));
  const resolved = await resolveAffectedAll(sql, actions, 'public');
  return resolved.map((tables) => tables.filter((t) => t.exists).map((t) => `${t.schema}.${t.name}${t.hasRows ? '' : ' (empty)'}`));
}

describe('what a destructive statement reaches beyond the tables it names', () => {
  it('follows foreign keys: TRUNCATE … CASCADE every referencing table, DELETE the ON DELETE actions, at any depth', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1), (2);
      CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE CASCADE); INSERT INTO b VALUES (1, 1);
      CREATE TABLE c (id int, b_id int REFERENCES b ON DELETE SET NULL); INSERT INTO c VALUES (1, 1);
      CREATE TABLE d (id int, a_id int REFERENCES a); -- NO ACTION: a DELETE of a fails rather than reach it
    `);
    expect(await affectedBy(sql, 'TRUNCATE a CASCADE;')).toEqual([['public.a', 'public.b', 'public.c', 'public.d (empty)']]);
    expect(await affectedBy(sql, 'TRUNCATE a;')).toEqual([['public.a']]); // fails unless the others go too: nothing else reached
    expect(await affectedBy(sql, 'DELETE FROM a;')).toEqual([['public.a', 'public.b', 'public.c']]);
  }));

  it('follows inheritance unless ONLY is written, and DROP … CASCADE to its dependents', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE TABLE ip (id int); INSERT INTO ip VALUES (1);
      CREATE TABLE ic (extra int) INHERITS (ip); INSERT INTO ic VALUES (2, 2);
      CREATE TABLE parted (id int) PARTITION BY LIST (id);
      CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1); INSERT INTO parted VALUES (1);
      CREATE TYPE mood AS ENUM ('ok', 'sad');
      CREATE TABLE diary (id int, feeling mood, feelings mood[]); INSERT INTO diary VALUES (1, 'ok', '{sad}');
      CREATE TABLE other (id int, m mood); -- empty
      CREATE DOMAIN score AS int CHECK (VALUE >= 0);
      CREATE TABLE games (id int, s score); INSERT INTO games VALUES (1, 3);
      CREATE SCHEMA lib; CREATE TYPE lib.colour AS ENUM ('red');
      CREATE TABLE paint (id int, c lib.colour); INSERT INTO paint VALUES (1, 'red');
    `);
    expect(await affectedBy(sql, 'TRUNCATE ip; DELETE FROM ip; ALTER TABLE ip DROP COLUMN id;')).toEqual([
      ['public.ip', 'public.ic'], ['public.ip', 'public.ic'], ['public.ip', 'public.ic'],
    ]);
    expect(await affectedBy(sql, 'TRUNCATE ONLY ip; DELETE FROM ONLY ip;')).toEqual([['public.ip'], ['public.ip']]);
    expect(await affectedBy(sql, 'DROP TABLE ip CASCADE; DROP TABLE ip;')).toEqual([['public.ip', 'public.ic'], ['public.ip']]);
    // Partitions are inside their parent's backup: never listed on their own.
    expect(await affectedBy(sql, 'TRUNCATE parted; DROP TABLE parted CASCADE;')).toEqual([['public.parted'], ['public.parted']]);
    // What depends on a dropped type, domain or schema: columns of tables elsewhere, arrays of the type included.
    expect(await affectedBy(sql, 'DROP TYPE mood CASCADE; DROP DOMAIN score CASCADE; DROP SCHEMA lib CASCADE;')).toEqual([
      ['public.diary', 'public.other (empty)'], ['public.games'], ['public.paint'],
    ]);
  }));

  it('follows what dependency.c drops upward too: a stored generated column whose function goes, a composite type\'s field', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE FUNCTION twice(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
      CREATE TABLE gt (id int, g int GENERATED ALWAYS AS (twice(id)) STORED); INSERT INTO gt (id) VALUES (1);
      CREATE TYPE feeling AS ENUM ('happy', 'sad');
      CREATE TYPE pair AS (m feeling, n int);
      CREATE TABLE x (id int, p pair); INSERT INTO x VALUES (1, ROW('happy', 1));
      CREATE TABLE y (id int, ps pair[]); INSERT INTO y VALUES (1, ARRAY[ROW('sad', 2)::pair]);
    `);
    expect(await affectedBy(sql, 'DROP FUNCTION twice(int) CASCADE; DROP FUNCTION public.twice CASCADE; DROP FUNCTION twice CASCADE;'))
      .toEqual([['public.gt'], ['public.gt'], ['public.gt']]);
    expect(await affectedBy(sql, 'DROP TYPE feeling CASCADE;')).toEqual([['public.x', 'public.y']]);
  }));

  it('follows DROP … CASCADE of every object type a column or table can depend on', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      -- Row types of views, materialized views and foreign tables used as column types; a view on the view.
      CREATE VIEW v AS SELECT 1 AS a; CREATE VIEW w AS SELECT a FROM v;
      CREATE TABLE holds_v (id int, x v); INSERT INTO holds_v VALUES (1, ROW(1));
      CREATE TABLE holds_w (id int, x w); INSERT INTO holds_w VALUES (1, ROW(1));
      CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a; CREATE TABLE holds_mv (id int, x mv); INSERT INTO holds_mv VALUES (1, ROW(1));
      CREATE FOREIGN DATA WRAPPER wrapper; CREATE SERVER far FOREIGN DATA WRAPPER wrapper;
      CREATE FOREIGN TABLE ft (a int) SERVER far; CREATE TABLE holds_ft (id int, x ft); INSERT INTO holds_ft VALUES (1, ROW(1));
      -- Full-text search: a stored tsvector generated with a configuration built on a dictionary.
      CREATE TEXT SEARCH DICTIONARY simple_dict (TEMPLATE = pg_catalog.simple);
      CREATE SCHEMA search; CREATE TEXT SEARCH CONFIGURATION search.cfg (COPY = pg_catalog.simple);
      ALTER TEXT SEARCH CONFIGURATION search.cfg ALTER MAPPING FOR asciiword WITH simple_dict;
      CREATE TABLE docs (id int, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('search.cfg', body)) STORED);
      INSERT INTO docs (id, body) VALUES (1, 'hello');
      -- An operator in a generated column.
      CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);
      CREATE TABLE pairs (a int, b int, same boolean GENERATED ALWAYS AS (a === b) STORED); INSERT INTO pairs VALUES (1, 1);
      -- A partitioned table keyed with an operator class of its own (the class's family comes with it).
      CREATE OPERATOR CLASS my_int_ops FOR TYPE int USING btree AS
        OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int, int);
      CREATE TABLE keyed (id int) PARTITION BY RANGE (id my_int_ops);
      CREATE TABLE keyed_1 PARTITION OF keyed FOR VALUES FROM (0) TO (10); INSERT INTO keyed VALUES (1);
      -- A language, a transform, and a function written in it behind a generated column.
      CREATE LANGUAGE lang HANDLER plpgsql_call_handler VALIDATOR plpgsql_validator;
      CREATE FUNCTION plus_one(int) RETURNS int IMMUTABLE LANGUAGE lang AS 'BEGIN RETURN $1 + 1; END';
      CREATE TABLE computed (id int, next int GENERATED ALWAYS AS (plus_one(id)) STORED); INSERT INTO computed (id) VALUES (1);
      CREATE TRANSFORM FOR int LANGUAGE lang (FROM SQL WITH FUNCTION gtsvector_decompress(internal), TO SQL WITH FUNCTION int4recv(internal));
      CREATE FUNCTION plus_two(int) RETURNS int IMMUTABLE LANGUAGE lang TRANSFORM FOR TYPE int AS 'BEGIN RETURN $1 + 2; END';
      CREATE TABLE computed2 (id int, next int GENERATED ALWAYS AS (plus_two(id)) STORED); INSERT INTO computed2 (id) VALUES (1);
    `);
    expect(await affectedBy(sql, 'DROP VIEW v CASCADE; DROP VIEW w CASCADE; DROP MATERIALIZED VIEW mv CASCADE;')).toEqual([
      ['public.holds_v', 'public.holds_w'], ['public.holds_w'], ['public.holds_mv'],
    ]);
    expect(await affectedBy(sql, 'DROP FOREIGN TABLE ft CASCADE; DROP SERVER far CASCADE; DROP FOREIGN DATA WRAPPER wrapper CASCADE;'))
      .toEqual([['public.holds_ft'], ['public.holds_ft'], ['public.holds_ft']]);
    expect(await affectedBy(sql, `
      DROP TEXT SEARCH CONFIGURATION search.cfg CASCADE; DROP TEXT SEARCH DICTIONARY simple_dict CASCADE;
      DROP TEXT SEARCH CONFIGURATION cfg CASCADE;
    `)).toEqual([['public.docs'], ['public.docs'],
      // Unqualified, and not on the search path: PostgreSQL would not find it (a migration that sets
      // its own search path is judged again at the statement, test/cli/backups.test.ts).
      []]);
    expect(await affectedBy(sql, 'DROP OPERATOR === (int, int) CASCADE; DROP OPERATOR public.=== (integer, integer) CASCADE;'))
      .toEqual([['public.pairs'], ['public.pairs']]);
    expect(await affectedBy(sql, 'DROP OPERATOR CLASS my_int_ops USING btree CASCADE; DROP OPERATOR FAMILY public.my_int_ops USING btree CASCADE; DROP OPERATOR CLASS my_int_ops USING hash CASCADE;'))
      .toEqual([['public.keyed'], ['public.keyed'], []]);
    expect(await affectedBy(sql, 'DROP TRANSFORM FOR int LANGUAGE lang CASCADE; DROP LANGUAGE lang CASCADE;'))
      .toEqual([['public.computed2'], ['public.computed', 'public.computed2']]);
    // What no row can depend on stays out of the assessment: indexes, casts, triggers, …
    const safe = findDestructive(splitStatements('DROP TRIGGER t ON x CASCADE; DROP CAST (text AS int) CASCADE; DROP CONVERSION c CASCADE;', 'test.sql'));
    expect(safe).toEqual([]);
  }));

  it('DROP EXTENSION drops its member tables with or without CASCADE; its dependents elsewhere only with it (without, the DROP fails)', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE EXTENSION seg; CREATE TABLE seg_config (id int); INSERT INTO seg_config VALUES (1);
      ALTER EXTENSION seg ADD TABLE seg_config; -- as an extension's configuration table is
      CREATE EXTENSION citext; CREATE TABLE people (email citext); INSERT INTO people VALUES ('a@example.org');
    `);
    expect(await affectedBy(sql, 'DROP EXTENSION seg; DROP EXTENSION citext; DROP EXTENSION citext CASCADE; DROP EXTENSION IF EXISTS seg, citext CASCADE;')).toEqual([
      ['public.seg_config'], [], ['public.people'], ['public.people', 'public.seg_config'],
    ]);
    expect(findDestructive(splitStatements('DROP EXTENSION seg;', 'test.sql')).map((a) => a.summary)).toEqual(['DROP EXTENSION seg']);
  }));

  it('DROP OWNED BY drops what the role owns; what others own that depends on it only with CASCADE', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    // Roles belong to the cluster: a name of this database's own, dropped at the end.
    const role = (await db.sql<{ role: string }[]>`SELECT 'owner_' || current_database() AS role`)[0]!.role;
    await db.sql.unsafe(`
      CREATE ROLE "${role}";
      CREATE TABLE owned_rows (id int); INSERT INTO owned_rows VALUES (1); ALTER TABLE owned_rows OWNER TO "${role}";
      CREATE TYPE owned_mood AS ENUM ('ok'); ALTER TYPE owned_mood OWNER TO "${role}";
      CREATE TABLE diary (m owned_mood); INSERT INTO diary VALUES ('ok'); -- not the role's
    `);
    try {
      expect(await affectedBy(sql, `DROP OWNED BY "${role}"; DROP OWNED BY "${role}" CASCADE;`)).toEqual([
        ['public.owned_rows'], ['public.diary', 'public.owned_rows'],
      ]);
    } finally {
      await db.sql.unsafe(`DROP OWNED BY "${role}" CASCADE; DROP ROLE "${role}"`);
    }
  }));

  it('follows a dropped column or attribute into every stored value of the row type: arrays, domains, nested types, ranges, typed tables', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE TABLE base (a int, b int); INSERT INTO base VALUES (1, 2);
      CREATE TABLE holds_row (id int, r base); INSERT INTO holds_row VALUES (1, ROW(1, 2));
      CREATE TABLE holds_nested (id int, rr holds_row[]); INSERT INTO holds_nested VALUES (1, ARRAY[ROW(1, ROW(1, 2))::holds_row]);
      CREATE TABLE base_child (c int) INHERITS (base);
      CREATE TABLE holds_child (x base_child); INSERT INTO holds_child VALUES (ROW(1, 2, 3));
      CREATE TYPE pair AS (m int, n int);
      CREATE DOMAIN pair_d AS pair; CREATE TABLE holds_domain (d pair_d); INSERT INTO holds_domain VALUES (ROW(1, 2));
      CREATE TYPE wrapper AS (p pair); CREATE TABLE holds_wrapper (w wrapper[]); INSERT INTO holds_wrapper VALUES (ARRAY[ROW(ROW(1, 2))::wrapper]);
      CREATE TYPE pair_range AS RANGE (SUBTYPE = pair); CREATE TABLE holds_range (r pair_range, mr pair_multirange);
      CREATE TABLE typed_pair OF pair; INSERT INTO typed_pair VALUES (1, 2);
      CREATE TABLE holds_typed (t typed_pair); -- empty
      CREATE TYPE lonely AS (q int);
    `);
    // DROP COLUMN of a table: its children lose it too, and so does every value of their row types.
    expect(await affectedBy(sql, 'ALTER TABLE base DROP COLUMN a; ALTER TABLE ONLY holds_row DROP COLUMN id; ALTER TABLE base ALTER COLUMN a TYPE text;')).toEqual([
      ['public.base', 'public.base_child (empty)', 'public.holds_child', 'public.holds_nested', 'public.holds_row'],
      ['public.holds_row', 'public.holds_nested'],
      ['public.base', 'public.base_child (empty)'], // a type change PostgreSQL refuses while the row type is stored elsewhere
    ]);
    // ALTER TYPE … DROP ATTRIBUTE: the typed tables only with CASCADE (without, PostgreSQL refuses).
    expect(await affectedBy(sql, 'ALTER TYPE pair DROP ATTRIBUTE m;')).toEqual([
      ['public.holds_domain', 'public.holds_range (empty)', 'public.holds_wrapper'],
    ]);
    expect(await affectedBy(sql, 'ALTER TYPE public.pair DROP ATTRIBUTE IF EXISTS m CASCADE;')).toEqual([
      ['public.holds_domain', 'public.holds_range (empty)', 'public.holds_typed (empty)', 'public.holds_wrapper', 'public.typed_pair'],
    ]);
    expect(await affectedBy(sql, 'ALTER TYPE pair ALTER ATTRIBUTE m TYPE bigint CASCADE; ALTER TYPE lonely DROP ATTRIBUTE q;')).toEqual([
      ['public.typed_pair'], [],
    ]);
    // What PostgreSQL really does to the values, for the record: the field is gone from the rows held elsewhere.
    await db.sql.unsafe('ALTER TYPE pair DROP ATTRIBUTE m CASCADE; ALTER TABLE base DROP COLUMN a');
    expect((await db.sql.unsafe('SELECT (SELECT d::text FROM holds_domain) AS d, (SELECT r::text FROM holds_row) AS r')).map((row) => ({ ...row })))
      .toEqual([{ d: '(2)', r: '(2)' }]);
  }));

  it('finds objects however their names are spelt: keywords, $, quoted, qualified or through the search path', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE SCHEMA app; CREATE SCHEMA "order";
      CREATE OPERATOR CLASS app."default" FOR TYPE int USING btree AS
        OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int, int);
      CREATE TABLE keyed (id int) PARTITION BY RANGE (id app."default");
      CREATE TABLE keyed_1 PARTITION OF keyed FOR VALUES FROM (0) TO (10); INSERT INTO keyed VALUES (1);
      CREATE TEXT SEARCH CONFIGURATION app.my$cfg (COPY = pg_catalog.simple);
      CREATE TEXT SEARCH CONFIGURATION "order".cfg (COPY = pg_catalog.simple);
      CREATE TABLE docs (body text, a tsvector GENERATED ALWAYS AS (to_tsvector('app.my$cfg', body)) STORED); INSERT INTO docs (body) VALUES ('x');
      CREATE TABLE notes (body text, b tsvector GENERATED ALWAYS AS (to_tsvector('"order".cfg', body)) STORED); INSERT INTO notes (body) VALUES ('x');
      CREATE TYPE position AS (x int, y int);
      CREATE TABLE shapes (id int, p "position"); INSERT INTO shapes VALUES (1, ROW(1, 2));
      CREATE FUNCTION ycoord("position") RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT ($1).y';
      CREATE FUNCTION plus_y(int, "position") RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 + ($2).y';
      CREATE OPERATOR ~~~ (LEFTARG = int, RIGHTARG = "position", FUNCTION = plus_y);
      CREATE TABLE moved (id int, p "position", q int GENERATED ALWAYS AS (id ~~~ p) STORED); INSERT INTO moved (id, p) VALUES (1, ROW(1, 2));
      CREATE TABLE measured (p "position", y int GENERATED ALWAYS AS (ycoord(p)) STORED); INSERT INTO measured (p) VALUES (ROW(1, 2));
    `);
    expect(await affectedBy(sql, `
      DROP OPERATOR CLASS app."default" USING btree CASCADE;
      DROP TEXT SEARCH CONFIGURATION app.my$cfg CASCADE;
      DROP TEXT SEARCH CONFIGURATION "order".cfg CASCADE;
      ALTER TYPE position DROP ATTRIBUTE y;
      DROP OPERATOR ~~~ (int, "position") CASCADE;
      DROP FUNCTION ycoord("position") CASCADE;
      DROP FUNCTION public.ycoord CASCADE;
    `)).toEqual([
      ['public.keyed'], ['public.docs'], ['public.notes'],
      ['public.measured', 'public.moved', 'public.shapes'],
      ['public.moved'], ['public.measured'], ['public.measured'],
    ]);
  }));

  it('follows what depends on a column or attribute dropped with CASCADE, and typed tables\' inheritance children', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE TABLE t (a int, b int); INSERT INTO t VALUES (1, 2);
      CREATE VIEW v AS SELECT a, b FROM t;
      CREATE TABLE holds_v (id int, x v); INSERT INTO holds_v VALUES (1, ROW(1, 2));
      CREATE TYPE pair AS (m int, n int);
      CREATE VIEW pv AS SELECT (ROW(1, 2)::pair).m AS m;
      CREATE TABLE holds_pv (x pv); INSERT INTO holds_pv VALUES (ROW(1));
      CREATE TABLE typed_pair OF pair; INSERT INTO typed_pair VALUES (1, 2);
      CREATE TABLE typed_child (z int) INHERITS (typed_pair); INSERT INTO typed_child VALUES (1, 2, 3);
      CREATE TABLE holds_child (c typed_child); INSERT INTO holds_child VALUES (ROW(1, 2, 3));
      CREATE EXTENSION citext;
      CREATE FUNCTION plus1(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 + 1';
      ALTER FUNCTION plus1(int) DEPENDS ON EXTENSION citext;
      CREATE TABLE gen (id int, nxt int GENERATED ALWAYS AS (plus1(id)) STORED); INSERT INTO gen (id) VALUES (1);
    `);
    expect(await affectedBy(sql, 'ALTER TABLE t DROP COLUMN a CASCADE; ALTER TABLE t DROP COLUMN a;')).toEqual([
      ['public.t', 'public.holds_v'], ['public.t'], // without CASCADE the view makes it fail
    ]);
    expect(await affectedBy(sql, 'ALTER TYPE pair DROP ATTRIBUTE m CASCADE; ALTER TYPE pair ALTER ATTRIBUTE m TYPE bigint CASCADE;')).toEqual([
      ['public.holds_child', 'public.holds_pv', 'public.typed_child', 'public.typed_pair'],
      ['public.typed_child', 'public.typed_pair'],
    ]);
    // ALTER FUNCTION … DEPENDS ON EXTENSION: the function goes with the extension, CASCADE or not.
    expect(await affectedBy(sql, 'DROP EXTENSION citext CASCADE;')).toEqual([['public.gen']]);
  }));

  it('a foreign table: its definition changes here, its rows are elsewhere (never queried); its children and row type are here', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE FOREIGN DATA WRAPPER wrapper; CREATE SERVER far FOREIGN DATA WRAPPER wrapper;
      CREATE FOREIGN TABLE ft (a int, b int) SERVER far; -- no handler: any query of it would fail
      CREATE TABLE ft_child (c int) INHERITS (ft); INSERT INTO ft_child VALUES (1, 2, 3);
      CREATE TABLE holds_ft (id int, x ft); INSERT INTO holds_ft VALUES (1, ROW(1, 2));
    `);
    expect(await affectedBy(sql, 'ALTER FOREIGN TABLE ft DROP COLUMN b; ALTER TABLE ONLY ft DROP COLUMN b; ALTER FOREIGN TABLE ft ALTER COLUMN a TYPE bigint;')).toEqual([
      ['public.ft_child', 'public.holds_ft'], ['public.holds_ft'], ['public.ft_child'],
    ]);
    // Rows it would destroy on its server count as rows (a backup then fails loudly: COPY cannot read it).
    expect(await affectedBy(sql, 'TRUNCATE ONLY ft;')).toEqual([['public.ft']]);
  }));

  it('even an index or a sequence: a regclass constant in a generated column, a view on a sequence whose row type is stored', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE SEQUENCE s; CREATE TABLE g1 (a int, g oid GENERATED ALWAYS AS ('s'::regclass::oid) STORED); INSERT INTO g1 (a) VALUES (1);
      CREATE TABLE base (i int); CREATE INDEX base_i ON base (i);
      CREATE TABLE g2 (a int, g oid GENERATED ALWAYS AS ('base_i'::regclass::oid) STORED); INSERT INTO g2 (a) VALUES (1);
      CREATE SEQUENCE s2; CREATE VIEW v AS SELECT last_value FROM s2; CREATE TABLE holds_v (x v); INSERT INTO holds_v VALUES (ROW(1));
      CREATE SEQUENCE lonely;
    `);
    expect(await affectedBy(sql, 'DROP SEQUENCE s CASCADE; DROP INDEX base_i CASCADE; DROP SEQUENCE s2 CASCADE; DROP SEQUENCE lonely CASCADE; DROP INDEX IF EXISTS missing CASCADE;')).toEqual([
      ['public.g1'], ['public.g2'], ['public.holds_v'], [], [],
    ]);
  }));

  it('a foreign child of a table a TRUNCATE or DELETE empties counts as holding rows (on its server)', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
      CREATE TABLE lp (id int); INSERT INTO lp VALUES (1);
      CREATE FOREIGN TABLE fchild () INHERITS (lp) SERVER files OPTIONS (filename '/dev/null');
    `);
    expect(await affectedBy(sql, 'DELETE FROM lp; TRUNCATE lp; TRUNCATE ONLY lp; ALTER TABLE lp DROP COLUMN id;')).toEqual([
      ['public.lp', 'public.fchild'], ['public.lp', 'public.fchild'], ['public.lp'], ['public.lp'],
    ]);
  }));

  it('exempts timestamp → timestamptz only when it keeps every value and rewrites nothing: default precision, no USING, a UTC session', () => withTestDatabase(async (db) => {
    const sql = db.sql as unknown as Sql;
    await db.sql.unsafe(`
      CREATE TABLE ts (t timestamp, t3 timestamp(3), t6 timestamp(6), v varchar, z timestamptz);
      INSERT INTO ts VALUES (now(), now(), now(), 'hello', now());
    `);
    await db.sql.unsafe(`SET TimeZone = 'UTC'`);
    expect(await affectedBy(sql, `
      ALTER TABLE ts ALTER COLUMN t TYPE timestamptz;
      ALTER TABLE ts ALTER COLUMN t6 TYPE timestamptz(6), ALTER COLUMN t TYPE timestamp with time zone;
      ALTER TABLE ts ALTER COLUMN t3 TYPE timestamptz(3);
      ALTER TABLE ts ALTER COLUMN t3 TYPE timestamptz(0);
      ALTER TABLE ts ALTER COLUMN v TYPE timestamptz USING now();
      ALTER TABLE ts ALTER COLUMN t TYPE timestamptz USING t AT TIME ZONE 'UTC';
      SET LOCAL TimeZone = 'America/New_York';
      ALTER TABLE ts ALTER COLUMN t TYPE timestamptz;
      SET TIME ZONE 'Etc/UTC';
      ALTER TABLE ts ALTER COLUMN t TYPE timestamptz;
      SET LOCAL TIME ZONE -8;
      ALTER TABLE ts ALTER COLUMN t TYPE timestamptz;
      SET TIME ZONE 'UTC';
      SELECT set_config('TimeZone', 'America/New_York', true);
      ALTER TABLE ts ALTER COLUMN t TYPE timestamptz;
    `)).toEqual([[], [], ['public.ts'], ['public.ts'], ['public.ts'], ['public.ts'], ['public.ts'], [], ['public.ts'], ['public.ts']]);
    // The session's own zone counts when the file sets none.
    await db.sql.unsafe(`SET TimeZone = 'Asia/Kolkata'`);
    expect(await affectedBy(sql, 'ALTER TABLE ts ALTER COLUMN t TYPE timestamptz;')).toEqual([['public.ts']]);
  }));
});
