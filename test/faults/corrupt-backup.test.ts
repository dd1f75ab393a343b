/**
 * Hostile input: a damaged backup (issue 9, SPEC §6). Random byte corruption — a bit pattern
 * flipped, bytes inserted, bytes deleted — in one of the CSV files or in the manifest always ends
 * in exit 5 with nothing loaded. The corruption always changes the file (a flip XORs a non-zero
 * mask, an insertion or deletion changes the length), and in the manifest it lands inside a value
 * the integrity check rests on (table, schema, name, file, rows, bytes, sha256, column names):
 * elsewhere in the manifest a change can be harmless (whitespace, `reason`), so a second property
 * allows exactly two outcomes there — exit 5 with nothing loaded, or exit 0 with every value
 * restored exactly — and never anything else.
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

let db: TestDatabase;
let source: string;
let work: string;
let files: Record<string, Buffer>;
let original: string[][];

const TABLES = ['"Values, etc."', 'child'];

async function contents(): Promise<string[][]> {
  return Promise.all(TABLES.map(async (t) => (await db.sql.unsafe<{ r: string }[]>(`SELECT x::text AS r FROM ${t} x ORDER BY 1`)).map((row) => row.r)));
}

async function empty(): Promise<void> {
  await db.sql.unsafe('DELETE FROM child; DELETE FROM "Values, etc.";');
}

beforeAll(async () => {
  db = await createDatabase('strata_corrupt');
  await db.sql.unsafe(`
    CREATE TABLE "Values, etc." (id int PRIMARY KEY, t text, j jsonb, a int[], b bytea, n numeric, i interval, ts timestamptz);
    INSERT INTO "Values, etc." SELECT g,
      CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN E'a,b\\n"c"' WHEN 3 THEN 'ünïcödé ✓ 😀' WHEN 4 THEN E'\\\\N' ELSE 'plain ' || g END,
      jsonb_build_object('k', g, 'q', 'x"y'), ARRAY[g, NULL, -g], decode(md5(g::text), 'hex'), g / 3.0, make_interval(days => g), '2025-01-01 00:00Z'::timestamptz + g * interval '1 hour'
    FROM generate_series(1, 300) g;
    CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES "Values, etc.", note text);
    INSERT INTO child SELECT g, g, 'child ' || g FROM generate_series(1, 100) g;`);
  const root = tempDir('strata-corrupt-');
  const made = await runCli(['backup', ...TABLES, '--out', root, '--json'], { cwd: root, env: { DATABASE_URL: db.url } });
  if (made.code !== 0) throw new Error(made.stderr);
  source = path.join(root, made.json<{ dir: string }>().dir);
  files = Object.fromEntries(fs.readdirSync(source).map((name) => [name, fs.readFileSync(path.join(source, name))]));
  original = await contents();
  await empty();
  work = tempDir('strata-corrupt-work-');
});
afterAll(async () => {
  await dropDatabase(db);
  fs.rmSync(work, { recursive: true, force: true });
});

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }),
);

/** Spans [start, end) of the manifest's values that the integrity check rests on. */
function integritySpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  const pattern = /"(table|schema|name|file|rows|bytes|sha256)": ("(?:[^"\\]|\\.)*"|-?\d+)/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const start = m.index + m[0].length - m[2]!.length;
    spans.push([start, start + m[2]!.length]);
  }
  return spans;
}

const WHITESPACE = new Set([0x09, 0x0a, 0x0d, 0x20]);

/** Applies `m` to `bytes`, its position folded into [lo, hi); the result always differs. */
function apply(bytes: Buffer, m: Mutation, lo: number, hi: number): Buffer {
  const width = hi - lo;
  if (m.kind === 'flip') {
    const out = Buffer.from(bytes);
    const at = lo + (m.at % width);
    out[at] = out[at]! ^ m.mask;
    return out;
  }
  if (m.kind === 'insert') {
    const at = lo + (m.at % (width + 1));
    // Whitespace next to a JSON value changes nothing: at the edges of a span insert a letter instead.
    const edge = at === lo || at === hi;
    const inserted = Buffer.from(m.bytes.map((b) => (edge && WHITESPACE.has(b) ? 0x78 : b)));
    return Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
  }
  const at = lo + (m.at % width);
  const end = Math.min(hi, at + m.length);
  return Buffer.concat([bytes.subarray(0, at), bytes.subarray(end)]);
}

/** A fresh copy of the backup with `file` replaced by `damaged`. */
function damagedCopy(run: number, file: string, damaged: Buffer): string {
  const dir = path.join(work, `${path.basename(source)}-${run}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o700 });
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), name === file ? damaged : bytes, { mode: 0o600 });
  return dir;
}

let counter = 0;
async function restore(dir: string) {
  const result = await runCli(['restore', dir, '--json'], { cwd: work, env: { DATABASE_URL: db.url } });
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

describe('a corrupted backup', () => {
  it('the intact copy restores (the harness is sound)', async () => {
    const result = await restore(damagedCopy(counter++, '', Buffer.alloc(0)));
    expect(result.code, result.stderr).toBe(0);
    expect(await contents()).toEqual(original);
    await empty();
  });

  it('a corrupted CSV, or a corrupted integrity value of the manifest: always exit 5, nothing loaded', async () => {
    const targets = [...Object.keys(files).filter((f) => f.endsWith('.csv')).map((f) => ({ file: f, span: undefined as number | undefined })),
      ...integritySpans(files['manifest.json']!.toString('utf8')).map((_, i) => ({ file: 'manifest.json', span: i }))];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...targets), mutation, async (target, m) => {
      const bytes = files[target.file]!;
      const spans = integritySpans(bytes.toString('utf8'));
      // Spans are character offsets; the manifest is ASCII apart from table names, so map through Buffer.byteLength.
      const text = bytes.toString('utf8');
      const [lo, hi] = target.span === undefined ? [0, bytes.length]
        : spans[target.span]!.map((offset) => Buffer.byteLength(text.slice(0, offset))) as [number, number];
      const damaged = apply(bytes, m, lo, hi);
      expect(damaged.equals(bytes)).toBe(false);
      const result = await restore(damagedCopy(counter++, target.file, damaged));
      const context = `${target.file} ${JSON.stringify(m)}\nexit ${String(result.code)}\n${result.stdout}\n${result.stderr}`;
      expect(result.code, context).toBe(5);
      expect(result.stderr, context).not.toMatch(CRASH);
      expect(result.json<{ error: { code: number } }>().error.code, context).toBe(5);
      expect(await contents(), `something was loaded: ${context}`).toEqual([[], []]);
    }), runs(45));
  });

  it('a corruption anywhere in the manifest: exit 5 with nothing loaded, or exit 0 with every value exact', async () => {
    await fc.assert(fc.asyncProperty(mutation, async (m) => {
      const bytes = files['manifest.json']!;
      const damaged = apply(bytes, m, 0, bytes.length);
      const result = await restore(damagedCopy(counter++, 'manifest.json', damaged));
      const context = `${JSON.stringify(m)}\nexit ${String(result.code)}\n${result.stdout}\n${result.stderr}`;
      expect(result.stderr, context).not.toMatch(CRASH);
      expect([0, 5], context).toContain(result.code);
      if (result.code === 5) {
        expect(await contents(), context).toEqual([[], []]);
      } else {
        expect(await contents(), context).toEqual(original);
        await empty();
      }
    }), runs(15));
  });
});
