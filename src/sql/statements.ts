/**
 * A SQL file as a list of statements, split by the real PostgreSQL parser (never by `;`): dollar
 * quotes, strings, comments and nested block comments are the parser's business.
 */
import { UsageError } from '../errors.js';
import { scanSql } from './lexer.js';
import type { Node, ParseResult } from './parser.js';
import { nodeKind, parseSql, SqlSyntaxError } from './parser.js';
import { byteOffsetMapper, indexAfterCodePoints, LineIndex } from './text.js';
import { isTransactionControl, nonTransactionalReason, transactionBlockEffect } from './transaction.js';

/** One statement of a SQL file, located in the file. */
export interface SqlStatement {
  /** 0-based position within the file. */
  index: number;
  /** The statement as written: leading and trailing whitespace/comments stripped, no `;`. */
  sql: string;
  /** 1-based line in the file where `sql` starts. */
  startLine: number;
  /** 1-based line in the file where `sql` ends. */
  endLine: number;
  /** JS string (UTF-16) index in the file where `sql` starts. */
  startOffset: number;
  /** JS string index in the file just past the end of `sql`. */
  endOffset: number;
  /** Parser node name: 'CreateStmt', 'IndexStmt', 'DoStmt', ... */
  kind: string;
  /** False for statements PostgreSQL refuses inside a transaction block (see transaction.ts). */
  transactional: boolean;
  /** BEGIN/START/COMMIT/END/ROLLBACK/ABORT/SAVEPOINT/RELEASE/PREPARE TRANSACTION/... */
  transactionControl: boolean;
  /** Whether it opens or closes an explicit transaction block (transaction.ts `transactionBlockEffect`). */
  blockEffect?: 'opens' | 'closes';
  /** The parse tree (locations in it are UTF-8 byte offsets into the parsed text: the file, or a batch of files). */
  ast: Node;
}

/**
 * Splits a SQL file into statements; needs `loadSqlParser()` first. A syntax error is a
 * `UsageError` (exit 2): `file:line: syntax error at or near "X"`.
 */
export function splitStatements(text: string, file: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const lines = new LineIndex(text);
  for (const range of statementRanges(parseFile(text, file), text)) {
    statements.push(locate(range, text, lines, statements.length));
  }
  return statements;
}

/** A SQL file to split: its text and the name its errors carry. */
export interface SqlFile {
  text: string;
  file: string;
}

/**
 * Splits many files with ONE parser call, the way `splitStatements` splits each: the same
 * statements, offsets and lines. Each parser call has a fixed cost (copying into WASM memory,
 * JSON of the tree) that dominates small files: 300 one-statement migrations take ~15 ms one by
 * one and ~2 ms together.
 *
 * Files are joined with `\n;SELECT 0;\n` between them: the newline ends a trailing line comment,
 * the `;` ends a last statement without one, and the sentinel `SELECT 0` must come back as a
 * statement of its own exactly where it was put. A file that ends inside a comment, string, dollar
 * quote or `BEGIN ATOMIC` body would swallow the sentinel (it contains no character that could
 * close any of them), so a missing sentinel, or a statement reaching across one, means the files
 * are split one by one instead — which is also how the file of a syntax error gets named.
 */
export function splitStatementsOfFiles(files: readonly SqlFile[]): SqlStatement[][] {
  // In chunks of about 1 MiB of SQL: the parse tree comes back as JSON many times the size of the
  // text, and a directory of large files parsed in one call could exhaust the WASM heap.
  const result: SqlStatement[][] = [];
  let chunk: SqlFile[] = [];
  let chars = 0;
  for (const file of files) {
    if (chunk.length > 0 && chars + file.text.length > BATCH_CHARS) {
      result.push(...splitBatch(chunk));
      chunk = [];
      chars = 0;
    }
    chunk.push(file);
    chars += file.text.length;
  }
  if (chunk.length > 0) result.push(...splitBatch(chunk));
  return result;
}

/** How much SQL text one parser call of splitStatementsOfFiles takes, at most (a larger file goes alone). */
const BATCH_CHARS = 1 << 20;

function splitBatch(files: readonly SqlFile[]): SqlStatement[][] {
  const oneByOne = () => files.map((f) => splitStatements(f.text, f.file));
  if (files.length < 2 || files.some((f) => f.text.includes('\0'))) return oneByOne();
  const sentinel = 'SELECT 0';
  const starts: number[] = [];
  const sentinels: number[] = [];
  const parts: string[] = [];
  let length = 0;
  for (const f of files) {
    if (starts.length > 0) {
      sentinels.push(length + 2);
      parts.push(`\n;${sentinel};\n`);
      length += sentinel.length + 4;
    }
    starts.push(length);
    parts.push(f.text);
    length += f.text.length;
  }
  // join() gives a flat string; `+=` would build a rope hundreds deep, and every character read
  // below (the byte-offset mapping, the trimming) would walk it.
  const joined = parts.join('');
  let parsed: ParseResult;
  try {
    parsed = parseSql(joined);
  } catch (error) {
    if (error instanceof SqlSyntaxError) return oneByOne();
    throw error;
  }
  const result: SqlStatement[][] = files.map(() => []);
  const lines = files.map((f) => new LineIndex(f.text));
  let segment = 0;
  for (const range of statementRanges(parsed, joined)) {
    const next = sentinels[segment];
    if (range.codeStart === next) {
      // The separator's `;` ended the file's last statement, and the sentinel is whole.
      if (range.rangeStart !== next || range.codeEnd !== next + sentinel.length) return oneByOne();
      segment += 1;
      continue;
    }
    const start = starts[segment]!;
    const file = files[segment]!;
    // Everything of a file's statement, from just after the previous `;`, lies within the file
    // (and the newline of a separator around it).
    if (range.rangeStart < start - 1 || range.rangeEnd > start + file.text.length + 1) return oneByOne();
    const shifted = { ...range, codeStart: range.codeStart - start, codeEnd: range.codeEnd - start };
    result[segment]!.push(locate(shifted, file.text, lines[segment]!, result[segment]!.length));
  }
  return segment === files.length - 1 ? result : oneByOne();
}

interface StatementRange {
  /** The parser's range: from just after the previous `;` to just before this one's. */
  rangeStart: number;
  rangeEnd: number;
  codeStart: number;
  codeEnd: number;
  ast: Node;
}

/** Where each parsed statement's code is in `text` (JS indices), comments around it trimmed. */
function statementRanges(parsed: ParseResult, text: string): StatementRange[] {
  const toIndex = byteOffsetMapper(text);
  const ranges: StatementRange[] = [];
  for (const raw of parsed.stmts ?? []) {
    if (raw.stmt === undefined) continue;
    const byteStart = raw.stmt_location ?? 0;
    const rangeStart = toIndex(byteStart);
    // stmt_len is 0 (omitted) for a last statement without `;`: it runs to the end of the input.
    const rangeEnd = raw.stmt_len ? toIndex(byteStart + raw.stmt_len) : text.length;
    // The range holds the comments before the statement (and before its `;`): trim them.
    const { codeStart, codeEnd } = scanSql(text, rangeStart, rangeEnd);
    ranges.push({ rangeStart, rangeEnd, codeStart, codeEnd, ast: raw.stmt });
  }
  return ranges;
}

function locate(range: StatementRange, text: string, lines: LineIndex, index: number): SqlStatement {
  const { codeStart, codeEnd, ast } = range;
  return {
    index,
    sql: text.slice(codeStart, codeEnd),
    startLine: lines.lineOf(codeStart),
    endLine: lines.lineOf(Math.max(codeStart, codeEnd - 1)),
    startOffset: codeStart,
    endOffset: codeEnd,
    kind: nodeKind(ast),
    transactional: nonTransactionalReason(ast) === undefined,
    transactionControl: isTransactionControl(ast),
    ...withBlockEffect(ast),
    ast,
  };
}

function withBlockEffect(ast: Node): { blockEffect?: 'opens' | 'closes' } {
  const effect = transactionBlockEffect(ast);
  return effect === undefined ? {} : { blockEffect: effect };
}

/** 1-based line of a JS string index in `text`. */
export function lineOfOffset(text: string, offset: number): number {
  return new LineIndex(text).lineOf(offset);
}

/**
 * File line of a PostgreSQL error `position` (1-based, in characters) reported for `stmt.sql`
 * sent as is. The server counts characters of its encoding: code points for UTF8 databases.
 */
export function lineOfStatementPosition(stmt: SqlStatement, fileText: string, position: number): number {
  const within = indexAfterCodePoints(stmt.sql, 0, Math.max(0, position - 1));
  return lineOfOffset(fileText, stmt.startOffset + Math.min(within, Math.max(0, stmt.sql.length - 1)));
}

function parseFile(text: string, file: string): ParseResult {
  // The parser reads a C string: anything after a NUL would be silently ignored.
  const nul = text.indexOf('\0');
  if (nul !== -1) {
    throw new UsageError(`${file}:${lineOfOffset(text, nul)}: NUL character in SQL text`, {
      hint: 'is this a binary file, or saved as UTF-16?',
    });
  }
  try {
    return parseSql(text);
  } catch (error) {
    if (!(error instanceof SqlSyntaxError)) throw error;
    const line = lineOfOffset(text, indexAfterCodePoints(text, 0, error.position));
    throw new UsageError(`${file}:${line}: ${error.message}`, {
      cause: error,
      hint: 'strata checks every SQL file with the PostgreSQL 17 parser before running anything',
    });
  }
}
