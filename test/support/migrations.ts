/**
 * Temporary migration directories for tests (removed after the test file, see temp.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './temp.js';

export { tempDir } from './temp.js';

/** Files of one directory migration. */
export interface MigrationFiles {
  up: string;
  down?: string;
  verify?: string;
}

/** Writes `{ '001_a': { up, down }, '002_b.js': 'export …' }` into a fresh temp dir; returns its path. */
export function writeMigrations(spec: Record<string, MigrationFiles | string>, dir?: string): string {
  const root = dir ?? tempDir('strata-migrations-');
  fs.mkdirSync(root, { recursive: true });
  for (const [name, files] of Object.entries(spec)) {
    if (typeof files === 'string') {
      fs.writeFileSync(path.join(root, name), files);
      continue;
    }
    const folder = path.join(root, name);
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'up.sql'), files.up);
    if (files.down !== undefined) fs.writeFileSync(path.join(folder, 'down.sql'), files.down);
    if (files.verify !== undefined) fs.writeFileSync(path.join(folder, 'verify.sql'), files.verify);
  }
  return root;
}
