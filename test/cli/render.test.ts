/**
 * Human renderings: the `status` table (its exact text, written to stdout in one piece), statement
 * heads and row counts.
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Output } from '../../src/cli/output.js';
import { duration, groupDigits, renderStatus, rowCount, shortTime, statementHead } from '../../src/cli/render.js';
import type { StatusEntry } from '../../src/core/plan.js';

function capture(): { stream: NodeJS.WriteStream; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _encoding, done) { writes.push(chunk.toString()); done(); } });
  return { stream: stream as unknown as NodeJS.WriteStream, writes };
}

const entry = (name: string, state: StatusEntry['state'], appliedAt: Date | null): StatusEntry => {
  const [number, ...phase] = name.split('_');
  return { name, number: number!, phase: phase.join('_'), state, appliedAt, checksum: 'c' };
};

describe('shortTime', () => {
  it('is the ISO time to the second, with a space and a Z', () => {
    expect(shortTime(new Date('2026-11-23T12:00:00.999Z'))).toBe('2026-11-23 12:00:00Z');
    expect(shortTime(new Date('1999-01-02T03:04:05.000Z'))).toBe('1999-01-02 03:04:05Z');
    expect(shortTime(new Date('+012345-06-07T08:09:10.111Z'))).toBe('+012345-06-07 08:09:10Z');
    expect(shortTime(null)).toBe('-');
    expect(shortTime(undefined)).toBe('-');
  });
});

describe('renderStatus', () => {
  it('writes the header, the aligned table and the counts in one write, scrubbed', () => {
    const { stream, writes } = capture();
    const out = new Output({ json: false, quiet: false, verbose: false, color: false, stdout: stream, stderr: stream });
    out.addSecret('hunter22');
    out.addSecret('004_gone'); // a password that is also a migration's name is no secret from this output
    out.addPublicWords(['004_gone', 'gone']);
    renderStatus(out, 'postgres://app:***@db:5432/app', '/srv/hunter22/migrations', [
      entry('001_accounts', 'applied', new Date('2026-11-23T12:00:00.123Z')),
      entry('002_orders_and_items', 'changed', new Date('2026-11-23T12:00:01Z')),
      entry('003_hunter22', 'pending', null),
      entry('004_gone', 'missing', new Date('2026-11-24T00:00:00Z')),
    ]);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toBe([
      'database:   postgres://app:***@db:5432/app',
      'migrations: /srv/***/migrations',
      '',
      'PHASE             NAME                  STATE    APPLIED AT',
      'accounts          001_accounts          applied  2026-11-23 12:00:00Z',
      'orders_and_items  002_orders_and_items  changed  2026-11-23 12:00:01Z',
      // Scrubbed after padding: a whole token equal to the password never shows (alignment may
      // suffer), a name that merely contains it is left alone.
      '***          003_hunter22          pending  -',
      'gone              004_gone              missing  2026-11-24 00:00:00Z',
      '',
      '1 applied, 1 changed, 1 pending, 1 missing',
      '',
    ].join('\n'));
  });

  it('says so when there are no migrations', () => {
    const { stream, writes } = capture();
    renderStatus(new Output({ json: false, quiet: false, verbose: false, color: false, stdout: stream, stderr: stream }), 'u', 'd', []);
    expect(writes.join('')).toBe('database:   u\nmigrations: d\n\nPHASE  NAME  STATE  APPLIED AT\n\nno migrations\n');
  });
});

describe('statementHead', () => {
  /** The definition: every line without its comment, trimmed, joined, whitespace collapsed, shortened. */
  function reference(sql: string, width = 100): string {
    const oneLine = sql.split('\n').map((l) => l.replace(/^\s*--.*$/, '').trim()).filter(Boolean).join(' ').replace(/\s+/g, ' ');
    return oneLine.length > width ? `${oneLine.slice(0, width - 1)}…` : oneLine;
  }

  it('drops comments, collapses whitespace and shortens', () => {
    expect(statementHead('-- why\nDROP TABLE\n  goals,\n  check_ins;')).toBe('DROP TABLE goals, check_ins;');
    expect(statementHead(`INSERT INTO t VALUES ${'(1), '.repeat(40)}(2)`, 20)).toBe('INSERT INTO t VALUE…');
    expect(statementHead('   \n\t-- only a comment\n')).toBe('');
  });

  it('is the same as processing the whole text, for any text and width', () => {
    const piece = fc.constantFrom('SELECT', ' ', '  ', '\n', '\r\n', '\t', '-- c', '--', 'x', 'ab cd', ',', "'--'", '\n\n');
    fc.assert(fc.property(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (parts, width) => {
      const sql = parts.join('');
      expect(statementHead(sql, width)).toBe(reference(sql, width));
    }), { numRuns: 2000 });
  });

  it('gives a 22 MB statement the head of its first lines', () => {
    const huge = `INSERT INTO t VALUES\n${'(1, 2, 3),\n'.repeat(2_000_000)}(4, 5, 6)`;
    // Not a timing assertion: the head of 22 MB of SQL is the head of its first lines.
    expect(statementHead(huge)).toBe(reference(huge.slice(0, 2000)));
  });
});

describe('groupDigits', () => {
  it('groups thousands like en-US, for every safe integer', () => {
    for (const n of [0, 7, 999, 1000, 12345, -1000, 1234567, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      expect(groupDigits(n)).toBe(n.toLocaleString('en-US'));
    }
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => groupDigits(n) === n.toLocaleString('en-US')), { numRuns: 2000 });
  });

  it('falls back to the locale formatting for what is not an integer', () => {
    expect(groupDigits(1234.5)).toBe((1234.5).toLocaleString('en-US'));
  });
});

describe('duration and rowCount', () => {
  it('say <1 ms for a step history records as 0 ms, and 1 row in the singular', () => {
    expect(duration(0)).toBe('<1 ms');
    expect(duration(1)).toBe('1 ms');
    expect(duration(12345)).toBe('12,345 ms');
    expect(rowCount(0)).toBe('0 rows');
    expect(rowCount(1)).toBe('1 row');
    expect(rowCount(2)).toBe('2 rows');
    expect(rowCount(1000)).toBe('1,000 rows');
  });
});

describe('Output.canAnimate', () => {
  const terminal = (columns: number | undefined) => Object.assign(capture().stream, { isTTY: true, columns });
  const output = (options: { color?: boolean; json?: boolean; quiet?: boolean }, columns: number | undefined = 80) =>
    new Output({ json: options.json ?? false, quiet: options.quiet ?? false, verbose: false, color: options.color ?? true, stdout: terminal(columns), stderr: terminal(columns) });

  it('animates only on a terminal wide enough, without --json, -q or --no-color/NO_COLOR', () => {
    expect(output({}).canAnimate).toBe(true);
    expect(output({}, undefined).canAnimate).toBe(true);
    expect(output({}, 0).canAnimate).toBe(false); // ora would erase lines forever
    expect(output({ color: false }).canAnimate).toBe(false);
    expect(output({ json: true }).canAnimate).toBe(false);
    expect(output({ quiet: true }).canAnimate).toBe(false);
    expect(new Output({ json: false, quiet: false, verbose: false, color: true, stdout: capture().stream, stderr: capture().stream }).canAnimate).toBe(false);
  });
});
