/** `migrate status` (SPEC §5). */
import { readStatus } from '../../core/status.js';
import { asConnectionFailure } from '../../db/connect.js';
import { renderStatus } from '../render.js';
import { connectionTarget, migrationsSource, withDatabase, type CommandContext } from '../session.js';

export async function run(ctx: CommandContext): Promise<number> {
  const target = connectionTarget(ctx);
  const source = await migrationsSource(ctx, target);
  const { settings, out } = ctx;
  // Its state stands (the checksum is over the bytes); running it, or `plan`, is refused (exit 2).
  for (const m of source.migrations) if (m.up?.encodingError) out.warn(`${m.up.encodingError}; up and plan refuse it until it is converted`);
  // One round trip (SPEC §10): no session-setup query, connection failures mapped from the read.
  return withDatabase(ctx, target, async (db) => {
    const entries = await readStatus(db.sql, source.migrations, { schema: settings.schema, table: settings.historyTable })
      .catch((error: unknown) => { throw asConnectionFailure(error, db, settings.connectTimeout) ?? error; });
    if (out.json) {
      out.document({
        database: db.redactedUrl,
        migrations: entries.map((e) => ({ name: e.name, phase: e.phase, state: e.state, appliedAt: e.appliedAt, checksum: e.checksum })),
      });
    } else {
      renderStatus(out, db.redactedUrl, source.bundled ? `${source.dir} (bundled)` : source.dir, entries);
    }
    return 0;
  }, { probe: false, waitForClose: false }); // nothing is pending then: Terminate, and no wait for the server to hang up
}
