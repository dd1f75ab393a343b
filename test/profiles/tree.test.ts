/**
 * tree.ts skips markdown-it's inline parse for content without inline markup (`isPlainInline`):
 * the claim that such content always parses to one text token is held here against markdown-it
 * itself, an untouched CommonMark instance, on arbitrary strings and on the sample profiles.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import MarkdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import { isPlainInline, parseTree } from '../../src/profiles/tree.js';
import { FIXTURES } from './schema.js';

const reference = new MarkdownIt('commonmark');

/** markdown-it's own inline tokens for `content`, as type + content pairs. */
function inlineTokens(content: string): [string, string][] {
  const [block] = reference.parseInline(content, {});
  return (block?.children ?? []).map((token) => [token.type, token.content]);
}

// Every ASCII punctuation character, letters, digits, spaces, tabs, newlines and a few non-ASCII
// characters (an entity-like `&`, NBSP, an emoji): the shortcut must hold for every plain string
// and must never claim one that is not. CR and NUL are left out: parseTree normalises them first.
const CHARACTERS = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', 'a', 'B', '7', ' ', '  ', '\t', '\n', '\u00a0', 'é', '😀'];
const anyText = fc.array(fc.constantFrom(...CHARACTERS), { maxLength: 24 }).map((parts) => parts.join(''));

describe('isPlainInline: content markdown-it parses to one text token', () => {
  it('holds for every plain string: one text token with the content itself (none for "")', () => {
    fc.assert(fc.property(anyText, (text) => {
      if (!isPlainInline(text)) return;
      expect(inlineTokens(text)).toEqual(text === '' ? [] : [['text', text]]);
    }), { numRuns: 3000 });
  });

  it('says no to each character an inline rule starts at, wherever it stands', () => {
    for (const markup of ['\n', '\\', '`', '*', '_', '[', '!', '<', '&']) {
      expect(isPlainInline(`a${markup}b`)).toBe(false);
      expect(isPlainInline(markup)).toBe(false);
    }
    expect(isPlainInline('Late-night snacking (first seen 2025-10-01): 50% #tag {x} ~ ^ = > + @ $ | ]')).toBe(true);
  });
});

describe('parseTree with the shortcut', () => {
  it('every plain inline content of the sample profiles is one text token to markdown-it too', () => {
    let plain = 0;
    for (const file of fixtureFiles()) {
      for (const token of reference.parse(fs.readFileSync(file, 'utf8'), {})) {
        if (token.type !== 'inline' || !isPlainInline(token.content)) continue;
        plain++;
        expect((token.children ?? []).map((t) => [t.type, t.content])).toEqual(token.content === '' ? [] : [['text', token.content]]);
      }
    }
    expect(plain).toBeGreaterThan(10);
  });

  it('plain and marked-up content side by side fold as before: text merged, lines kept', () => {
    expect(parseTree('## Sleep habits\n\n- Bedtime drifts later\n- **Wakes:** 6:30\n\nEnergy dips mid-afternoon\nthen *recovers*.\n')).toEqual([
      { type: 'heading', line: 1, depth: 2, children: [{ type: 'text', line: 1, value: 'Sleep habits' }] },
      { type: 'list', line: 3, children: [
        { type: 'listItem', line: 3, children: [{ type: 'paragraph', line: 3, children: [{ type: 'text', line: 3, value: 'Bedtime drifts later' }] }] },
        { type: 'listItem', line: 4, children: [{ type: 'paragraph', line: 4, children: [
          { type: 'strong', line: 4, children: [{ type: 'text', line: 4, value: 'Wakes:' }] },
          { type: 'text', line: 4, value: ' 6:30' },
        ] }] },
      ] },
      { type: 'paragraph', line: 6, children: [
        { type: 'text', line: 6, value: 'Energy dips mid-afternoon\nthen ' },
        { type: 'emphasis', line: 7, children: [{ type: 'text', line: 7, value: 'recovers' }] },
        { type: 'text', line: 7, value: '.' },
      ] },
    ]);
  });

  it("a link to a reference defined later in the file still resolves (the block parse's env reaches the inline parse)", () => {
    expect(parseTree('Energy dips; see [the log][log].\n\n[log]: https://example.org\n')).toEqual([
      { type: 'paragraph', line: 1, children: [
        { type: 'text', line: 1, value: 'Energy dips; see ' },
        { type: 'link', line: 1, children: [{ type: 'text', line: 1, value: 'the log' }] },
        { type: 'text', line: 1, value: '.' },
      ] },
    ]);
    // Undefined, it is text as written.
    expect(parseTree('see [the log][nowhere].\n')).toEqual([
      { type: 'paragraph', line: 1, children: [{ type: 'text', line: 1, value: 'see [the log][nowhere].' }] },
    ]);
  });
});

/** Every markdown file of the sample profiles (shared/fixtures/profiles) and of this suite's own fixtures. */
function fixtureFiles(): string[] {
  const files: string[] = [];
  for (const root of [FIXTURES, path.join(import.meta.dirname, 'fixtures')]) {
    for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.md')) files.push(path.join(entry.parentPath, entry.name));
    }
  }
  return files;
}
