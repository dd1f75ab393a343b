import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser } from '../../src/sql/parser.js';
import type { SqlFile, SqlStatement } from '../../src/sql/statements.js';
import { lineOfOffset, lineOfStatementPosition, splitStatements, splitStatementsOfFiles } from '../../src/sql/statements.js';
import { nonTransactionalReason } from '../../src/sql/transaction.js';
import { usageErrorOf } from './helpers.js';

beforeAll(async () => {
  await loadSqlParser();
});

const split = (text: string): SqlStatement[] => splitStatements(text, 'up.sql');
const sqls = (text: string): string[] => split(text).map((s) => s.sql);

/** Every statement's offsets point at its own text in the file. */
function expectLocated(text: string, statements: SqlStatement[]): void {
  for (const stmt of statements) {
    expect(text.slice(stmt.startOffset, stmt.endOffset)).toBe(stmt.sql);
    expect(stmt.startLine).toBe(lineOfOffset(text, stmt.startOffset));
  }
}

describe('splitStatements: boundaries', () => {
  it('returns nothing for an empty, blank or comment-only file', () => {
    expect(split('')).toEqual([]);
    expect(split('  \n\t\r\n')).toEqual([]);
    expect(split('-- only a comment\n/* and a /* nested */ block */\n')).toEqual([]);
    expect(split(';;\n;')).toEqual([]);
  });

  it('splits, numbers and locates statements, stripping comments and semicolons', () => {
    const text = '-- header\nCREATE TABLE a (id int);\n\n/* why */\nINSERT INTO a\nVALUES (1) /* trailing */ ;\nSELECT 1';
    const statements = split(text);
    expect(statements.map((s) => [s.index, s.sql, s.startLine, s.endLine, s.kind])).toEqual([
      [0, 'CREATE TABLE a (id int)', 2, 2, 'CreateStmt'],
      [1, 'INSERT INTO a\nVALUES (1)', 5, 6, 'InsertStmt'],
      [2, 'SELECT 1', 7, 7, 'SelectStmt'],
    ]);
    expectLocated(text, statements);
  });

  it('skips empty statements', () => {
    const text = 'SELECT 1;;\n; ;SELECT 2;;';
    const statements = split(text);
    expect(statements.map((s) => [s.index, s.sql])).toEqual([
      [0, 'SELECT 1'],
      [1, 'SELECT 2'],
    ]);
    expectLocated(text, statements);
  });

  it('strips a trailing comment from a last statement without a semicolon', () => {
    expect(sqls('SELECT 1 -- done\n')).toEqual(['SELECT 1']);
    expect(sqls('SELECT 1 /* done */  \n\n')).toEqual(['SELECT 1']);
  });

  it('keeps semicolons and DROP TABLE inside dollar-quoted bodies', () => {
    const body = 'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $fn$\nBEGIN\n  DROP TABLE x; -- gone\n  RAISE NOTICE \'a;b\';\nEND\n$fn$';
    const text = `${body};\nDO $$ BEGIN PERFORM 1; END $$;\nDO $outer$ BEGIN EXECUTE $q$SELECT ';'$q$; END $outer$;`;
    const statements = split(text);
    expect(statements.map((s) => s.kind)).toEqual(['CreateFunctionStmt', 'DoStmt', 'DoStmt']);
    expect(statements[0]?.sql).toBe(body);
    expect(statements[2]?.sql).toBe("DO $outer$ BEGIN EXECUTE $q$SELECT ';'$q$; END $outer$");
    expect(statements.map((s) => s.startLine)).toEqual([1, 7, 8]);
  });

  it('does not mistake comment markers inside strings and quoted identifiers for comments', () => {
    expect(sqls("SELECT '-- not a comment; /* nor this'")).toEqual(["SELECT '-- not a comment; /* nor this'"]);
    expect(sqls('SELECT 1 AS "a--b"')).toEqual(['SELECT 1 AS "a--b"']);
    expect(sqls("SELECT 'it''s -- fine'")).toEqual(["SELECT 'it''s -- fine'"]);
    // `$` continues an identifier: `a$b$` is a name, not the start of a $b$ quote.
    expect(sqls('SELECT 1 AS a$b$ -- trailing')).toEqual(['SELECT 1 AS a$b$']);
  });

  it('reads E strings with backslash escapes, also across a continuation line', () => {
    expect(sqls("SELECT E'it\\'s -- quoted'")).toEqual(["SELECT E'it\\'s -- quoted'"]);
    // scan.l continues an E string after quote-newline-quote: the \' still escapes there.
    expect(sqls("SELECT E'a'\n'b\\' -- still string' -- comment")).toEqual(["SELECT E'a'\n'b\\' -- still string'"]);
    // A plain string ending in a backslash is complete (standard_conforming_strings).
    expect(sqls("SELECT 'a\\' -- comment")).toEqual(["SELECT 'a\\'"]);
  });

  it('skips nested block comments before a statement', () => {
    const text = '/* outer /* inner; SELECT 2; */ still comment; */ SELECT 1;';
    const [only, ...rest] = split(text);
    expect(rest).toEqual([]);
    expect(only?.sql).toBe('SELECT 1');
    expect(only?.startOffset).toBe(text.indexOf('SELECT 1'));
  });

  it('handles CRLF files', () => {
    const text = '-- a\r\nSELECT 1;\r\n\r\nSELECT\r\n  2;\r\n';
    const statements = split(text);
    expect(statements.map((s) => [s.sql, s.startLine, s.endLine])).toEqual([
      ['SELECT 1', 2, 2],
      ['SELECT\r\n  2', 4, 5],
    ]);
    expectLocated(text, statements);
  });

  it('maps UTF-8 byte offsets to string indices with multibyte text', () => {
    const text = "SELECT 'é' AS \"ü\";\n-- ñandú 😀\nSELECT '😀😀', 'x';\nINSERT INTO t VALUES ('日本語');\nSELECT 3";
    const statements = split(text);
    expect(statements.map((s) => s.sql)).toEqual([
      "SELECT 'é' AS \"ü\"",
      "SELECT '😀😀', 'x'",
      "INSERT INTO t VALUES ('日本語')",
      'SELECT 3',
    ]);
    expect(statements.map((s) => s.startLine)).toEqual([1, 3, 4, 5]);
    expectLocated(text, statements);
  });

  it('splits any mix of statements, comments and unicode exactly (property)', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'é', '😀', ';', ' ', '-', '*', '/', '$', "'", '日') });
    const quoted = word.map((w) => `'${w.replace(/'/g, "''")}'`);
    const dollar = word.filter((w) => !w.includes('$')).map((w) => `$x$${w}$x$`);
    const statement = fc.array(fc.oneof(quoted, dollar), { minLength: 1, maxLength: 3 }).map((v) => `SELECT ${v.join(', ')}`);
    const comment = fc.oneof(
      word.filter((w) => !w.includes('*') && !w.includes('/')).map((w) => `/* ${w} */`),
      fc.string({ unit: fc.constantFrom('a', 'é', '😀', ';', ' ', "'") }).map((w) => `-- ${w}\n`),
    );
    const item = fc.record({ before: fc.array(comment, { maxLength: 2 }), sql: statement, newline: fc.boolean() });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 5 }), (items) => {
        const text = items.map((i) => `${i.before.join('\n')}\n${i.sql};${i.newline ? '\n' : ' '}`).join('');
        const statements = split(text);
        expect(statements.map((s) => s.sql)).toEqual(items.map((i) => i.sql));
        expectLocated(text, statements);
      }),
    );
  });
});

describe('splitStatements: syntax errors', () => {
  it('names the file and the line of the error', () => {
    const error = usageErrorOf(() => splitStatements('SELECT 1;\n\nSELEC 2;', 'migrations/001_init/up.sql'));
    expect(error.message).toBe('migrations/001_init/up.sql:3: syntax error at or near "SELEC"');
  });

  it('counts the error position in characters, not bytes or UTF-16 units', () => {
    // 10 emoji: 40 bytes, 20 UTF-16 units, 10 characters. Any other unit lands on line 1 or 4+.
    const text = `SELECT '${'😀'.repeat(10)}';\nSELEC 2;\nSELECT 1;\nSELECT 1;\nSELECT 1;\nSELECT 1;`;
    expect(usageErrorOf(() => split(text)).message).toBe('up.sql:2: syntax error at or near "SELEC"');
  });

  it('rejects a NUL character, after which the parser would read nothing', () => {
    expect(usageErrorOf(() => split('SELECT 1;\nSELECT 2;\0\nDROP TABLE users;')).message).toBe('up.sql:2: NUL character in SQL text');
  });

  it('reports errors at the end of input and unterminated tokens at their start', () => {
    expect(usageErrorOf(() => split('SELECT 1;\nSELECT (')).message).toBe('up.sql:2: syntax error at end of input');
    expect(usageErrorOf(() => split("SELECT 1;\nSELECT 'abc\n;\n")).message).toMatch(/^up\.sql:2: unterminated quoted string/);
    expect(usageErrorOf(() => split('SELECT 1;\n\nDO $$ BEGIN\nEND;')).message).toMatch(/^up\.sql:3: unterminated dollar-quoted string/);
    expect(usageErrorOf(() => split('SELECT 1;\n/* a /* b */\nSELECT 2;')).message).toMatch(/^up\.sql:2: unterminated \/\* comment/);
  });
});

describe('splitStatements: transactions', () => {
  const nonTransactional: [string, string][] = [
    ['CREATE INDEX CONCURRENTLY i ON t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['DROP INDEX CONCURRENTLY i', 'DROP INDEX CONCURRENTLY'],
    ['REINDEX TABLE CONCURRENTLY t', 'REINDEX CONCURRENTLY'],
    ['REINDEX (CONCURRENTLY) INDEX i', 'REINDEX CONCURRENTLY'],
    ['REINDEX (CONCURRENTLY true) INDEX i', 'REINDEX CONCURRENTLY'],
    ['REINDEX SCHEMA s', 'REINDEX SCHEMA'],
    ['REINDEX DATABASE', 'REINDEX DATABASE'],
    ['REINDEX SYSTEM', 'REINDEX SYSTEM'],
    ['VACUUM', 'VACUUM'],
    ['VACUUM (ANALYZE) t', 'VACUUM'],
    ['VACUUM FULL t', 'VACUUM'],
    ['CLUSTER', 'CLUSTER'],
    ['CREATE DATABASE d', 'CREATE DATABASE'],
    ['DROP DATABASE IF EXISTS d', 'DROP DATABASE'],
    ['ALTER DATABASE d SET TABLESPACE ts', 'ALTER DATABASE SET TABLESPACE'],
    ["CREATE TABLESPACE ts LOCATION '/x'", 'CREATE TABLESPACE'],
    ['DROP TABLESPACE ts', 'DROP TABLESPACE'],
    ['ALTER SYSTEM SET work_mem = 64', 'ALTER SYSTEM'],
    ['DISCARD ALL', 'DISCARD ALL'],
    ['ALTER TABLE p DETACH PARTITION c CONCURRENTLY', 'ALTER TABLE ... DETACH CONCURRENTLY'],
    ["CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p", 'CREATE SUBSCRIPTION ... WITH (create_slot = true)'],
    ['DROP SUBSCRIPTION s', 'DROP SUBSCRIPTION'],
    ['ALTER SUBSCRIPTION s REFRESH PUBLICATION', 'ALTER SUBSCRIPTION ... REFRESH'],
    ['ALTER SUBSCRIPTION s SET PUBLICATION p', 'ALTER SUBSCRIPTION with refresh'],
    ['ALTER SUBSCRIPTION s SET (failover = true)', 'ALTER SUBSCRIPTION ... SET (failover)'],
    ["COMMIT PREPARED 'x'", 'COMMIT PREPARED'],
    ["ROLLBACK PREPARED 'x'", 'ROLLBACK PREPARED'],
  ];
  it.each(nonTransactional)('%s cannot run in a transaction block', (sql, reason) => {
    const [stmt] = split(sql);
    expect(stmt?.transactional).toBe(false);
    expect(nonTransactionalReason(stmt!.ast)).toBe(reason);
  });

  const transactional = [
    'CREATE INDEX i ON t (a)',
    'DROP INDEX i',
    'REINDEX TABLE t',
    'REINDEX (CONCURRENTLY false) INDEX i',
    'ANALYZE t',
    'CLUSTER t',
    'CLUSTER t USING i',
    'ALTER DATABASE d SET work_mem = 64',
    'ALTER DATABASE d CONNECTION LIMIT 5',
    'ALTER TABLESPACE ts OWNER TO bob',
    'DISCARD PLANS',
    'ALTER TABLE p DETACH PARTITION c',
    "ALTER TYPE mood ADD VALUE 'meh'",
    'REFRESH MATERIALIZED VIEW CONCURRENTLY v',
    "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (connect = false)",
    "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (create_slot = false)",
    'ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)',
    'ALTER SUBSCRIPTION s DISABLE',
    'CREATE TABLE t (id int)',
    'BEGIN',
  ];
  it.each(transactional)('%s runs in a transaction block', (sql) => {
    expect(split(sql)[0]?.transactional).toBe(true);
  });

  it('marks transaction control statements', () => {
    const control = [
      'BEGIN', 'START TRANSACTION', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT a', 'RELEASE a',
      'ROLLBACK TO a', "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'",
    ];
    const other = ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'SELECT 1', 'LOCK TABLE t'];
    const flags = split([...control, ...other].join(';\n')).map((s) => s.transactionControl);
    expect(flags).toEqual([...control.map(() => true), ...other.map(() => false)]);
  });
});

describe('lineOfOffset', () => {
  it('counts LF, CRLF and lone CR as one line break each', () => {
    expect(lineOfOffset('a\nb\nc', 0)).toBe(1);
    expect(lineOfOffset('a\nb\nc', 1)).toBe(1); // the newline belongs to its line
    expect(lineOfOffset('a\nb\nc', 2)).toBe(2);
    expect(lineOfOffset('a\nb\nc', 4)).toBe(3);
    expect(lineOfOffset('a\r\nb', 1)).toBe(1);
    expect(lineOfOffset('a\r\nb', 2)).toBe(1);
    expect(lineOfOffset('a\r\nb', 3)).toBe(2);
    expect(lineOfOffset('a\rb\rc', 4)).toBe(3);
  });
});

describe('lineOfStatementPosition', () => {
  /** PostgreSQL's 1-based character position of `needle` within `sql`. */
  const positionOf = (sql: string, needle: string): number => [...sql.slice(0, sql.indexOf(needle))].length + 1;

  it('maps a server error position in a later statement to its file line', () => {
    const text = "SELECT 1;\n\n-- next\nSELECT '😀😀😀😀😀😀😀😀',\n  'é',\n  nope\nFROM t;";
    const stmt = split(text)[1]!;
    expect(stmt.startLine).toBe(4);
    expect(lineOfStatementPosition(stmt, text, positionOf(stmt.sql, 'nope'))).toBe(6);
    expect(lineOfStatementPosition(stmt, text, positionOf(stmt.sql, 'FROM'))).toBe(7);
    expect(lineOfStatementPosition(stmt, text, 1)).toBe(4);
  });

  it('counts characters, not UTF-16 units', () => {
    // 12 emoji (24 UTF-16 units) on line 1: read as UTF-16 units, every position lands 12 characters early.
    const text = `SELECT '${'😀'.repeat(12)}'\n, x\n, y\n, z\n, w\n, v\n, u\n, t\n, s\n, r\n, q\n, p\n, o`;
    const stmt = split(text)[0]!;
    expect(lineOfStatementPosition(stmt, text, positionOf(stmt.sql, 'x'))).toBe(2);
    expect(lineOfStatementPosition(stmt, text, positionOf(stmt.sql, 'o'))).toBe(13);
  });

  it('clamps positions past the statement to its last line', () => {
    const text = 'SELECT\n1;\nSELECT 2;';
    const stmt = split(text)[0]!;
    expect(lineOfStatementPosition(stmt, text, 500)).toBe(2);
  });
});

describe('splitStatementsOfFiles: one parser call for many files', () => {
  /** What a file yields on its own: statements without their trees, or the error message. */
  const alone = (text: string, file: string): unknown => {
    try {
      return splitStatements(text, file).map(({ ast: _ast, ...rest }) => rest);
    } catch (error) {
      return { error: (error as Error).message };
    }
  };
  const together = (files: SqlFile[]): unknown => {
    try {
      return splitStatementsOfFiles(files).map((statements) => statements.map(({ ast: _ast, ...rest }) => rest));
    } catch (error) {
      return { error: (error as Error).message };
    }
  };
  /** Batch and one-by-one agree; a failing file fails the batch with that file's own error. */
  const expectSameAsAlone = (texts: string[]): void => {
    const files = texts.map((text, i) => ({ text, file: `m${i}/up.sql` }));
    const each = files.map((f) => alone(f.text, f.file));
    const failed = each.find((r) => !Array.isArray(r));
    expect(together(files)).toEqual(failed ?? each);
  };

  it('gives each file the statements, offsets and lines it has on its own', () => {
    expectSameAsAlone([
      'CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n',
      '-- only a comment',
      'SELECT 1 -- no newline, no semicolon',
      "/* lead */ SELECT 'x;y', $$ ; $$;\n\n  SELECT 2",
      'CREATE INDEX CONCURRENTLY i ON a (id);',
      'SELECT \'é\' AS "ü", 3;\r\nSELECT 4;',
    ]);
  });

  it('never lets a file end swallow the next file (unterminated comment, string, dollar quote)', () => {
    // Each of these is a syntax error alone; batched, the next file's `*/`, quote or `$$` could
    // otherwise close it and hide part of that file.
    expectSameAsAlone(['SELECT 1; /* open', '*/ SELECT 2;']);
    expectSameAsAlone(['SELECT 1; /* open', 'SELECT 3; */ SELECT 2;']);
    expectSameAsAlone(["SELECT 'open", "x'; SELECT 2;"]);
    expectSameAsAlone(['SELECT $$open', 'SELECT 2 $$;', 'SELECT 3;']);
    expectSameAsAlone(['SELECT 1;', 'SELEC 2;']);
  });

  it('splits large sets in chunks of about 1 MiB, with the same result', () => {
    const big = `INSERT INTO t VALUES ${Array.from({ length: 40_000 }, (_, i) => `(${i}, 'row ${i}')`).join(', ')};\n`;
    const texts = [big, 'SELECT 1;', big, big, 'SELECT 2; SELECT 3', big];
    expect(texts.reduce((n, t) => n + t.length, 0)).toBeGreaterThan(2 * (1 << 20));
    expectSameAsAlone(texts);
  });

  it('agrees with one-by-one splitting on random files', () => {
    const piece = fc.constantFrom(
      'SELECT 1', ';', '\n', ' ', '-- c', '/* b */', '/*', '*/', "'", "'s;'", '$$', '$$x;$$', 'CREATE TABLE t (id int)',
      '"q;"', 'BEGIN', 'DROP TABLE t', 'é', '\r\n', 'E\'\\\'', 'VACUUM',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1', 'END', '(',
    );
    const file = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
    fc.assert(fc.property(fc.array(file, { minLength: 2, maxLength: 5 }), (texts) => expectSameAsAlone(texts)), { numRuns: 400 });
  });
});
