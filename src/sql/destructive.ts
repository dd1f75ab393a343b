/**
 * The statements of a SQL migration that destroy data (SPEC §6), read from the parse tree.
 *
 * What static analysis cannot see, and the README must say: statements inside DO blocks and
 * function or procedure bodies (plpgsql is a string to the SQL parser), dynamic SQL (EXECUTE
 * format(...)), functions called by a SELECT or CALL that drop or delete, triggers and rules that
 * fire on a statement. What a statement reaches beyond the tables it names — inheritance children,
 * foreign keys, what CASCADE drops, the stored values of a row type that loses a field — the runner
 * resolves from the catalog (core/reach.ts). UPDATE without WHERE and MERGE ... THEN DELETE are not
 * reported; a DROP … CASCADE of what nothing with rows can depend on (CASCADE_SAFE) is not either.
 */
import type { DeleteStmt, Node, NodePayload, RangeVar, TypeName } from './parser.js';
import { quoteIdent } from '../db/quote.js';
import { codeTokens } from './lexer.js';
import { nodeAs, nodeKind, parseSql } from './parser.js';
import { displayQualified, displayType, stringsOf } from './names.js';
import type { SqlStatement } from './statements.js';

/** What kind of data loss a statement causes. */
export type DestructiveKind =
  /** `-- strata: destroys t1, t2`: what the parser cannot see (a DELETE that cascades, a DO block). */
  | 'declared'
  | 'drop_table'
  | 'drop_column'
  | 'truncate'
  | 'drop_schema'
  | 'alter_column_type'
  | 'delete_without_where'
  /** `DROP … CASCADE` of another kind of object, `DROP OWNED BY`, and `DROP EXTENSION` (whose members go without CASCADE). */
  | 'drop_cascade'
  /** `ALTER TYPE t DROP ATTRIBUTE a`: the field goes from every value of t stored in a column (and, with CASCADE, from t's typed tables). */
  | 'drop_attribute'
  /** `ALTER TYPE t ALTER ATTRIBUTE a TYPE x CASCADE`: t's typed tables have that column retyped. */
  | 'alter_attribute_type';

/**
 * An object a DROP names, as PostgreSQL looks it up: the parts of its name as written (unquoted; no
 * `schema` when unqualified, found through the search path), and what else tells it apart. Types
 * are SQL text that quotes every name (`"pg_catalog"."int4"[]`), safe for to_regtype() whatever the
 * names are (keywords such as `position` included).
 */
export interface ObjectAddress {
  schema?: string;
  /** The name; an operator's symbol; a role (or CURRENT_USER, CURRENT_ROLE, SESSION_USER) for DROP OWNED. */
  name: string;
  /** Functions and operators: the argument types (`NONE` for an operator's missing side); absent when not written. */
  args?: string[];
  /** Types, domains, ALTER TYPE, transforms: the type. */
  type?: string;
  /** Operator classes and families: the access method. */
  method?: string;
  /** Transforms: the language. */
  language?: string;
}

/** A table as written: `schema` only when the SQL qualified it. */
export interface TableRef {
  schema?: string;
  name: string;
  /** Written with ONLY (`TRUNCATE ONLY t`): inheritance children are not reached. */
  only?: boolean;
}

/** A column a statement drops or retypes. */
export interface ColumnChange {
  table: TableRef;
  column: string;
  /** drop_column / drop_attribute: this subcommand says CASCADE (what depends on the column goes too). */
  cascade?: boolean;
  /** alter_column_type: the new type, normalised (`timestamptz`, `varchar(20)[]`, `app.mood`). */
  newType?: string;
  /** alter_column_type: true when a USING expression converts the values. */
  using?: boolean;
}

/** One destructive step found in a SQL file. */
export interface DestructiveAction {
  statementIndex: number;
  /** 1-based line of the statement in its file. */
  line: number;
  kind: DestructiveKind;
  /** Tables whose rows are at risk (empty for drop_schema, drop_cascade and the ALTER TYPE kinds: resolved from the catalog). */
  tables: TableRef[];
  /** drop_schema: the schemas dropped. */
  schemas?: string[];
  /** drop_column / alter_column_type. */
  columns?: ColumnChange[];
  /** drop_cascade: what is dropped, e.g. `TYPE`, `FUNCTION`, `OWNED` (DROP OWNED BY roles). */
  objectType?: string;
  /** drop_cascade and the ALTER TYPE kinds: the objects as written (`app.mood`, `f(int4, text)`, role names), for output. */
  objects?: string[];
  /** The same objects, as the catalog looks them up (core/reach.ts). */
  addresses?: ObjectAddress[];
  /** True when the statement says CASCADE (TRUNCATE ... CASCADE empties referencing tables too). */
  cascade?: boolean;
  /**
   * alter_column_type: the session time zone an earlier `SET [LOCAL] TimeZone` of the same file
   * leaves in effect at this statement (as written), if any: it decides whether timestamp →
   * timestamptz is the catalog-only, lossless change (core/destructive.ts).
   */
  sessionZone?: string;
  /** For output, e.g. "DROP TABLE smart_goals, sessions". */
  summary: string;
}

/** Every destructive step of the statements, in file order. */
export function findDestructive(statements: SqlStatement[]): DestructiveAction[] {
  let zone: string | undefined;
  return statements.flatMap((stmt) => {
    const found = FINDERS.flatMap((find) => (find === fromDeletes && !mayDelete(stmt) ? [] : find(stmt.ast))).map((action) => ({
      statementIndex: stmt.index,
      line: stmt.startLine,
      ...action,
      ...(action.kind === 'alter_column_type' && zone !== undefined ? { sessionZone: zone } : {}),
    }));
    const set = timeZoneSet(stmt.ast);
    if (set !== undefined) zone = set ?? UNKNOWN_ZONE;
    else if (mayChangeTimeZone(stmt)) zone = UNKNOWN_ZONE;
    return found;
  });
}

/** The session zone after a change this reading cannot follow: no zone is UTC, so nothing is exempt. */
export const UNKNOWN_ZONE = '(unknown)';

/**
 * The zone a `SET [LOCAL] TimeZone = 'X'` / `SET TIME ZONE 'X'` sets; null for a SET this reading
 * cannot follow (DEFAULT, LOCAL, a number or an interval, RESET).
 */
/** A statement that may set the zone where this reading cannot see it: `SELECT set_config('TimeZone', …)`, a DO block that SETs it. */
function mayChangeTimeZone(stmt: SqlStatement): boolean {
  if (stmt.kind !== 'SelectStmt' && stmt.kind !== 'DoStmt') return false;
  return /time\s*zone/i.test(stmt.sql) && /set_config|\bset\b/i.test(stmt.sql);
}

function timeZoneSet(node: Node): string | null | undefined {
  const set = nodeAs(node, 'VariableSetStmt');
  if (set === undefined || set.name?.toLowerCase() !== 'timezone') return undefined;
  const [arg, ...rest] = set.args ?? [];
  const value = set.kind === 'VAR_SET_VALUE' && rest.length === 0 ? nodeAs(arg, 'A_Const')?.sval?.sval : undefined;
  return value ?? null;
}

type Found = Omit<DestructiveAction, 'statementIndex' | 'line'>;
type Finder = (node: Node) => Found[];

// Dropping these with CASCADE reaches only objects that hold no rows (nothing at all: an expression
// that casts records a dependency on the cast's function, not on the cast, and nothing records one
// on a conversion). Every other CASCADE may drop columns or whole tables and is resolved in the
// catalog (core/reach.ts): a column of a dropped type, domain or collation; a stored generated
// column whose function, operator or text search configuration goes (`to_tsvector('cfg', …)`
// depends on the configuration); a column of a view's, materialized view's or foreign table's row
// type; a partitioned table whose partition key uses a dropped operator class; a range type's
// subtype operator class; the functions of a dropped language, and what depends on them; even an
// index or a sequence (a generated column holding `'s'::regclass::oid`, a view on a sequence whose
// row type a column uses).
const CASCADE_SAFE = new Set([
  'OBJECT_TRIGGER', 'OBJECT_RULE', 'OBJECT_POLICY', 'OBJECT_STATISTIC_EXT',
  'OBJECT_PUBLICATION', 'OBJECT_EVENT_TRIGGER', 'OBJECT_CAST', 'OBJECT_CONVERSION',
]);

/** How a DROP names the object type where it is not the enum's name with spaces (`OBJECT_MATVIEW`). */
const OBJECT_WORDS: Record<string, string> = {
  OBJECT_TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION',
  OBJECT_TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
  OBJECT_TSPARSER: 'TEXT SEARCH PARSER',
  OBJECT_TSTEMPLATE: 'TEXT SEARCH TEMPLATE',
  OBJECT_ACCESS_METHOD: 'ACCESS METHOD',
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_OPCLASS: 'OPERATOR CLASS',
  OBJECT_OPFAMILY: 'OPERATOR FAMILY',
  OBJECT_FDW: 'FOREIGN DATA WRAPPER',
  OBJECT_FOREIGN_SERVER: 'SERVER',
};

const FINDERS: Finder[] = [fromDrop, fromDropOwned, fromAlterTable, fromTruncate, fromDeletes, fromDoBlock];

// PL/pgSQL words after which a statement starts (`IF … THEN DELETE …`, `LOOP TRUNCATE …`).
const PLPGSQL_STATEMENT_START = new Set(['begin', 'then', 'else', 'loop']);
// Statements worth parsing inside a DO block: the ones the finders look at.
const DESTRUCTIVE_WORDS = new Set(['delete', 'truncate', 'drop', 'alter', 'with']);

/**
 * The destructive statements written directly in a PL/pgSQL DO block (`DO $$ BEGIN DELETE FROM t;
 * END $$`): the SQL parser sees the block's body as a string, and libpg-query's WASM build has no
 * PL/pgSQL parser. So the body is split into its statements with PostgreSQL's token rules (strings,
 * dollar quotes and comments kept whole), each statement that starts with a destructive word after
 * a PL/pgSQL keyword is cut out and parsed by the real SQL parser, and the finders read that tree.
 * What this cannot see stays the README's documented limit: dynamic SQL (`EXECUTE format(…)`),
 * functions the block calls, and other procedural languages.
 */
function fromDoBlock(node: Node): Found[] {
  const args = nodeAs(node, 'DoStmt')?.args ?? [];
  let body: string | undefined;
  let language = 'plpgsql';
  for (const arg of args) {
    const def = nodeAs(arg, 'DefElem');
    const value = nodeAs(def?.arg, 'String')?.sval;
    if (def?.defname === 'as') body = value;
    if (def?.defname === 'language' && value !== undefined) language = value.toLowerCase();
  }
  if (body === undefined || language !== 'plpgsql' || !/delete|truncate|drop|alter/i.test(body)) return [];
  const found: Found[] = [];
  for (const statement of plpgsqlStatements(body)) {
    let parsed: Node[];
    try {
      parsed = (parseSql(statement).stmts ?? []).flatMap((raw) => (raw.stmt === undefined ? [] : [raw.stmt]));
    } catch {
      continue; // PL/pgSQL of its own (INTO variables, RETURNING INTO …): not a plain SQL statement
    }
    for (const inner of parsed) {
      for (const find of FINDERS) {
        for (const action of find(inner)) found.push({ ...action, summary: `${action.summary} (in a DO block)` });
      }
    }
  }
  return found;
}

/** The statements of a PL/pgSQL body that start with a destructive word, as SQL text. */
function plpgsqlStatements(body: string): string[] {
  const tokens = codeTokens(body);
  const statements: string[] = [];
  let first = 0;
  for (let i = 0; i <= tokens.length; i++) {
    const token = tokens[i];
    if (token !== undefined && !(token.kind === 'other' && body[token.start] === ';')) continue;
    // The piece tokens[first, i): its statement is the first destructive word at the piece's start
    // or right after a PL/pgSQL keyword (`IF … THEN DELETE …`) — the first, not the last: a CASE
    // inside that statement has THEN and ELSE words of its own.
    const word = (k: number): string => (tokens[k]?.kind === 'word' ? body.slice(tokens[k]!.start, tokens[k]!.end).toLowerCase() : '');
    for (let k = first; k < i; k++) {
      if ((k === first || PLPGSQL_STATEMENT_START.has(word(k - 1))) && DESTRUCTIVE_WORDS.has(word(k))) {
        statements.push(body.slice(tokens[k]!.start, tokens[i - 1]!.end));
        break;
      }
    }
    first = i + 1;
  }
  return statements;
}

function fromDrop(node: Node): Found[] {
  const drop = nodeAs(node, 'DropStmt');
  if (drop?.removeType === undefined) return [];
  const cascade = drop.behavior === 'DROP_CASCADE';
  const suffix = cascade ? ' CASCADE' : '';
  const objects = drop.objects ?? [];
  if (drop.removeType === 'OBJECT_TABLE') {
    const tables = objects.map((object) => tableFromNames(stringsOf(nodeAs(object, 'List')?.items)));
    const summary = `DROP TABLE ${tables.map(displayTable).join(', ')}${suffix}`;
    return [{ kind: 'drop_table', tables, cascade, summary }];
  }
  if (drop.removeType === 'OBJECT_SCHEMA') {
    const schemas = stringsOf(objects);
    const summary = `DROP SCHEMA ${schemas.map((s) => displayQualified([s])).join(', ')}${suffix}`;
    return [{ kind: 'drop_schema', tables: [], schemas, cascade, summary }];
  }
  const removeType = drop.removeType;
  // DROP EXTENSION drops the extension's member objects whatever the behaviour: a table that belongs
  // to it (a configuration table such as pg_cron's cron.job) goes with its rows, CASCADE or not.
  if (!(cascade || removeType === 'OBJECT_EXTENSION') || CASCADE_SAFE.has(removeType)) return [];
  const objectType = OBJECT_WORDS[removeType] ?? removeType.replace(/^OBJECT_/, '').replace(/_/g, ' ');
  const names = objects.map((object) => displayObject(object, removeType));
  const addresses = objects.map((object) => addressOf(object, removeType));
  const summary = `DROP ${objectType} ${names.join(', ')}${suffix}`;
  return [{ kind: 'drop_cascade', tables: [], objectType, objects: names, addresses, cascade, summary }];
}

function fromDropOwned(node: Node): Found[] {
  const stmt = nodeAs(node, 'DropOwnedStmt');
  if (stmt === undefined) return [];
  // DROP OWNED drops every table the roles own, whatever the behavior: the runner resolves them.
  const roles = (stmt.roles ?? []).map((role) => {
    const spec = nodeAs(role, 'RoleSpec');
    if (spec?.rolename !== undefined) return { name: spec.rolename, shown: displayQualified([spec.rolename]) };
    const keyword = (spec?.roletype ?? 'ROLESPEC_UNKNOWN').replace(/^ROLESPEC_/, ''); // CURRENT_USER, ...
    return { name: keyword, shown: keyword };
  });
  const cascade = stmt.behavior === 'DROP_CASCADE';
  const summary = `DROP OWNED BY ${roles.map((r) => r.shown).join(', ')}${cascade ? ' CASCADE' : ''}`;
  const addresses = roles.map((r) => ({ name: r.name }));
  return [{ kind: 'drop_cascade', tables: [], objectType: 'OWNED', objects: roles.map((r) => r.name), addresses, cascade, summary }];
}

function fromAlterTable(node: Node): Found[] {
  const stmt = nodeAs(node, 'AlterTableStmt');
  if (stmt?.relation === undefined) return [];
  const table = tableFromRangeVar(stmt.relation);
  const cmds = (stmt.cmds ?? []).flatMap((cmd) => {
    const alter = nodeAs(cmd, 'AlterTableCmd');
    return alter === undefined ? [] : [alter];
  });
  if (stmt.objtype === 'OBJECT_TYPE') return fromAlterType(table, cmds);
  // ALTER FOREIGN TABLE: its own rows are elsewhere, but its children and the values of its row type are here.
  if (stmt.objtype !== 'OBJECT_TABLE' && stmt.objtype !== 'OBJECT_FOREIGN_TABLE') return [];
  const dropped: ColumnChange[] = cmds
    .filter((cmd) => cmd.subtype === 'AT_DropColumn')
    .map((cmd) => ({ table, column: cmd.name ?? '', cascade: cmd.behavior === 'DROP_CASCADE' }));
  const retyped: ColumnChange[] = cmds
    .filter((cmd) => cmd.subtype === 'AT_AlterColumnType')
    .map((cmd) => {
      const def = nodeAs(cmd.def, 'ColumnDef');
      const newType = def?.typeName === undefined ? '?' : displayType(def.typeName);
      return { table, column: cmd.name ?? '', newType, using: def?.raw_default !== undefined };
    });
  const found: Found[] = [];
  const prefix = `ALTER ${stmt.objtype === 'OBJECT_FOREIGN_TABLE' ? 'FOREIGN TABLE' : 'TABLE'} ${displayTable(table)}`;
  if (dropped.length > 0) {
    const list = dropped.map((c) => `DROP COLUMN ${displayQualified([c.column])}${c.cascade ? ' CASCADE' : ''}`).join(', ');
    found.push({ kind: 'drop_column', tables: [table], columns: dropped, summary: `${prefix} ${list}` });
  }
  if (retyped.length > 0) {
    const list = retyped.map((c) => `ALTER COLUMN ${displayQualified([c.column])} TYPE ${c.newType ?? '?'}`).join(', ');
    found.push({ kind: 'alter_column_type', tables: [table], columns: retyped, summary: `${prefix} ${list}` });
  }
  return found;
}

/**
 * `ALTER TYPE t DROP ATTRIBUTE a`: PostgreSQL removes the field from every stored value of t — in
 * columns of t, of arrays and domains of it, of composite types holding it — without a word; with
 * CASCADE, t's typed tables (`CREATE TABLE x OF t`, and their inheritance children) lose the column,
 * and what depends on the attribute goes. `ALTER ATTRIBUTE … TYPE … CASCADE` retypes the typed
 * tables' column (a column of t itself makes it fail). Each subcommand has its own behaviour.
 * core/reach.ts finds those tables.
 */
function fromAlterType(type: TableRef, cmds: NodePayload<'AlterTableCmd'>[]): Found[] {
  const name = displayTable(type);
  const address: ObjectAddress = { name: type.name, type: sqlQualified(type.schema === undefined ? [type.name] : [type.schema, type.name]) };
  const found: Found[] = [];
  const dropped = cmds.filter((cmd) => cmd.subtype === 'AT_DropColumn')
    .map((cmd) => ({ table: type, column: cmd.name ?? '', cascade: cmd.behavior === 'DROP_CASCADE' }));
  if (dropped.length > 0) {
    const list = dropped.map((c) => `DROP ATTRIBUTE ${displayQualified([c.column])}${c.cascade ? ' CASCADE' : ''}`).join(', ');
    const cascade = dropped.some((c) => c.cascade);
    found.push({ kind: 'drop_attribute', tables: [], objectType: 'TYPE', objects: [name], addresses: [address], columns: dropped, cascade, summary: `ALTER TYPE ${name} ${list}` });
  }
  const retyped = cmds.filter((cmd) => cmd.subtype === 'AT_AlterColumnType' && cmd.behavior === 'DROP_CASCADE')
    .map((cmd) => ({ table: type, column: cmd.name ?? '', cascade: true }));
  if (retyped.length > 0) {
    const list = retyped.map((c) => `ALTER ATTRIBUTE ${displayQualified([c.column])} TYPE … CASCADE`).join(', ');
    found.push({ kind: 'alter_attribute_type', tables: [], objectType: 'TYPE', objects: [name], addresses: [address], columns: retyped, cascade: true, summary: `ALTER TYPE ${name} ${list}` });
  }
  return found;
}

function fromTruncate(node: Node): Found[] {
  const stmt = nodeAs(node, 'TruncateStmt');
  if (stmt === undefined) return [];
  const tables = (stmt.relations ?? []).flatMap((relation) => {
    const range = nodeAs(relation, 'RangeVar');
    return range === undefined ? [] : [tableFromRangeVar(range)];
  });
  const cascade = stmt.behavior === 'DROP_CASCADE';
  const summary = `TRUNCATE ${tables.map(displayTable).join(', ')}${cascade ? ' CASCADE' : ''}`;
  return [{ kind: 'truncate', tables, cascade, summary }];
}

// Subtrees that are stored, not executed now: a rule's actions, a BEGIN ATOMIC function body,
// a prepared statement, a plain EXPLAIN (EXPLAIN ANALYZE does run its statement).
const NOT_EXECUTED = new Set(['RuleStmt', 'CreateFunctionStmt', 'PrepareStmt']);

/**
 * Whether a DELETE can be anywhere in the statement: the parser makes a DeleteStmt only from the
 * keyword, and keywords have no escaped spelling. Saves walking every node of every other
 * statement's tree (most of classification's time on a run of many small migrations).
 */
function mayDelete(stmt: SqlStatement): boolean {
  return /delete/i.test(stmt.sql);
}

/** DELETEs without WHERE anywhere in the statement: top level, in a CTE, under EXPLAIN ANALYZE. */
function fromDeletes(node: Node): Found[] {
  const found: Found[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, child] of Object.entries(value)) {
      if (NOT_EXECUTED.has(key) || (key === 'ExplainStmt' && !isExplainAnalyze(child))) continue;
      if (key === 'DeleteStmt') found.push(...deleteWithoutWhere(child as DeleteStmt));
      visit(child);
    }
  };
  visit(node);
  return found;
}

function deleteWithoutWhere(stmt: DeleteStmt): Found[] {
  if (stmt.whereClause !== undefined || stmt.relation === undefined) return [];
  const table = tableFromRangeVar(stmt.relation);
  return [{ kind: 'delete_without_where', tables: [table], summary: `DELETE FROM ${displayTable(table)} without WHERE` }];
}

function isExplainAnalyze(explain: unknown): boolean {
  const options = (explain as { options?: Node[] }).options ?? [];
  return options.some((option) => {
    const def = nodeAs(option, 'DefElem');
    if (def?.defname !== 'analyze') return false;
    const value = nodeAs(def.arg, 'String')?.sval?.toLowerCase();
    return value === undefined || !['false', 'off', '0'].includes(value);
  });
}

function tableFromNames(names: string[]): TableRef {
  const name = names[names.length - 1] ?? '';
  const schema = names.length >= 2 ? names[names.length - 2] : undefined;
  return schema === undefined ? { name } : { schema, name };
}

function tableFromRangeVar(range: RangeVar): TableRef {
  const name = range.relname ?? '';
  const table: TableRef = range.schemaname === undefined ? { name } : { schema: range.schemaname, name };
  // The parse tree omits false: `inh` is absent exactly when ONLY was written.
  if (range.inh !== true) table.only = true;
  return table;
}

function displayTable(table: TableRef): string {
  return displayQualified(table.schema === undefined ? [table.name] : [table.schema, table.name]);
}

/**
 * An object of a DROP as SQL would write it, for output: `app.mood`, `f(int4, text)`,
 * `===(int4, NONE)`, `(text AS int4)`, `app.ops USING btree`, `FOR hstore LANGUAGE plpython3u`.
 * core/reach.ts finds the object from its address (addressOf), not from this text.
 */
function displayObject(object: Node, removeType: string): string {
  const type = nodeAs(object, 'TypeName');
  if (type !== undefined) return displayType(type);
  const func = nodeAs(object, 'ObjectWithArgs');
  if (func !== undefined) {
    // An operator's name is its symbol, never quoted (`app.===`); a function's is an identifier.
    const parts = stringsOf(func.objname);
    const name = removeType === 'OBJECT_OPERATOR' ? [...parts.slice(0, -1).map((part) => displayQualified([part])), parts.at(-1)].join('.') : displayQualified(parts);
    if (func.args_unspecified) return name;
    const args = (func.objargs ?? []).map((arg) => {
      const argType = nodeAs(arg, 'TypeName');
      return argType === undefined ? 'NONE' : displayType(argType);
    });
    return `${name}(${args.join(', ')})`;
  }
  const list = nodeAs(object, 'List');
  if (list !== undefined) {
    const items = list.items ?? [];
    const types = items.flatMap((item) => nodeAs(item, 'TypeName') ?? []);
    // DROP CAST (source AS target): two types. DROP TRANSFORM FOR type LANGUAGE lang: a type and a name.
    if (removeType === 'OBJECT_CAST' && types.length === 2) return `(${types.map(displayType).join(' AS ')})`;
    if (removeType === 'OBJECT_TRANSFORM' && types.length === 1) return `FOR ${displayType(types[0]!)} LANGUAGE ${displayQualified(stringsOf(items))}`;
    // DROP OPERATOR CLASS / FAMILY name USING method: the method comes first in the list.
    if (removeType === 'OBJECT_OPCLASS' || removeType === 'OBJECT_OPFAMILY') {
      const [method = '', ...name] = stringsOf(items);
      return `${displayQualified(name)} USING ${displayQualified([method])}`;
    }
    return displayQualified(stringsOf(items));
  }
  const name = nodeAs(object, 'String')?.sval;
  return name === undefined ? nodeKind(object) : displayQualified([name]);
}

/** The object as the catalog looks it up (ObjectAddress); see displayObject for the forms. */
function addressOf(object: Node, removeType: string): ObjectAddress {
  const type = nodeAs(object, 'TypeName');
  if (type !== undefined) return { name: stringsOf(type.names).at(-1) ?? '', ...withType(type) };
  const func = nodeAs(object, 'ObjectWithArgs');
  if (func !== undefined) {
    const address = qualifiedAddress(stringsOf(func.objname));
    const args = (func.objargs ?? []).map((arg) => {
      const argType = nodeAs(arg, 'TypeName');
      return argType === undefined ? 'NONE' : sqlType(argType);
    });
    // `%TYPE` arguments cannot be looked up as text: the name alone then (every overload of it).
    return func.args_unspecified || args.includes(undefined) ? address : { ...address, args: args as string[] };
  }
  const list = nodeAs(object, 'List');
  if (list !== undefined) {
    const items = list.items ?? [];
    const types = items.flatMap((item) => nodeAs(item, 'TypeName') ?? []);
    if (removeType === 'OBJECT_TRANSFORM' && types[0] !== undefined) {
      return { name: '', ...withType(types[0]), language: stringsOf(items)[0] ?? '' };
    }
    if (removeType === 'OBJECT_OPCLASS' || removeType === 'OBJECT_OPFAMILY') {
      const [method = '', ...name] = stringsOf(items);
      return { ...qualifiedAddress(name), method };
    }
    return qualifiedAddress(stringsOf(items));
  }
  return { name: nodeAs(object, 'String')?.sval ?? '' };
}

function qualifiedAddress(parts: string[]): ObjectAddress {
  const name = parts.at(-1) ?? '';
  return parts.length >= 2 ? { schema: parts.at(-2) as string, name } : { name };
}

function withType(type: TypeName): { type?: string } {
  const text = sqlType(type);
  return text === undefined ? {} : { type: text };
}

/** A type as SQL text for the catalog's to_regtype(): every name quoted, array bounds kept, typmods dropped (they do not name a type); undefined for `%TYPE`. */
function sqlType(type: TypeName): string | undefined {
  if (type.pct_type) return undefined;
  const arrays = (type.arrayBounds ?? []).map(() => '[]').join('');
  return `${sqlQualified(stringsOf(type.names))}${arrays}`;
}

function sqlQualified(parts: string[]): string {
  return parts.map(quoteIdent).join('.');
}
