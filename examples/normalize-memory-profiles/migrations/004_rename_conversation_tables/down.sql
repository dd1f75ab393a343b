DROP VIEW conversations, conversation_messages, crisis_flags;

ALTER TABLE user_conversations RENAME TO conversations;
ALTER TABLE user_conversation_messages RENAME TO conversation_messages;
ALTER TABLE user_crisis_flags RENAME TO crisis_flags;
