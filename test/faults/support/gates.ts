/** Marker statements (see faults.ts): a run blocks on one while the test holds its lock. */

/** First key of the marker locks. */
export const GATE_CLASS = 7300;

/** The marker statement for gate `id`. */
export function gateSql(id: number): string {
  return `SELECT pg_advisory_xact_lock_shared(${GATE_CLASS}, ${id});`;
}
