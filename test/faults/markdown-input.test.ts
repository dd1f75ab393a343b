/**
 * Hostile input: markdown profiles (issue 9, SPEC §9). Random markdown — nested lists, headings
 * without content, HTML, code fences, tables, unusual unicode (RTL overrides, zero-width, combining
 * marks, emoji, lone surrogates), CRLF and lone CR, a BOM, invalid UTF-8, folders with no file, a
 * directory where a file belongs — never crashes `migrate import-profiles`: it exits 0 or 1 with one
 * JSON document; on exit 1 every error names a path and nothing was written; on exit 0 `--verify`
 * finds the database equal to the files.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';
import { CRASH } from './support/faults.js';
import { runs } from './support/property.js';

const USERS = ['tg_100231', 'fb_Zq8uL2mXk9aP3rT0yW1vB7nC4dE'];

let db: TestDatabase;
let work: string;
beforeAll(async () => {
  db = await createDatabase('strata_markdown');
  work = tempDir('strata-markdown-');
  const applied = await runCli(['--bundled', 'up', 'user_profiles', '--yes'], { cwd: work, env: { DATABASE_URL: db.url } });
  if (applied.code !== 0) throw new Error(applied.stderr);
  await db.sql`INSERT INTO users (user_id, external_id) SELECT gen_random_uuid(), x FROM unnest(${USERS}::text[]) x`;
});
afterAll(async () => {
  if (db) await dropDatabase(db);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const odd = ['\u202eevil', 'zero\u200bwidth', 'e\u0301', '😀', 'ß', 'ﬁ', '\ud800', '\u0000', '\u00a0', '"q"', '\\*', '&amp;', '<b>x</b>', '<!-- c -->', '<script>x()</script>', '[l](http://x)', '**b**', '*e*', '`c`', '~~s~~', ':', '**', '#'];
const word = fc.oneof(fc.constantFrom(...odd), fc.string({ maxLength: 8 }), fc.constantFrom('Name', 'Age', 'Timezone', 'Reminder time', 'Goals', 'notes'));
const text = fc.array(word, { minLength: 0, maxLength: 5 }).map((w) => w.join(' '));
const tz = fc.constantFrom('UTC', 'Europe/London', 'America/New_York', 'Mars/Olympus', '', 'utc', 'Europe/London ');

const line = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 7 }), text).map(([n, t]) => `${'#'.repeat(n)} ${t}`.trimEnd()),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom('-', '*', '+', '1.', '2)'), text).map(([depth, m, t]) => `${'  '.repeat(depth)}${m} ${t}`),
  fc.tuple(fc.integer({ min: 0, max: 3 }), text, text, fc.boolean()).map(([depth, k, v, bold]) => `${'  '.repeat(depth)}- ${bold ? `**${k}:**` : `${k}:`} ${v}`),
  tz.map((zone) => `- **Timezone:** ${zone}`),
  text,
  fc.constantFrom('', '---', '> quoted', '```', '```js\ncode\n```', '<div>\n<p>html</p>\n</div>', '| a | b |\n|---|---|\n| 1 | 2 |', '   ', '\t- tabbed', '-', '- ', '1.'),
);

/** A file: lines joined by LF, CRLF or CR, maybe a BOM, maybe bytes that are not UTF-8. */
const file = fc.record({
  bom: fc.boolean(),
  eol: fc.constantFrom('\n', '\r\n', '\r'),
  lines: fc.array(line, { maxLength: 14 }),
  broken: fc.integer({ min: 0, max: 9 }),
}).map(({ bom, eol, lines, broken }) => {
  const body = Buffer.from(`${bom ? '\ufeff' : ''}${lines.join(eol)}${eol}`, 'utf8');
  return broken === 0 ? Buffer.concat([body, Buffer.from([0xff, 0xfe, 0xc3])]) : body;
});

/** Text that passes validation however odd it looks: unicode, punctuation, inline markup (removed on import). */
const safeWord = fc.constantFrom('x', 'ünïcödé', '😀', 'e\u0301', '\u202eabc', 'zero\u200bwidth', 'ß', '5 kg', '8,000', '"quoted"', "it's", '**bold**', '*em*', '`code`', '[link](http://x)', 'a\\b', '#1', '50%', '🍕🍕');
const safeText = fc.array(safeWord, { minLength: 1, maxLength: 4 }).map((w) => `v ${w.join(' ')}`);
const KEYS = ['Name', 'Age', 'Height', 'Reminder time', 'Dog', 'Favourite food', 'Straße', 'Wake-up', 'Notes 2'];
const HEADINGS = ['Goals', 'Health notes', 'Ünïcode ✓', 'Sleep', 'Eating habits'];
const kvBullets = (depth: number) => fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 4 })
  .chain((keys) => fc.tuple(...keys.map((k) => fc.tuple(fc.constant(k), safeText, fc.boolean()))))
  .map((pairs) => pairs.map(([k, v, bold]) => `${'  '.repeat(depth)}- ${bold ? `**${k}:**` : `${k}:`} ${v}`));
const section = fc.tuple(fc.constantFrom(...HEADINGS), fc.oneof(
  kvBullets(0),
  fc.array(safeText.map((t) => `- ${t}`), { minLength: 1, maxLength: 4 }),
  fc.array(safeText, { minLength: 1, maxLength: 3 }).map((ps) => ps.flatMap((p) => [p, ''])),
)).map(([heading, body]) => [`## ${heading}`, '', ...body, '']);

/** A file shaped the way SPEC §9 reads it (title, Key: value bullets, ## sections), with odd content and line endings. */
const shapedFile = fc.record({
  bom: fc.boolean(),
  eol: fc.constantFrom('\n', '\r\n', '\r'),
  title: fc.boolean(),
  top: fc.option(kvBullets(0), { freq: 2 }),
  sections: fc.uniqueArray(section, { maxLength: 3, selector: (s) => s[0] }),
}).map(({ bom, eol, title, top, sections }) => {
  const lines = [...(title ? ['# Profile', ''] : []), ...(top ?? []), '', ...sections.flat()];
  return Buffer.from(`${bom ? '\ufeff' : ''}${lines.join(eol)}${eol}`, 'utf8');
});

/** A user folder: each of the three files present or not, rarely a directory in a file's place. */
const folder = (content: fc.Arbitrary<Buffer>) => fc.record({
  profile: fc.option(content, { freq: 3 }),
  preferences: fc.option(content, { freq: 3 }),
  patterns: fc.option(content, { freq: 3 }),
  dirInstead: fc.integer({ min: 0, max: 14 }),
});

/** Either well-shaped files (the import should succeed and verify) or chaos (it should refuse cleanly). */
const folders = fc.oneof(
  fc.array(folder(shapedFile), { minLength: 1, maxLength: USERS.length }).map((fs) => fs.map((f) => ({ ...f, dirInstead: 1 }))),
  fc.array(folder(fc.oneof(shapedFile, file)), { minLength: 1, maxLength: USERS.length }),
);

async function state(): Promise<string[]> {
  const rows = await db.sql<{ r: string }[]>`
    SELECT concat_ws('|', u.external_id, p.profile, p.preferences, p.patterns, p.timezone) AS r
      FROM users u LEFT JOIN user_profiles p USING (user_id) ORDER BY u.external_id`;
  return rows.map((row) => row.r);
}

describe('random markdown for import-profiles', () => {
  it('never crashes; exit 1 writes nothing and names paths; exit 0 verifies', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(folders, async (list) => {
      const dir = path.join(work, `run${n++}`);
      fs.mkdirSync(dir);
      list.forEach((f, i) => {
        const user = path.join(dir, USERS[i]!);
        fs.mkdirSync(user);
        for (const column of ['profile', 'preferences', 'patterns'] as const) {
          const content = f[column];
          if (content) fs.writeFileSync(path.join(user, `${column}.md`), content);
        }
        if (f.dirInstead === 0 && !f.patterns) fs.mkdirSync(path.join(user, 'patterns.md'));
      });
      const before = await state();
      const env = { DATABASE_URL: db.url };
      const result = await runCli(['import-profiles', dir, '--json'], { cwd: work, env });
      const context = `exit ${String(result.code)}\n${result.stdout}\n${result.stderr}`;
      expect(result.stderr, context).not.toMatch(CRASH);
      expect([0, 1], context).toContain(result.code);
      const doc = result.json<{ errors: { path: string; message: string }[]; imported: number }>();
      if (result.code === 1) {
        expect(doc.errors.length, context).toBeGreaterThan(0);
        for (const e of doc.errors) expect(e.path, context).toContain(dir);
        expect(await state(), `written despite errors: ${context}`).toEqual(before);
      } else {
        expect(doc.errors, context).toEqual([]);
        const verified = await runCli(['import-profiles', dir, '--verify', '--json'], { cwd: work, env });
        expect(verified.code, `--verify after a clean import: ${verified.stdout}`).toBe(0);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }), runs(30));
  });
});
