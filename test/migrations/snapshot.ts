/**
 * Fingerprints for "down restores exactly what was there": the schema as the catalogs describe it,
 * and a digest of a table's rows.
 */
import type { Client } from './apply.js';

/** Every table, column, constraint, index, function, type, extension and comment of `public`, one line each. */
export async function schemaSnapshot(sql: Client): Promise<string[]> {
  const rows = await sql.unsafe<{ line: string }[]>(`
    SELECT format('column %s.%s %s %s default %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END, pg_get_expr(d.adbin, d.adrelid)) AS line
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
    UNION ALL
    SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT format('function %s(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
    UNION ALL
    SELECT format('type %s %s', t.typname, t.typtype)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'b', 'r')
    UNION ALL
    SELECT format('extension %s', extname) FROM pg_extension
    UNION ALL
    SELECT format('comment %s.%s %s', c.relname, d.objsubid, d.description)
    FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
    ORDER BY 1`);
  return rows.map((r) => r.line);
}

/** md5 of all rows of `table` (minus `except` columns), in `orderBy` order. */
export async function tableDigest(sql: Client, table: string, orderBy: string, except: string[] = []): Promise<string> {
  const drop = except.map((c) => ` - '${c}'`).join('');
  const [row] = await sql.unsafe<{ digest: string | null; rows: number }[]>(
    `SELECT md5(string_agg((to_jsonb(t)${drop})::text, '|' ORDER BY ${orderBy})) AS digest, count(*)::int AS rows FROM ${table} t`);
  return `${row!.rows} rows ${row!.digest ?? 'empty'}`;
}

/** Digest of the MVP tables (SPEC: down must give them back exactly). */
export async function mvpDigest(sql: Client): Promise<string> {
  return `${await tableDigest(sql, 'conversations', 'id')} / ${await tableDigest(sql, 'messages', 'id')}`;
}
