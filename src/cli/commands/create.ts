/** `migrate create NAME [--sql|--ts]` (SPEC §5). */
import path from 'node:path';
import { createMigration } from '../../core/create.js';
import { UsageError } from '../../errors.js';
import type { CommandContext } from '../session.js';

export async function run(ctx: CommandContext, name: string, options: { sql?: boolean; ts?: boolean }): Promise<number> {
  if (options.sql && options.ts) throw new UsageError('choose one of --sql and --ts');
  const dir = path.resolve(ctx.cwd, ctx.settings.migrations ?? 'migrations');
  const result = await createMigration(dir, name, options.ts ? 'ts' : 'sql');
  if (ctx.out.json) ctx.out.document({ name: result.name, files: result.files.map((f) => path.relative(ctx.cwd, f)) });
  else {
    ctx.out.result(`created ${result.name}`);
    for (const file of result.files) ctx.out.result(`  ${path.relative(ctx.cwd, file)}`);
  }
  return 0;
}
