-- Checks of 001_legacy_schema. `migrate verify` runs every applied migration's checks against the
-- schema as it is now; memory_profiles and conversations are renamed or dropped by 003–005, so
-- these read only `users`, which every later migration keeps.

-- check: e-mail addresses are stored trimmed and lower-case (they are the login)
SELECT id, email FROM users WHERE email <> lower(btrim(email));
