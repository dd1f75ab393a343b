/**
 * An error as the user sees it (SPEC §5): `error: …` and `hint: …` on stderr, or with --json the
 * `{"error": {code, message, hint}}` document on stdout. main.ts reports every error through it;
 * a dry run reports its own, so that its last line can follow (SPEC §7).
 */
import { ExitCode, StrataError } from '../errors.js';
import type { Output } from './output.js';

/** Renders an error and returns its exit code; with --json the error is the stdout document. */
export function reportError(out: Output, error: unknown): number {
  const strata = error instanceof StrataError ? error : undefined;
  const code = strata?.exitCode ?? ExitCode.failed;
  const message = strata?.message ?? (error instanceof Error ? error.message : String(error));
  if (out.json) {
    out.document({ error: { code, message, ...(strata?.hint ? { hint: strata.hint } : {}) }, ...strata?.details });
  } else {
    out.errorLines([out.paint.red(`error: ${message}`), ...(strata?.hint ? [`hint: ${strata.hint}`] : [])]);
  }
  // STYLE: unknown errors show their stack with -v (so do ours, with their cause).
  if (out.verbose && error instanceof Error) {
    out.debug(error.stack ?? String(error));
    if (error.cause instanceof Error) out.debug(`caused by: ${error.cause.stack ?? error.cause.message}`);
  }
  return code;
}
