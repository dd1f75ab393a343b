import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvRecordCounter } from '../../src/backup/csv-scan.js';

/** A value as PostgreSQL's CSV output writes it: NULL unquoted empty, quoted when it must be. */
function pgCsvValue(value: string | null): string {
  if (value === null) return '';
  if (value === '' || /[",\r\n]/.test(value) || value === '\\.') return `"${value.replace(/"/g, '""')}"`;
  return value;
}

function count(text: string, splits: number[] = []): { rows: number; columns: string[] } {
  const counter = new CsvRecordCounter();
  const bytes = Buffer.from(text, 'utf8');
  let at = 0;
  for (const split of [...splits.filter((s) => s > 0 && s < bytes.length)].sort((a, b) => a - b)) {
    counter.feed(bytes.subarray(at, split));
    at = split;
  }
  counter.feed(bytes.subarray(at));
  return { rows: counter.finish(), columns: counter.columns() };
}

describe('CsvRecordCounter', () => {
  it('counts records, not lines', () => {
    expect(count('a,b\n1,"x\ny"\n"",\n').rows).toBe(2);
    expect(count('t\n\n""\n\\N\n').rows).toBe(3); // a single NULL column is an empty line: still a record
    expect(count('"we""ird\nname",b\n').columns).toEqual(['we"ird\nname', 'b']);
  });

  it('refuses truncated and empty files', () => {
    expect(() => count('a,b\n1,2')).toThrow(/newline/);
    expect(() => count('a,b\n1,"2\n')).toThrow(/quoted/);
    expect(() => count('')).toThrow(/empty/);
  });

  it('agrees with csv-parse on any values PostgreSQL could write, however the bytes are split', () => {
    const value = fc.option(fc.string({ unit: fc.constantFrom('a', '"', ',', '\n', '\r', ' ', 'é', '😀', '\\', '.') }), { nil: null });
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 4 }).chain((cols) => fc.tuple(fc.constant(cols), fc.array(fc.array(value, { minLength: cols, maxLength: cols }), { maxLength: 8 }))),
      fc.array(fc.nat({ max: 400 }), { maxLength: 5 }),
      ([cols, rows], splits) => {
        const header = Array.from({ length: cols }, (_, i) => pgCsvValue(`c,"${i}`)).join(',');
        const text = `${[header, ...rows.map((r) => r.map(pgCsvValue).join(','))].join('\n')}\n`;
        const reference = (parse(text, { relax_column_count: false }) as string[][]).length - 1;
        expect(count(text, splits).rows).toBe(reference);
        expect(reference).toBe(rows.length);
      },
    ), { numRuns: 300 });
  });
});
