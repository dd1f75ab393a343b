import { describe, expect, it } from 'vitest';
import { scanSql } from '../../src/sql/lexer.js';

const comments = (text: string): [string, string][] => scanSql(text).comments.map((c) => [c.kind, c.body]);

describe('scanSql', () => {
  it('finds line and nested block comments with their bodies and offsets', () => {
    const text = '-- one\r\nSELECT 1 /* a /* b */ c */ + 2 -- two';
    const scan = scanSql(text);
    expect(scan.comments.map((c) => [c.kind, c.body, text.slice(c.start, c.end)])).toEqual([
      ['line', ' one', '-- one'],
      ['block', ' a /* b */ c ', '/* a /* b */ c */'],
      ['line', ' two', '-- two'],
    ]);
    expect(text.slice(scan.codeStart, scan.codeEnd)).toBe('SELECT 1 /* a /* b */ c */ + 2');
  });

  it('sees no comments inside strings, identifiers and dollar quotes', () => {
    expect(comments("SELECT '--x', \"/*y*/\", $$--z$$, $t$ /* $$ */ $t$, E'\\'--w', U&'--v'")).toEqual([]);
  });

  it('ends a line comment at CR as well as LF', () => {
    expect(comments('-- a\rSELECT 1 -- b\r')).toEqual([['line', ' a'], ['line', ' b']]);
  });

  it('finds comments inside the whitespace that continues an E string', () => {
    expect(comments("SELECT E'a' -- between\n'b'")).toEqual([['line', ' between']]);
  });

  it('treats an operator followed by -- as the operator, then a comment', () => {
    const scan = scanSql('SELECT 1 +-- c\n2');
    expect(scan.comments.map((c) => c.body)).toEqual([' c']);
  });

  it('reports an empty code range for blank or comment-only text', () => {
    expect(scanSql(' /* x */ -- y\n')).toMatchObject({ codeStart: 14, codeEnd: 0 });
    expect(scanSql('')).toMatchObject({ comments: [], codeStart: 0, codeEnd: 0 });
  });

  it('scans only the requested range', () => {
    const text = 'SELECT 1; -- a\nSELECT 2 -- b';
    const scan = scanSql(text, 9, 20);
    expect(scan.comments.map((c) => c.body)).toEqual([' a']);
    expect(text.slice(scan.codeStart, scan.codeEnd)).toBe('SELEC');
  });
});
