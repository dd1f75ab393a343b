// @ts-check
/**
 * 003_normalize_memory — the JSONB blob `memory_profiles.memory` becomes tables: six `user_*`
 * tables (one per array of the blob) and `user_profile_summary` (the profile's scalar fields, plus
 * `unparsed`: what could not be normalized). Every entry is moved set-based — one INSERT … SELECT
 * over `jsonb_array_elements` per category, never a row at a time — and every messy entry is
 * counted, reported with the step (`ctx.log.info`) and kept, never crashed on.
 *
 * What "kept" means, so that `down` rebuilds every blob exactly (same jsonb, same text):
 * - An entry becomes a row only if it is canonical: an object with its name (title for goals),
 *   only known keys, each of the right type and range, no explicit nulls — i.e. rebuilding it
 *   from the row's columns gives back the same JSON text. The first of several entries with the
 *   same name (people: name and relationship), case-insensitively, wins.
 * - Every other entry is kept verbatim in `user_profile_summary.unparsed -> <category>`, as
 *   `{"position", "reason", "value"}`. The reason is the first that applies: `null`, `string
 *   instead of an object`, `not an object` (number, boolean, array), `missing name` (goals:
 *   `missing title`; absent, not a string, or blank), `unknown key`, `explicit null`, `invalid
 *   value` (wrong type, out of range, a date not written YYYY-MM-DD), `duplicate`.
 * - `unparsed` mirrors the blob's shape: it has a key for every category the blob had (`[]` when
 *   nothing was left over), a category that was not an array is kept whole as
 *   `{"reason": "not an array", "value": …}`, and top-level keys that are not categories
 *   (`version`, `notes`) are kept as they were.
 * Rows keep their array `position`; rows the application adds later may leave it NULL (they are
 * rebuilt after the others, by created_at).
 *
 * Old names keep working during the deploy: `memory_profiles` is renamed `memory_profiles_legacy`
 * (the frozen original, which verify compares against and 005_contract drops, backed up) and a
 * read-only view `memory_profiles` shows each profile with its blob rebuilt live from the tables.
 * Writes through it fail loudly ("cannot update view") rather than being lost. Users without a
 * profile get an empty summary (so every user has one), and a trigger gives new users theirs;
 * `from_memory_profile` tells a rollback which summaries were profiles: it recreates those, and
 * any other summary that holds something, so users who had no profile still have none.
 *
 * A JavaScript module rather than SQL files for `verify`: two checks compare the tables with the
 * legacy blobs, which exist only until 005_contract; a module can skip them once the table is gone.
 * Needs PostgreSQL 16+ (`pg_input_is_valid`).
 *
 * @typedef {import('../../../src/core/types.js').MigrationContext} MigrationContext
 * @typedef {import('../../../src/core/types.js').ModuleCheckResult} ModuleCheckResult
 * @typedef {import('../../../src/core/types.js').DestroyedTable} DestroyedTable
 */

/**
 * One array of the blob and its table. The SQL below is assembled from these constants only,
 * never from data: values reach PostgreSQL as columns of the rows being moved. `fields` maps each column to the SQL that reads it from
 * the entry `e` (NULL when absent or invalid); each column's JSON key is its name. `label` is the
 * required field; `unique` the expressions that make two entries the same.
 * @typedef {object} Category
 * @property {string} key
 * @property {string} table
 * @property {string} label
 * @property {Record<string, string>} fields
 * @property {string[]} unique
 */

/** @param {string} key */
const text = (key) => `CASE WHEN jsonb_typeof(e -> '${key}') = 'string' THEN e ->> '${key}' END`;
/** @param {string} key @param {number} low @param {number} high */
const smallint = (key, low, high) =>
  `CASE WHEN jsonb_typeof(e -> '${key}') = 'number' THEN CASE WHEN (e ->> '${key}')::numeric BETWEEN ${low} AND ${high} THEN (e ->> '${key}')::numeric::smallint END END`;
/** @param {string} key */
const date = (key) =>
  `CASE WHEN jsonb_typeof(e -> '${key}') = 'string' AND pg_input_is_valid(e ->> '${key}', 'date') THEN (e ->> '${key}')::date END`;
/** @param {string} key @param {readonly string[]} values */
const oneOf = (key, values) =>
  `CASE WHEN jsonb_typeof(e -> '${key}') = 'string' AND e ->> '${key}' IN (${values.map((v) => `'${v}'`).join(', ')}) THEN e ->> '${key}' END`;

const RELATIONSHIPS = ['parent', 'sibling', 'partner', 'friend', 'colleague', 'therapist', 'child', 'other'];
const GOAL_STATUSES = ['active', 'achieved', 'paused', 'dropped'];
const TIMES_OF_DAY = ['morning', 'afternoon', 'evening', 'night'];

/** @type {Category[]} */
export const CATEGORIES = [
  { key: 'themes', table: 'user_themes', label: 'name', unique: ['lower(name)'],
    fields: { name: text('name'), intensity: smallint('intensity', 1, 5), first_mentioned: date('first_mentioned') } },
  { key: 'people', table: 'user_people', label: 'name', unique: ['lower(name)', "coalesce(relationship, '')"],
    fields: { name: text('name'), relationship: oneOf('relationship', RELATIONSHIPS), notes: text('notes') } },
  { key: 'coping_tools', table: 'user_coping_tools', label: 'name', unique: ['lower(name)'],
    fields: { name: text('name'), effectiveness: smallint('effectiveness', 1, 5) } },
  { key: 'goals', table: 'user_goals', label: 'title', unique: ['lower(title)'],
    fields: { title: text('title'), status: oneOf('status', GOAL_STATUSES), target_date: date('target_date') } },
  { key: 'strengths', table: 'user_strengths', label: 'name', unique: ['lower(name)'],
    fields: { name: text('name'), evidence: text('evidence') } },
  { key: 'daily_habits', table: 'user_daily_habits', label: 'name', unique: ['lower(name)'],
    fields: { name: text('name'), time_of_day: oneOf('time_of_day', TIMES_OF_DAY), days_per_week: smallint('days_per_week', 1, 7) } },
];

const KEYS = `ARRAY[${CATEGORIES.map((c) => `'${c.key}'`).join(', ')}]::text[]`;

/** The tables this migration creates, children of `users`; `down` destroys them (SPEC §6). */
export const TABLES = [...CATEGORIES.map((c) => c.table), 'user_profile_summary'];

/** @param {string} table @param {string} columns  what every user_* table has around its own columns */
const memoryTable = (table, columns) => `
  CREATE TABLE ${table} (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- place in the legacy array (0-based); NULL for rows added since
    position   integer CHECK (position >= 0),
${columns},
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, position)
  )`;

const SCHEMA = [
  `CREATE TABLE user_profile_summary (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    summary       text,
    mood_baseline smallint CHECK (mood_baseline BETWEEN 1 AND 10),
    -- what could not be normalized, kept verbatim (see the header of 003_normalize_memory.js)
    unparsed      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(unparsed) = 'object'),
    -- made from a memory_profiles row (a rollback recreates it, even if empty)
    from_memory_profile boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
  )`,
  memoryTable('user_themes', `    name            text NOT NULL CHECK (btrim(name) <> ''),
    intensity       smallint CHECK (intensity BETWEEN 1 AND 5),
    first_mentioned date`),
  memoryTable('user_people', `    name         text NOT NULL CHECK (btrim(name) <> ''),
    relationship text CHECK (relationship IN (${RELATIONSHIPS.map((v) => `'${v}'`).join(', ')})),
    notes        text`),
  memoryTable('user_coping_tools', `    name          text NOT NULL CHECK (btrim(name) <> ''),
    effectiveness smallint CHECK (effectiveness BETWEEN 1 AND 5)`),
  memoryTable('user_goals', `    title       text NOT NULL CHECK (btrim(title) <> ''),
    status      text CHECK (status IN (${GOAL_STATUSES.map((v) => `'${v}'`).join(', ')})),
    target_date date`),
  memoryTable('user_strengths', `    name     text NOT NULL CHECK (btrim(name) <> ''),
    evidence text`),
  memoryTable('user_daily_habits', `    name          text NOT NULL CHECK (btrim(name) <> ''),
    time_of_day   text CHECK (time_of_day IN (${TIMES_OF_DAY.map((v) => `'${v}'`).join(', ')})),
    days_per_week smallint CHECK (days_per_week BETWEEN 1 AND 7)`),
  // One entry per name (people: per name and relationship), whatever the case. With UNIQUE
  // (user_id, position) these also serve the foreign keys' lookups by user_id.
  ...CATEGORIES.map((c) => `CREATE UNIQUE INDEX ${c.table}_user_${c.label} ON ${c.table} (user_id, ${c.unique.join(', ')})`),
];

/** A row rebuilt as its legacy entry: the columns under their own names, NULLs left out. */
const entryOf = (/** @type {Category} */ c) =>
  `jsonb_strip_nulls(jsonb_build_object(${Object.keys(c.fields).map((f) => `'${f}', ${f}`).join(', ')}))`;

/**
 * Every user's blob rebuilt from the tables: rows and unparsed entries merged back at their
 * positions, categories the blob had (empty or not an array) and its other keys restored.
 */
const BLOBS_VIEW = `
  CREATE VIEW user_memory_blobs AS
  WITH entries AS (
${CATEGORIES.map((c) => `    SELECT user_id, '${c.key}' AS category, position, created_at, id, ${entryOf(c)} AS entry FROM ${c.table}`).join('\n    UNION ALL\n')}
    UNION ALL
    SELECT s.user_id, c.key, (u.value ->> 'position')::integer, NULL, NULL, u.value -> 'value'
    FROM user_profile_summary s
    CROSS JOIN LATERAL jsonb_each(s.unparsed) AS c
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.value) = 'array' THEN c.value ELSE '[]' END) AS u
    WHERE c.key = ANY (${KEYS})
  ), arrays AS (
    SELECT user_id, category, jsonb_agg(entry ORDER BY position NULLS LAST, created_at, id) AS entries
    FROM entries GROUP BY user_id, category
  ), categories AS (
    -- a category that was not an array comes back as it was; if rows were added since, first in the array
    SELECT s.user_id, c.category,
           CASE WHEN jsonb_typeof(s.unparsed -> c.category) = 'object' THEN
                  CASE WHEN a.entries IS NULL THEN s.unparsed -> c.category -> 'value'
                       ELSE jsonb_build_array(s.unparsed -> c.category -> 'value') || a.entries END
                ELSE coalesce(a.entries, '[]') END AS value
    FROM user_profile_summary s
    CROSS JOIN unnest(${KEYS}) AS c (category)
    LEFT JOIN arrays a ON a.user_id = s.user_id AND a.category = c.category
    WHERE a.entries IS NOT NULL OR s.unparsed ? c.category
  )
  SELECT s.user_id, (s.unparsed - ${KEYS}) || coalesce(k.memory, '{}') AS memory,
         -- whether the old schema has a memory_profiles row for this user: it had one, or there is something in it
         s.from_memory_profile OR s.summary IS NOT NULL OR s.mood_baseline IS NOT NULL
           OR (s.unparsed - ${KEYS}) || coalesce(k.memory, '{}') <> '{}' AS has_profile
  FROM user_profile_summary s
  LEFT JOIN (SELECT user_id, jsonb_object_agg(category, value) AS memory FROM categories GROUP BY user_id) AS k
         ON k.user_id = s.user_id`;

/** The old name, read-only, for the instances still running the old code during the deploy (005's down recreates it). */
export const COMPAT_VIEW = `
  CREATE VIEW memory_profiles AS
  SELECT s.id, s.user_id, s.summary, s.mood_baseline, b.memory, s.created_at, s.updated_at
  FROM user_profile_summary s
  JOIN user_memory_blobs b ON b.user_id = s.user_id
  WHERE b.has_profile`;

/**
 * Moves one category: classify each entry (see the header), insert the canonical ones, mark the
 * others with their reason in memory_entries. One statement; its row count is the rows inserted.
 * @param {Category} c
 */
function moveCategory(c) {
  const columns = Object.keys(c.fields);
  return `
  WITH parsed AS (
    SELECT m.user_id, m.position, m.entry, m.created_at, m.updated_at, f.*
    FROM memory_entries m
    CROSS JOIN LATERAL (SELECT ${columns.map((col) => `${c.fields[col]} AS ${col}`).join(',\n      ')}
                        FROM (SELECT m.entry AS e) AS x) AS f
    WHERE m.category = '${c.key}'
  ), judged AS (
    SELECT parsed.*, CASE
             WHEN jsonb_typeof(entry) = 'null' THEN 'null'
             WHEN jsonb_typeof(entry) = 'string' THEN 'string instead of an object'
             WHEN jsonb_typeof(entry) <> 'object' THEN 'not an object'
             WHEN ${c.label} IS NULL OR btrim(${c.label}) = '' THEN 'missing ${c.label}'
             WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(entry) AS k WHERE k NOT IN (${columns.map((col) => `'${col}'`).join(', ')})) THEN 'unknown key'
             WHEN jsonb_path_exists(entry, 'strict $.* ? (@ == null)') THEN 'explicit null'
             WHEN ${entryOf(c)}::text <> entry::text THEN 'invalid value'
           END AS problem
    FROM parsed
  ), ranked AS (
    SELECT judged.*, CASE
             WHEN problem IS NULL AND row_number() OVER (PARTITION BY user_id, problem IS NULL, ${c.unique.join(', ')} ORDER BY position) > 1
             THEN 'duplicate' ELSE problem END AS reason
    FROM judged
  ), kept AS (
    UPDATE memory_entries m SET reason = r.reason
    FROM ranked r
    WHERE m.category = '${c.key}' AND m.user_id = r.user_id AND m.position = r.position AND r.reason IS NOT NULL
    RETURNING 1
  )
  INSERT INTO ${c.table} (id, user_id, position, ${columns.join(', ')}, created_at, updated_at)
  SELECT md5(format('${c.table}:%s:%s', user_id, position))::uuid, user_id, position, ${columns.join(', ')}, created_at, updated_at
  FROM ranked WHERE reason IS NULL`;
}

/** @param {number} n */
const count = (n) => n.toLocaleString('en-US');

/** @param {MigrationContext} ctx */
export async function up(ctx) {
  const { sql } = ctx;
  for (const statement of SCHEMA) await sql.unsafe(statement);

  // Every array entry of every blob, with its place; the classification is written into `reason`.
  await sql.unsafe(`
    CREATE TEMPORARY TABLE memory_entries ON COMMIT DROP AS
    SELECT p.user_id, c.category, (e.ordinality - 1)::integer AS position, e.value AS entry,
           p.created_at, p.updated_at, NULL::text AS reason
    FROM memory_profiles p
    CROSS JOIN unnest(${KEYS}) AS c (category)
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(p.memory -> c.category) = 'array'
                                                 THEN p.memory -> c.category ELSE '[]' END) WITH ORDINALITY AS e`);
  for (const category of CATEGORIES) await sql.unsafe(moveCategory(category));

  // The summary keeps the profile's id and scalar fields, and whatever was not normalized.
  await sql.unsafe(`
    INSERT INTO user_profile_summary (id, user_id, summary, mood_baseline, unparsed, from_memory_profile, created_at, updated_at)
    WITH leftovers AS (
      SELECT user_id, category,
             jsonb_agg(jsonb_build_object('position', position, 'reason', reason, 'value', entry) ORDER BY position) AS entries
      FROM memory_entries WHERE reason IS NOT NULL GROUP BY user_id, category
    ), shape AS (
      SELECT p.user_id,
             jsonb_object_agg(c.category, CASE WHEN jsonb_typeof(p.memory -> c.category) = 'array' THEN coalesce(l.entries, '[]')
                                               ELSE jsonb_build_object('reason', 'not an array', 'value', p.memory -> c.category) END) AS categories
      FROM memory_profiles p
      CROSS JOIN unnest(${KEYS}) AS c (category)
      LEFT JOIN leftovers l ON l.user_id = p.user_id AND l.category = c.category
      WHERE p.memory ? c.category
      GROUP BY p.user_id
    )
    SELECT p.id, p.user_id, p.summary, p.mood_baseline, (p.memory - ${KEYS}) || coalesce(s.categories, '{}'), true, p.created_at, p.updated_at
    FROM memory_profiles p LEFT JOIN shape s ON s.user_id = p.user_id`);
  const withoutProfile = await sql.unsafe(`
    INSERT INTO user_profile_summary (user_id)
    SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM user_profile_summary s WHERE s.user_id = u.id)`);

  await sql.unsafe(`
    CREATE FUNCTION create_user_profile_summary() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
      INSERT INTO user_profile_summary (user_id) VALUES (NEW.id) ON CONFLICT (user_id) DO NOTHING;
      RETURN NEW;
    END
    $$`);
  await sql.unsafe(`CREATE TRIGGER users_create_profile_summary AFTER INSERT ON users
                    FOR EACH ROW EXECUTE FUNCTION create_user_profile_summary()`);

  await report(ctx, withoutProfile.count ?? 0);

  await sql.unsafe('ALTER TABLE memory_profiles RENAME TO memory_profiles_legacy');
  await sql.unsafe(BLOBS_VIEW);
  await sql.unsafe(COMPAT_VIEW);
}

/**
 * The step's report: per category, entries → rows, and what was kept in unparsed and why.
 * @param {MigrationContext} ctx
 * @param {number} withoutProfile
 */
async function report(ctx, withoutProfile) {
  const rows = await ctx.sql.unsafe(`
    SELECT category, reason, count(*)::integer AS n FROM memory_entries GROUP BY category, reason
    UNION ALL
    SELECT c.category, 'not an array', count(*)::integer FROM memory_profiles p CROSS JOIN unnest(${KEYS}) AS c (category)
    WHERE p.memory ? c.category AND jsonb_typeof(p.memory -> c.category) <> 'array' GROUP BY c.category
    ORDER BY 1, 3 DESC, 2`);
  let entries = 0;
  let normalized = 0;
  let notArrays = 0;
  for (const c of CATEGORIES) {
    const mine = rows.filter((r) => r.category === c.key);
    const rowsIn = mine.find((r) => r.reason === null)?.n ?? 0;
    const notArray = mine.find((r) => r.reason === 'not an array')?.n ?? 0;
    const kept = mine.filter((r) => r.reason !== null && r.reason !== 'not an array');
    const keptCount = kept.reduce((sum, r) => sum + r.n, 0);
    entries += rowsIn + keptCount;
    normalized += rowsIn;
    notArrays += notArray;
    const why = kept.length > 0 ? ` (${kept.map((r) => `${r.n} ${r.reason}`).join(', ')})` : '';
    const whole = notArray > 0 ? `; ${notArray} not an array, kept whole` : '';
    ctx.log.info(`${c.key}: ${count(rowsIn + keptCount)} entries → ${count(rowsIn)} rows in ${c.table}, ${count(keptCount)} kept in unparsed${why}${whole}`);
  }
  ctx.log.info(`normalized ${count(normalized)} of ${count(entries)} entries into ${CATEGORIES.length} tables; ` +
    `${count(entries - normalized)} entries and ${count(notArrays)} non-array values kept in user_profile_summary.unparsed; ` +
    `${count(withoutProfile)} users without a profile got an empty summary`);
}

/** @param {MigrationContext} ctx */
export async function down(ctx) {
  const { sql } = ctx;
  // Each blob rebuilt from the tables (rows the new code wrote included) into the original table,
  // which 005_contract's down recreated if it had been dropped.
  await sql.unsafe(`
    UPDATE memory_profiles_legacy l
    SET summary = s.summary, mood_baseline = s.mood_baseline, memory = b.memory, updated_at = s.updated_at
    FROM user_profile_summary s JOIN user_memory_blobs b ON b.user_id = s.user_id
    WHERE l.user_id = s.user_id`);
  await sql.unsafe(`
    INSERT INTO memory_profiles_legacy (id, user_id, summary, mood_baseline, memory, created_at, updated_at)
    SELECT s.id, s.user_id, s.summary, s.mood_baseline, b.memory, s.created_at, s.updated_at
    FROM user_profile_summary s JOIN user_memory_blobs b ON b.user_id = s.user_id
    WHERE b.has_profile AND NOT EXISTS (SELECT 1 FROM memory_profiles_legacy l WHERE l.user_id = s.user_id)`);
  await sql.unsafe('DROP VIEW memory_profiles');
  await sql.unsafe('DROP VIEW user_memory_blobs');
  await sql.unsafe('ALTER TABLE memory_profiles_legacy RENAME TO memory_profiles');
  await sql.unsafe('DROP TRIGGER users_create_profile_summary ON users');
  await sql.unsafe('DROP FUNCTION create_user_profile_summary()');
  await sql.unsafe(`DROP TABLE ${TABLES.join(', ')}`);
}

/**
 * `down` drops the normalized tables: strata backs up those holding rows first, in one directory.
 * @param {MigrationContext} ctx
 * @returns {DestroyedTable[]}
 */
export function destroys(ctx) {
  return ctx.direction === 'down' ? TABLES : [];
}

/**
 * @param {MigrationContext} ctx
 * @returns {Promise<ModuleCheckResult[]>}
 */
export async function verify(ctx) {
  const { sql } = ctx;
  /** @type {ModuleCheckResult[]} */
  const checks = [
    { check: 'every user has a profile summary', violations: [...await sql.unsafe(`
        SELECT u.id AS user_id, u.email FROM users u
        WHERE NOT EXISTS (SELECT 1 FROM user_profile_summary s WHERE s.user_id = u.id)`)] },
    { check: 'no orphan rows: every summary and normalized row belongs to a user', violations: [...await sql.unsafe(
        ['user_profile_summary', ...CATEGORIES.map((c) => c.table)].map((table) => `
        SELECT '${table}' AS "table", t.id, t.user_id FROM ${table} t
        WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)`).join('\n        UNION ALL'))] },
  ];
  const [legacy] = await sql.unsafe(`SELECT to_regclass('memory_profiles_legacy') IS NOT NULL AS present`);
  // The original blobs exist until 005_contract drops them (backed up); then there is nothing to compare.
  if (!legacy?.present) return checks;
  checks.push(
    { check: 'legacy blobs: entries per category = rows in its table + entries kept in unparsed', violations: [...await sql.unsafe(`
        WITH legacy AS (
          SELECT l.user_id, c.category, jsonb_array_length(l.memory -> c.category) AS entries
          FROM memory_profiles_legacy l CROSS JOIN unnest(${KEYS}) AS c (category)
          WHERE jsonb_typeof(l.memory -> c.category) = 'array'
        ), normalized AS (
${CATEGORIES.map((c) => `          SELECT user_id, '${c.key}' AS category, count(*) AS "rows" FROM ${c.table} GROUP BY user_id`).join('\n          UNION ALL\n')}
        ), kept AS (
          SELECT s.user_id, c.key AS category, jsonb_array_length(c.value) AS kept
          FROM user_profile_summary s CROSS JOIN LATERAL jsonb_each(s.unparsed) AS c
          WHERE c.key = ANY (${KEYS}) AND jsonb_typeof(c.value) = 'array'
        )
        SELECT user_id, category, coalesce(l.entries, 0) AS legacy_entries, coalesce(n."rows", 0) AS "rows", coalesce(k.kept, 0) AS kept
        FROM legacy l FULL JOIN normalized n USING (user_id, category) FULL JOIN kept k USING (user_id, category)
        WHERE coalesce(l.entries, 0) <> coalesce(n."rows", 0) + coalesce(k.kept, 0)
        ORDER BY user_id, category`)] },
    { check: 'legacy blobs: each profile is rebuilt exactly from the new tables', violations: [...await sql.unsafe(`
        SELECT l.user_id,
               ARRAY(SELECT k FROM jsonb_object_keys(l.memory || coalesce(b.memory, '{}')) AS k
                     WHERE (l.memory -> k)::text IS DISTINCT FROM (b.memory -> k)::text ORDER BY k) AS differing_keys,
               l.summary IS DISTINCT FROM s.summary OR l.mood_baseline IS DISTINCT FROM s.mood_baseline AS summary_differs
        FROM memory_profiles_legacy l
        LEFT JOIN user_profile_summary s ON s.user_id = l.user_id
        LEFT JOIN user_memory_blobs b ON b.user_id = l.user_id
        WHERE b.memory IS NULL OR b.memory::text <> l.memory::text
           OR l.summary IS DISTINCT FROM s.summary OR l.mood_baseline IS DISTINCT FROM s.mood_baseline
        ORDER BY l.user_id`)] },
  );
  return checks;
}
