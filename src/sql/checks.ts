/**
 * verify.sql (SPEC §3): named checks, each a `-- check: <title>` comment line followed by exactly
 * one query that returns rows and writes nothing; the check passes when it returns no rows.
 *
 * The parser gives statement boundaries, the lexer the `-- check:` comments; a check owns the
 * statements that start after its comment and before the next one. Functions a query calls may
 * still write: run checks in a READ ONLY transaction.
 */
import { UsageError } from '../errors.js';
import { scanSql } from './lexer.js';
import type { Node, SelectStmt } from './parser.js';
import { nodeAs } from './parser.js';
import type { SqlStatement } from './statements.js';
import { splitStatements } from './statements.js';
import { LineIndex } from './text.js';

/** One named check of a verify.sql file. */
export interface CheckDefinition {
  title: string;
  /** The query, as SqlStatement.sql. */
  sql: string;
  /** 1-based line of the `-- check:` comment. */
  line: number;
  /** The query's statement, to map a server error position to a line (lineOfStatementPosition). */
  statement: SqlStatement;
}

interface Marker {
  title: string;
  offset: number;
  line: number;
}

/** Parses a verify.sql file; needs `loadSqlParser()` first. Every mistake is a UsageError with file:line. */
export function parseChecks(text: string, file: string): CheckDefinition[] {
  const statements = splitStatements(text, file);
  const markers = findMarkers(text);
  const owned = new Map<Marker, SqlStatement[]>(markers.map((marker) => [marker, []]));
  for (const stmt of statements) {
    const inside = markers.find((m) => m.offset > stmt.startOffset && m.offset < stmt.endOffset);
    if (inside !== undefined) {
      const message = `"-- check: ${inside.title}" is inside the query that starts on line ${stmt.startLine}`;
      throw new UsageError(`${file}:${inside.line}: ${message}`, { hint: "end the previous check's query with a semicolon" });
    }
    const owner = markers.filter((m) => m.offset < stmt.startOffset).pop();
    if (owner === undefined) {
      throw new UsageError(`${file}:${stmt.startLine}: SQL before the first "-- check: <title>" comment`, {
        hint: 'start each check with a comment line "-- check: <title>" followed by one SELECT',
      });
    }
    owned.get(owner)?.push(stmt);
  }
  const seen = new Map<string, number>();
  return markers.map((marker) => {
    const where = `${file}:${marker.line}`;
    if (marker.title === '') throw new UsageError(`${where}: check without a title`, { hint: 'write "-- check: <title>"' });
    const first = seen.get(marker.title);
    if (first !== undefined) {
      throw new UsageError(`${where}: duplicate check title "${marker.title}" (first on line ${first})`);
    }
    seen.set(marker.title, marker.line);
    const statement = onlyStatement(marker, owned.get(marker) ?? [], file);
    return { title: marker.title, sql: statement.sql, line: marker.line, statement };
  });
}

function findMarkers(text: string): Marker[] {
  const lines = new LineIndex(text);
  return scanSql(text).comments.flatMap((comment) => {
    if (comment.kind !== 'line') return [];
    const body = comment.body.trim();
    if (body.slice(0, 'check:'.length).toLowerCase() !== 'check:') return [];
    return [{ title: body.slice('check:'.length).trim(), offset: comment.start, line: lines.lineOf(comment.start) }];
  });
}

function onlyStatement(marker: Marker, statements: SqlStatement[], file: string): SqlStatement {
  const [statement, extra] = statements;
  if (statement === undefined) {
    throw new UsageError(`${file}:${marker.line}: check "${marker.title}" has no query`, {
      hint: 'follow "-- check: <title>" with one SELECT that returns the violating rows',
    });
  }
  if (extra !== undefined) {
    throw new UsageError(`${file}:${extra.startLine}: check "${marker.title}" has a second statement`, {
      hint: 'one SELECT per check; start another check with "-- check: <title>"',
    });
  }
  const problem = writeProblem(statement.ast);
  if (problem !== undefined) {
    const message = `check "${marker.title}" must be a query that writes nothing: ${problem}`;
    throw new UsageError(`${file}:${statement.startLine}: ${message}`, { hint: 'use SELECT, WITH ... SELECT, VALUES or TABLE' });
  }
  return statement;
}

const STATEMENT_WORDS: Record<string, string> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
};

/** Why the statement is not a read-only query, or undefined when it is one. */
function writeProblem(node: Node): string | undefined {
  const select = nodeAs(node, 'SelectStmt');
  if (select === undefined) return `found ${describe(node)}`;
  return selectProblem(select);
}

function selectProblem(select: SelectStmt): string | undefined {
  if (select.intoClause !== undefined) return 'SELECT ... INTO creates a table';
  for (const cte of select.withClause?.ctes ?? []) {
    const query = nodeAs(cte, 'CommonTableExpr')?.ctequery;
    const inner = nodeAs(query, 'SelectStmt');
    if (inner === undefined) return `WITH holds ${describe(query)}`;
    const problem = selectProblem(inner);
    if (problem !== undefined) return problem;
  }
  // UNION/INTERSECT/EXCEPT arms are SelectStmts of their own, with their own WITH clauses.
  for (const arm of [select.larg, select.rarg]) {
    const problem = arm === undefined ? undefined : selectProblem(arm);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function describe(node: Node | undefined): string {
  const kind = node === undefined ? 'nothing' : Object.keys(node)[0] ?? 'nothing';
  return STATEMENT_WORDS[kind] ?? kind;
}
