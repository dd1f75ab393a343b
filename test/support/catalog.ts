/**
 * A snapshot of a database's schema and history for "nothing changed" assertions.
 */
import type postgres from 'postgres';

/** Tables/columns/types/defaults, constraints, indexes, types and functions of user schemas, plus history. */
export async function catalogSnapshot(sql: postgres.Sql): Promise<string> {
  const parts = await Promise.all([
    sql`SELECT table_schema, table_name, column_name, data_type, column_default, is_nullable
        FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3`,
    sql`SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) ORDER BY 1, 2`,
    sql`SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    sql`SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND t.typtype IN ('e', 'c', 'd') ORDER BY 1, 2`,
    sql`SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) AS args FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3`,
    sql`SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
  ]);
  return JSON.stringify(parts);
}

/** History rows (name, checksum, state) or [] when the table does not exist. */
export async function historyRows(sql: postgres.Sql, table = 'public.schema_migrations'): Promise<{ name: string; state: string; checksum: string }[]> {
  const [exists] = await sql<{ ok: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS ok`;
  if (!exists?.ok) return [];
  return sql.unsafe(`SELECT name, state, checksum FROM ${table} ORDER BY name`);
}
