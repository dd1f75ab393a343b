-- 001_mvp: the chat MVP of the coaching backend (design guide, phase 1).
-- Timestamps are `timestamp` (without time zone) as in the design; 011 converts them.

CREATE TYPE message_role AS ENUM ('user', 'assistant', 'system');

CREATE TABLE conversations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       varchar(255),
  title         varchar(255),
  message_count integer NOT NULL DEFAULT 0,
  metadata      jsonb NOT NULL DEFAULT '{}',
  created_at    timestamp NOT NULL DEFAULT now(),
  updated_at    timestamp NOT NULL DEFAULT now()
);

CREATE TABLE messages (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  role            message_role NOT NULL,
  content         text NOT NULL,
  metadata        jsonb,
  created_at      timestamp NOT NULL DEFAULT now(),
  updated_at      timestamp NOT NULL DEFAULT now()
);

-- A user's conversations, newest first (the chat list).
CREATE INDEX idx_conversations_user ON conversations (user_id, updated_at DESC);
-- A conversation's messages in order (the chat view); also serves the foreign key.
CREATE INDEX idx_messages_conversation ON messages (conversation_id, created_at);
