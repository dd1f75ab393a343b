/**
 * The text-level half of the markdown mapping (see markdown.ts for the rules): plain text of parsed
 * inline and block nodes, `Key: value` detection, snake_case keys, and the issue list with lines.
 * Works on the parsed tree only (tree.ts); no regex ever looks at markdown syntax.
 */
import type { At, Block, Blockquote, Code, Html, Inline, Paragraph } from './tree.js';

/** A problem in one markdown file, at a 1-based line. */
export interface MarkdownIssue {
  line: number;
  message: string;
}

/** Collects the issues of one file, so that every problem is reported, not only the first. */
export class IssueSink {
  readonly issues: MarkdownIssue[] = [];

  /** Records `message` at the line where `node` starts. */
  add(node: At | undefined, message: string): void {
    this.issues.push({ line: lineOf(node), message });
  }
}

/** The 1-based line a node starts on (1 for the file as a whole). */
export function lineOf(node: At | undefined): number {
  return node?.line ?? 1;
}

/**
 * snake_case of a key or heading: `Reminder time` → `reminder_time`, `Check-in time` →
 * `check_in_time`, `Partner's name` → `partners_name`. Letters of any script are kept, lowercased;
 * every run of other characters becomes one `_`. Leading/trailing `_` are dropped, which also
 * means a key can never be `__proto__`.
 */
export function snakeCase(text: string): string {
  // The same few labels (Name, Timezone, Goals…) come back in every file: remember the short ones.
  let key = text.length <= MAX_CACHED_LABEL ? snakeCache.get(text) : undefined;
  if (key === undefined) {
    key = toSnakeCase(text);
    if (text.length <= MAX_CACHED_LABEL) {
      if (snakeCache.size >= MAX_CACHED_LABELS) snakeCache.clear();
      snakeCache.set(text, key);
    }
  }
  return key;
}

const MAX_CACHED_LABEL = 64;
const MAX_CACHED_LABELS = 4096;
const snakeCache = new Map<string, string>();

function toSnakeCase(text: string): string {
  // Printable ASCII (nearly every key) needs no NFKC and no Unicode classes, which cost ~5× more.
  const ascii = PRINTABLE_ASCII.test(text);
  return (ascii ? text : text.normalize('NFKC'))
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(ascii ? /[^a-z0-9]+/g : /[^\p{L}\p{N}]+/gu, '_')
    .replace(/^_+|_+$/g, '');
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

// A soft line break inside a paragraph renders as a space; keep values on one line like the reader sees them.
const SOFT_BREAK = /[ \t]*\n[ \t]*/g;

/** Plain text of inline nodes: markup dropped, code spans and link texts kept, URLs not. */
export function inlineText(nodes: readonly Inline[], sink: IssueSink): string {
  let out = '';
  for (const node of nodes) out += phrasingText(node, sink);
  return out;
}

function phrasingText(node: Inline, sink: IssueSink): string {
  switch (node.type) {
    case 'text':
      return node.value.includes('\n') ? node.value.replace(SOFT_BREAK, ' ') : node.value;
    case 'inlineCode':
      return node.value;
    case 'break':
      return '\n';
    case 'html':
      return htmlText(node, sink);
    case 'image':
      return node.alt;
    default:
      return inlineText(node.children, sink);
  }
}

/** HTML comments are notes to self and vanish; any other HTML is an error rather than guessed at. */
function htmlText(node: Html, sink: IssueSink): string {
  if (!isHtmlComment(node)) {
    const snippet = node.value.length > 40 ? `${node.value.slice(0, 40)}…` : node.value;
    sink.add(node, `HTML is not supported (${JSON.stringify(snippet)}): write plain markdown`);
  }
  return '';
}

function isHtmlComment(node: Html): boolean {
  return node.value.trimStart().startsWith('<!--');
}

/** A block that holds text: a paragraph, a code block or a quote. */
export type TextBlock = Paragraph | Code | Blockquote;

/** True for blocks whose content is text (see `blockText`). */
export function isTextBlock(node: Block): node is TextBlock {
  return node.type === 'paragraph' || node.type === 'code' || node.type === 'blockquote';
}

/** Reports a block-level HTML node unless it is a comment. */
export function checkHtmlBlock(node: Html, sink: IssueSink): void {
  htmlText(node, sink);
}

/**
 * Text of a text block, or undefined when it holds none. Code blocks keep their text verbatim
 * (line breaks included); quotes are the text of their paragraphs joined by a blank line.
 */
export function blockText(node: TextBlock, sink: IssueSink): string | undefined {
  if (node.type === 'paragraph') return inlineText(node.children, sink).trim() || undefined;
  if (node.type === 'code') return node.value || undefined;
  const parts: string[] = [];
  for (const child of node.children) {
    if (isTextBlock(child)) {
      const text = blockText(child, sink);
      if (text !== undefined) parts.push(text);
    } else if (child.type === 'html') {
      checkHtmlBlock(child, sink);
    } else {
      sink.add(child, `a ${child.type} inside a quote is not supported: quote plain text only`);
    }
  }
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

/** A bullet recognised as `**Key:** value` or `Key: value`. */
export interface KeyBullet {
  /** snake_case key ('' when the label had no letters or digits: already reported). */
  key: string;
  /** The inline nodes after the separator: the value. */
  value: Inline[];
  /** True for the bold form, which is a key whatever the rest of the list looks like. */
  explicit: boolean;
  /** Problems inside the label, reported only if the bullet is used as a key. */
  labelIssues: readonly MarkdownIssue[];
}

// A plain label longer than this is a sentence with a colon in it, not a key.
const MAX_PLAIN_LABEL = 64;

/**
 * Splits a bullet's first paragraph into key and value: `**Key:** v`, `**Key**: v` (bold form), or
 * a leading plain text `Key: v` whose first colon is followed by a space or ends the text node
 * (so `08:00` or a URL never splits). Returns undefined for a plain bullet.
 */
export function splitKey(paragraph: Paragraph): KeyBullet | undefined {
  const children = paragraph.children;
  const first = children[0];
  if (first?.type === 'strong') return splitBoldKey(first.children, children.slice(1));
  if (first?.type !== 'text') return undefined;
  const colon = first.value.indexOf(':');
  const after = first.value.charAt(colon + 1);
  if (colon <= 0 || (after !== '' && after.trim() !== '')) return undefined;
  const label = first.value.slice(0, colon);
  if (label.includes('\n') || label.trim().length > MAX_PLAIN_LABEL) return undefined;
  const key = snakeCase(label);
  if (key === '') return undefined;
  const value: Inline[] = [{ type: 'text', line: first.line, value: first.value.slice(colon + 1) }];
  for (let i = 1; i < children.length; i++) value.push(children[i] as Inline);
  return { key, value, explicit: false, labelIssues: NO_ISSUES };
}

// The label issues of every plain key bullet: there are none (never written to).
const NO_ISSUES: MarkdownIssue[] = [];

function splitBoldKey(label: Inline[], rest: Inline[]): KeyBullet | undefined {
  const labelSink = new IssueSink();
  const text = inlineText(label, labelSink).trim();
  const bullet = (name: string, value: Inline[]): KeyBullet => {
    const key = snakeCase(name);
    if (key === '') labelSink.add(label[0], `the key ${JSON.stringify(text)} has no letters or digits`);
    return { key, value, explicit: true, labelIssues: labelSink.issues };
  };
  if (text.endsWith(':')) return bullet(text.slice(0, -1), rest);
  const [next, ...tail] = rest;
  if (next?.type === 'text' && next.value.startsWith(':')) {
    return bullet(text, [{ ...next, value: next.value.slice(1) }, ...tail]);
  }
  return undefined;
}
