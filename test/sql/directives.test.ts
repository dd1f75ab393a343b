// Deliberately never loads the SQL parser: directives must be readable without the WASM module.
import { describe, expect, it } from 'vitest';
import { readDirectives } from '../../src/sql/directives.js';
import { isSqlParserLoaded } from '../../src/sql/parser.js';
import { usageErrorOf } from './helpers.js';

const read = (text: string): { noTransaction: boolean } => readDirectives(text, 'up.sql');

describe('readDirectives', () => {
  it('finds no directive in a plain file, an empty file, or ordinary comments', () => {
    expect(read('CREATE INDEX i ON t (a);')).toEqual({ noTransaction: false, destroys: [] });
    expect(read('')).toEqual({ noTransaction: false, destroys: [] });
    expect(read('-- strata is nice\n-- strataX: no-transaction\nSELECT 1;')).toEqual({ noTransaction: false, destroys: [] });
    expect(isSqlParserLoaded()).toBe(false);
  });

  it('reads no-transaction on the first line', () => {
    expect(read('-- strata: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);')).toEqual({ noTransaction: true, destroys: [] });
  });

  it('reads it after blank lines and other comments, in any spacing and case, with CRLF', () => {
    const text = '\n-- Add an index without blocking writes.\n/* block\n   comment */\n\n--strata:no-transaction\r\nCREATE INDEX CONCURRENTLY i ON t (a);';
    expect(read(text)).toEqual({ noTransaction: true, destroys: [] });
    expect(read('-- header\r\n\r\n--   STRATA:   No-Transaction   \r\nVACUUM;\r\n')).toEqual({ noTransaction: true, destroys: [] });
  });

  it('reads a file that holds only directives', () => {
    expect(read('-- strata: no-transaction\n')).toEqual({ noTransaction: true, destroys: [] });
  });

  it('ignores a directive written inside a block comment', () => {
    expect(read('/* -- strata: no-transaction */\nSELECT 1;')).toEqual({ noTransaction: false, destroys: [] });
  });

  it('rejects an unknown directive with its file and line', () => {
    const error = usageErrorOf(() => readDirectives('-- header\n\n-- strata: no-transactoin\nSELECT 1;', 'migrations/004_x/up.sql'));
    expect(error.message).toBe('migrations/004_x/up.sql:3: unknown directive "-- strata: no-transactoin"');
    expect(error.hint).toContain('no-transaction');
    expect(usageErrorOf(() => read('-- strata:\nSELECT 1;')).message).toBe('up.sql:1: unknown directive "-- strata: "');
    expect(usageErrorOf(() => read('-- strata: no-transaction please\nSELECT 1;')).message).toMatch(/^up\.sql:1: unknown directive/);
  });

  it('rejects a directive after the first statement, wherever the comment sits', () => {
    expect(usageErrorOf(() => read('SELECT 1;\n-- strata: no-transaction\nSELECT 2;')).message).toBe(
      'up.sql:2: "-- strata: no-transaction" after the first statement has no effect',
    );
    expect(usageErrorOf(() => read('SELECT 1; -- strata: no-transaction')).message).toMatch(/^up\.sql:1: .*after the first statement/);
    expect(usageErrorOf(() => read('SELECT\n  1 -- strata: no-transaction\n;')).message).toMatch(/^up\.sql:2: /);
    expect(usageErrorOf(() => read('SELECT 1;\r\n\r\n-- strata: whatever\r\n')).message).toMatch(/^up\.sql:3: .*after the first statement/);
  });

  it('does not read directive-looking text inside strings, quoted identifiers or function bodies', () => {
    const text = [
      '-- strata: no-transaction',
      "SELECT '\n-- strata: bogus\n';",
      'SELECT 1 AS "\n-- strata: bogus\n";',
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$',
      'BEGIN',
      '-- strata: bogus',
      '  RETURN 1;',
      'END',
      '$body$;',
      "SELECT E'\\'\n-- strata: bogus\n';",
    ].join('\n');
    expect(read(text)).toEqual({ noTransaction: true, destroys: [] });
  });
});

describe('-- strata: destroys', () => {
  it('declares tables the parser cannot see, plain names only', () => {
    expect(readDirectives('-- strata: destroys users, app.messages\nDELETE FROM users WHERE id < 10;\n', 'x.sql'))
      .toEqual({ noTransaction: false, destroys: [{ name: 'users' }, { schema: 'app', name: 'messages' }] });
    expect(() => readDirectives('-- strata: destroys users; drop table x\nSELECT 1;\n', 'x.sql')).toThrow(/x\.sql:1: "users; drop table x" .* is not a plain table name/);
  });
});
