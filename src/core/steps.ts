/**
 * A run's steps, classified before anything runs (SPEC §5: "the whole plan of a run is classified
 * — every file parsed, every destroys() called: a refusal means that nothing of the run was
 * applied"). A step is one migration in one direction, with its statements, its transaction mode
 * and the destructive actions it contains.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Sql } from '../db/connect.js';
import { MigrationFailed, UsageError } from '../errors.js';
import type { DestructiveAction, TableRef } from '../sql/destructive.js';
import { moduleFailure } from './failure.js';
import { recordingSql } from './module-context.js';
import type { SqlStatement } from '../sql/statements.js';
// Types only: the SQL modules (and the WASM parser) load when a run has SQL steps.
import type * as SqlDestructive from '../sql/destructive.js';
import type * as SqlDirectives from '../sql/directives.js';
import type * as SqlParser from '../sql/parser.js';
import type * as SqlStatements from '../sql/statements.js';
import type { StatusEntry } from './plan.js';
import type { ResolvedMigration, SqlSource } from './resolver.js';
import type { DestroyedTable, Direction, Logger, MigrationContext, MigrationModule } from './types.js';

/** One migration in one direction, ready to run. */
export interface PreparedStep {
  name: string;
  direction: Direction;
  migration: ResolvedMigration;
  entry: StatusEntry;
  /** False for `-- strata: no-transaction` files and `export const transaction = false` modules. */
  transactional: boolean;
  /** SQL migrations: the file this step runs and its statements. */
  source?: SqlSource;
  statements: SqlStatement[];
  /** Module migrations: the loaded module. */
  module?: MigrationModule;
  /** What the step destroys; SQL: per statement; modules: from destroys(), before up/down runs. */
  destructive: DestructiveAction[];
}

/** Settings a step's classification needs. */
export interface PrepareContext {
  sql: Sql;
  schema: string;
  dryRun: boolean;
  log: Logger;
  options: Readonly<Record<string, string | undefined>>;
}

/**
 * Loads a TS/JS migration module (TypeScript through tsx, loaded only when a .ts file exists).
 *
 * A .ts file in an ES-module package (the nearest package.json says `"type": "module"`) is
 * imported (`tsImport`); elsewhere Node treats it as CommonJS, and it is required through tsx's
 * CommonJS hook. Not `tsImport` there: tsx then runs the transpiled code from a `data:` URL with
 * no source map, so a stack trace shows line 2 of minified code, not the line a failing statement
 * was written on (core/failure.ts needs the source's lines). Both ways are what tsx itself does
 * with such a file; top-level await works only in the first, as before.
 */
export async function loadMigrationModule(file: string): Promise<MigrationModule> {
  let loaded: Partial<MigrationModule> & { default?: Partial<MigrationModule> };
  try {
    if (file.endsWith('.ts') && !inModulePackage(path.dirname(file))) {
      const { require: tsxRequire } = await import('tsx/cjs/api');
      loaded = tsxRequire(file, import.meta.url) as typeof loaded;
    } else if (file.endsWith('.ts')) {
      const { tsImport } = await import('tsx/esm/api');
      loaded = (await tsImport(pathToFileURL(file).href, import.meta.url)) as typeof loaded;
    } else {
      loaded = (await import(pathToFileURL(file).href)) as typeof loaded;
    }
  } catch (cause) {
    throw new UsageError(`cannot load migration module ${path.basename(file)}: ${(cause as Error).message}`, { cause });
  }
  const mod = (typeof loaded.up === 'function' ? loaded : loaded.default) ?? {};
  if (typeof mod.up !== 'function') {
    throw new UsageError(`migration module ${path.basename(file)} does not export an up(ctx) function`);
  }
  return mod as MigrationModule;
}

/** Node's rule: the nearest package.json decides, and only `"type": "module"` makes .js/.ts files ES modules. */
function inModulePackage(dir: string): boolean {
  for (let current = dir; ; current = path.dirname(current)) {
    let text: string | undefined;
    try {
      text = fs.readFileSync(path.join(current, 'package.json'), 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(current) === current) return false;
  }
}

/** Turns `destroys()` entries into table references. */
export function toTableRefs(entries: DestroyedTable[]): TableRef[] {
  return entries.map((entry) => {
    if (typeof entry !== 'string') return entry.schema ? { schema: entry.schema, name: entry.table } : { name: entry.table };
    const dot = entry.indexOf('.');
    return dot > 0 ? { schema: entry.slice(0, dot), name: entry.slice(dot + 1) } : { name: entry };
  });
}

type SqlModules = [typeof SqlParser, typeof SqlStatements, typeof SqlDirectives, typeof SqlDestructive];

async function loadSqlModules(): Promise<SqlModules> {
  const modules = await Promise.all([
    import('../sql/parser.js'), import('../sql/statements.js'), import('../sql/directives.js'), import('../sql/destructive.js'),
  ]);
  await modules[0].loadSqlParser();
  return modules;
}

function sqlSourceOf(migration: ResolvedMigration, direction: Direction): SqlSource {
  const source = direction === 'up' ? migration.up : migration.down;
  if (!source) throw new UsageError(`${migration.name} has no ${direction}.sql`);
  return source;
}

/**
 * The statements of every SQL file of the run from one parser call (see splitStatementsOfFiles).
 * Undefined when a file does not parse: the files are then split one by one, in run order, so the
 * first bad file of the plan is the one reported.
 */
function splitAllAtOnce(entries: StatusEntry[], direction: Direction, modules: SqlModules): Map<SqlSource, SqlStatement[]> | undefined {
  try {
    // A missing or unreadable down.sql throws here too: the run-order path then reports it, in order.
    const sources = entries.flatMap((e) => (e.migration?.kind === 'sql' ? [sqlSourceOf(e.migration, direction)] : []));
    if (sources.length < 2) return undefined;
    const split = modules[1].splitStatementsOfFiles(sources.map((s) => ({ text: s.text, file: s.displayPath })));
    return new Map(sources.map((s, i) => [s, split[i]!]));
  } catch {
    return undefined;
  }
}

function prepareSqlStep(entry: StatusEntry, migration: ResolvedMigration, direction: Direction, modules: SqlModules, presplit?: SqlStatement[]): PreparedStep {
  const source = sqlSourceOf(migration, direction);
  const [, { splitStatements }, { readDirectives }, { findDestructive }] = modules;
  const directives = readDirectives(source.text, source.displayPath);
  const statements = presplit ?? splitStatements(source.text, source.displayPath);
  if (directives.noTransaction === false) {
    const control = statements.find((s) => s.transactionControl);
    if (control) {
      throw new UsageError(`${source.displayPath}:${control.startLine}: transaction control (${control.kind}) in a migration: strata runs each migration in its own transaction`, {
        hint: 'remove it, or add "-- strata: no-transaction" at the top to manage transactions yourself',
      });
    }
    const outside = statements.find((s) => !s.transactional);
    if (outside) {
      throw new UsageError(`${source.displayPath}:${outside.startLine}: this statement cannot run inside a transaction`, {
        hint: 'add "-- strata: no-transaction" as the first line of the file (it then runs statement by statement)',
      });
    }
  }
  if (directives.noTransaction) checkTransactionBlocks(statements, source.displayPath);
  const destructive = findDestructive(statements);
  if (directives.destroys.length > 0 && statements.length > 0) {
    const names = directives.destroys.map((t) => (t.schema ? `${t.schema}.${t.name}` : t.name)).join(', ');
    destructive.unshift({
      statementIndex: statements[0]!.index, line: statements[0]!.startLine, kind: 'declared', tables: directives.destroys,
      summary: `${source.displayPath} declares it destroys ${names}`,
    });
  }
  return {
    name: migration.name, direction, migration, entry, transactional: !directives.noTransaction,
    source, statements, destructive,
  };
}

/**
 * A no-transaction file may open and close its own transaction blocks, but must not end inside one:
 * the session would roll it back when the run disconnects, after strata recorded the migration as
 * applied. Refused before anything runs (exit 2), like any other malformed file.
 */
function checkTransactionBlocks(statements: readonly SqlStatement[], file: string): void {
  let open: SqlStatement | undefined;
  for (const statement of statements) {
    if (statement.blockEffect === 'opens') open ??= statement;
    else if (statement.blockEffect === 'closes') open = undefined;
  }
  if (open) {
    throw new UsageError(`${file}:${open.startLine}: this transaction block is never closed: the file ends inside it`, {
      hint: 'end it with COMMIT (or ROLLBACK) before the end of the file',
    });
  }
}

async function prepareModuleStep(entry: StatusEntry, migration: ResolvedMigration, module: MigrationModule, direction: Direction, context: PrepareContext): Promise<PreparedStep> {
  const step: PreparedStep = { name: migration.name, direction, migration, entry, transactional: module.transaction !== false, module, statements: [], destructive: [] };
  if (typeof module.destroys === 'function') {
    // Recorded like up/down's queries (and thrown away): a failing query then names its line.
    const sql = recordingSql(context.sql, [], false);
    const ctx: MigrationContext = { sql, direction, dryRun: context.dryRun, schema: context.schema, log: context.log, options: context.options };
    try {
      step.destructive = await declaredDestruction(module, migration.name, direction, ctx);
    } catch (error) {
      throw moduleFailure(step, error, undefined, 'destroys');
    }
  }
  return step;
}

/**
 * The modules of the run's module steps, loaded in run order. A rollback through a module without
 * down(ctx) is refused here, before anything runs, as one without down.sql is (SPEC §3: exit 1).
 */
async function loadModules(entries: StatusEntry[], direction: Direction): Promise<Map<StatusEntry, MigrationModule>> {
  const modules = new Map<StatusEntry, MigrationModule>();
  for (const entry of entries) {
    if (entry.migration?.kind === 'module') modules.set(entry, await loadMigrationModule(entry.migration.path));
  }
  if (direction === 'down') {
    const irreversible = [...modules].filter(([, module]) => typeof module.down !== 'function').map(([entry]) => entry.name);
    if (irreversible.length > 0) {
      throw new MigrationFailed(`cannot roll back: ${irreversible.join(', ')} exports no down(ctx) (irreversible)`, {
        hint: 'nothing was changed; export a down(ctx) to make it reversible',
      });
    }
  }
  return modules;
}

/**
 * What a module's `destroys(ctx)` declares, as one action (none without `destroys`). Asked when the
 * run is classified, and again when the step runs (core/execute.ts): by then earlier steps of the
 * run may have created and filled tables it will destroy (011 with --assume-timezone rewrites
 * every table with a timestamp column, those made by 004 in the same run included).
 */
export async function declaredDestruction(module: MigrationModule, name: string, direction: Direction, ctx: MigrationContext): Promise<DestructiveAction[]> {
  if (typeof module.destroys !== 'function') return [];
  const tables: TableRef[] = toTableRefs(await module.destroys(ctx));
  if (tables.length === 0) return [];
  return [{
    statementIndex: -1, line: 0, kind: 'drop_table', tables,
    summary: `${name} ${direction}() destroys ${tables.map((t) => (t.schema ? `${t.schema}.${t.name}` : t.name)).join(', ')}`,
  }];
}

/** Classifies every step of a run; any invalid file fails here, before the first statement runs. */
export async function prepareSteps(entries: StatusEntry[], direction: Direction, context: PrepareContext): Promise<PreparedStep[]> {
  const loaded = await loadModules(entries, direction);
  const modules = entries.some((e) => e.migration?.kind === 'sql') ? await loadSqlModules() : undefined;
  const presplit = modules ? splitAllAtOnce(entries, direction, modules) : undefined;
  const steps: PreparedStep[] = [];
  for (const entry of entries) {
    const migration = entry.migration;
    if (!migration) throw new UsageError(`${entry.name} has no file on disk`);
    steps.push(migration.kind === 'sql'
      ? prepareSqlStep(entry, migration, direction, modules!, presplit?.get(sqlSourceOf(migration, direction)))
      : await prepareModuleStep(entry, migration, loaded.get(entry)!, direction, context));
  }
  return steps;
}
