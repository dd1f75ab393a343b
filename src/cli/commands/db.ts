/** `migrate db start|stop|status|url|reset`: the embedded database (SPEC §2). */
import path from 'node:path';
import { embeddedStatus, projectLayout, resetEmbedded, startEmbedded, stopEmbedded } from '../../db/embedded.js';
import { parseDatabaseUrl, redactUrl } from '../../db/url.js';
import { Refused, UsageError } from '../../errors.js';
import { askYesNo } from '../prompt.js';
import type { CommandContext } from '../session.js';

const ACTIONS = ['start', 'stop', 'status', 'url', 'reset'] as const;
type Action = (typeof ACTIONS)[number];

export async function run(ctx: CommandContext, action: string): Promise<number> {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`unknown db action "${action}"`, { hint: `use one of: ${ACTIONS.join(', ')}` });
  }
  const layout = projectLayout(ctx.cwd);
  const where = path.relative(ctx.cwd, layout.dataDir) || layout.dataDir;
  const { out } = ctx;
  switch (action as Action) {
    case 'start': {
      const server = await startEmbedded(layout);
      out.addSecret(parseDatabaseUrl(server.url).password);
      if (out.json) out.document({ dataDir: where, port: server.port, running: true, started: server.started, url: redactUrl(server.url) });
      else out.result(`${server.started ? 'started' : 'already running:'} embedded PostgreSQL at ${where} (port ${server.port})`);
      return 0;
    }
    case 'stop': {
      const stopped = await stopEmbedded(layout);
      if (out.json) out.document({ dataDir: where, stopped });
      else out.result(stopped ? `stopped embedded PostgreSQL at ${where}` : `embedded PostgreSQL at ${where} is not running`);
      return 0;
    }
    case 'status': {
      const status = await embeddedStatus(layout);
      const doc = { dataDir: where, initialised: status.initialised, running: status.running, port: status.port ?? null, version: status.version ?? null, url: status.url ? redactUrl(status.url) : null };
      if (out.json) out.document(doc);
      else if (!status.initialised) out.result(`no embedded database at ${where} (migrate db start creates one)`);
      else out.result(`embedded PostgreSQL ${status.version} at ${where}: ${status.running ? `running on port ${status.port}` : 'stopped'}`);
      return 0;
    }
    case 'url': {
      // The one place a password is printed whole (SPEC §2): to hand the URL to other tools.
      const server = await startEmbedded(layout);
      if (server.started) out.progress(`started embedded PostgreSQL at ${where} (port ${server.port})`);
      if (out.json) process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
      else process.stdout.write(`${server.url}\n`);
      return 0;
    }
    case 'reset': {
      if (!ctx.settings.yes) {
        const question = `db reset deletes every database in ${where}. Continue?`;
        if (!ctx.interactive) throw new Refused(`db reset deletes every database in ${where}`, { hint: 'pass --yes to confirm' });
        if (!(await askYesNo(question))) throw new Refused('cancelled: nothing was changed');
      }
      const server = await resetEmbedded(layout);
      if (out.json) out.document({ dataDir: where, port: server.port, reset: true });
      else out.result(`reset embedded PostgreSQL at ${where}: empty, running on port ${server.port}`);
      return 0;
    }
  }
}
