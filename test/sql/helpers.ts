import { expect } from 'vitest';
import { ExitCode, UsageError } from '../../src/errors.js';

/** Runs `fn`, asserts it throws a UsageError (exit 2), and returns it. */
export function usageErrorOf(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(ExitCode.usage);
    return error as UsageError;
  }
  throw new Error('expected a UsageError, but nothing was thrown');
}
