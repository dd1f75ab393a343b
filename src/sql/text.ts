/**
 * Positions in SQL text. Three units meet here: the parser's UTF-8 byte offsets, PostgreSQL's
 * character (code point) positions in errors, and JS string (UTF-16) indices, which everything
 * strata exposes uses. Lines are 1-based; LF, CRLF and a lone CR each end a line.
 */

/** Number of UTF-8 bytes the UTF-16 unit at `index` starts (0 for the low half of a pair). */
function utf8Width(text: string, index: number): number {
  const code = text.charCodeAt(index);
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) return 4;
  if (isLowSurrogate(code) && index > 0 && isHighSurrogate(text.charCodeAt(index - 1))) return 0;
  return 3; // BMP character, or a lone surrogate (encoded as U+FFFD)
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Returns a function mapping UTF-8 byte offsets of `text` to JS string indices. Asking for offsets
 * in ascending order (as statement ranges come) costs one pass over the text in total.
 */
export function byteOffsetMapper(text: string): (byteOffset: number) => number {
  let index = 0;
  let bytes = 0;
  return (byteOffset: number): number => {
    if (byteOffset < bytes) {
      index = 0;
      bytes = 0;
    }
    while (bytes < byteOffset && index < text.length) {
      bytes += utf8Width(text, index);
      index += 1;
    }
    return index;
  };
}

/** The JS string index `count` code points after `from` (clamped to the end of the text). */
export function indexAfterCodePoints(text: string, from: number, count: number): number {
  let index = from;
  for (let n = 0; n < count && index < text.length; n += 1) {
    index += isHighSurrogate(text.charCodeAt(index)) && isLowSurrogate(text.charCodeAt(index + 1)) ? 2 : 1;
  }
  return index;
}

/** Start offsets of every line, for 1-based line lookups by binary search. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i += 1) {
      const ch = text.charCodeAt(i);
      // Don't count CR as a line of its own in CR/LF sequences.
      if (ch === 10 || (ch === 13 && text.charCodeAt(i + 1) !== 10)) this.starts.push(i + 1);
    }
  }

  /** 1-based line of the JS string index `offset`. */
  lineOf(offset: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  }
}
