/**
 * Markdown text → the small syntax tree the mapping reads (markdown.ts, inline.ts). The parser is
 * markdown-it 14 in its CommonMark preset: a real CommonMark parser whose flat token stream is folded
 * here into mdast-shaped nodes (same type names, adjacent text merged, a soft line break kept as "\n"
 * inside the text), so the mapping reads like the mdast it was written against.
 *
 * Why markdown-it and not micromark (mdast-util-from-markdown): per small profile file, micromark and
 * its tree cost ~0.3–0.9 ms, markdown-it ~11 µs; on 30,000 files that is the whole of SPEC §10's
 * one-second budget against a third of it. Version 14, because 15's build turns class fields into
 * `_defineProperty` calls that make its parse ~3× slower. commonmark.js was as fast but quadratic on
 * crafted input (1 MiB of `- - - …` or `[a](` ran for minutes).
 *
 * Bounds (SPEC §9 caps a file at 1 MiB; this caps the rest): markdown-it is linear on the known
 * pathological inputs (its own test suite) once nesting is bounded, and nesting deeper than
 * `MAX_NESTING` is an error for the file, found while folding — iteratively, so no input can exhaust
 * the stack here or in the mapping's recursion. The parser's own limit sits above ours, so it never
 * silently drops the tail of a file we accept.
 */
import MarkdownIt from 'markdown-it';

/** Containers (lists, quotes, emphasis, strong, links) one inside another, at most. */
export const MAX_NESTING = 32;

// markdown-it counts a list as two levels (list, item) plus the paragraph and inline levels.
const PARSER_NESTING = 2 * MAX_NESTING + 8;

/** Where a node starts (1-based line). */
export interface At {
  line: number;
}

/** Plain text: merged runs, soft line breaks kept as "\n" (as mdast keeps them). */
export interface Text extends At { type: 'text'; value: string }
/** A code span's text. */
export interface InlineCode extends At { type: 'inlineCode'; value: string }
/** A hard line break. */
export interface Break extends At { type: 'break' }
/** Raw HTML: inline, or a whole block (then without its final line ending). */
export interface Html extends At { type: 'html'; value: string }
/** An image: only its alt text is kept. */
export interface Image extends At { type: 'image'; alt: string }
/** Emphasis, strong or a link (its URL dropped): a run of inline nodes. */
export interface Span extends At { type: 'emphasis' | 'strong' | 'link'; children: Inline[] }
/** Content of a paragraph or heading. */
export type Inline = Text | InlineCode | Break | Html | Image | Span;

export interface Paragraph extends At { type: 'paragraph'; children: Inline[] }
export interface Heading extends At { type: 'heading'; depth: number; children: Inline[] }
/** A fenced or indented code block: its text verbatim, without the final line ending. */
export interface Code extends At { type: 'code'; value: string }
export interface Blockquote extends At { type: 'blockquote'; children: Block[] }
export interface ListItem extends At { type: 'listItem'; children: Block[] }
/** A bullet or ordered list (order kept; empty items have no children). */
export interface List extends At { type: 'list'; children: ListItem[] }
export interface ThematicBreak extends At { type: 'thematicBreak' }
/** A block-level node. Link reference definitions leave no node: they carry no content. */
export type Block = Paragraph | Heading | Code | Blockquote | List | Html | ThematicBreak;

/** Thrown by `parseTree` for a file nested deeper than `MAX_NESTING`, at the line of the first too-deep node. */
export class NestingTooDeep extends Error {
  constructor(readonly line: number) {
    super(`nested more than ${MAX_NESTING} levels deep (lists, quotes, emphasis and links): flatten it`);
  }
}

let parser: MarkdownIt | undefined;

function markdownIt(): MarkdownIt {
  if (parser) return parser;
  parser = new MarkdownIt('commonmark', { maxNesting: PARSER_NESTING });
  // Nothing is rendered, so no URL is unsafe: every CommonMark link is a link (by default markdown-it
  // leaves `[x](javascript:…)` as literal text, where CommonMark and mdast see a link).
  parser.validateLink = () => true;
  // Autolink texts as written (markdown-it would decode %-escapes and punycode in them).
  parser.normalizeLinkText = (url) => url;
  // URLs are dropped (a link keeps its text), so they need no normalising (%-encoding, punycode:
  // a tenth of the parse of a file with a link). Every URL is valid anyway (validateLink above).
  parser.normalizeLink = (url) => url;
  // Its `normalize` rule rewrites every line ending of every file; `normalize` below only touches
  // the rare file that needs it. `text_join` merges escapes and entities into the text around
  // them, which `inlineNodes` does anyway. `inline` runs per inline token in `parseTree` instead,
  // and only where the content can hold inline markup (`isPlainInline`).
  parser.core.ruler.disable(['normalize', 'text_join', 'inline']);
  return parser;
}

/**
 * True when markdown-it's inline parser would turn `content` into exactly one text token holding
 * `content` (or nothing, for ''), so the parse can be skipped. Each inline rule of the CommonMark
 * preset starts only at one of these characters: newline (line breaks), `\` (escapes), `` ` ``
 * (code spans), `*` and `_` (emphasis), `[` (links), `!` (images), `<` (autolinks, inline HTML),
 * `&` (entities). Any other character, punctuation included, is plain text to every rule, and a
 * run of plain text ends as one token. Headings, plain bullets and most paragraphs of a profile
 * have none of them: skipping their inline parse is ~a fifth of the parse of a typical file. The
 * test in tree.test.ts holds this against markdown-it itself.
 */
export function isPlainInline(content: string): boolean {
  return !INLINE_MARKUP.test(content);
}

const INLINE_MARKUP = /[\n\\`*_[!<&]/;

/** CommonMark's input normalisation: CR LF and CR are line endings, U+0000 becomes U+FFFD. */
function normalize(text: string): string {
  const crlf = text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  return crlf.includes('\0') ? crlf.replace(/\0/g, '\uFFFD') : crlf;
}

/** Parses `text` (LF or CRLF, no BOM) into blocks; throws `NestingTooDeep` for hostile nesting. */
export function parseTree(text: string): Block[] {
  const root: Block[] = [];
  // The nodes whose children are being collected, and how deep each sits (parallel stacks).
  const open: unknown[][] = [root];
  const depths: number[] = [0];
  let children: unknown[] = root;
  let depth = 0;
  const push = (node: Paragraph | Heading | List | ListItem | Blockquote, counts: boolean): void => {
    children.push(node);
    if (counts && ++depth > MAX_NESTING) throw new NestingTooDeep(node.line);
    children = node.children;
    open.push(children);
    depths.push(depth);
  };
  const md = markdownIt();
  // Link reference definitions land in `env` during the block parse; inline parses read them.
  const env = {};
  const tokens = md.parse(normalize(text), env);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as MarkdownIt.Token;
    if (token.nesting === -1) {
      open.pop();
      depths.pop();
      children = open[open.length - 1] as unknown[];
      depth = depths[depths.length - 1] as number;
      continue;
    }
    const line = token.map === null ? 1 : token.map[0] + 1;
    switch (token.type) {
      case 'paragraph_open': push({ type: 'paragraph', line, children: [] }, false); break;
      case 'heading_open': push({ type: 'heading', line, depth: Number(token.tag.slice(1)), children: [] }, false); break;
      case 'bullet_list_open':
      case 'ordered_list_open': push({ type: 'list', line, children: [] }, true); break;
      case 'list_item_open': push({ type: 'listItem', line, children: [] }, false); break;
      case 'blockquote_open': push({ type: 'blockquote', line, children: [] }, true); break;
      case 'inline':
        if (isPlainInline(token.content)) {
          addText(children as Inline[], token.content, line);
        } else {
          const inline: MarkdownIt.Token[] = [];
          md.inline.parse(token.content, md, env, inline);
          inlineNodes(children as Inline[], inline, line, depth);
        }
        break;
      case 'fence':
      case 'code_block': children.push({ type: 'code', line, value: withoutFinalNewline(token.content) }); break;
      case 'html_block': children.push({ type: 'html', line, value: withoutFinalNewline(token.content) }); break;
      case 'hr': children.push({ type: 'thematicBreak', line }); break;
      default: throw new Error(`unexpected markdown token "${token.type}"`);
    }
  }
  return root;
}

function withoutFinalNewline(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** Inline tokens → nodes appended to `root`; `line` is the paragraph's first line, advanced at each line break. */
function inlineNodes(root: Inline[], tokens: readonly MarkdownIt.Token[], firstLine: number, blockDepth: number): void {
  const stack: Inline[][] = [root];
  let out = root;
  let line = firstLine;
  for (const token of tokens) {
    switch (token.type) {
      case 'text':
      case 'text_special': addText(out, token.content, line); break;
      case 'softbreak': addText(out, '\n', line++); break;
      case 'hardbreak': out.push({ type: 'break', line: line++ }); break;
      case 'code_inline': out.push({ type: 'inlineCode', line, value: token.content }); break;
      case 'html_inline':
        out.push({ type: 'html', line, value: token.content });
        line += newlines(token.content);
        break;
      case 'image': out.push({ type: 'image', line, alt: altText(token.children ?? []) }); break;
      case 'em_open':
      case 'strong_open':
      case 'link_open': {
        const span: Span = { type: token.type === 'em_open' ? 'emphasis' : token.type === 'strong_open' ? 'strong' : 'link', line, children: [] };
        out.push(span);
        if (blockDepth + stack.length > MAX_NESTING) throw new NestingTooDeep(line);
        stack.push(span.children);
        out = span.children;
        break;
      }
      case 'em_close':
      case 'strong_close':
      case 'link_close':
        stack.pop();
        out = stack[stack.length - 1] ?? root;
        break;
      default: throw new Error(`unexpected inline markdown token "${token.type}"`);
    }
  }
}

/** Appends to the previous text node when there is one: mdast never has two texts side by side. */
function addText(out: Inline[], value: string, line: number): void {
  if (value === '') return;
  const last = out[out.length - 1];
  if (last?.type === 'text') last.value += value;
  else out.push({ type: 'text', line, value });
}

function newlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/** An image's alt: the plain text of its label, as mdast computes it (soft breaks "\n", hard breaks nothing). */
function altText(tokens: readonly MarkdownIt.Token[]): string {
  let out = '';
  for (const token of tokens) {
    if (token.type === 'softbreak') out += '\n';
    else if (token.type === 'image') out += altText(token.children ?? []);
    else if (token.nesting === 0 && token.type !== 'hardbreak') out += token.content;
  }
  return out;
}
