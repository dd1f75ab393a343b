-- 001_legacy_schema: the therapeutic companion before normalization. Everything the companion
-- remembers about a user is one JSONB blob, memory_profiles.memory: arrays of themes, people,
-- coping tools, goals, strengths and daily habits, written by several app versions over time.

CREATE TABLE users (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email        varchar(255) NOT NULL UNIQUE,
  display_name varchar(100),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One per user (the app creates it at sign-up; not every old account got one).
CREATE TABLE memory_profiles (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  summary       text,
  mood_baseline smallint CHECK (mood_baseline BETWEEN 1 AND 10),
  memory        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(memory) = 'object'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversations (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title      varchar(200),
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at   timestamptz,
  CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX conversations_user_started ON conversations (user_id, started_at DESC);

CREATE TABLE conversation_messages (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  role            varchar(10) NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  content         text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_messages_conversation_created ON conversation_messages (conversation_id, created_at);

CREATE TABLE crisis_flags (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  conversation_id uuid REFERENCES conversations (id) ON DELETE SET NULL,
  severity        varchar(10) NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  reason          text NOT NULL,
  flagged_at      timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  CHECK (resolved_at IS NULL OR resolved_at >= flagged_at)
);
-- The safety dashboard: open flags per user.
CREATE INDEX crisis_flags_open ON crisis_flags (user_id) WHERE resolved_at IS NULL;
CREATE INDEX crisis_flags_conversation ON crisis_flags (conversation_id);
