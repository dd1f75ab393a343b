/**
 * Apply overhead over a network link (informational next to `apply`): the same N trivial migrations
 * applied by each tool and by `psql -f`, every connection going through a proxy that delays each
 * direction by half of `--rtt` ms (lib/latency-proxy.mjs; default: a 2 ms round trip, like a link
 * between availability zones).
 *
 * Why: `apply` runs on localhost with fsync off, where a round trip costs ~0.05 ms and what separates
 * the tools is the start of their process. Migrations in production go over a network, where each
 * round trip is paid again: psql and dbmate wait for the server 4 times per migration (BEGIN, the
 * statement, the history row, COMMIT), strata sends migrations ahead (README, "How a run works").
 * Its target line is marked informational: the target of SPEC §10 is judged by `apply`.
 */
import { trivialSuite } from '../lib/suite.mjs';
import { startLatencyProxy } from '../lib/latency-proxy.mjs';
import { applySubjects, summariseOverhead } from './apply.mjs';

export default {
  name: 'apply-net',
  title: 'apply N trivial migrations over a network link',
  defaults: { rounds: 3, warmup: 1 },
  async setup(ctx) {
    const suite = await trivialSuite(ctx);
    const delayMs = Math.max(1, Math.round((ctx.rttMs ?? 2) / 2));
    const upstream = new URL(ctx.server.adminUrl);
    const proxy = await startLatencyProxy({ upstream: `${upstream.hostname}:${upstream.port || 5432}`, delayMs });
    ctx.cleanups.push(() => proxy.stop());
    const throughProxy = (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(proxy.port);
      return u.toString();
    };
    const subjects = applySubjects(ctx, suite, { prefix: 'bench_apply_net', connect: throughProxy, what: 'apply over the link' });
    const link = `${2 * delayMs} ms round trip (measured ${proxy.rttMs.toFixed(2)} ms)`;
    return { subjects, title: `apply ${suite.count} trivial migrations over a link with a ${link} (fresh database per run)`, suite, link };
  },
  summarise: (results, ctx, setup) => {
    const summary = summariseOverhead(results, setup.suite, `apply over a ${setup.link}`, ctx);
    summary.targets = summary.targets.map((t) => ({ ...t, informational: true }));
    summary.figures = { ...summary.figures, link: setup.link };
    return summary;
  },
};
