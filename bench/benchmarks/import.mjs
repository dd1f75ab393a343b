/**
 * import-profiles (SPEC §9, §10: "at least 10,000 profiles per second"): `migrate import-profiles
 * DIR --create-users` as a whole process, on 10,000 generated user folders × scale (three files
 * each, shaped like shared/fixtures/profiles: key bullets, `##` lists and notes, emphasis, a link,
 * a UUID-named folder every tenth), into a fresh copy of a database with the bundled migrations up
 * to 010; and the same import again on a copy of an imported database, where every user is
 * unchanged and nothing is written. Target: both ≥ 10,000 profiles/s (median).
 *
 * Untimed: the folders are written once; the two templates (010 applied; 010 applied and imported)
 * are made once; each run gets its own copy, and is checked afterwards (users and non-empty
 * profiles counted after a first import; no row rewritten — same max(xmin) — after a re-run).
 */
import fs from 'node:fs';
import path from 'node:path';
import { timeProcess } from '../lib/measure.mjs';
import { formatStats } from '../lib/report.mjs';
import { childEnv } from '../lib/tools.mjs';

const USERS_AT_SCALE_1 = 10_000;
const TARGET = 10_000;

const TIMEZONES = ['America/New_York', 'Europe/London', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney', 'America/Los_Angeles', 'UTC'];
const NAMES = ['Maya Cohen', 'Daniel Okafor', 'Ana Souza', 'Kenji Sato', 'Lena Fischer', 'Omar Haddad', 'Priya Nair', 'Tom Walsh'];
const GOALS = ['Lose 5 kg by *March*', 'Sleep 7+ hours on weeknights', 'Walk 8,000 steps a day', 'Run a 10k before **summer**',
  'Cook at home four nights a week', 'Drink 2 litres of water a day'];

const pad2 = (n) => String(n).padStart(2, '0');

/** The three files of user i, varied like real profiles (tg_100231 is the model). */
export function profileFiles(i) {
  const goals = [0, 1, 2].map((k) => `- ${GOALS[(i + 2 * k) % GOALS.length]}`).join('\n');
  return {
    'profile.md': `# Profile\n\n- **Name:** ${NAMES[i % NAMES.length]} ${i}\n- **Age:** ${20 + (i % 50)}\n- **Timezone:** ${TIMEZONES[i % TIMEZONES.length]}\n`
      + `- **Height:** ${150 + (i % 40)} cm\n- **Allergies:** ${i % 3 ? 'none' : 'peanuts, shellfish'}\n\n## Goals\n\n${goals}\n\n`
      + `## Health\n\n- **Conditions:** ${i % 4 ? 'none' : 'mild asthma'}\n- **Medication:** none\n\n`
      + `## Notes\n\nPrefers short messages in the morning.\n\nWorks night shifts ${i % 5} times a month, so "morning" moves.\n`,
    'preferences.md': `# Preferences\n\n- **Coaching style:** ${i % 2 ? 'direct, a bit of humour' : 'cheerleader'}\n`
      + `- **Reminder time:** ${pad2(6 + (i % 4))}:${i % 2 ? '00' : '30'}\n- Units: ${i % 3 ? 'metric' : 'imperial'}\n- **Language:** en\n`,
    'patterns.md': `# Patterns\n\n## Eating\n\n- Skips breakfast on weekdays\n- Late-night snacking after night shifts (first seen 2025-10-${pad2(1 + (i % 28))})\n\n`
      + `## Sleep\n\n- Bedtime drifts later on weekends\n\n## Mood\n\nEnergy dips mid-afternoon; see [the log](https://example.org/log/${i}).\n`,
  };
}

/** Folder name of user i: mostly external ids (chat-bot and Firebase style), every tenth a UUID. */
export function userFolderName(i) {
  if (i % 10 === 3) return `${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`;
  return i % 2 ? `tg_${100000 + i}` : `fb_${(i * 7919).toString(36)}x${i}`;
}

/** Writes `users` folders under `dir` (plus a README next to them, which the import ignores). */
export function writeProfileFolders(dir, users) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'README.md'), '# Generated profiles for the import-profiles benchmark\n');
  for (let i = 0; i < users; i++) {
    const folder = path.join(dir, userFolderName(i));
    fs.mkdirSync(folder);
    for (const [name, text] of Object.entries(profileFiles(i))) fs.writeFileSync(path.join(folder, name), text);
  }
}

const fmtRate = (x) => (Number.isFinite(x) ? `${Math.round(x).toLocaleString('en')}/s` : '–');

export default {
  name: 'import',
  title: 'import-profiles of generated markdown profiles',
  defaults: { rounds: 5, warmup: 1 },
  async setup(ctx) {
    const { server, strata, work, log } = ctx;
    const users = Math.max(100, Math.round(USERS_AT_SCALE_1 * ctx.scale));
    const dir = path.join(work, 'profiles');
    const started = Date.now();
    writeProfileFolders(dir, users);
    const env = childEnv();
    const migrate = (url, ...args) => timeProcess(process.execPath, [strata.bin, '--database-url', url, ...args], { cwd: work, env });
    const importArgs = ['import-profiles', dir, '--create-users', '-q'];
    const databases = new Set(['bench_import_t010', 'bench_import_done']);
    ctx.cleanups.push(async () => { for (const d of databases) await server.dropDatabase(d); });
    // 010 and everything before it, as `migrate --bundled user_profiles` applies them.
    await migrate(await server.createDatabase('bench_import_t010'), '--bundled', 'user_profiles', '-q');
    await migrate(await server.createDatabase('bench_import_done', 'bench_import_t010'), ...importArgs);
    log(`import: ${users.toLocaleString('en')} user folders (${(users * 3).toLocaleString('en')} files) and the templates ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const count = async (database, query) => (await server.queryIn(database, query))[0].n;
    const maxXmin = (database) => count(database, 'SELECT max(xmin::text::bigint)::text AS n FROM user_profiles');
    const subject = (key, name, template, note, check) => {
      const database = `bench_import_${key}`;
      return {
        name,
        note,
        prepare: async () => {
          databases.add(database);
          const url = await server.createDatabase(database, template);
          return { url, before: await maxXmin(database) };
        },
        run: async ({ url, before }) => {
          const ms = await migrate(url, ...importArgs);
          await check(database, before);
          return { ms, profilesPerSec: users / (ms / 1000) };
        },
        cleanup: async () => { await server.dropDatabase(database); databases.delete(database); },
      };
    };
    const subjects = [
      subject('first', 'first import', 'bench_import_t010', `\`migrate import-profiles DIR --create-users\` into an empty 010 schema: ${users.toLocaleString('en')} users created, their profiles written`, async (database) => {
        const created = await count(database, 'SELECT count(*)::int AS n FROM users');
        const filled = await count(database, "SELECT count(*)::int AS n FROM user_profiles WHERE profile <> '{}' AND preferences <> '{}' AND patterns <> '{}'");
        if (created !== users || filled !== users) throw new Error(`first import: ${created} users, ${filled} filled profiles, expected ${users}`);
      }),
      subject('rerun', 're-run (unchanged)', 'bench_import_done', 'the same command again on an imported copy: every user unchanged, nothing written', async (database, before) => {
        const after = await maxXmin(database);
        if (after !== before) throw new Error(`re-run: user_profiles rows were rewritten (max xmin ${before} → ${after})`);
      }),
    ];
    return { title: `import-profiles of ${users.toLocaleString('en')} user folders × 3 files (whole process, fresh copy per run)`, subjects, users };
  },
  summarise(results, ctx, setup) {
    const rates = Object.fromEntries(Object.entries(results).map(([name, r]) => {
      const values = r.samples.map((s) => s.profilesPerSec).sort((a, b) => a - b);
      const n = values.length;
      return [name, n === 0 ? undefined : { median: n % 2 ? values[(n - 1) / 2] : (values[n / 2 - 1] + values[n / 2]) / 2, min: values[0], max: values[n - 1], n }];
    }));
    const cells = Object.fromEntries(Object.entries(rates).map(([name, s]) => [name, [s ? formatStats(s, fmtRate) : '–']]));
    const targets = Object.entries(rates).map(([name, s]) => ({
      name: `import ${name}: ≥ ${TARGET.toLocaleString('en')} profiles/s`,
      ok: s ? s.median >= TARGET : null,
      detail: s ? `median ${fmtRate(s.median)} (${fmtRate(s.min)}–${fmtRate(s.max)}) for ${setup.users.toLocaleString('en')} users, whole process` : 'not measured',
    }));
    return { columns: ['profiles/s'], cells, figures: { users: setup.users, profilesPerSec: rates }, targets };
  },
};
