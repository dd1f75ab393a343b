// @ts-check
/**
 * 002_add_user_tables — design guide phase 2: `users`, `user_persona`, `engagement_analytics`,
 * and their backfill from the MVP tables (SPEC §8).
 *
 * A JavaScript module rather than SQL files because `user_persona.vector_data` depends on the
 * server: pgvector when the `vector` extension is available, else `real[]` with a CHECK on 1536
 * dimensions. That decision is the pure function `planPersonaVector`, tested both ways.
 *
 * Where this deviates from the design's sketch SQL (SPEC §8):
 * - `conversations.user_id` is free text and `users.user_id` a UUID: a user_id that is a UUID (any
 *   case) is kept, any other becomes `md5('strata-user:' || user_id)::uuid` with the original text in
 *   `users.external_id`. UUID ids keep `external_id` NULL: SPEC §9 looks a UUID name up as `user_id`
 *   first, and UUIDs that differ only by case ('ABC…' / 'abc…') are one user, so there is no single
 *   "original text" to keep for them (and two rows could not both hold it: external_id is unique).
 * - Backfilled users have no email: `email` is nullable, unique where present.
 * - Analytics count every user (users without messages get 0), all roles, and ids are derived
 *   from the user's id (md5), so rolling back and re-applying yields the same rows.
 *
 * @typedef {import('../src/core/types.js').MigrationContext} MigrationContext
 * @typedef {import('../src/core/types.js').ModuleCheckResult} ModuleCheckResult
 * @typedef {import('../src/core/types.js').DestroyedTable} DestroyedTable
 */

/** Dimensions of the persona embedding (design guide: VECTOR(1536)). */
export const PERSONA_VECTOR_DIMENSIONS = 1536;

/**
 * A conversation user_id that is a UUID: the canonical 8-4-4-4-12 hex text, any case. Other forms
 * PostgreSQL's uuid input would accept (braces, no hyphens) are treated as opaque ids: their text
 * survives in external_id instead of being silently reformatted.
 */
export const UUID_TEXT_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

/**
 * Marker in the comment on `user_persona.vector_data` saying that this migration created the
 * `vector` extension, so its down may drop it (and must not otherwise). A column comment rather
 * than one on the extension: 002 owns the column in both paths, and pgvector's own description of
 * itself (`\dx`) stays untouched.
 */
export const CREATED_EXTENSION_MARKER = 'strata:002_add_user_tables created extension vector';

/**
 * @typedef {object} PersonaVectorProbe
 * @property {boolean} available  `vector` is listed in pg_available_extensions
 * @property {boolean} installed  `vector` is already in pg_extension (of this database)
 */

/**
 * @typedef {object} PersonaVectorPlan
 * @property {'vector' | 'real[]'} columnType  type of user_persona.vector_data
 * @property {boolean} createExtension  002 runs CREATE EXTENSION (and records that it did)
 * @property {string | null} warning  the one warning line for the fallback, else null
 */

/**
 * Decides how `user_persona.vector_data` is stored (SPEC §8). Pure: the probe is read by `up`.
 * @param {PersonaVectorProbe} probe
 * @returns {PersonaVectorPlan}
 */
export function planPersonaVector({ available, installed }) {
  if (installed) return { columnType: 'vector', createExtension: false, warning: null };
  if (available) return { columnType: 'vector', createExtension: true, warning: null };
  return {
    columnType: 'real[]',
    createExtension: false,
    warning:
      `pgvector (extension "vector") is not available on this server: user_persona.vector_data is real[] ` +
      `with a CHECK on ${PERSONA_VECTOR_DIMENSIONS} dimensions instead of vector(${PERSONA_VECTOR_DIMENSIONS})`,
  };
}

/**
 * Reads what `planPersonaVector` needs, plus the schema an installed `vector` lives in.
 * @param {MigrationContext} ctx
 */
async function probePersonaVector(ctx) {
  const [row] = await ctx.sql`
    SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS available,
           (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname = 'vector') AS extension_schema`;
  /** @type {string | null} */
  const extensionSchema = row?.extension_schema ?? null;
  return { available: Boolean(row?.available), installed: extensionSchema !== null, extensionSchema };
}

/** @param {MigrationContext} ctx */
export async function up(ctx) {
  const { sql } = ctx;
  const probe = await probePersonaVector(ctx);
  const plan = planPersonaVector(probe);
  let extensionSchema = probe.extensionSchema;
  if (plan.createExtension) {
    await sql`CREATE EXTENSION vector WITH SCHEMA ${sql(ctx.schema)}`;
    extensionSchema = ctx.schema;
  }

  // Design's users table; email nullable (backfilled users have none), external_id added (SPEC §8).
  await sql`
    CREATE TABLE users (
      user_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      external_id   varchar(255) UNIQUE,
      email         varchar(255),
      password_hash varchar(255),
      first_name    varchar(100),
      last_name     varchar(100),
      phone_number  varchar(20),
      created_at    timestamp DEFAULT now(),
      last_login    timestamp
    )`;
  // The design's idx_users_email, made UNIQUE: NULLs are distinct, so "unique where present".
  await sql`CREATE UNIQUE INDEX idx_users_email ON users (email)`;

  await personaTableStatement(sql, plan, extensionSchema ?? ctx.schema);
  await sql`CREATE INDEX idx_persona_user ON user_persona (user_id)`;
  const comment = plan.columnType === 'real[]'
    ? `user profile embedding as real[${PERSONA_VECTOR_DIMENSIONS}]: pgvector was not available when 002_add_user_tables ran`
    : `user profile embedding (pgvector)${plan.createExtension ? `; ${CREATED_EXTENSION_MARKER}` : ''}`;
  await sql`COMMENT ON COLUMN user_persona.vector_data IS ${sql.unsafe(quoteLiteral(comment))}`;

  await sql`
    CREATE TABLE engagement_analytics (
      analytics_id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id                 uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
      total_messages          integer NOT NULL DEFAULT 0 CHECK (total_messages >= 0),
      avg_response_time       interval,
      session_completion_rate numeric(5,2) CHECK (session_completion_rate BETWEEN 0 AND 100),
      last_activity           timestamp,
      engagement_score        numeric(5,2),
      updated_at              timestamp DEFAULT now()
    )`;
  // One row per user (SPEC §8).
  await sql`CREATE UNIQUE INDEX idx_analytics_user ON engagement_analytics (user_id)`;

  await backfill(ctx);
  if (plan.warning) ctx.log.warn(plan.warning);
}

/**
 * The CREATE TABLE of user_persona for a plan (exported so that the pgvector spelling, which this
 * test server cannot run, is at least parsed by PostgreSQL in the tests).
 * @param {MigrationContext['sql']} sql
 * @param {PersonaVectorPlan} plan
 * @param {string} typeSchema  schema of the `vector` type (where the extension lives)
 */
export function personaTableStatement(sql, plan, typeSchema) {
  const dimensions = sql.unsafe(String(PERSONA_VECTOR_DIMENSIONS));
  // One of two fixed spellings; only the extension's schema is an identifier.
  const vectorType = plan.columnType === 'vector' ? sql`${sql(typeSchema)}.vector(${dimensions})` : sql`real[]`;
  // The fallback mirrors what vector(1536) enforces: one dimension, 1536 values, no NULL element
  // (CASE so that array_position never sees a multi-dimensional array).
  const vectorCheck = plan.columnType === 'vector'
    ? sql``
    : sql`, CONSTRAINT user_persona_vector_data_dims CHECK (
        vector_data IS NULL
        OR CASE WHEN array_ndims(vector_data) = 1
                THEN cardinality(vector_data) = ${dimensions} AND array_position(vector_data, NULL) IS NULL
                ELSE false END)`;
  return sql`
    CREATE TABLE user_persona (
      persona_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id          uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
      personal_details jsonb,
      has_dog          boolean,
      preferences      jsonb,
      vector_data      ${vectorType},
      updated_at       timestamp DEFAULT now()
      ${vectorCheck}
    )`;
}

/**
 * Users from the distinct conversation user_ids, then one analytics row per user. Set-based.
 * @param {MigrationContext} ctx
 */
async function backfill(ctx) {
  const { sql } = ctx;
  // GROUP BY the mapped id, so UUIDs differing only by case become one user (first conversation wins
  // created_at); the CASE guards the cast, which would fail on anything but a UUID.
  const users = await sql`
    INSERT INTO users (user_id, external_id, created_at)
    SELECT CASE WHEN c.user_id ~* ${UUID_TEXT_PATTERN} THEN c.user_id::uuid
                ELSE md5('strata-user:' || c.user_id)::uuid END,
           max(CASE WHEN c.user_id ~* ${UUID_TEXT_PATTERN} THEN NULL ELSE c.user_id END),
           min(c.created_at)
    FROM conversations c
    WHERE c.user_id IS NOT NULL
    GROUP BY 1`;
  const [variants] = await sql`
    SELECT (count(DISTINCT user_id) - count(DISTINCT lower(user_id)))::int AS merged,
           count(DISTINCT user_id)::int AS uuid_ids
    FROM conversations WHERE user_id ~* ${UUID_TEXT_PATTERN}`;

  // last_activity: the user's latest message, else (no messages at all) the latest updated_at of
  // their conversations. avg_response_time: mean gap from a user message to the next message of the
  // same conversation (by created_at, then id) when that one is the assistant's; NULL without pairs.
  // session_completion_rate and engagement_score stay NULL: nothing in the MVP measures them.
  const analytics = await sql`
    WITH owned AS (
      SELECT c.id, c.updated_at,
             CASE WHEN c.user_id ~* ${UUID_TEXT_PATTERN} THEN c.user_id::uuid
                  ELSE md5('strata-user:' || c.user_id)::uuid END AS user_id
      FROM conversations c
      WHERE c.user_id IS NOT NULL
    ), ordered AS (
      SELECT o.user_id, m.role, m.created_at,
             lead(m.role) OVER w AS next_role,
             lead(m.created_at) OVER w AS next_created_at
      FROM owned o JOIN messages m ON m.conversation_id = o.id
      WINDOW w AS (PARTITION BY m.conversation_id ORDER BY m.created_at, m.id)
    ), per_user_messages AS (
      SELECT user_id, count(*) AS total, max(created_at) AS last_message,
             avg(next_created_at - created_at)
               FILTER (WHERE role = 'user' AND next_role = 'assistant') AS avg_response_time
      FROM ordered GROUP BY user_id
    ), per_user_conversations AS (
      SELECT user_id, max(updated_at) AS last_conversation FROM owned GROUP BY user_id
    )
    INSERT INTO engagement_analytics (analytics_id, user_id, total_messages, avg_response_time, last_activity)
    SELECT md5('strata-analytics:' || u.user_id::text)::uuid, u.user_id,
           coalesce(pm.total, 0), pm.avg_response_time,
           coalesce(pm.last_message, pc.last_conversation)
    FROM users u
    LEFT JOIN per_user_messages pm ON pm.user_id = u.user_id
    LEFT JOIN per_user_conversations pc ON pc.user_id = u.user_id`;

  ctx.log.info(
    `backfilled ${users.count} users (${variants?.merged ?? 0} UUID user_ids differing only by case merged) ` +
    `and ${analytics.count} engagement_analytics rows`,
  );
}

/** @param {MigrationContext} ctx */
export async function down(ctx) {
  const { sql } = ctx;
  // Read before the table goes: did 002 create the extension?
  const [row] = await sql`
    SELECT col_description(a.attrelid, a.attnum) AS comment
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass('user_persona') AND a.attname = 'vector_data'`;
  const createdExtension = typeof row?.comment === 'string' && row.comment.includes(CREATED_EXTENSION_MARKER);

  await sql`DROP TABLE engagement_analytics`;
  await sql`DROP TABLE user_persona`;
  await sql`DROP TABLE users`;
  if (createdExtension) {
    // Never CASCADE (SPEC §8): when something outside 002 started using the type meanwhile, keep
    // the extension and say so instead of failing the rollback or dropping their objects.
    await sql`
      DO $$
      BEGIN
        DROP EXTENSION vector;
      EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE NOTICE 'kept extension vector (created by 002_add_user_tables): other objects use it';
      END $$`;
  }
}

/**
 * SPEC §8's checks for phase 2; each returns the violating rows.
 * @param {MigrationContext} ctx
 * @returns {Promise<ModuleCheckResult[]>}
 */
export async function verify(ctx) {
  const { sql } = ctx;
  // A conversation's user, by SPEC §9's lookup: a UUID as users.user_id, else (or then) external_id.
  const owners = sql`
    SELECT c.id AS conversation_id, c.user_id AS conversation_user_id,
           coalesce(by_id.user_id, by_external.user_id) AS user_id
    FROM conversations c
    LEFT JOIN users by_id
           ON by_id.user_id = CASE WHEN c.user_id ~* ${UUID_TEXT_PATTERN} THEN c.user_id::uuid END
    LEFT JOIN users by_external ON by_external.external_id = c.user_id
    WHERE c.user_id IS NOT NULL`;

  const orphans = await sql`
    SELECT conversation_id, conversation_user_id FROM (${owners}) o WHERE o.user_id IS NULL
    ORDER BY conversation_id`;

  const totals = await sql`
    WITH counts AS (
      SELECT o.user_id, count(*)::int AS messages
      FROM (${owners}) o JOIN messages m ON m.conversation_id = o.conversation_id
      GROUP BY o.user_id
    )
    SELECT a.user_id, a.total_messages, coalesce(c.messages, 0) AS messages
    FROM engagement_analytics a LEFT JOIN counts c ON c.user_id = a.user_id
    WHERE a.total_messages IS DISTINCT FROM coalesce(c.messages, 0)
    ORDER BY a.user_id`;

  const perUser = await sql`
    SELECT u.user_id, count(a.analytics_id)::int AS analytics_rows
    FROM users u LEFT JOIN engagement_analytics a ON a.user_id = u.user_id
    GROUP BY u.user_id
    HAVING count(a.analytics_id) <> 1
    ORDER BY u.user_id`;

  return [
    { check: 'every conversation user_id has a user', violations: [...orphans] },
    { check: 'engagement_analytics.total_messages equals the real message count', violations: [...totals] },
    { check: 'one engagement_analytics row per user', violations: [...perUser] },
  ];
}

/**
 * Tables each direction destroys (SPEC §6): strata backs those holding rows up before down.
 * @param {MigrationContext} ctx
 * @returns {DestroyedTable[]}
 */
export function destroys(ctx) {
  if (ctx.direction === 'up') return [];
  return ['engagement_analytics', 'user_persona', 'users'].map((table) => ({ schema: ctx.schema, table }));
}

/**
 * A string literal for the one DDL statement that cannot take a parameter (COMMENT ON); the text
 * is built above from constants.
 * @param {string} text
 */
function quoteLiteral(text) {
  return `'${text.replace(/'/g, "''")}'`;
}
