import { beforeAll, describe, expect, it } from 'vitest';
import type { DestructiveAction } from '../../src/sql/destructive.js';
import { findDestructive } from '../../src/sql/destructive.js';
import { loadSqlParser } from '../../src/sql/parser.js';
import { splitStatements } from '../../src/sql/statements.js';

beforeAll(async () => {
  await loadSqlParser();
});

const find = (text: string): DestructiveAction[] => findDestructive(splitStatements(text, 'down.sql'));
const kinds = (text: string): string[] => find(text).map((a) => a.kind);

describe('findDestructive: DROP TABLE', () => {
  it('reports every table of one statement', () => {
    expect(find('DROP TABLE smart_goals, sessions;')).toEqual([
      {
        statementIndex: 0,
        line: 1,
        kind: 'drop_table',
        tables: [{ name: 'smart_goals' }, { name: 'sessions' }],
        cascade: false,
        summary: 'DROP TABLE smart_goals, sessions',
      },
    ]);
  });

  it('keeps schemas and exact identifiers: IF EXISTS, quoted, mixed case, embedded quotes', () => {
    const [action] = find('DROP TABLE IF EXISTS app."Mixed Case", "weird""name", Plain, "ünï" CASCADE;');
    expect(action?.tables).toEqual([
      { schema: 'app', name: 'Mixed Case' },
      { name: 'weird"name' },
      { name: 'plain' },
      { name: 'ünï' },
    ]);
    expect(action?.cascade).toBe(true);
    expect(action?.summary).toBe('DROP TABLE app."Mixed Case", "weird""name", plain, "ünï" CASCADE');
  });

  it('gives statement index and line in a file with comments, multibyte text and CRLF', () => {
    const text = "-- rollback 😀\r\nSELECT 'é';\r\n/* DROP TABLE fake; */\r\n\r\nDROP TABLE\r\n  check_ins;\r\n";
    expect(find(text).map((a) => [a.statementIndex, a.line, a.summary])).toEqual([[1, 5, 'DROP TABLE check_ins']]);
  });
});

describe('findDestructive: ALTER TABLE', () => {
  it('reports several dropped columns of one statement as one action', () => {
    expect(find('ALTER TABLE ONLY app.users DROP COLUMN nickname, DROP COLUMN IF EXISTS "Legacy" CASCADE, ADD COLUMN x int;')).toEqual([
      {
        statementIndex: 0,
        line: 1,
        kind: 'drop_column',
        tables: [{ schema: 'app', name: 'users', only: true }],
        columns: [
          { table: { schema: 'app', name: 'users', only: true }, column: 'nickname', cascade: false },
          { table: { schema: 'app', name: 'users', only: true }, column: 'Legacy', cascade: true },
        ],
        summary: 'ALTER TABLE app.users DROP COLUMN nickname, DROP COLUMN "Legacy" CASCADE',
      },
    ]);
  });

  it('reports column type changes with the new type normalised', () => {
    const [action] = find(`ALTER TABLE IF EXISTS messages
      ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
      ALTER sent_at SET DATA TYPE pg_catalog.timestamptz,
      ALTER COLUMN n TYPE bigint,
      ALTER COLUMN tags TYPE varchar(20)[],
      ALTER COLUMN amount TYPE numeric(10, 2),
      ALTER COLUMN mood TYPE app.mood,
      ALTER COLUMN took TYPE interval day to second(3),
      ALTER COLUMN at TYPE timestamp(3) with time zone,
      ALTER COLUMN c TYPE "char"`);
    expect(action?.kind).toBe('alter_column_type');
    expect(action?.tables).toEqual([{ name: 'messages' }]);
    expect(action?.columns?.map((c) => [c.column, c.newType, c.using])).toEqual([
      ['created_at', 'timestamptz', true],
      ['sent_at', 'timestamptz', false],
      ['n', 'int8', false],
      ['tags', 'varchar(20)[]', false],
      ['amount', 'numeric(10,2)', false],
      ['mood', 'app.mood', false],
      ['took', 'interval day to second(3)', false],
      ['at', 'timestamptz(3)', false],
      ['c', '"char"', false],
    ]);
    expect(action?.summary).toMatch(/^ALTER TABLE messages ALTER COLUMN created_at TYPE timestamptz, ALTER COLUMN sent_at TYPE timestamptz, /);
  });

  it('reports drops and type changes of one statement as two actions, in that order', () => {
    expect(kinds('ALTER TABLE t ALTER COLUMN a TYPE text, DROP COLUMN b;')).toEqual(['drop_column', 'alter_column_type']);
  });

  it('ignores ALTER TABLE commands that keep the data', () => {
    const text = `ALTER TABLE t ADD COLUMN a int, ALTER COLUMN b SET DEFAULT 1, ALTER COLUMN c DROP NOT NULL,
      DROP CONSTRAINT t_pkey, ALTER COLUMN d SET STATISTICS 100;
      ALTER TABLE t RENAME COLUMN a TO b;
      ALTER TABLE p DETACH PARTITION c;
      ALTER INDEX i RENAME TO j;`;
    expect(find(text)).toEqual([]);
  });
});

describe('findDestructive: TRUNCATE, DROP SCHEMA, DELETE', () => {
  it('reports every truncated table', () => {
    expect(find('TRUNCATE ONLY a, app.b RESTART IDENTITY CASCADE;')).toEqual([
      {
        statementIndex: 0,
        line: 1,
        kind: 'truncate',
        tables: [{ name: 'a', only: true }, { schema: 'app', name: 'b' }], // ONLY binds to each name
        cascade: true,
        summary: 'TRUNCATE a, app.b CASCADE',
      },
    ]);
    expect(find('TRUNCATE TABLE x')[0]?.summary).toBe('TRUNCATE x');
  });

  it('reports dropped schemas, with and without CASCADE, leaving tables to the catalog', () => {
    const [restrict, cascade] = find('DROP SCHEMA coaching;\nDROP SCHEMA IF EXISTS a, "B" CASCADE;');
    expect(restrict).toMatchObject({ kind: 'drop_schema', tables: [], schemas: ['coaching'], cascade: false, summary: 'DROP SCHEMA coaching' });
    expect(cascade).toMatchObject({ kind: 'drop_schema', line: 2, schemas: ['a', 'B'], summary: 'DROP SCHEMA a, "B" CASCADE' });
  });

  it('reports DELETE without WHERE, also with USING', () => {
    expect(find('DELETE FROM ONLY app.messages AS m;')).toEqual([
      {
        statementIndex: 0,
        line: 1,
        kind: 'delete_without_where',
        tables: [{ schema: 'app', name: 'messages', only: true }],
        summary: 'DELETE FROM app.messages without WHERE',
      },
    ]);
    expect(kinds('DELETE FROM t USING u;')).toEqual(['delete_without_where']);
  });

  it('does not report DELETE with WHERE, even a trivial one', () => {
    expect(find('DELETE FROM t WHERE id = 1; DELETE FROM t USING u WHERE t.id = u.id; DELETE FROM t WHERE true;')).toEqual([]);
  });

  it('finds DELETE without WHERE in a CTE and under EXPLAIN ANALYZE, which run it', () => {
    expect(find('WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone;').map((a) => a.tables)).toEqual([[{ name: 't' }]]);
    expect(kinds('INSERT INTO archive WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d;')).toEqual(['delete_without_where']);
    expect(kinds('EXPLAIN ANALYZE DELETE FROM t;')).toEqual(['delete_without_where']);
    expect(kinds('EXPLAIN (ANALYZE true, BUFFERS) DELETE FROM t;')).toEqual(['delete_without_where']);
  });

  it('does not report DELETEs that are stored, not run', () => {
    const text = `EXPLAIN DELETE FROM t;
      EXPLAIN (ANALYZE false) DELETE FROM t;
      CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u;
      CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END;
      PREPARE p AS DELETE FROM t;`;
    expect(find(text)).toEqual([]);
  });
});

describe('findDestructive: CASCADE drops of other objects', () => {
  it('reports DROP TYPE/DOMAIN/EXTENSION/FUNCTION ... CASCADE with the objects named', () => {
    const text = `DROP TYPE app.mood CASCADE;
      DROP DOMAIN IF EXISTS email CASCADE;
      DROP EXTENSION citext CASCADE;
      DROP FUNCTION f(int, text), g CASCADE;
      DROP COLLATION c CASCADE;`;
    expect(find(text).map((a) => [a.kind, a.objectType, a.objects, a.tables, a.summary])).toEqual([
      ['drop_cascade', 'TYPE', ['app.mood'], [], 'DROP TYPE app.mood CASCADE'],
      ['drop_cascade', 'DOMAIN', ['email'], [], 'DROP DOMAIN email CASCADE'],
      ['drop_cascade', 'EXTENSION', ['citext'], [], 'DROP EXTENSION citext CASCADE'],
      ['drop_cascade', 'FUNCTION', ['f(int4, text)', 'g'], [], 'DROP FUNCTION f(int4, text), g CASCADE'],
      ['drop_cascade', 'COLLATION', ['c'], [], 'DROP COLLATION c CASCADE'],
    ]);
  });

  it('reports DROP OWNED, which drops the roles\' tables', () => {
    expect(find('DROP OWNED BY app_owner, CURRENT_USER;')).toMatchObject([
      { kind: 'drop_cascade', objectType: 'OWNED', objects: ['app_owner', 'CURRENT_USER'], summary: 'DROP OWNED BY app_owner, CURRENT_USER' },
    ]);
  });

  it('reports CASCADE drops of objects that hold no rows but that columns or tables may depend on, written as SQL writes them', () => {
    const text = `DROP VIEW v CASCADE; DROP MATERIALIZED VIEW app.mv CASCADE; DROP FOREIGN TABLE ft CASCADE;
      DROP OPERATOR === (int, NONE), app.- (NONE, int) CASCADE;
      DROP OPERATOR CLASS app.ops USING btree CASCADE; DROP OPERATOR FAMILY fam USING hash CASCADE;
      DROP LANGUAGE plperl CASCADE; DROP TRANSFORM FOR hstore LANGUAGE plperl CASCADE;
      DROP TEXT SEARCH CONFIGURATION app.cfg CASCADE; DROP TEXT SEARCH DICTIONARY d CASCADE;
      DROP TEXT SEARCH PARSER p CASCADE; DROP TEXT SEARCH TEMPLATE t CASCADE;
      DROP FOREIGN DATA WRAPPER w CASCADE; DROP SERVER s CASCADE;`;
    expect(find(text).map((a) => [a.objectType, a.objects, a.summary])).toEqual([
      ['VIEW', ['v'], 'DROP VIEW v CASCADE'],
      ['MATERIALIZED VIEW', ['app.mv'], 'DROP MATERIALIZED VIEW app.mv CASCADE'],
      ['FOREIGN TABLE', ['ft'], 'DROP FOREIGN TABLE ft CASCADE'],
      ['OPERATOR', ['===(int4, NONE)', 'app.-(NONE, int4)'], 'DROP OPERATOR ===(int4, NONE), app.-(NONE, int4) CASCADE'],
      ['OPERATOR CLASS', ['app.ops USING btree'], 'DROP OPERATOR CLASS app.ops USING btree CASCADE'],
      ['OPERATOR FAMILY', ['fam USING hash'], 'DROP OPERATOR FAMILY fam USING hash CASCADE'],
      ['LANGUAGE', ['plperl'], 'DROP LANGUAGE plperl CASCADE'],
      ['TRANSFORM', ['FOR hstore LANGUAGE plperl'], 'DROP TRANSFORM FOR hstore LANGUAGE plperl CASCADE'],
      ['TEXT SEARCH CONFIGURATION', ['app.cfg'], 'DROP TEXT SEARCH CONFIGURATION app.cfg CASCADE'],
      ['TEXT SEARCH DICTIONARY', ['d'], 'DROP TEXT SEARCH DICTIONARY d CASCADE'],
      ['TEXT SEARCH PARSER', ['p'], 'DROP TEXT SEARCH PARSER p CASCADE'],
      ['TEXT SEARCH TEMPLATE', ['t'], 'DROP TEXT SEARCH TEMPLATE t CASCADE'],
      ['FOREIGN DATA WRAPPER', ['w'], 'DROP FOREIGN DATA WRAPPER w CASCADE'],
      ['SERVER', ['s'], 'DROP SERVER s CASCADE'],
    ]);
  });

  it('reports ALTER TYPE … DROP ATTRIBUTE (every stored value loses the field) and ALTER ATTRIBUTE … TYPE … CASCADE (typed tables retyped)', () => {
    const text = `ALTER TYPE app.pair DROP ATTRIBUTE m, DROP ATTRIBUTE IF EXISTS "N" CASCADE;
      ALTER TYPE pair ALTER ATTRIBUTE m TYPE bigint CASCADE;
      ALTER TYPE pair ALTER ATTRIBUTE m TYPE bigint; ALTER TYPE pair ADD ATTRIBUTE z int; ALTER TYPE pair RENAME ATTRIBUTE m TO k;`;
    expect(find(text).map((a) => [a.kind, a.objects, a.cascade, a.columns?.map((c) => c.column), a.summary])).toEqual([
      ['drop_attribute', ['app.pair'], true, ['m', 'N'], 'ALTER TYPE app.pair DROP ATTRIBUTE m, DROP ATTRIBUTE "N" CASCADE'],
      ['alter_attribute_type', ['pair'], true, ['m'], 'ALTER TYPE pair ALTER ATTRIBUTE m TYPE … CASCADE'],
    ]);
  });

  it('does not report the same drops without CASCADE, nor CASCADE drops that lose no rows', () => {
    const text = `DROP TYPE mood; DROP DOMAIN email; DROP FUNCTION f(int); DROP VIEW v; DROP TEXT SEARCH CONFIGURATION c;
      DROP INDEX i; DROP SEQUENCE s; DROP TRIGGER trg ON t CASCADE; DROP POLICY p ON t CASCADE;
      DROP CAST (text AS int) CASCADE; DROP CONVERSION c CASCADE; DROP RULE r ON t CASCADE; DROP STATISTICS st CASCADE;
      DROP PUBLICATION pub CASCADE; DROP EVENT TRIGGER et CASCADE;`;
    expect(find(text)).toEqual([]);
  });
});

describe('findDestructive: what is not a statement', () => {
  it('ignores DROP TABLE in comments, strings and identifiers', () => {
    const text = `-- DROP TABLE users;
      /* DROP TABLE users; /* nested */ TRUNCATE users; */
      SELECT 'DROP TABLE users; DELETE FROM users' AS "DROP TABLE x";
      COMMENT ON TABLE t IS 'TRUNCATE t';`;
    expect(find(text)).toEqual([]);
  });

  it('cannot see into function bodies (stored, not run), nor dynamic SQL in a DO block (documented limit)', () => {
    const text = `CREATE FUNCTION wipe() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN DROP TABLE users; DELETE FROM sessions; END $$;
      DO $$ BEGIN EXECUTE format('TRUNCATE %I', 'users'); END $$;
      DO LANGUAGE plperl $$ my $x = 'DELETE FROM users'; $$;`;
    expect(find(text)).toEqual([]);
  });

  it('finds the destructive statements written directly in a PL/pgSQL DO block, whatever surrounds them', () => {
    const text = `DO $body$
DECLARE n int := 0; -- a DELETE FROM in a comment
BEGIN
  RAISE NOTICE 'not a statement: DELETE FROM notice_text; DROP TABLE x';
  DELETE FROM sessions;
  DELETE FROM kept WHERE id = n;
  IF n = 0 THEN TRUNCATE app.logs CASCADE; ELSE ALTER TABLE users DROP COLUMN nickname; END IF;
  FOR i IN 1..2 LOOP
    DROP TABLE IF EXISTS scratch;
  END LOOP;
  WITH gone AS (DELETE FROM audit RETURNING 1) SELECT count(*) INTO n FROM gone;
  IF n > 0 THEN ALTER TABLE accounts ALTER COLUMN status TYPE boolean USING CASE status WHEN 'active' THEN true ELSE NULL END; END IF;
EXCEPTION WHEN others THEN DELETE FROM errors;
END
$body$;`;
    const found = find(text);
    expect(found.map((a) => [a.kind, a.tables.map((t) => (t.schema ? `${t.schema}.${t.name}` : t.name)).join(','), a.line])).toEqual([
      ['delete_without_where', 'sessions', 1],
      ['truncate', 'app.logs', 1],
      ['drop_column', 'users', 1],
      ['drop_table', 'scratch', 1],
      ['delete_without_where', 'audit', 1], // in a CTE
      ['alter_column_type', 'accounts', 1], // its CASE has THEN and ELSE words of its own
      ['delete_without_where', 'errors', 1],
    ]);
    expect(found[0]!.summary).toBe('DELETE FROM sessions without WHERE (in a DO block)');
  });

  it('returns nothing for an empty list', () => {
    expect(findDestructive([])).toEqual([]);
  });
});
