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
}

const KNOWN = ['no-transaction'] as const;

/** Reads the directives of a SQL file; a misplaced or unknown `-- strata:` line is a UsageError. */
export function readDirectives(text: string, file: string): Directives {
  const { comments, codeStart } = scanSql(text);
  const lines = new LineIndex(text);
  const directives: Directives = { noTransaction: false };
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
    else {
      throw new UsageError(`${where}: unknown directive "-- strata: ${directive}"`, {
        hint: `known directives: ${KNOWN.join(', ')}`,
      });
    }
  }
  return directives;
}

/** The directive of a `-- strata: x` line comment (prefix case-insensitive), else undefined. */
function directiveOf(comment: SqlComment): string | undefined {
  if (comment.kind !== 'line') return undefined;
  const body = comment.body.trim();
  if (body.slice(0, 'strata:'.length).toLowerCase() !== 'strata:') return undefined;
  return body.slice('strata:'.length).trim();
}
