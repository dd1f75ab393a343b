import { describe, expect, it } from 'vitest';
import { freshLibPgQuery, isSqlParserLoaded, loadSqlParser, nodeAs, nodeKind, parseSql, SqlSyntaxError } from '../../src/sql/parser.js';

describe('parser', () => {
  it('refuses to parse before loadSqlParser() (it is never loaded as a side effect of importing)', () => {
    expect(isSqlParserLoaded()).toBe(false);
    expect(() => parseSql('SELECT 1')).toThrow(/loadSqlParser/);
  });

  it('loads once, however often it is asked', async () => {
    const first = loadSqlParser();
    expect(loadSqlParser()).toBe(first);
    await first;
    expect(isSqlParserLoaded()).toBe(true);
    await expect(loadSqlParser()).resolves.toBeUndefined();
  });

  it('a retry instantiates the package anew: its own load outcome is remembered per instance', async () => {
    // What the baseline-compiler fallback and a retry after a failed load rely on.
    const a = freshLibPgQuery();
    const b = freshLibPgQuery();
    expect(b).not.toBe(a);
    await Promise.all([a.loadModule(), b.loadModule()]);
    expect(a.parseSync('SELECT 1').stmts).toHaveLength(1);
    expect(b.parseSync('SELECT 2').stmts).toHaveLength(1);
  });

  it('returns raw statements with byte offsets, and no statements for blank text', () => {
    const result = parseSql("SELECT 'é'; DROP TABLE t");
    expect(result.stmts?.map((s) => [nodeKind(s.stmt), s.stmt_location ?? 0, s.stmt_len ?? 0])).toEqual([
      ['SelectStmt', 0, 11], // 'é' is two bytes
      ['DropStmt', 12, 0],
    ]);
    expect(nodeAs(result.stmts?.[1]?.stmt, 'DropStmt')?.removeType).toBe('OBJECT_TABLE');
    expect(nodeAs(result.stmts?.[1]?.stmt, 'SelectStmt')).toBeUndefined();
    expect(parseSql(' \n\t').stmts).toEqual([]);
  });

  it('throws SqlSyntaxError with a 0-based code point position', () => {
    let caught: unknown;
    try {
      parseSql("SELECT '😀é'; SELEC 1");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SqlSyntaxError);
    expect((caught as SqlSyntaxError).message).toBe('syntax error at or near "SELEC"');
    // 13 code points precede SELEC (14 UTF-16 units, 17 bytes).
    expect((caught as SqlSyntaxError).position).toBe(13);
  });
});
