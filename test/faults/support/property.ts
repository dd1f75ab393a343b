/**
 * fast-check settings of the hostile-input properties: a fixed seed (override with
 * STRATA_FC_SEED to explore), a modest run count (each run spawns the CLI), and no shrinking
 * (each shrink step would spawn it again): a failure prints the seed, the path and the case.
 */
import type { Parameters } from 'fast-check';

/** The seed every property starts from. */
export const SEED = Number(process.env.STRATA_FC_SEED ?? 2025_11_23);

/** Options for `fc.assert`: `numRuns` runs from the fixed seed, stopping at the first failure. */
export function runs<T>(numRuns: number): Parameters<T> {
  return { numRuns, seed: SEED, endOnFailure: true, verbose: 1 };
}
