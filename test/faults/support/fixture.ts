/**
 * The five migrations the kill tests run (issue 9): two plain, one with a backfill, one
 * `no-transaction` (CREATE INDEX CONCURRENTLY), one destructive (so `up` takes a backup too), with a
 * marker statement (a gate, see faults.ts) before every statement and after the last, in up.sql and
 * down.sql alike. Every migration has a probe that says whether its change is fully in effect or
 * fully absent, checked against the data (values are functions of the row id), not only the catalog.
 */
import fs from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import type { KillPoint } from './faults.js';
import { gateSql } from './gates.js';

/** A migration of the fixture, statements without markers. */
interface Definition {
  name: string;
  noTransaction?: boolean;
  up: string[];
  down: string[];
}

/** Rows of `accounts`: wide enough (about 1.3 MB of CSV) that a backup writes it in two 1 MiB buffers. */
export const ACCOUNTS = 4_000;
export const ORDERS = 2_000;

const DEFINITIONS: Definition[] = [
  {
    name: '001_accounts',
    up: [
      'CREATE TABLE accounts (id int PRIMARY KEY, full_name text NOT NULL, email text NOT NULL, note text)',
      `INSERT INTO accounts SELECT g, 'first' || g || ' last' || g, 'user' || g || '@example.com', repeat(md5(g::text), 8) FROM generate_series(1, ${ACCOUNTS}) g`,
      'CREATE UNIQUE INDEX accounts_email_idx ON accounts (email)',
    ],
    down: ['DROP TABLE accounts'],
  },
  {
    name: '002_orders',
    up: [
      'CREATE TABLE orders (id int PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id), amount numeric(10,2) NOT NULL)',
      `INSERT INTO orders SELECT g, 1 + g % ${ACCOUNTS}, (g % 997) / 10.0 FROM generate_series(1, ${ORDERS}) g`,
      'CREATE VIEW order_totals AS SELECT account_id, sum(amount) AS total FROM orders GROUP BY account_id',
    ],
    down: ['DROP VIEW order_totals', 'DROP TABLE orders'],
  },
  {
    name: '003_split_names',
    up: [
      'ALTER TABLE accounts ADD COLUMN first_name text, ADD COLUMN last_name text',
      // The backfill: set-based, one statement.
      "UPDATE accounts SET first_name = split_part(full_name, ' ', 1), last_name = split_part(full_name, ' ', 2)",
      'ALTER TABLE accounts ALTER COLUMN first_name SET NOT NULL, ALTER COLUMN last_name SET NOT NULL',
    ],
    down: ['ALTER TABLE accounts DROP COLUMN first_name, DROP COLUMN last_name'],
  },
  {
    name: '004_concurrent_indexes',
    noTransaction: true,
    // Re-runnable after a cut: an INVALID index left by a killed build is dropped first.
    up: [
      'DROP INDEX CONCURRENTLY IF EXISTS orders_account_idx',
      'CREATE INDEX CONCURRENTLY orders_account_idx ON orders (account_id)',
      'DROP INDEX CONCURRENTLY IF EXISTS accounts_last_name_idx',
      'CREATE INDEX CONCURRENTLY accounts_last_name_idx ON accounts (last_name)',
    ],
    down: ['DROP INDEX CONCURRENTLY IF EXISTS accounts_last_name_idx', 'DROP INDEX CONCURRENTLY IF EXISTS orders_account_idx'],
  },
  {
    name: '005_drop_full_name',
    up: [
      'ALTER TABLE accounts DROP COLUMN full_name',
      "CREATE VIEW account_names AS SELECT id, first_name || ' ' || last_name AS full_name FROM accounts",
    ],
    down: [
      'DROP VIEW account_names',
      'ALTER TABLE accounts ADD COLUMN full_name text',
      "UPDATE accounts SET full_name = first_name || ' ' || last_name",
      'ALTER TABLE accounts ALTER COLUMN full_name SET NOT NULL',
    ],
  },
];

/** Migration names in order. */
export const NAMES = DEFINITIONS.map((d) => d.name);
/** The no-transaction migration. */
export const NO_TRANSACTION = '004_concurrent_indexes';

/** A marker: which gate, in which file, before which statement (index = statements.length: after the last). */
export interface Marker {
  id: number;
  migration: string;
  direction: 'up' | 'down';
  /** Statements of the file that ran before this marker. */
  before: number;
  /** Statement the marker precedes, if any (for readable test names). */
  next?: string;
}

/** Every marker of the fixture, in file order; up markers are 1…, down markers 101…. */
export const MARKERS: Marker[] = [];

function withMarkers(def: Definition, direction: 'up' | 'down'): string {
  const statements = def[direction];
  const lines = def.noTransaction ? ['-- strata: no-transaction'] : [];
  const next = () => (direction === 'up' ? 1 : 101) + MARKERS.filter((m) => m.direction === direction).length;
  statements.forEach((statement, i) => {
    const id = next();
    MARKERS.push({ id, migration: def.name, direction, before: i, next: statement.split(/\s+/).slice(0, 4).join(' ') });
    lines.push(gateSql(id), `${statement};`);
  });
  const last = next();
  MARKERS.push({ id: last, migration: def.name, direction, before: statements.length });
  lines.push(gateSql(last));
  return `${lines.join('\n')}\n`;
}

const FILES = DEFINITIONS.map((def) => ({ name: def.name, up: withMarkers(def, 'up'), down: '' }));
// Down markers numbered in the order a full rollback runs them (newest migration first).
for (const file of [...FILES].reverse()) file.down = withMarkers(DEFINITIONS.find((d) => d.name === file.name)!, 'down');

/** Writes the fixture's migrations into `dir` (created) and returns it. */
/** The id of the marker of `direction` in `migration` that precedes statement `before`. */
export function markerId(direction: 'up' | 'down', migration: string, before: number): number {
  return MARKERS.find((m) => m.direction === direction && m.migration === migration && m.before === before)!.id;
}

/** A kill point of the killed-up/down suites. `recover: false`: the post-kill state is provably that of another case (the same transactional step rolled back, checked by expectTruth), whose recovery run covers it. */
export interface KillCase { point: KillPoint; cut: number; label: string; invalidIndex?: string; recover?: boolean }

/** One case per marker of `direction`; `order` is the order the run takes the migrations in. */
export function markerCases(direction: 'up' | 'down', order: readonly string[]): KillCase[] {
  return MARKERS.filter((m) => m.direction === direction).map((m) => ({
    point: { kind: 'gate', id: m.id } as KillPoint,
    recover: m.migration === NO_TRANSACTION || !MARKERS.some((x) => x.direction === m.direction && x.migration === m.migration && x.before > m.before),
    cut: order.indexOf(m.migration),
    label: `${m.migration}${direction === 'down' ? ' down' : ''}, ${m.next ? `before ${m.next}` : 'after its last statement'} (marker ${m.id})`,
  }));
}

export function writeFixture(dir: string): string {
  for (const file of FILES) {
    fs.mkdirSync(path.join(dir, file.name), { recursive: true });
    fs.writeFileSync(path.join(dir, file.name, 'up.sql'), file.up);
    fs.writeFileSync(path.join(dir, file.name, 'down.sql'), file.down);
  }
  return dir;
}

/** The down statements of a migration, as a human would run them to finish a cut no-transaction down. */
export function downStatements(name: string): string[] {
  return DEFINITIONS.find((d) => d.name === name)!.down;
}

/** Whether a migration's change is fully in effect, fully absent, or neither. */
export type Presence = 'present' | 'absent' | 'partial';

type Facts = Record<string, boolean>;

/** Reads every fact the probes need in one round trip. */
async function facts(sql: postgres.Sql): Promise<Facts> {
  const [catalog] = await sql<Record<string, boolean>[]>`
    SELECT to_regclass('public.accounts') IS NOT NULL AS accounts,
           to_regclass('public.orders') IS NOT NULL AS orders,
           to_regclass('public.accounts_email_idx') IS NOT NULL AS email_idx,
           to_regclass('public.order_totals') IS NOT NULL AS order_totals,
           to_regclass('public.account_names') IS NOT NULL AS account_names,
           EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'orders_account_id_fkey') AS orders_fk,
           EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'full_name') AS full_name,
           EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'first_name') AS first_name,
           EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'last_name') AS last_name,
           EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'first_name' AND is_nullable = 'NO') AS first_name_not_null,
           EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'full_name' AND is_nullable = 'NO') AS full_name_not_null,
           (SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('public.orders_account_idx')) = 1 AS orders_idx_any,
           (SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('public.orders_account_idx') AND indisvalid) = 1 AS orders_idx_valid,
           (SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('public.accounts_last_name_idx')) = 1 AS names_idx_any,
           (SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('public.accounts_last_name_idx') AND indisvalid) = 1 AS names_idx_valid`;
  const f: Facts = { ...catalog };
  if (f.accounts) {
    const checks = [`count(*) = ${ACCOUNTS} AS accounts_rows`, "bool_and(email = 'user' || id || '@example.com' AND note = repeat(md5(id::text), 8)) AS emails"];
    if (f.full_name) checks.push("bool_and(full_name IS NOT DISTINCT FROM 'first' || id || ' last' || id) AS full_names");
    if (f.first_name && f.last_name) checks.push("bool_and(first_name IS NOT DISTINCT FROM 'first' || id AND last_name IS NOT DISTINCT FROM 'last' || id) AS split_names");
    const [row] = await sql.unsafe<Facts[]>(`SELECT ${checks.join(', ')} FROM accounts`);
    Object.assign(f, row);
  }
  if (f.orders) {
    const [row] = await sql.unsafe<Facts[]>(`SELECT count(*) = ${ORDERS} AS orders_rows, bool_and(account_id = 1 + id % ${ACCOUNTS}) AS orders_values FROM orders`);
    Object.assign(f, row);
  }
  return f;
}

/** Per migration: [fully present, fully absent]. */
function judge(f: Facts): Record<string, Presence> {
  const verdict = (present: boolean, absent: boolean): Presence => (present ? 'present' : absent ? 'absent' : 'partial');
  return {
    '001_accounts': verdict(f.accounts === true && f.accounts_rows === true && f.emails === true && f.email_idx === true, !f.accounts && !f.email_idx),
    '002_orders': verdict(f.orders === true && f.orders_rows === true && f.orders_values === true && f.orders_fk === true && f.order_totals === true, !f.orders && !f.order_totals && !f.orders_fk),
    '003_split_names': verdict(f.first_name === true && f.last_name === true && f.first_name_not_null === true && f.split_names === true, !f.first_name && !f.last_name),
    '004_concurrent_indexes': verdict(f.orders_idx_valid === true && f.names_idx_valid === true, !f.orders_idx_any && !f.names_idx_any),
    // Undone means the column is back, NOT NULL, with every value (or the table is gone altogether).
    '005_drop_full_name': verdict(f.accounts === true && !f.full_name && f.account_names === true,
      !f.account_names && (!f.accounts || (f.full_name === true && f.full_name_not_null === true && f.full_names === true))),
  };
}

/** Presence of every migration of the fixture in the database. */
export async function presence(sql: postgres.Sql): Promise<Record<string, Presence>> {
  return judge(await facts(sql));
}
