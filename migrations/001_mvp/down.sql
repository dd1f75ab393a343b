-- Reverts 001_mvp: drops the MVP tables (strata backs up any that hold rows first).
DROP TABLE messages;
DROP TABLE conversations;
DROP TYPE message_role;
