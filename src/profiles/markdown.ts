/**
 * Markdown profile → JSON object (SPEC §9). Pure and total: text in, `{ data, issues }` out; it never
 * throws, and a file with issues is invalid as a whole (the import lists each issue with its line).
 * Parsed with markdown-it (CommonMark) into an mdast-shaped tree (tree.ts); no regex looks at markdown
 * structure.
 *
 * From the SPEC:
 * - A bullet `**Key:** value` or `Key: value` becomes `"key": "value"`. The key is the snake_case
 *   of its text (`Reminder time` → `reminder_time`, `Check-in time` → `check_in_time`); the value is
 *   plain text, trimmed: emphasis, strong and code spans keep their text, links keep their text and
 *   lose their URL, images keep their alt text.
 * - Under a `##` heading (key = the heading's snake_case), key bullets form an object, plain bullets
 *   an array of strings, paragraphs one string joined by a blank line (`"\n\n"`).
 * - The `# Title` is ignored; key bullets before the first `##` are top-level keys.
 *
 * Our rules where the SPEC is silent:
 * - Key detection. Bold form: `**Key:** v` or `**Key**: v`. Plain form: the bullet starts with
 *   plain text whose first colon is followed by a space or by other markup, and the label is at most
 *   64 characters on one line. So `08:00`, URLs and `Ratio 2:1` are never keys. Only the first
 *   colon splits: `Check-in time: 19:30` → `"19:30"`. An em dash is never a separator:
 *   `**Dog:** yes — a beagle` → `"yes — a beagle"`. Keys are lowercase letters/digits of any script
 *   joined by `_`; apostrophes vanish (`Partner's name` → `partners_name`); no camelCase splitting.
 * - A list where every bullet is a key bullet is an object. A list mixing plain bullets with
 *   plain-form `Key: value` bullets is an array of the bullets' full text (`"Weekends: eats out"`
 *   stays a pattern). A list mixing bold `**Key:**` bullets with plain bullets is an error.
 * - Before the first `##`, and next to `###` subsections, only key bullets are allowed: a plain
 *   bullet or paragraph there is an error (never silently dropped).
 * - A section mixing paragraphs and bullets is an error; several lists in one section (e.g. `-`
 *   then `*`) are one list.
 * - `###` and deeper headings nest: the section becomes an object of its key bullets and its
 *   subsections (`## Health` / `### Conditions` → `{"health": {"conditions": …}}`). Skipped levels
 *   nest under the nearest shallower heading.
 * - A heading with nothing under it, and a key bullet with an empty value (`- **Allergies:**`),
 *   give `null`: the user wrote the key, and "nothing recorded" is what they said.
 * - Nested lists: a key bullet with no inline value takes its nested list as value (an array or
 *   an object by the rules above). A nested list under a key bullet that has a value, or under a
 *   plain bullet, is an error. A bullet with several paragraphs joins them with a blank line.
 * - Duplicate keys (same snake_case) in one object are an error naming the first line.
 * - Ordered lists are lists like bullets (order kept). Empty bullets are ignored.
 * - Code blocks are text blocks with their content verbatim; quotes are text blocks of their
 *   paragraphs. Soft line breaks inside a paragraph become spaces, hard breaks `\n`.
 * - HTML comments are ignored; any other HTML (block or inline) is an error.
 * - Tables: CommonMark has none (no GFM extension), so a table is a paragraph and its value is
 *   the table's text, rows joined by spaces. Nothing is lost; nothing is structured.
 * - A second `#` heading (after content or after the title) is an error: sections are `##`.
 * - Thematic breaks and link reference definitions carry no content and are ignored (a bullet
 *   holding only a definition is an empty bullet).
 * - An empty file (or a title alone) is `{}`.
 * - Lists, quotes, emphasis and links nested more than 32 deep (tree.ts `MAX_NESTING`) make the
 *   file an error: no profile needs that, and crafted nesting is what makes parsers slow. At most
 *   100 issues are listed per file, then how many more there are.
 * - Key order follows the file, except that keys that are whole numbers (`## 2024`) come first
 *   (JavaScript object order). jsonb keeps no key order anyway.
 */
import {
  IssueSink, blockText, checkHtmlBlock, inlineText, isTextBlock, lineOf, snakeCase, splitKey,
  type KeyBullet, type MarkdownIssue,
} from './inline.js';
import { NestingTooDeep, parseTree, type At, type Block, type Heading, type List, type ListItem } from './tree.js';
import type { ProfileObject, ProfileValue } from './types.js';

export type { MarkdownIssue } from './inline.js';

/** The result of mapping one file: the JSON object and every problem found (empty when valid). */
export interface ParsedMarkdown {
  data: ProfileObject;
  issues: MarkdownIssue[];
}

/** Issues listed per file at most: a crafted file can have hundreds of thousands. */
export const MAX_ISSUES = 100;

/** Maps one markdown profile file to its JSON object, collecting every problem with its line. */
export function parseProfileMarkdown(text: string): ParsedMarkdown {
  const sink = new IssueSink();
  let blocks: Block[];
  try {
    blocks = parseTree(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    if (error instanceof NestingTooDeep) sink.add(error, error.message);
    else sink.add(undefined, `could not be read as markdown: ${(error as Error).message}`);
    return { data: {}, issues: sink.issues };
  }
  const data = rootValue(buildSections(blocks, sink), sink);
  return { data, issues: capped(sink.issues.sort((a, b) => a.line - b.line)) };
}

function capped(issues: MarkdownIssue[]): MarkdownIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  const last = issues[MAX_ISSUES - 1]?.line ?? 1;
  return [...issues.slice(0, MAX_ISSUES), { line: last, message: `and ${issues.length - MAX_ISSUES} more problems after line ${last}` }];
}

interface Section {
  key: string;
  depth: number;
  heading?: Heading;
  blocks: Block[];
  children: Section[];
}

function buildSections(nodes: Block[], sink: IssueSink): Section {
  const root: Section = { key: '', depth: 1, blocks: [], children: [] };
  const stack: Section[] = [root];
  let seenContent = false;
  for (const node of nodes) {
    if (node.type === 'heading' && node.depth === 1) {
      if (seenContent) sink.add(node, 'a # heading is only the title at the top of the file: use ## for sections');
      seenContent = true;
      continue;
    }
    if (!(node.type === 'html' && isComment(node.value))) seenContent = true;
    let current = stack[stack.length - 1] ?? root;
    if (node.type !== 'heading') {
      current.blocks.push(node);
      continue;
    }
    while (stack.length > 1 && current.depth >= node.depth) {
      stack.pop();
      current = stack[stack.length - 1] ?? root;
    }
    const section: Section = { key: headingKey(node, sink), depth: node.depth, heading: node, blocks: [], children: [] };
    current.children.push(section);
    stack.push(section);
  }
  return root;
}

function isComment(html: string): boolean {
  return html.trimStart().startsWith('<!--');
}

function headingKey(heading: Heading, sink: IssueSink): string {
  const key = snakeCase(inlineText(heading.children, sink));
  if (key === '') sink.add(heading, 'this heading has no name (no letters or digits)');
  return key;
}

/** A section's blocks sorted into text blocks and list items. */
interface Content {
  texts: { node: At; text: string }[];
  items: ListItem[];
}

function collect(blocks: readonly Block[], sink: IssueSink): Content {
  const content: Content = { texts: [], items: [] };
  for (const node of blocks) {
    if (node.type === 'list') content.items.push(...listItems(node));
    else if (isTextBlock(node)) {
      const text = blockText(node, sink);
      if (text !== undefined) content.texts.push({ node, text });
    } else if (node.type === 'html') checkHtmlBlock(node, sink);
    else if (node.type !== 'thematicBreak') {
      sink.add(node, `unsupported markdown here (${node.type})`);
    }
  }
  return content;
}

function listItems(list: List): ListItem[] {
  return list.children.filter((item) => item.children.length > 0);
}

function rootValue(root: Section, sink: IssueSink): ProfileObject {
  const content = collect(root.blocks, sink);
  for (const { node } of content.texts) {
    sink.add(node, 'text before the first ## section: write it as a "Key: value" bullet or put it under a ## heading');
  }
  return objectOf(content.items, content.items.map(keyOf), root.children, sink, () => 'before the first ## section');
}

function sectionValue(section: Section, sink: IssueSink): ProfileValue {
  const content = collect(section.blocks, sink);
  // Only error messages name the section: computed when one is written.
  const name = (): string => `"${section.heading ? inlineText(section.heading.children, new IssueSink()).trim() : section.key}"`;
  if (section.children.length > 0) {
    for (const { node } of content.texts) {
      sink.add(node, `text directly under ${name()}, next to its subsections: move it under a heading of its own`);
    }
    return objectOf(content.items, content.items.map(keyOf), section.children, sink, () => `directly under ${name()}, next to its subsections`);
  }
  const [text] = content.texts;
  const [item] = content.items;
  if (text && item) {
    const later = lineOf(text.node) > lineOf(item) ? text.node : item;
    sink.add(later, `section ${name()} mixes paragraphs and a list: use one kind per section, or ### subsections`);
    return null;
  }
  if (text) return content.texts.length === 1 ? text.text : content.texts.map((t) => t.text).join('\n\n');
  if (item) return listValue(content.items, sink);
  return null;
}

/** An object from key bullets (`keys[i]` is `keyOf(items[i])`; all must be keys) and subsections, e.g. the top level. */
function objectOf(items: ListItem[], keys: (KeyBullet | undefined)[], sections: Section[], sink: IssueSink, where: () => string): ProfileObject {
  const object = new ObjectBuilder(sink);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as ListItem;
    const key = keys[i];
    if (key) object.add(key, keyValue(item, key, sink), item);
    else sink.add(item, `a plain bullet ${where()}: write it as "Key: value", or put plain bullets under a heading of their own`);
  }
  for (const section of sections) object.add(section, sectionValue(section, sink), section.heading);
  return object.value;
}

function listValue(items: ListItem[], sink: IssueSink): ProfileValue {
  if (items.length === 0) return null;
  const keys = items.map(keyOf);
  if (keys.every((key) => key !== undefined)) return objectOf(items, keys, [], sink, () => '');
  const firstBold = keys.findIndex((key) => key?.explicit);
  const firstPlain = keys.findIndex((key) => key === undefined);
  if (firstBold >= 0 && firstPlain >= 0) {
    sink.add(items[firstPlain], `this list mixes **Key:** bullets (line ${lineOf(items[firstBold])}) with plain bullets: use one kind per list`);
  }
  return items.map((item) => plainItemText(item, sink));
}

function keyOf(item: ListItem): KeyBullet | undefined {
  const first = item.children[0];
  return first?.type === 'paragraph' ? splitKey(first) : undefined;
}

/** The value of a key bullet: its inline text (+ further paragraphs), or its nested list. */
function keyValue(item: ListItem, key: KeyBullet, sink: IssueSink): ProfileValue {
  const inline = inlineText(key.value, sink).trim();
  // Nearly every key bullet is one line: nothing but its paragraph.
  if (item.children.length === 1) return inline === '' ? null : inline;
  const content = collect(item.children.slice(1), sink);
  const [nested] = content.items;
  if (nested) {
    if (inline === '' && content.texts.length === 0) return listValue(content.items, sink);
    sink.add(nested, `"${key.key}" has a value and a nested list: put the list alone under the key, or under a heading`);
  }
  const parts = [inline, ...content.texts.map((t) => t.text)].filter((part) => part !== '');
  return parts.length > 0 ? parts.join('\n\n') : null;
}

function plainItemText(item: ListItem, sink: IssueSink): string {
  const [only] = item.children;
  // Nearly every plain bullet is one paragraph.
  if (item.children.length === 1 && only?.type === 'paragraph') return blockText(only, sink) ?? '';
  const content = collect(item.children, sink);
  const [nested] = content.items;
  if (nested) {
    sink.add(nested, 'a nested list under a plain bullet: make the bullet a "Key:" bullet (the list becomes its value) or use a ### heading');
  }
  return content.texts.map((t) => t.text).join('\n\n');
}

/** Builds one JSON object, reporting duplicate keys instead of overwriting. */
class ObjectBuilder {
  readonly value: ProfileObject = {};
  private readonly lines = new Map<string, number>();

  constructor(private readonly sink: IssueSink) {}

  add(source: KeyBullet | Section, value: ProfileValue, node: At | undefined): void {
    if ('labelIssues' in source) for (const issue of source.labelIssues) this.sink.issues.push(issue);
    const { key } = source;
    if (key === '') return; // already reported where the key was read
    const first = this.lines.get(key);
    if (first !== undefined) {
      this.sink.add(node, `duplicate key "${key}" (first on line ${first})`);
      return;
    }
    this.lines.set(key, lineOf(node));
    this.value[key] = value;
  }
}
