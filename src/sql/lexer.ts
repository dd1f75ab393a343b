/**
 * Where the comments are in SQL text.
 *
 * The parser decides statement boundaries and structure; it does not report comments, and
 * libpg-query's WASM build exposes no scanner. This is the part of PostgreSQL's lexer (scan.l)
 * needed to tell comments from code: whitespace, `--` and nested `/* *\/` comments, and the
 * tokens a comment marker can hide in (strings, E'' strings with backslash escapes and their
 * continuations, quoted identifiers, dollar quotes, identifiers containing `$`). Everything else
 * is "code" one character at a time. It assumes standard_conforming_strings = on, as the parser
 * and every strata session do, and it only ever runs on text the parser accepted.
 */

/** A comment in SQL text; offsets are JS string indices. */
export interface SqlComment {
  start: number;
  /** Index just past the comment (a line comment ends before its newline). */
  end: number;
  kind: 'line' | 'block';
  /** The text after `--`, or between `/*` and `*\/`. */
  body: string;
}

/** The comments of a range, and where its code starts and ends. */
export interface SqlScan {
  comments: SqlComment[];
  /** Index of the first character that is neither whitespace nor comment (`end` if none). */
  codeStart: number;
  /** Index just past the last such character (`start` if none). */
  codeEnd: number;
}

const SPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v']);

/** Whether `--` or `/*` occurs in text[start, end) (inside a string or not). */
function hasCommentMarker(text: string, start: number, end: number): boolean {
  // A slice (not indexOf from `start`) bounds the search by the range, not by the whole text.
  const range = start === 0 && end === text.length ? text : text.slice(start, end);
  return range.includes('--') || range.includes('/*');
}

/**
 * The scan of a range without any comment marker: no comments, and the code is the range minus
 * the whitespace around it (whitespace inside tokens is interior). The common case of a statement
 * range, found without walking every character in JavaScript.
 */
function trimmedCode(text: string, start: number, end: number): SqlScan {
  let codeStart = start;
  while (codeStart < end && SPACE.has(text[codeStart]!)) codeStart += 1;
  if (codeStart === end) return { comments: [], codeStart: end, codeEnd: start };
  let codeEnd = end;
  while (codeEnd > codeStart && SPACE.has(text[codeEnd - 1]!)) codeEnd -= 1;
  return { comments: [], codeStart, codeEnd };
}
const HORIZONTAL_SPACE = new Set([' ', '\t', '\f', '\v']);

/** Scans `text[start, end)`, which must begin at a token boundary (file start, or after `;`). */
export function scanSql(text: string, start = 0, end = text.length): SqlScan {
  if (!hasCommentMarker(text, start, end)) return trimmedCode(text, start, end);
  const comments: SqlComment[] = [];
  let codeStart = end;
  let codeEnd = start;
  let i = start;
  while (i < end) {
    const ch = text[i] ?? '';
    if (SPACE.has(ch)) {
      i += 1;
      continue;
    }
    const comment = readComment(text, i, end);
    if (comment !== undefined) {
      comments.push(comment);
      i = comment.end;
      continue;
    }
    const tokenEnd = skipToken(text, i, end, comments);
    if (codeStart === end) codeStart = i;
    codeEnd = tokenEnd;
    i = tokenEnd;
  }
  return { comments, codeStart, codeEnd };
}

function readComment(text: string, i: number, end: number): SqlComment | undefined {
  if (text.startsWith('--', i)) {
    let j = i + 2;
    while (j < end && text[j] !== '\n' && text[j] !== '\r') j += 1;
    return { start: i, end: j, kind: 'line', body: text.slice(i + 2, j) };
  }
  if (text.startsWith('/*', i)) {
    // PostgreSQL block comments nest.
    let depth = 1;
    let j = i + 2;
    while (j < end && depth > 0) {
      if (text.startsWith('/*', j)) {
        depth += 1;
        j += 2;
      } else if (text.startsWith('*/', j)) {
        depth -= 1;
        j += 2;
      } else {
        j += 1;
      }
    }
    const bodyEnd = depth === 0 ? j - 2 : j;
    return { start: i, end: j, kind: 'block', body: text.slice(i + 2, bodyEnd) };
  }
  return undefined;
}

/** Index just past the code token at `i`; comments inside E'' continuations go to `comments`. */
function skipToken(text: string, i: number, end: number, comments: SqlComment[]): number {
  const ch = text[i] ?? '';
  if (ch === "'") return skipQuoted(text, i, end, "'", false);
  if (ch === '"') return skipQuoted(text, i, end, '"', false);
  if (ch === '$') return skipDollar(text, i, end);
  if (isIdentStart(ch) || isDigit(ch)) {
    const wordEnd = skipWord(text, i, end);
    // E'...' is only an escape string when the E is a token of its own: `somee'x'` is not.
    if (wordEnd === i + 1 && (ch === 'e' || ch === 'E') && text[wordEnd] === "'") {
      return skipEscapeString(text, wordEnd, end, comments);
    }
    return wordEnd;
  }
  return i + 1;
}

/** Skips a '...' string or "..." identifier starting at `i`; a doubled quote stays inside. */
function skipQuoted(text: string, i: number, end: number, quote: string, backslashEscapes: boolean): number {
  let j = i + 1;
  while (j < end) {
    const ch = text[j];
    if (backslashEscapes && ch === '\\') {
      j += 2;
    } else if (ch === quote) {
      if (text[j + 1] !== quote) return j + 1;
      j += 2;
    } else {
      j += 1;
    }
  }
  return end;
}

/**
 * Skips E'...' and its continuations: in scan.l a quote, whitespace holding a newline (and maybe
 * `--` comments), and a quote continue the same escape string, so `\'` keeps escaping there.
 */
function skipEscapeString(text: string, quoteAt: number, end: number, comments: SqlComment[]): number {
  let j = skipQuoted(text, quoteAt, end, "'", true);
  for (;;) {
    const continuation = continuationQuote(text, j, end);
    if (continuation === undefined) return j;
    comments.push(...continuation.comments);
    j = skipQuoted(text, continuation.quoteAt, end, "'", true);
  }
}

function continuationQuote(
  text: string,
  from: number,
  end: number,
): { quoteAt: number; comments: SqlComment[] } | undefined {
  const comments: SqlComment[] = [];
  let sawNewline = false;
  let j = from;
  while (j < end) {
    const ch = text[j] ?? '';
    if (ch === '\n' || ch === '\r') {
      sawNewline = true;
      j += 1;
    } else if (HORIZONTAL_SPACE.has(ch)) {
      j += 1;
    } else if (text.startsWith('--', j)) {
      const comment = readComment(text, j, end);
      if (comment === undefined) return undefined;
      comments.push(comment);
      j = comment.end;
    } else {
      break;
    }
  }
  return sawNewline && text[j] === "'" ? { quoteAt: j, comments } : undefined;
}

/** Skips `$n`, a `$tag$...$tag$` dollar quote, or a lone `$`. */
function skipDollar(text: string, i: number, end: number): number {
  if (isDigit(text[i + 1] ?? '')) return skipWord(text, i + 1, end);
  let j = i + 1;
  if (isIdentStart(text[j] ?? '')) {
    j += 1;
    // Tags continue like identifiers but without `$`.
    while (j < end && (isIdentStart(text[j] ?? '') || isDigit(text[j] ?? ''))) j += 1;
  }
  if (text[j] !== '$') return i + 1;
  const delimiter = text.slice(i, j + 1);
  const close = text.indexOf(delimiter, j + 1);
  return close === -1 || close + delimiter.length > end ? end : close + delimiter.length;
}

function skipWord(text: string, i: number, end: number): number {
  let j = i;
  while (j < end) {
    const ch = text[j] ?? '';
    if (!(isIdentStart(ch) || isDigit(ch) || ch === '$')) break;
    j += 1;
  }
  return j;
}

function isIdentStart(ch: string): boolean {
  // scan.l: [A-Za-z\200-\377_], i.e. any non-ASCII character too.
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch === '_' || ch.charCodeAt(0) >= 0x80;
}

function isDigit(ch: string): boolean {
  return ch >= '0' && ch <= '9';
}

/** A code token: a word (keyword or identifier), a quoted string or identifier, or one other character. */
export interface SqlToken {
  start: number;
  end: number;
  kind: 'word' | 'quoted' | 'other';
}

/** The code tokens of `text` (comments and whitespace skipped), in order. */
export function codeTokens(text: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  const ignored: SqlComment[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (SPACE.has(ch)) {
      i += 1;
      continue;
    }
    const comment = readComment(text, i, text.length);
    if (comment !== undefined) {
      i = comment.end;
      continue;
    }
    const end = skipToken(text, i, text.length, ignored);
    const escapeString = (ch === 'e' || ch === 'E') && text[i + 1] === "'";
    const kind: SqlToken['kind'] = ch === "'" || ch === '"' || ch === '$' || escapeString ? 'quoted'
      : isIdentStart(ch) || isDigit(ch) ? 'word' : 'other';
    tokens.push({ start: i, end, kind });
    i = end;
  }
  return tokens;
}
