-- 001_legacy_schema: the "traditional architecture" of the coaching app before the AI-first
-- change: 8 tables. A WhatsApp message finds its user by phone number; everything else hangs off
-- users.id (a UUID). Timestamps are timestamptz throughout.

-- Core identification and static profile. phone_number is the messaging platform's lookup key,
-- stored in E.164 form (+ and up to 15 digits) so that one person is one row.
CREATE TABLE users (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  phone_number varchar(16) NOT NULL UNIQUE CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
  email        varchar(255) UNIQUE,
  name         varchar(100),
  timezone     varchar(64) NOT NULL DEFAULT 'UTC',
  status       varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'deactivated')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_active  timestamptz
);

-- Static preferences: the AI personality and the check-in schedule (one row per user).
CREATE TABLE user_preferences (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id             uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  default_personality varchar(20) NOT NULL DEFAULT 'cheerleader' CHECK (default_personality IN ('taskmaster', 'cheerleader')),
  ai_memory_enabled   boolean NOT NULL DEFAULT true,
  check_in_enabled    boolean NOT NULL DEFAULT true,
  check_in_time       time NOT NULL DEFAULT '09:00',
  -- ISO weekdays, 1 = Monday
  check_in_days       smallint[] NOT NULL DEFAULT '{1,2,3,4,5}' CHECK (check_in_days <@ '{1,2,3,4,5,6,7}'::smallint[]),
  -- NULL: use users.timezone
  timezone            varchar(64),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Every message of every chat, both sides.
CREATE TABLE conversation_history (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role        varchar(10) NOT NULL CHECK (role IN ('user', 'assistant')),
  content     text NOT NULL,
  -- the personality that answered (assistant messages)
  personality varchar(20) CHECK (personality IN ('taskmaster', 'cheerleader')),
  platform    varchar(20) NOT NULL DEFAULT 'whatsapp' CHECK (platform IN ('whatsapp', 'sms', 'web')),
  metadata    jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_history_user_created ON conversation_history (user_id, created_at DESC);

CREATE TABLE goals (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title       varchar(200) NOT NULL CHECK (btrim(title) <> ''),
  description text,
  category    varchar(20) CHECK (category IN ('fitness', 'health', 'career', 'learning', 'finance', 'personal')),
  target_date date,
  status      varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'abandoned')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX goals_user_status ON goals (user_id, status);

CREATE TABLE goal_progress (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  goal_id      uuid NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
  note         text,
  progress_pct numeric(5,2) CHECK (progress_pct BETWEEN 0 AND 100),
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX goal_progress_goal_recorded ON goal_progress (goal_id, recorded_at);

CREATE TABLE check_ins (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  goal_id       uuid REFERENCES goals (id) ON DELETE SET NULL,
  scheduled_for timestamptz NOT NULL,
  status        varchar(20) NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'sent', 'answered', 'missed')),
  sent_at       timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX check_ins_user_scheduled ON check_ins (user_id, scheduled_for);
CREATE INDEX check_ins_goal ON check_ins (goal_id);

CREATE TABLE check_in_responses (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  check_in_id uuid NOT NULL REFERENCES check_ins (id) ON DELETE CASCADE,
  content     text NOT NULL,
  mood        smallint CHECK (mood BETWEEN 1 AND 5),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX check_in_responses_check_in ON check_in_responses (check_in_id);

-- One chat session per platform visit, for engagement stats.
CREATE TABLE user_sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  platform      varchar(20) NOT NULL DEFAULT 'whatsapp' CHECK (platform IN ('whatsapp', 'sms', 'web')),
  started_at    timestamptz NOT NULL,
  ended_at      timestamptz,
  message_count integer NOT NULL DEFAULT 0 CHECK (message_count >= 0),
  CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX user_sessions_user_started ON user_sessions (user_id, started_at DESC);
