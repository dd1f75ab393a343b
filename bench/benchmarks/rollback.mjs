/**
 * Rollback (issue 7): revert the same N migrations, newest first, from a database where the same
 * tool applied them (a fresh copy of a template per run). Same target as apply.
 */
import { noteFor, slug, trivialSuite } from '../lib/suite.mjs';
import { summariseOverhead } from './apply.mjs';

export default {
  name: 'rollback',
  title: 'roll back N trivial migrations',
  defaults: { rounds: 5, warmup: 1 },
  async setup(ctx) {
    const suite = await trivialSuite(ctx);
    const tools = suite.tools.filter((t) => t.rollback);
    const templates = Object.fromEntries(await Promise.all(tools.map(async (t) => [t.name, await suite.appliedTemplate(t)])));
    const subjects = tools.map((tool) => {
      const database = `bench_rollback_${slug(tool.name)}`;
      return {
        name: tool.name,
        note: noteFor(tool, 'rollback'),
        prepare: () => ctx.server.createDatabase(database, templates[tool.name]),
        run: async (url) => {
          const ms = await tool.rollback(url);
          await suite.expectTables(database, 0, `${tool.name} rollback`);
          return ms;
        },
        cleanup: () => ctx.server.dropDatabase(database),
      };
    });
    return { subjects, title: `roll back ${suite.count} trivial migrations (copy of an applied database per run)`, suite };
  },
  summarise: (results, ctx, setup) => summariseOverhead(results, setup.suite, 'rollback', ctx),
};
