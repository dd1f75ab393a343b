import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckDefinition } from '../../src/sql/checks.js';
import { parseChecks } from '../../src/sql/checks.js';
import { loadSqlParser } from '../../src/sql/parser.js';
import { usageErrorOf } from './helpers.js';

beforeAll(async () => {
  await loadSqlParser();
});

const parse = (text: string): CheckDefinition[] => parseChecks(text, 'verify.sql');
const summary = (text: string): [string, string, number][] => parse(text).map((c) => [c.title, c.sql, c.line]);
const errorOf = (text: string): string => usageErrorOf(() => parse(text)).message;

describe('parseChecks: valid files', () => {
  it('reads each check title, query and line', () => {
    const text = `-- check: every conversation has a user
SELECT c.id FROM conversations c
LEFT JOIN users u ON u.user_id = c.user_id
WHERE u.user_id IS NULL;

-- check: one profile per user
SELECT user_id FROM user_profiles GROUP BY user_id HAVING count(*) > 1;
`;
    const checks = parse(text);
    expect(checks.map((c) => [c.title, c.line, c.statement.startLine])).toEqual([
      ['every conversation has a user', 1, 2],
      ['one profile per user', 6, 7],
    ]);
    expect(checks[0]?.sql).toBe('SELECT c.id FROM conversations c\nLEFT JOIN users u ON u.user_id = c.user_id\nWHERE u.user_id IS NULL');
  });

  it('returns no checks for an empty or comment-only file', () => {
    expect(parse('')).toEqual([]);
    expect(parse('-- nothing to check yet\n')).toEqual([]);
  });

  it('allows comments, blank lines and CRLF between a title and its query, and a last query without ;', () => {
    const text = '-- file header\r\n/* notes */\r\n-- check:   trimmed title  \r\n-- explains the query\r\n\r\nSELECT 1 WHERE false;\r\n-- check: last\r\nVALUES (1)';
    expect(summary(text)).toEqual([
      ['trimmed title', 'SELECT 1 WHERE false', 3],
      ['last', 'VALUES (1)', 7],
    ]);
  });

  it('accepts every read-only row-returning form', () => {
    const text = `-- check: with
WITH x AS (SELECT 1 AS n) SELECT n FROM x WHERE n > 1;
-- check: values
VALUES (1), (2);
-- check: table
TABLE pg_namespace;
-- check: union
SELECT 1 WHERE false UNION ALL SELECT 2 WHERE false;
-- check: ünïcödé 😀
SELECT '😀' WHERE false;`;
    expect(parse(text).map((c) => c.title)).toEqual(['with', 'values', 'table', 'union', 'ünïcödé 😀']);
  });

  it('does not take -- check: inside strings or block comments as a check', () => {
    const text = "-- check: real\nSELECT '\n-- check: fake\n' WHERE false;\n/*\n-- check: commented out\n*/";
    expect(summary(text)).toEqual([['real', "SELECT '\n-- check: fake\n' WHERE false", 1]]);
  });
});

describe('parseChecks: errors name the file and line', () => {
  it('rejects SQL before the first check', () => {
    expect(errorOf('-- header\n\nSELECT 1;\n-- check: a\nSELECT 2;')).toBe('verify.sql:3: SQL before the first "-- check: <title>" comment');
  });

  it('rejects a check without a query, in the middle or at the end', () => {
    expect(errorOf('-- check: a\n-- check: b\nSELECT 1;')).toBe('verify.sql:1: check "a" has no query');
    expect(errorOf('-- check: a\nSELECT 1;\n\n-- check: b\n')).toBe('verify.sql:4: check "b" has no query');
  });

  it('rejects a check with two statements, at the second one', () => {
    expect(errorOf('-- check: a\nSELECT 1;\nSELECT 2;')).toBe('verify.sql:3: check "a" has a second statement');
  });

  it('rejects duplicate titles and empty titles', () => {
    expect(errorOf('-- check: a\nSELECT 1;\n-- check: b\nSELECT 1;\n-- check: a\nSELECT 1;')).toBe(
      'verify.sql:5: duplicate check title "a" (first on line 1)',
    );
    expect(errorOf('-- check:   \nSELECT 1;')).toBe('verify.sql:1: check without a title');
  });

  it('rejects statements that write', () => {
    expect(errorOf('-- check: a\nSELECT 1;\n-- check: b\nDELETE FROM t;')).toBe(
      'verify.sql:4: check "b" must be a query that writes nothing: found DELETE',
    );
    expect(errorOf('-- check: a\nINSERT INTO t VALUES (1);')).toMatch(/^verify\.sql:2: .*found INSERT$/);
    expect(errorOf('-- check: a\nUPDATE t SET x = 1;')).toMatch(/^verify\.sql:2: .*found UPDATE$/);
    expect(errorOf('-- check: a\n\nCREATE TABLE t (id int);')).toMatch(/^verify\.sql:3: .*found CreateStmt$/);
    expect(errorOf('-- check: a\nSELECT 1 INTO t;')).toMatch(/^verify\.sql:2: .*SELECT \.\.\. INTO creates a table$/);
    expect(errorOf('-- check: a\nWITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d;')).toMatch(/^verify\.sql:2: .*WITH holds DELETE$/);
  });

  it('rejects a check marker inside the previous query (missing semicolon)', () => {
    expect(errorOf('-- check: a\nSELECT id FROM t\n-- check: b\nWHERE false;')).toBe(
      'verify.sql:3: "-- check: b" is inside the query that starts on line 2',
    );
  });

  it('reports a syntax error with its line', () => {
    // Without the semicolon, `SELECT 1 SELECT 2` is one statement to the parser, and a wrong one.
    expect(errorOf('-- check: a\nSELECT 1\n-- check: b\nSELECT 2;')).toBe('verify.sql:4: syntax error at or near "2"');
  });
});
