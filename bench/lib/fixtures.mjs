/**
 * The same N trivial migrations (`CREATE TABLE t_i (id int)`, down `DROP TABLE t_i`) in the layout
 * of each tool, plus the psql baseline: one file with the same shape per migration as the tools
 * (its own transaction and a history row), so `psql -f` is "the work without a tool".
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Names `0001_create_t_1` … (at least 4 digits, so 300 and 3000 sort alike in every tool). */
export function migrationNames(count) {
  const width = Math.max(4, String(count).length);
  return Array.from({ length: count }, (_, k) => `${String(k + 1).padStart(width, '0')}_create_t_${k + 1}`);
}

const upSql = (i) => `CREATE TABLE t_${i} (id int);\n`;
const downSql = (i) => `DROP TABLE t_${i};\n`;
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** The history table of the psql baseline: strata's columns (SPEC §4). */
const PSQL_HISTORY = `CREATE TABLE IF NOT EXISTS schema_migrations (
  name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
  duration_ms integer NOT NULL DEFAULT 0, applied_by text NOT NULL DEFAULT current_user,
  state text NOT NULL DEFAULT 'applied');\n`;

/**
 * Writes the fixtures under `root` and returns their paths:
 * { count, names, strata, dbmate, nodePgMigrate, psqlApply, psqlRollback }.
 */
export function writeTrivialMigrations(root, count) {
  const names = migrationNames(count);
  const dirs = { strata: path.join(root, 'strata'), dbmate: path.join(root, 'dbmate'), nodePgMigrate: path.join(root, 'node-pg-migrate'), psql: path.join(root, 'psql') };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
  const apply = [PSQL_HISTORY];
  const rollback = [];
  names.forEach((name, k) => {
    const i = k + 1;
    fs.mkdirSync(path.join(dirs.strata, name));
    fs.writeFileSync(path.join(dirs.strata, name, 'up.sql'), upSql(i));
    fs.writeFileSync(path.join(dirs.strata, name, 'down.sql'), downSql(i));
    fs.writeFileSync(path.join(dirs.dbmate, `${name}.sql`), `-- migrate:up\n${upSql(i)}\n-- migrate:down\n${downSql(i)}`);
    fs.writeFileSync(path.join(dirs.nodePgMigrate, `${name}.sql`), `-- Up Migration\n${upSql(i)}\n-- Down Migration\n${downSql(i)}`);
    apply.push(`BEGIN;\n${upSql(i)}INSERT INTO schema_migrations (name, checksum) VALUES ('${name}', '${sha256(upSql(i))}');\nCOMMIT;\n`);
    rollback.unshift(`BEGIN;\n${downSql(i)}DELETE FROM schema_migrations WHERE name = '${name}';\nCOMMIT;\n`);
  });
  const psqlApply = path.join(dirs.psql, 'apply.sql');
  const psqlRollback = path.join(dirs.psql, 'rollback.sql');
  fs.writeFileSync(psqlApply, apply.join(''));
  fs.writeFileSync(psqlRollback, rollback.join(''));
  return { count, names, strata: dirs.strata, dbmate: dirs.dbmate, nodePgMigrate: dirs.nodePgMigrate, psqlApply, psqlRollback };
}
