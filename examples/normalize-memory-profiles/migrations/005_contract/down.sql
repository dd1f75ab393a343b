-- Brings back what 005 dropped: the legacy table, exactly as 001 made it (its constraints keep the
-- names they had before 003 renamed the table) and filled with every profile rebuilt from the
-- tables (user_memory_blobs.has_profile: the users who had one, and any the new code gave data
-- since) — what it held, plus what the new code wrote — and the old names' views.

CREATE TABLE memory_profiles_legacy (
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL,
  summary       text,
  mood_baseline smallint,
  memory        jsonb NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT memory_profiles_pkey PRIMARY KEY (id),
  CONSTRAINT memory_profiles_user_id_key UNIQUE (user_id),
  CONSTRAINT memory_profiles_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT memory_profiles_mood_baseline_check CHECK (mood_baseline BETWEEN 1 AND 10),
  CONSTRAINT memory_profiles_memory_check CHECK (jsonb_typeof(memory) = 'object')
);

INSERT INTO memory_profiles_legacy (id, user_id, summary, mood_baseline, memory, created_at, updated_at)
SELECT s.id, s.user_id, s.summary, s.mood_baseline, b.memory, s.created_at, s.updated_at
FROM user_profile_summary s
JOIN user_memory_blobs b ON b.user_id = s.user_id
WHERE b.has_profile;

-- As 003_normalize_memory.js (COMPAT_VIEW) and 004 made them.
CREATE VIEW memory_profiles AS
SELECT s.id, s.user_id, s.summary, s.mood_baseline, b.memory, s.created_at, s.updated_at
FROM user_profile_summary s
JOIN user_memory_blobs b ON b.user_id = s.user_id
WHERE b.has_profile;

CREATE VIEW conversations AS SELECT * FROM user_conversations;
CREATE VIEW conversation_messages AS SELECT * FROM user_conversation_messages;
CREATE VIEW crisis_flags AS SELECT * FROM user_crisis_flags;
