/**
 * `-- strata: <directive>` comment lines at the top of up.sql / down.sql (SPEC §3).
 *
 * Only the leading comment block counts: comments and blank lines before the first statement.
 * A directive anywhere else, or one strata does not know, is an error rather than a comment that
 * silently does nothing. Needs no parser: comments are found by the lexer alone.
 */
import { UsageError } from '../errors.js';
import type { SqlComment } from './lexer.js';
import { scanSql } from './lexer.js';
import { LineIndex } from './text.js';

/** What a migration file's directives ask for. */
export interface Directives {
  /** `-- strata: no-transaction`: run the file outside a transaction, statement by statement. */
  noTransaction: boolean;
  /**
   * `-- strata: destroys t1, schema.t2`: tables the file destroys that the parser cannot see (a
   * `DELETE` whose foreign keys cascade, a `DROP` inside a `DO` block); strata backs them up before
   * the file's first statement, like the tables a module's `destroys()` returns. Plain names only.
   */
  destroys: { schema?: string; name: string }[];
}

const KNOWN = ['no-transaction', 'destroys <table>, …'] as const;

/** Reads the directives of a SQL file; a misplaced or unknown `-- strata:` line is a UsageError. */
export function readDirectives(text: string, file: string): Directives {
  // Most files have none: skip the lexer (a cold JS loop over every character of every file).
  if (!/strata\s*:/i.test(text)) return { noTransaction: false, destroys: [] };
  const { comments, codeStart } = scanSql(text);
  const lines = new LineIndex(text);
  const directives: Directives = { noTransaction: false, destroys: [] };
  for (const comment of comments) {
    const directive = directiveOf(comment);
    if (directive === undefined) continue;
    const where = `${file}:${lines.lineOf(comment.start)}`;
    if (comment.start > codeStart) {
      throw new UsageError(`${where}: "-- strata: ${directive}" after the first statement has no effect`, {
        hint: 'move strata directives to the comment block at the top of the file',
      });
    }
    if (directive.toLowerCase() === 'no-transaction') directives.noTransaction = true;
    else if (/^destroys\s/i.test(directive)) directives.destroys.push(...declaredTables(directive.slice('destroys'.length), where));
    else {
      throw new UsageError(`${where}: unknown directive "-- strata: ${directive}"`, {
        hint: `known directives: ${KNOWN.join(', ')}`,
      });
    }
  }
  return directives;
}

/** `t1, schema.t2` → table names; anything that is not a plain name is an error naming the line. */
function declaredTables(list: string, where: string): { schema?: string; name: string }[] {
  return list.split(',').map((item) => {
    const name = item.trim();
    const match = /^(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)$/.exec(name);
    if (!match) {
      throw new UsageError(`${where}: "${name}" in "-- strata: destroys" is not a plain table name`, {
        hint: 'list tables as name or schema.name, separated by commas',
      });
    }
    return match[1] ? { schema: match[1], name: match[2]! } : { name: match[2]! };
  });
}

/** The directive of a `-- strata: x` line comment (prefix case-insensitive), else undefined. */
function directiveOf(comment: SqlComment): string | undefined {
  if (comment.kind !== 'line') return undefined;
  const body = comment.body.trim();
  if (body.slice(0, 'strata:'.length).toLowerCase() !== 'strata:') return undefined;
  return body.slice('strata:'.length).trim();
}
