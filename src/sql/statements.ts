/**
 * A SQL file as a list of statements, split by the real PostgreSQL parser (never by `;`): dollar
 * quotes, strings, comments and nested block comments are the parser's business.
 */
import { UsageError } from '../errors.js';
import { scanSql } from './lexer.js';
import type { Node, ParseResult } from './parser.js';
import { nodeKind, parseSql, SqlSyntaxError } from './parser.js';
import { byteOffsetMapper, indexAfterCodePoints, LineIndex } from './text.js';
import { isTransactionControl, nonTransactionalReason } from './transaction.js';

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
  /** The parse tree (locations in it are UTF-8 byte offsets into the whole file). */
  ast: Node;
}

/**
 * Splits a SQL file into statements; needs `loadSqlParser()` first. A syntax error is a
 * `UsageError` (exit 2): `file:line: syntax error at or near "X"`.
 */
export function splitStatements(text: string, file: string): SqlStatement[] {
  const parsed = parseFile(text, file);
  const toIndex = byteOffsetMapper(text);
  const lines = new LineIndex(text);
  const statements: SqlStatement[] = [];
  for (const raw of parsed.stmts ?? []) {
    if (raw.stmt === undefined) continue;
    const byteStart = raw.stmt_location ?? 0;
    const rangeStart = toIndex(byteStart);
    // stmt_len is 0 (omitted) for a last statement without `;`: it runs to the end of the input.
    const rangeEnd = raw.stmt_len ? toIndex(byteStart + raw.stmt_len) : text.length;
    // The range holds the comments before the statement (and before its `;`): trim them.
    const { codeStart, codeEnd } = scanSql(text, rangeStart, rangeEnd);
    statements.push({
      index: statements.length,
      sql: text.slice(codeStart, codeEnd),
      startLine: lines.lineOf(codeStart),
      endLine: lines.lineOf(Math.max(codeStart, codeEnd - 1)),
      startOffset: codeStart,
      endOffset: codeEnd,
      kind: nodeKind(raw.stmt),
      transactional: nonTransactionalReason(raw.stmt) === undefined,
      transactionControl: isTransactionControl(raw.stmt),
      ast: raw.stmt,
    });
  }
  return statements;
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
