-- 010_user_profiles: one profile row per user — the structured data that lived in markdown files
-- (profile.md, preferences.md, patterns.md; `migrate import-profiles` fills it, SPEC §9) — and the
-- user's time zone (seeds/003, SPEC §8).
--
-- The jsonb columns are NOT NULL DEFAULT '{}': a profile always exists (the trigger below makes it),
-- readers never need to tell NULL from "nothing known yet", and the import upserts per column, so a
-- column whose file is absent keeps '{}' (or whatever it held). Timestamps are `timestamp` like
-- 001–004; 011 converts them.

CREATE TABLE user_profiles (
  user_id     uuid PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
  profile     jsonb NOT NULL DEFAULT '{}',
  preferences jsonb NOT NULL DEFAULT '{}',
  patterns    jsonb NOT NULL DEFAULT '{}',
  timezone    text NOT NULL DEFAULT 'UTC',
  created_at  timestamp NOT NULL DEFAULT now(),
  updated_at  timestamp NOT NULL DEFAULT now()
);

-- Containment and key-existence queries on the profile (profile @> '{"has_dog": "yes"}', profile ? 'goals').
CREATE INDEX idx_user_profiles_profile ON user_profiles USING gin (profile);

-- Creates the profile of one user if it has none; a no-op for a user that has one (idempotent).
-- Returns true when it created the row. Both functions keep the search_path of the migration (the
-- target schema first, SET … FROM CURRENT), so `user_profiles` resolves to 010's table whatever
-- the search_path of the session that inserts a user (e.g. with --schema app).
CREATE FUNCTION init_user_profile(p_user_id uuid) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path FROM CURRENT
AS $$
  WITH made AS (
    INSERT INTO user_profiles (user_id) VALUES (p_user_id)
    ON CONFLICT (user_id) DO NOTHING
    RETURNING 1
  )
  SELECT EXISTS (SELECT 1 FROM made)
$$;

COMMENT ON FUNCTION init_user_profile(uuid) IS
  'Creates the user''s user_profiles row with the defaults when it does not exist; true when it did (010_user_profiles)';

-- The trigger is per statement, over the statement's inserted rows (a transition table): a bulk
-- insert of users (a backfill, import-profiles --create-users) makes all their profiles in one
-- INSERT instead of one per row. ON CONFLICT DO NOTHING keeps it idempotent when a profile was
-- made first (init_user_profile called in the same transaction, a restore).
CREATE FUNCTION user_profiles_create_for_new_users() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  INSERT INTO user_profiles (user_id)
  SELECT user_id FROM new_users
  ON CONFLICT (user_id) DO NOTHING;
  RETURN NULL;
END
$$;

CREATE TRIGGER trg_users_create_profile
  AFTER INSERT ON users
  REFERENCING NEW TABLE AS new_users
  FOR EACH STATEMENT
  EXECUTE FUNCTION user_profiles_create_for_new_users();

-- A profile for every existing user, in one statement.
INSERT INTO user_profiles (user_id)
SELECT user_id FROM users
ON CONFLICT (user_id) DO NOTHING;
