-- Reverts 010_user_profiles: the trigger, its function, init_user_profile and the table (strata
-- backs user_profiles up first when it holds rows, SPEC §6). Never CASCADE: an object this file
-- does not know about that uses them must stop the rollback.
DROP TRIGGER trg_users_create_profile ON users;
DROP FUNCTION user_profiles_create_for_new_users();
DROP FUNCTION init_user_profile(uuid);
DROP TABLE user_profiles;
