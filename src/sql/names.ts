/**
 * Names from parse trees, rendered for people: identifiers quoted only when they must be, types
 * in PostgreSQL's internal spelling (`int8`, `timestamptz`, `varchar(20)`) as `pg_type.typname`
 * has them, without the `pg_catalog.` the grammar adds.
 */
import { quoteIdent } from '../db/quote.js';
import type { Node, TypeName } from './parser.js';
import { nodeAs } from './parser.js';

/** `name` as SQL needs it: bare for plain lower-case names, quoted otherwise (`"Mixed Case"`). */
export function displayIdent(name: string): string {
  // A display helper, not SQL to run: reserved words such as `user` are left bare.
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

/** Dotted display of a qualified name: `s."Mixed Case"`. */
export function displayQualified(parts: string[]): string {
  return parts.map(displayIdent).join('.');
}

/** The `sval`s of a list of String nodes (name lists in the parse tree). */
export function stringsOf(nodes: Node[] | undefined): string[] {
  return (nodes ?? []).flatMap((node) => {
    const sval = nodeAs(node, 'String')?.sval;
    return sval === undefined ? [] : [sval];
  });
}

// Interval field masks (utils/datetime.h: YEAR 1<<2, MONTH 1<<1, DAY 1<<3, HOUR 1<<10, ...).
const INTERVAL_FIELDS = new Map<number, string>([
  [4, 'year'], [2, 'month'], [8, 'day'], [1024, 'hour'], [2048, 'minute'], [4096, 'second'],
  [6, 'year to month'], [1032, 'day to hour'], [3080, 'day to minute'], [7176, 'day to second'],
  [3072, 'hour to minute'], [7168, 'hour to second'], [6144, 'minute to second'],
]);
const INTERVAL_FULL_RANGE = 0x7fff;

/** A type as written, normalised: `pg_catalog.timestamptz` → `timestamptz`, `varchar(20)[]`. */
export function displayType(type: TypeName): string {
  const names = stringsOf(type.names);
  const parts = names.length === 2 && names[0] === 'pg_catalog' ? names.slice(1) : names;
  const base = parts.length === 1 && parts[0] === 'char' ? '"char"' : displayQualified(parts);
  const mods = (type.typmods ?? []).map(typmodText);
  const arrays = (type.arrayBounds ?? []).map((bound) => {
    const size = nodeAs(bound, 'Integer')?.ival ?? -1;
    return size >= 0 ? `[${size}]` : '[]';
  });
  return `${withTypmods(base, mods)}${arrays.join('')}`;
}

function withTypmods(base: string, mods: string[]): string {
  if (base !== 'interval') return mods.length === 0 ? base : `${base}(${mods.join(',')})`;
  // interval's first typmod is a field mask, the optional second its precision.
  const [mask, precision] = mods;
  const fields = mask === undefined || Number(mask) === INTERVAL_FULL_RANGE ? undefined : INTERVAL_FIELDS.get(Number(mask));
  const withFields = fields === undefined ? base : `${base} ${fields}`;
  return precision === undefined ? withFields : `${withFields}(${precision})`;
}

function typmodText(node: Node): string {
  const constant = nodeAs(node, 'A_Const');
  if (constant?.ival !== undefined) return String(constant.ival.ival ?? 0);
  if (constant?.sval !== undefined) return constant.sval.sval ?? '';
  const column = nodeAs(node, 'ColumnRef');
  if (column !== undefined) return stringsOf(column.fields).join('.');
  return '?';
}
