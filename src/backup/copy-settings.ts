/**
 * The settings every backup COPY writes with and every restore COPY parses with (SPEC §6: a
 * restored table equals the backed-up one, value for value, whatever the session, role or database
 * settings are). COPY's text of a value depends on the session: `extra_float_digits = 0` writes
 * float8 0.1+0.2 as `0.3`; `DateStyle = 'SQL, DMY'` writes `02/01/2024 08:34:05 IST` (an ambiguous
 * zone abbreviation, and a day/month order the reader must guess). pg_dump fixes these on its
 * connections; so do we, and the manifest records them (`copySettings`) so a restore parses the
 * files the way they were written.
 *
 * - `DateStyle 'ISO, YMD'`, `IntervalStyle 'postgres'`: unambiguous dates, times and intervals.
 * - `extra_float_digits 3`: float4/float8 written exactly (shortest text that reads back the same).
 * - `bytea_output 'hex'`: the one bytea format every reader takes.
 * - `TimeZone 'UTC'`: ISO output carries a numeric offset, so instants survive any zone; UTC makes
 *   the files the same whoever takes them, and a `timestamp` backed up and restored into a column
 *   now `timestamptz` is read as UTC, as 011's conversion reads it.
 * - `client_encoding 'UTF8'`: the files are UTF-8 whatever the session's encoding.
 * - `lc_monetary 'C'`: `money` text depends on it (PostgreSQL's manual warns dumps of money are
 *   locale-sensitive); the same locale on both sides reads back the same amount.
 * - `xmloption 'content'`: parses every xml value a column can hold (document values are content too).
 * - `row_security 'off'`: as pg_dump, a COPY that row-level security would filter fails instead of
 *   silently backing up only the rows this role may see (a role under a policy could otherwise
 *   back up nothing of a table and then drop it).
 */
import type { AnySql } from './copy.js';

/** Names of the settings fixed for COPY. */
export const COPY_SETTING_NAMES = [
  'DateStyle', 'IntervalStyle', 'extra_float_digits', 'bytea_output', 'TimeZone', 'client_encoding', 'lc_monetary', 'xmloption', 'row_security',
] as const;

/** A fixed setting's name. */
export type CopySettingName = (typeof COPY_SETTING_NAMES)[number];

/** Setting name → value, as `set_config` takes them. */
export type CopySettings = Readonly<Record<CopySettingName, string>>;

/** What backups are written with and restores parse with (recorded in each manifest). */
export const COPY_SETTINGS: CopySettings = Object.freeze({
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
  TimeZone: 'UTC',
  client_encoding: 'UTF8',
  lc_monetary: 'C',
  xmloption: 'content',
  row_security: 'off',
});

/**
 * Sets `settings` for the rest of the current transaction (`set_config(…, true)`, i.e. SET LOCAL).
 * `tx` must be inside a transaction block: outside one, the values would end with this statement.
 */
export async function applyCopySettings(tx: AnySql, settings: CopySettings = COPY_SETTINGS): Promise<void> {
  await tx`SELECT pg_catalog.set_config(s.key, s.value, true) FROM jsonb_each_text(${JSON.stringify(settings)}::text::jsonb) AS s`;
}

/**
 * Runs `fn` with the COPY settings in a transaction that is not ours (a migration's, a restore's),
 * then gives the transaction back the values it had: the migration's later statements must see the
 * user's DateStyle, TimeZone… again. The saved values are set back with `set_config(…, true)`: a SET
 * LOCAL over a session-level SET made earlier in the transaction still lets that SET win at
 * COMMIT, so the session ends exactly as it would have without us. On failure nothing is set back:
 * the caller rolls the transaction (or savepoint) back, which discards the local values anyway.
 */
export async function withCopySettings<T>(tx: AnySql, fn: () => Promise<T>): Promise<T> {
  const [saved] = await tx<{ settings: Record<string, string> }[]>`
    SELECT jsonb_object_agg(n.name, pg_catalog.current_setting(n.name)) AS settings
      FROM jsonb_array_elements_text(${JSON.stringify(COPY_SETTING_NAMES)}::text::jsonb) AS n(name)`;
  await applyCopySettings(tx);
  const result = await fn();
  await applyCopySettings(tx, saved?.settings as CopySettings);
  return result;
}
