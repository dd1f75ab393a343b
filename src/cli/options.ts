/**
 * Global options (SPEC §5), validated once at the edge with zod; core receives typed settings.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';

const milliseconds = (flag: string) => z.union([z.string(), z.number()]).optional().transform((value, ctx) => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    ctx.addIssue({ code: 'custom', message: `invalid ${flag} "${value}": expected a whole number ≥ 0` });
    return z.NEVER;
  }
  return n;
});

const identifier = (flag: string) => z.string().min(1, `${flag} must not be empty`).max(63, `${flag} is longer than PostgreSQL's 63-byte limit`)
  .refine((v) => !v.includes('\0'), `${flag} contains a NUL byte`);

const GlobalSchema = z.object({
  databaseUrl: z.string().optional(),
  migrations: z.string().optional(),
  schema: identifier('--schema').default('public'),
  historyTable: identifier('--history-table').default('schema_migrations'),
  json: z.boolean().default(false),
  color: z.boolean().default(true),
  lockTimeout: milliseconds('--lock-timeout').transform((v) => v ?? 10_000),
  connectTimeout: milliseconds('--connect-timeout').transform((v) => v ?? 10),
  ddlLockTimeout: milliseconds('--ddl-lock-timeout').transform((v) => v ?? 5_000),
  retries: milliseconds('--retries').transform((v) => v ?? 3),
  statementTimeout: milliseconds('--statement-timeout'),
  bundled: z.boolean().default(false),
  embedded: z.boolean().default(false),
  yes: z.boolean().default(false),
  quiet: z.boolean().default(false),
  verbose: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  rollback: z.boolean().default(false),
  allowChanged: z.boolean().default(false),
  backup: z.boolean().default(true),
  backupDir: z.string().default('backups'),
  assumeTimezone: z.string().optional(),
});

/** Typed global settings of one CLI invocation. */
export type GlobalSettings = z.output<typeof GlobalSchema>;

/** Parses commander's merged options; a bad value is a usage error (exit 2). */
export function parseGlobalOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): GlobalSettings {
  const parsed = GlobalSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(issue?.message ?? 'invalid options');
  }
  const settings = parsed.data;
  // SPEC §5: NO_COLOR disables colour like --no-color.
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') settings.color = false;
  return settings;
}

/** Options a module may read through ctx.options. */
export function moduleOptions(settings: GlobalSettings): Record<string, string | undefined> {
  return { assumeTimezone: settings.assumeTimezone };
}
