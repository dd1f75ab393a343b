/**
 * Load order of a restore, and what to do about foreign keys whose tables reference each other
 * (SPEC §6: "in foreign-key order with triggers disabled"). Parents load before children; inside a
 * reference cycle some table must load before its parent's rows are there, so the foreign keys
 * pointing "forward" cannot be checked row by row:
 *
 * - a DEFERRABLE one is deferred (`SET CONSTRAINTS ALL DEFERRED`): PostgreSQL checks it at COMMIT;
 * - the order is chosen so that forward keys are DEFERRABLE ones whenever the keys that are not
 *   DEFERRABLE allow it (they only need to form no cycle of their own);
 * - otherwise (a cycle of keys that are not DEFERRABLE), only a superuser may switch their check
 *   triggers off (PostgreSQL refuses to disable internal triggers for anyone else): the forward keys'
 *   check triggers are disabled by name for the load, and every row is then checked against those
 *   keys with an anti-join before COMMIT; a violation fails the whole restore. For anyone else the
 *   restore is refused before anything loads, naming the cycle.
 *
 * `session_replication_role = replica` (grantable since PostgreSQL 15) is not used: it also silences
 * the internal triggers that recheck DEFERRABLE unique constraints, so duplicates could slip in.
 */
import { MigrationFailed } from '../errors.js';
import { quoteIdent, quoteQualified } from '../db/quote.js';
import type { AnySql } from './copy.js';
import { displayName, displayPart, type QualifiedName } from './names.js';
import type { ForeignKey, UserTrigger } from './restore-catalog.js';

/** Tables that reference each other through foreign keys that are not DEFERRABLE. */
export interface HardCycle {
  tables: QualifiedName[];
  /** The keys that are not DEFERRABLE between them. */
  keys: ForeignKey[];
}

/** The order to load in, and the foreign keys whose child loads before its parent. */
export interface LoadOrder<T> {
  order: T[];
  /** DEFERRABLE forward keys: deferred, checked by PostgreSQL at COMMIT. */
  deferred: ForeignKey[];
  /** Forward keys that are not DEFERRABLE: loaded with their check triggers off, then checked by query. */
  unchecked: ForeignKey[];
  cycles: HardCycle[];
}

/**
 * Parents first (Kahn's algorithm, stable in the input order). When every remaining table waits for
 * a parent, the first one whose only missing parents are DEFERRABLE references goes next; failing
 * that, the first one whose missing parents are all in its own cycle of keys that are not DEFERRABLE.
 */
export function orderForLoad<T>(tables: readonly T[], oidOf: (t: T) => string, nameOf: (t: T) => QualifiedName, fks: readonly ForeignKey[]): LoadOrder<T> {
  const index = new Map(tables.map((t, i) => [oidOf(t), i]));
  // Self-references need nothing: PostgreSQL checks them at the end of the COPY statement.
  const edges = fks.flatMap((fk) => {
    const child = index.get(fk.child);
    const parent = index.get(fk.parent);
    return child !== undefined && parent !== undefined && child !== parent ? [{ child, parent, fk }] : [];
  });
  const component = stronglyConnected(tables.length, edges.filter((e) => !e.fk.deferrable));
  const done = new Set<number>();
  const position = new Map<number, number>();
  const waitsFor = (i: number, counts: (e: (typeof edges)[number]) => boolean) =>
    edges.some((e) => e.child === i && !done.has(e.parent) && counts(e));
  const pick = (counts: (e: (typeof edges)[number]) => boolean) => tables.findIndex((_, i) => !done.has(i) && !waitsFor(i, counts));
  while (done.size < tables.length) {
    let next = pick(() => true);
    if (next < 0) next = pick((e) => !e.fk.deferrable);
    if (next < 0) next = pick((e) => !e.fk.deferrable && component[e.child] !== component[e.parent]);
    if (next < 0) throw new Error('load order: no table can go next (bug)');
    position.set(next, done.size);
    done.add(next);
  }
  const forward = edges.filter((e) => (position.get(e.child) ?? 0) < (position.get(e.parent) ?? 0));
  const members = new Map<number, number[]>();
  tables.forEach((_, i) => members.set(component[i] ?? i, [...(members.get(component[i] ?? i) ?? []), i]));
  const cycles = [...members.values()].filter((m) => m.length > 1).map((m) => ({
    tables: m.map((i) => nameOf(tables[i] as T)),
    keys: edges.filter((e) => !e.fk.deferrable && m.includes(e.child) && m.includes(e.parent)).map((e) => e.fk),
  }));
  return {
    order: [...position.entries()].sort((a, b) => a[1] - b[1]).map(([i]) => tables[i] as T),
    deferred: forward.filter((e) => e.fk.deferrable).map((e) => e.fk),
    unchecked: forward.filter((e) => !e.fk.deferrable).map((e) => e.fk),
    cycles,
  };
}

/** Tarjan's algorithm: the component number of each node (edges point child → parent). */
function stronglyConnected(n: number, edges: readonly { child: number; parent: number }[]): number[] {
  const out = Array.from({ length: n }, () => [] as number[]);
  for (const e of edges) out[e.child]?.push(e.parent);
  const order = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const component = new Array<number>(n).fill(-1);
  const stack: number[] = [];
  let counter = 0;
  const visit = (v: number): void => {
    order[v] = low[v] = counter++;
    stack.push(v);
    for (const w of out[v] ?? []) {
      if (order[w] === -1) { visit(w); low[v] = Math.min(low[v] ?? 0, low[w] ?? 0); }
      else if (component[w] === -1) low[v] = Math.min(low[v] ?? 0, order[w] ?? 0);
    }
    if (low[v] === order[v]) {
      for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) component[w] = v;
    }
  };
  for (let v = 0; v < n; v++) if (order[v] === -1) visit(v);
  return component;
}

/** Refuses (exit 1, before anything loads) keys that must load unchecked when the session is not a superuser. */
export async function requireUncheckedAllowed(sql: AnySql, unchecked: readonly ForeignKey[], cycles: readonly HardCycle[]): Promise<void> {
  if (unchecked.length === 0) return;
  const [row] = await sql<{ superuser: boolean }[]>`SELECT pg_catalog.current_setting('is_superuser') = 'on' AS superuser`;
  if (row?.superuser) return;
  const cycle = cycles.find((c) => c.keys.some((k) => unchecked.some((u) => u.oid === k.oid))) ?? { tables: [], keys: unchecked };
  const keys = cycle.keys.map((k) => `${k.name}: ${displayName(k.childTable)} → ${displayName(k.parentTable)}`).join('; ');
  const first = unchecked[0] as ForeignKey;
  throw new MigrationFailed(
    `restore: ${listNames(cycle.tables.map(displayName))} reference each other through foreign keys that are not DEFERRABLE (${keys}); `
    + 'one of them must be switched off while the rows load, and PostgreSQL lets only a superuser disable foreign-key triggers; nothing was loaded',
    {
      hint: `make one of these foreign keys DEFERRABLE (ALTER TABLE ${quoteQualified(first.childTable.schema, first.childTable.name)} ALTER CONSTRAINT ${quoteIdent(first.name)} DEFERRABLE), `
        + 'or run the restore as a superuser: strata then loads them unchecked and checks every row against those keys before COMMIT',
    },
  );
}

/** The enabled check triggers (on the child's leaf tables) of the given foreign keys and of their partition clones. */
export async function foreignKeyCheckTriggers(sql: AnySql, keys: readonly ForeignKey[]): Promise<UserTrigger[]> {
  if (keys.length === 0) return [];
  return (await sql<{ schema: string; table: string; name: string; enabled: string }[]>`
    WITH RECURSIVE k AS (
      SELECT o.oid::oid AS oid FROM jsonb_array_elements_text(${JSON.stringify(keys.map((k) => k.oid))}::text::jsonb) AS o(oid)
      UNION SELECT con.oid FROM pg_catalog.pg_constraint con JOIN k ON con.conparentid = k.oid)
    SELECT n.nspname AS schema, c.relname AS table, tg.tgname AS name, tg.tgenabled::text AS enabled
      FROM pg_catalog.pg_trigger tg
      JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid AND c.relkind = 'r'
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE tg.tgconstraint IN (SELECT oid FROM k) AND tg.tgenabled <> 'D'
       AND tg.tgfoid IN ('pg_catalog."RI_FKey_check_ins"'::regproc, 'pg_catalog."RI_FKey_check_upd"'::regproc)
     ORDER BY n.nspname, c.relname, tg.tgname`).map((r) => ({ table: { schema: r.schema, name: r.table }, name: r.name, enabled: r.enabled }));
}

interface KeyColumns {
  match: string;
  childKind: string;
  parentKind: string;
  columns: { child: string; parent: string; opSchema: string; op: string }[];
}

/**
 * Checks every row of the key's table against the key, as PostgreSQL's own validation does
 * (`RI_Initial_Check`: the key's equality operators, MATCH SIMPLE / FULL); throws `MigrationFailed`
 * naming the key and a sample key value when a row violates it.
 */
export async function checkForeignKey(sql: AnySql, key: ForeignKey): Promise<void> {
  const [shape] = await sql<KeyColumns[]>`
    SELECT con.confmatchtype::text AS match, c.relkind::text AS "childKind", p.relkind::text AS "parentKind",
           (SELECT json_agg(json_build_object('child', ca.attname, 'parent', pa.attname, 'opSchema', opn.nspname, 'op', op.oprname) ORDER BY k.i)
              FROM unnest(con.conkey, con.confkey, con.conpfeqop) WITH ORDINALITY AS k(ck, pk, eq, i)
              JOIN pg_catalog.pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck
              JOIN pg_catalog.pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk
              JOIN pg_catalog.pg_operator op ON op.oid = k.eq
              JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace) AS columns
      FROM pg_catalog.pg_constraint con
      JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
      JOIN pg_catalog.pg_class p ON p.oid = con.confrelid
     WHERE con.oid = ${key.oid}::oid`;
  if (!shape) throw new Error(`foreign key ${key.name} disappeared during the restore`);
  const child = (column: string) => `c.${quoteIdent(column)}`;
  // Operator names are symbols (+-*/<>=~!@#%^&|`?), never identifiers: they cannot be quoted, nor need to be.
  const joins = shape.columns.map((k) => `p.${quoteIdent(k.parent)} OPERATOR(${quoteIdent(k.opSchema)}.${k.op}) ${child(k.child)}`);
  const allSet = shape.columns.map((k) => `${child(k.child)} IS NOT NULL`).join(' AND ');
  const allNull = shape.columns.map((k) => `${child(k.child)} IS NULL`).join(' AND ');
  const only = (kind: string) => (kind === 'p' ? '' : 'ONLY ');
  const missing = `(${allSet} AND NOT EXISTS (SELECT 1 FROM ${only(shape.parentKind)}${quoteQualified(key.parentTable.schema, key.parentTable.name)} p WHERE ${joins.join(' AND ')}))`;
  // MATCH FULL: a key with some but not all columns NULL violates it too.
  const violates = shape.match === 'f' ? `(${missing} OR NOT ((${allSet}) OR (${allNull})))` : missing;
  const [found] = await sql.unsafe<{ key: string; n: number }[]>(`
    SELECT pg_catalog.array_to_string(ARRAY[${shape.columns.map((k) => `${child(k.child)}::text`).join(', ')}], ', ', 'NULL') AS key,
           (count(*) OVER ())::float8 AS n
      FROM ${only(shape.childKind)}${quoteQualified(key.childTable.schema, key.childTable.name)} c
     WHERE ${violates}
     LIMIT 1`);
  if (!found) return;
  const columns = shape.columns.map((k) => displayPart(k.child)).join(', ');
  throw new MigrationFailed(
    `restore: ${found.n} row${found.n === 1 ? '' : 's'} of ${displayName(key.childTable)} violate${found.n === 1 ? 's' : ''} foreign key ${key.name}, `
    + `e.g. key (${columns})=(${found.key}) is not present in ${displayName(key.parentTable)}; nothing was loaded`,
    { hint: 'the rows were loaded with that key\'s check off (a reference cycle) and checked before COMMIT; restore the referenced rows too, or fix the backup\'s source and take it again' },
  );
}

function listNames(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
