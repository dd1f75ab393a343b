/**
 * SQL text quoting for the few places that must build SQL text rather than bind parameters:
 * statements sent in the simple protocol (pipelined migrations, see core/execute.ts) and DDL.
 * Values go through parameters everywhere else.
 */

/** Quotes an identifier: `weird"name` → `"weird""name"`. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL byte');
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a schema-qualified name: `public`, `t` → `"public"."t"`. */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Quotes a string literal for a server with standard_conforming_strings on (the default since 9.1,
 * and set explicitly on every strata session): only single quotes need doubling.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL byte');
  return `'${value.replace(/'/g, "''")}'`;
}
