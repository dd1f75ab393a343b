/**
 * Temporary directories of a test file, removed after its last test: a full run makes a few
 * thousand (migration sets, profile trees, backup roots, working directories of spawned CLIs), and
 * they must not pile up in a developer's /tmp run after run.
 *
 * The `afterAll` below is registered on the root suite of every test file that imports this module
 * (each file has its own module graph), and after hooks run last-registered first, so a file's own
 * `afterAll` (stopping a server it started in one of these directories) runs before the removal.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      // Not the tests' failure (a mount a fault test could not undo, say), but worth seeing.
      console.warn(`could not remove the temp directory ${dir}: ${(error as Error).message}`);
    }
  }
});

/** A fresh empty temp directory, removed after the file's last test. */
export function tempDir(prefix = 'strata-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
