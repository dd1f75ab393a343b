/**
 * The real PostgreSQL 17 parser (libpg-query, WASM), loaded lazily.
 *
 * Loading `libpg-query` starts instantiating its WASM module at once, so this module only
 * requires it inside `loadSqlParser()`: commands that never parse SQL (`status`, SPEC §10
 * cold start) never pay for it. Everything else in `src/sql/` imports this file freely.
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import type * as LibPgQueryModule from 'libpg-query';
import type { DeleteStmt, Node, ParseResult, RangeVar, RawStmt, SelectStmt, TypeName } from 'libpg-query';

export type { DeleteStmt, Node, ParseResult, RangeVar, RawStmt, SelectStmt, TypeName };

type LibPgQuery = typeof LibPgQueryModule;

let library: LibPgQuery | undefined;
let loading: Promise<void> | undefined;

/** Loads the parser's WASM module once; later calls return the same promise. */
export function loadSqlParser(): Promise<void> {
  loading ??= (async () => {
    // Before the require: the module starts reading and compiling its WASM as it is loaded.
    keepWasmOnBaselineCompiler(true);
    let mod = freshLibPgQuery();
    try {
      await mod.loadModule();
    } catch (error) {
      // Should the baseline compiler refuse the module on some platform, let V8 use its optimizer.
      keepWasmOnBaselineCompiler(false);
      mod = freshLibPgQuery();
      if (!(await mod.loadModule().then(() => true, () => false))) throw error;
    }
    library = mod;
  })().catch((error: unknown) => {
    // Let a later call retry instead of caching the failure forever.
    loading = undefined;
    throw error;
  });
  return loading;
}

/**
 * A new instance of libpg-query, its WebAssembly being instantiated. The package starts that once,
 * when it is loaded, and remembers the outcome: after a failure its `loadModule()` only repeats it.
 * So every attempt (the fallback below, a later call after a failed one) loads the package anew.
 * Its CommonJS build: through the ES module loader the same files take ~10 ms longer to load.
 */
export function freshLibPgQuery(): LibPgQuery {
  const require = createRequire(import.meta.url);
  for (const id of ['libpg-query', 'libpg-query/wasm/libpg-query.js']) delete require.cache[require.resolve(id)];
  return require('libpg-query') as LibPgQuery;
}

/**
 * Keeps the parser's WebAssembly on V8's baseline compiler (Liftoff). By default V8 also hands the
 * module to its optimizing compiler (TurboFan) in the background; for the PostgreSQL grammar that
 * is ~200 ms of CPU per process — on a 2-core machine, taken from the PostgreSQL server the run is
 * talking to — and the process cannot exit until it is done. Liftoff code parses a run's files in
 * a few milliseconds. The flag only concerns WebAssembly, and this is strata's only module.
 */
function keepWasmOnBaselineCompiler(on: boolean): void {
  v8.setFlagsFromString(on ? '--liftoff-only' : '--no-liftoff-only');
}

/** True once `loadSqlParser()` has completed. */
export function isSqlParserLoaded(): boolean {
  return library !== undefined;
}

/** A syntax error from the parser; `position` is a 0-based code-point index into the parsed text. */
export class SqlSyntaxError extends Error {
  readonly position: number;

  constructor(message: string, position: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SqlSyntaxError';
    this.position = position;
  }
}

/**
 * Parses SQL text into raw statements. Offsets in the result (`stmt_location`, `stmt_len`, node
 * `location`s) are UTF-8 byte offsets; `stmt_location` is omitted when 0 and `stmt_len` when the
 * statement runs to the end of the input.
 */
export function parseSql(text: string): ParseResult {
  if (library === undefined) {
    throw new Error('SQL parser not loaded: await loadSqlParser() before parsing');
  }
  // libpg-query rejects blank input instead of returning no statements.
  if (isBlank(text)) return { version: 0, stmts: [] };
  try {
    return library.parseSync(text) as ParseResult;
  } catch (error) {
    throw toSyntaxError(error);
  }
}

/** The node's type name, e.g. `CreateStmt` for `{ CreateStmt: {...} }`. */
export function nodeKind(node: Node | undefined): string {
  if (node === undefined) return 'Unknown';
  return Object.keys(node)[0] ?? 'Unknown';
}

/** The node's payload if it is of the given type, e.g. `nodeAs(n, 'DropStmt')`. */
export function nodeAs<K extends NodeKey>(node: Node | undefined, kind: K): NodePayload<K> | undefined {
  if (node === undefined || !(kind in node)) return undefined;
  return (node as unknown as Record<K, NodePayload<K>>)[kind];
}

type UnionKeys<T> = T extends unknown ? keyof T : never;
/** Every node type name the parser can produce. */
export type NodeKey = UnionKeys<Node>;
/** The payload type of a node type name. */
export type NodePayload<K extends NodeKey> = Extract<Node, Record<K, unknown>>[K];

function isBlank(text: string): boolean {
  // PostgreSQL's whitespace, not JS's: a lone U+00A0 is a syntax error to the server.
  for (const ch of text) {
    if (!' \t\n\r\f\v'.includes(ch)) return false;
  }
  return true;
}

function toSyntaxError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const details = (error as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
  if (details === undefined) return error;
  // libpg-query already converted PostgreSQL's 1-based cursorpos to 0-based; it counts characters
  // (code points), not bytes and not UTF-16 units.
  return new SqlSyntaxError(details.message ?? error.message, Math.max(0, details.cursorPosition ?? 0), { cause: error });
}
