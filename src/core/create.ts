/**
 * `create NAME [--sql|--ts]` (SPEC §5): scaffold the next-numbered migration.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { resolveMigrations } from './resolver.js';

/** What `create` wrote. */
export interface CreateResult {
  name: string;
  files: string[];
}

const SQL_TEMPLATES = {
  'up.sql': (name: string) => `-- ${name}: what this migration does and why.\n-- Runs in one transaction. Add "-- strata: no-transaction" as the first line for CREATE INDEX CONCURRENTLY and the like.\n\n`,
  'down.sql': (name: string) => `-- Reverts ${name}. Delete this file to make the migration irreversible.\n\n`,
  'verify.sql': (name: string) => `-- Checks for ${name}, run by migrate verify: a line "-- check: <title>", then one SELECT\n-- returning the rows that violate it (none: the check passes). For example:\n--   -- check: every order has a customer\n--   SELECT o.id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL;\n`,
};

const TS_TEMPLATE = (name: string) => `import type { MigrationContext } from 'strata';

/** ${name}: what this migration does and why. */
export async function up({ sql }: MigrationContext): Promise<void> {
  await sql\`SELECT 1\`;
}

/** Reverts ${name}. Remove it to make the migration irreversible. */
export async function down({ sql }: MigrationContext): Promise<void> {
  await sql\`SELECT 1\`;
}

/** Tables down() (or up()) destroys, so strata backs them up first. */
export function destroys({ direction }: MigrationContext): string[] {
  return direction === 'down' ? [/* the tables down() drops */] : [];
}
`;

/** Normalises a phase name: lowercase, spaces and dashes to `_`; anything else is an error. */
export function normalisePhaseName(raw: string): string {
  const name = raw.trim().toLowerCase().replace(/[\s-]+/g, '_');
  if (!/^[a-z0-9_]+$/.test(name) || /^\d+_/.test(name)) {
    throw new UsageError(`invalid migration name "${raw}"`, { hint: 'use lowercase letters, digits and _ (the number is added for you)' });
  }
  return name;
}

/** Creates NNN_name/ (or NNN_name.ts) after the highest existing number, padded like the others. */
export async function createMigration(dir: string, rawName: string, kind: 'sql' | 'ts'): Promise<CreateResult> {
  const phase = normalisePhaseName(rawName);
  await fs.mkdir(dir, { recursive: true });
  const existing = await resolveMigrations(dir);
  if (existing.some((m) => m.phase === phase)) throw new UsageError(`a migration with the phase name "${phase}" already exists`);
  const last = existing.at(-1);
  const next = last ? BigInt(last.number) + 1n : 1n;
  const width = Math.max(3, last?.number.length ?? 3);
  const name = `${next.toString().padStart(width, '0')}_${phase}`;
  if (kind === 'ts') {
    const file = path.join(dir, `${name}.ts`);
    await fs.writeFile(file, TS_TEMPLATE(name), { flag: 'wx' });
    return { name, files: [file] };
  }
  const folder = path.join(dir, name);
  await fs.mkdir(folder);
  const files: string[] = [];
  for (const [file, template] of Object.entries(SQL_TEMPLATES)) {
    const full = path.join(folder, file);
    await fs.writeFile(full, template(name), { flag: 'wx' });
    files.push(full);
  }
  return { name, files };
}
