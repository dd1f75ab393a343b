import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { snakeCase } from '../../src/profiles/inline.js';
import { MAX_ISSUES, parseProfileMarkdown } from '../../src/profiles/markdown.js';
import { MAX_NESTING } from '../../src/profiles/tree.js';
import { FIXTURES } from './schema.js';

// Verbatim from the fixture README: the exact JSON, key order included.
const TG_PROFILE = '{"name":"Maya Cohen","age":"34","timezone":"America/New_York","height":"168 cm","allergies":"peanuts, shellfish",'
  + '"goals":["Lose 5 kg by March","Sleep 7+ hours on weeknights","Walk 8,000 steps a day"],'
  + '"health":{"conditions":"mild asthma","medication":"none"},'
  + '"notes":"Prefers short messages in the morning.\\n\\nWorks night shifts twice a month, so \\"morning\\" moves."}';
const TG_PATTERNS = '{"eating":["Skips breakfast on weekdays","Late-night snacking after night shifts (first seen 2025-10-01)"],"sleep":["Bedtime drifts later on weekends"]}';

function fixture(user: string, file: string): string {
  return fs.readFileSync(path.join(FIXTURES, user, file), 'utf8');
}

/** Parses and expects no issues. */
function data(markdown: string): unknown {
  const parsed = parseProfileMarkdown(markdown);
  expect(parsed.issues).toEqual([]);
  return parsed.data;
}

/** Parses and returns the issues as `line: message`. */
function issues(markdown: string): string[] {
  return parseProfileMarkdown(markdown).issues.map((i) => `${i.line}: ${i.message}`);
}

describe('fixtures (SPEC §9 sample data)', () => {
  it('maps tg_100231 exactly as the fixture README says, key order included', () => {
    expect(JSON.stringify(data(fixture('tg_100231', 'profile.md')))).toBe(TG_PROFILE);
    expect(JSON.stringify(data(fixture('tg_100231', 'patterns.md')))).toBe(TG_PATTERNS);
    expect(data(fixture('tg_100231', 'preferences.md'))).toEqual({
      coaching_style: 'direct, a bit of humour', reminder_time: '08:00', units: 'metric', language: 'en',
    });
  });

  it('maps the UUID user\'s patterns.md: lists and a paragraph', () => {
    expect(data(fixture('6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b', 'patterns.md'))).toEqual({
      mood: ['Energy dips mid-afternoon', 'Feels better after a lunchtime walk'],
      notes: 'Tends to under-report water intake.',
    });
  });

  it('maps plain `Key: value` bullets, a link (text only) and an em dash', () => {
    const user = 'fb_Zq8uL2mXk9aP3rT0yW1vB7nC4dE';
    expect(JSON.stringify(data(fixture(user, 'profile.md')))).toBe(
      '{"name":"Daniel Okafor","timezone":"Europe/London","dog":"yes — a beagle called Biscuit","goals":["Run a 10k before summer"]}',
    );
    expect(data(fixture(user, 'preferences.md'))).toEqual({ coaching_style: 'cheerleader', check_in_time: '19:30' });
  });
});

describe('keys and values', () => {
  it('snake_cases keys', () => {
    expect(snakeCase('Reminder time')).toBe('reminder_time');
    expect(snakeCase('Check-in time')).toBe('check_in_time');
    expect(snakeCase("Partner's name")).toBe('partners_name');
    expect(snakeCase('  BMI (kg/m²) ')).toBe('bmi_kg_m2');
    expect(snakeCase('Größe')).toBe('größe');
    expect(snakeCase('__proto__')).toBe('proto');
  });

  it('accepts **Key:** value, **Key**: value and Key: value; only the first colon splits', () => {
    expect(data('- **Check-in time:** 19:30\n- **Wake**: 07:00\n- Ratio: 2:1\n')).toEqual({
      check_in_time: '19:30', wake: '07:00', ratio: '2:1',
    });
  });

  it('removes inline markup: emphasis, strong, code spans, links (text, not URL), images (alt)', () => {
    expect(data('- **Note:** *very* __strong__ `code: x` [site](https://example.org) ![alt text](a.png)\n')).toEqual({
      note: 'very strong code: x site alt text',
    });
  });

  it('keeps em dashes and colons inside values', () => {
    expect(data('- **Dog:** yes — a beagle: Biscuit\n')).toEqual({ dog: 'yes — a beagle: Biscuit' });
  });

  it('gives null for a key bullet with an empty value', () => {
    expect(data('- **Allergies:**\n- Medication:\n')).toEqual({ allergies: null, medication: null });
  });

  it('does not split on a colon that is not followed by a space (times, URLs)', () => {
    expect(data('## Reminders\n\n- 08:00 weigh-in\n- https://example.org/plan\n')).toEqual({
      reminders: ['08:00 weigh-in', 'https://example.org/plan'],
    });
  });

  it('reports duplicate keys with both lines, including keys that only collide after snake_case', () => {
    expect(issues('- **Name:** A\n- Check-in time: 1\n- check in time: 2\n\n## Name\n\ntext\n')).toEqual([
      '3: duplicate key "check_in_time" (first on line 2)',
      '5: duplicate key "name" (first on line 1)',
    ]);
  });
});

describe('sections', () => {
  it('maps a heading without content to null', () => {
    expect(data('# Profile\n\n## Goals\n\n## Health\n\n- **Conditions:** none\n')).toEqual({ goals: null, health: { conditions: 'none' } });
  });

  it('treats ordered lists like bullets and merges consecutive lists of one section', () => {
    expect(data('## Steps\n\n1. Walk\n2. Stretch\n\n* Sleep\n')).toEqual({ steps: ['Walk', 'Stretch', 'Sleep'] });
  });

  it('nests ### sections as objects', () => {
    expect(data('## Health\n\n- **Status:** ok\n\n### Conditions\n\n- asthma\n\n### Notes\n\nMild.\n')).toEqual({
      health: { status: 'ok', conditions: ['asthma'], notes: 'Mild.' },
    });
  });

  it('makes a plain list with some `Key: value` bullets an array of their full text', () => {
    expect(data('## Eating\n\n- Weekends: eats out\n- Skips breakfast\n')).toEqual({ eating: ['Weekends: eats out', 'Skips breakfast'] });
  });

  it('keeps code blocks verbatim and joins soft-wrapped lines with a space', () => {
    expect(data('## Notes\n\nPrefers short\nmessages.\n\n```\nline 1\n  line 2\n```\n')).toEqual({
      notes: 'Prefers short messages.\n\nline 1\n  line 2',
    });
  });

  it('ignores HTML comments, thematic breaks and link definitions', () => {
    expect(data('<!-- template v2 -->\n# Profile\n\n- **Name:** A <!-- full name -->\n\n---\n\n[x]: https://example.org\n')).toEqual({ name: 'A' });
  });

  it('uses a key bullet\'s nested list as its value', () => {
    expect(data('- **Goals:**\n  - Run\n  - Swim\n- **Health:**\n  - Conditions: none\n')).toEqual({
      goals: ['Run', 'Swim'], health: { conditions: 'none' },
    });
  });

  it('keeps a table as its text (CommonMark has no tables)', () => {
    expect(data('## Weights\n\n| week | kg |\n| --- | --- |\n| 1 | 70 |\n')).toEqual({ weights: '| week | kg | | --- | --- | | 1 | 70 |' });
  });
});

describe('input that is reported, never dropped or thrown', () => {
  it('rejects a section mixing paragraphs and bullets, at the line where the second kind starts', () => {
    expect(issues('## Goals\n\nMy goals:\n\n- Run\n')).toEqual(['5: section "Goals" mixes paragraphs and a list: use one kind per section, or ### subsections']);
  });

  it('rejects text and plain bullets before the first ## section', () => {
    expect(issues('# Profile\n\nMaya is great.\n\n- **Name:** Maya\n- likes dogs\n')).toEqual([
      '3: text before the first ## section: write it as a "Key: value" bullet or put it under a ## heading',
      '6: a plain bullet before the first ## section: write it as "Key: value", or put plain bullets under a heading of their own',
    ]);
  });

  it('rejects a nested list under a plain bullet, or under a key that has a value', () => {
    expect(issues('## Eating\n\n- Skips breakfast\n  - except Fridays\n')).toEqual([
      '4: a nested list under a plain bullet: make the bullet a "Key:" bullet (the list becomes its value) or use a ### heading',
    ]);
    expect(issues('- **Dog:** yes\n  - beagle\n')).toEqual(['2: "dog" has a value and a nested list: put the list alone under the key, or under a heading']);
  });

  it('rejects mixing **Key:** bullets with plain bullets', () => {
    expect(issues('## Health\n\n- **Conditions:** asthma\n- takes vitamin D\n')).toEqual([
      '4: this list mixes **Key:** bullets (line 3) with plain bullets: use one kind per list',
    ]);
  });

  it('rejects HTML other than comments', () => {
    expect(issues('## Notes\n\n<div>hi</div>\n')).toEqual(['3: HTML is not supported ("<div>hi</div>"): write plain markdown']);
    expect(issues('- **Name:** <b>Maya</b>\n')).toHaveLength(2);
  });

  it('rejects a second # heading and a key or heading without letters', () => {
    expect(issues('# Profile\n\n# Goals\n\n## ---\n\n- **:** x\n')).toEqual([
      '3: a # heading is only the title at the top of the file: use ## for sections',
      '5: this heading has no name (no letters or digits)',
      '7: the key ":" has no letters or digits',
    ]);
  });

  it('accepts CRLF line endings and a BOM', () => {
    const lf = fixture('tg_100231', 'profile.md');
    expect(JSON.stringify(data(`\ufeff${lf.replace(/\n/g, '\r\n')}`))).toBe(TG_PROFILE);
  });

  it('maps an empty file and a title alone to {}', () => {
    expect(data('')).toEqual({});
    expect(data('# Profile\n')).toEqual({});
  });

  it('never throws, whatever the text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
      const parsed = parseProfileMarkdown(text);
      expect(typeof parsed.data).toBe('object');
    }), { numRuns: 300 });
    const markdownish = fc.array(fc.constantFrom('# ', '## ', '### ', '- ', '  - ', '1. ', '> ', '**', 'Key: ', 'x', '\n', '\n\n', '`', '<b>', '<!-- -->', '```\n'), { maxLength: 60 });
    fc.assert(fc.property(markdownish, (parts) => {
      expect(() => parseProfileMarkdown(parts.join(''))).not.toThrow();
    }), { numRuns: 500 });
  });
});

/** `depth` lists, each inside the last: `Key:` bullets (no markup, which would nest too) down to a plain list. */
function nestedLists(depth: number): string {
  const keys = Array.from({ length: depth - 1 }, (_, i) => `${'  '.repeat(i)}- L${i}:`);
  return `${[...keys, `${'  '.repeat(depth - 1)}- leaf`].join('\n')}\n`;
}

describe('crafted input is bounded (a file is at most 1 MiB; nesting and the issue list are capped)', () => {
  const MIB = 1024 * 1024;
  const fill = (unit: string, tail = '') => unit.repeat(Math.floor((MIB - tail.length) / unit.length)) + tail;
  const tooDeep = `nested more than ${MAX_NESTING} levels deep (lists, quotes, emphasis and links): flatten it`;

  it('maps lists nested 32 deep, and rejects a 33rd level at its line', () => {
    let expected: unknown = ['leaf'];
    for (let i = MAX_NESTING - 2; i >= 0; i--) expected = { [`l${i}`]: expected };
    expect(data(nestedLists(MAX_NESTING))).toEqual(expected);
    expect(issues(nestedLists(MAX_NESTING + 1))).toEqual([`${MAX_NESTING + 1}: ${tooDeep}`]);
    expect(issues(`- **Note:** ${'*a '.repeat(MAX_NESTING + 1)}x${' a*'.repeat(MAX_NESTING + 1)}\n`)).toEqual([`1: ${tooDeep}`]);
  });

  it('turns a 1 MiB nested-quote bomb into an error for the file, in well under the test timeout', () => {
    const parsed = parseProfileMarkdown(fill('>', 'a'));
    expect(parsed).toEqual({ data: {}, issues: [{ line: 1, message: tooDeep }] });
  }, 30_000);

  it.each([
    ['quotes on separate lines', () => Array.from({ length: 40_000 }, (_, i) => `${'>'.repeat(i % 200)} a`).join('\n')],
    ['list markers on one line', () => fill('- ', 'a')],
    ['ordered lists inside quotes', () => fill('> 1. ', 'a')],
    ['emphasis runs', () => fill('*a **a ')],
    ['open links', () => fill('[a](')],
    ['brackets', () => fill('[')],
    ['image labels', () => fill('![')],
    ['backticks', () => fill('`a``')],
  ])(`finishes on 1 MiB of %s, listing at most ${MAX_ISSUES + 1} issues`, (_name, make) => {
    const parsed = parseProfileMarkdown(make());
    expect(parsed.issues.length).toBeGreaterThan(0);
    expect(parsed.issues.length).toBeLessThanOrEqual(MAX_ISSUES + 1);
  }, 30_000);

  it(`lists at most ${MAX_ISSUES} issues of a file, then how many more`, () => {
    const listed = issues('- **A:** 1\n'.repeat(MAX_ISSUES + 51));
    expect(listed).toHaveLength(MAX_ISSUES + 1);
    expect(listed[0]).toBe('2: duplicate key "a" (first on line 1)');
    expect(listed[MAX_ISSUES]).toBe(`${MAX_ISSUES + 1}: and 50 more problems after line ${MAX_ISSUES + 1}`);
  });
});

