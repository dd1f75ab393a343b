import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { MAX_FILE_BYTES, readProfileFolders } from '../../src/profiles/files.js';
import { FIXTURES, makeProfileDir } from './schema.js';

const PROFILE = '# Profile\n\n- **Name:** Maya\n';
const asText = (text: string): string => text;

/** Errors as `relative path: message`. */
function relativeErrors(dir: string, errors: { path: string; message: string }[]): string[] {
  return errors.map((e) => `${path.relative(dir, e.path)}: ${e.message}`);
}

describe('reading a profiles directory', () => {
  it('reads the fixtures: three user folders, README ignored', async () => {
    const scan = await readProfileFolders(FIXTURES, asText);
    expect(scan.errors).toEqual([]);
    expect(scan.folders.map((f) => [f.name, f.files.map((file) => file.column), f.errors])).toEqual([
      ['6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b', ['patterns'], []],
      ['fb_Zq8uL2mXk9aP3rT0yW1vB7nC4dE', ['profile', 'preferences'], []],
      ['tg_100231', ['profile', 'preferences', 'patterns'], []],
    ]);
  });

  it('strips a BOM and turns CRLF into LF', async () => {
    const dir = await makeProfileDir({ 'u1/profile.md': `\ufeff${PROFILE.replace(/\n/g, '\r\n')}` });
    const [folder] = (await readProfileFolders(dir, asText)).folders;
    expect(folder?.files[0]?.content).toBe(PROFILE);
  });

  it('ignores hidden entries everywhere and plain files directly in DIR', async () => {
    const dir = await makeProfileDir({
      'README.md': '# not a user', 'notes.txt': 'x', '.git/config': 'x', '.hidden-user/profile.md': PROFILE,
      'u1/profile.md': PROFILE, 'u1/.DS_Store': 'x',
    });
    const scan = await readProfileFolders(dir, asText);
    expect(scan.errors).toEqual([]);
    expect(scan.folders.map((f) => [f.name, f.errors.length])).toEqual([['u1', 0]]);
  });

  it('reports every bad input with its path, not only the first', async () => {
    const dir = await makeProfileDir({
      'bad-utf8/profile.md': Buffer.concat([Buffer.from('# P\n\n- **Name:** Ren'), Buffer.from([0xe9]), Buffer.from('e\n')]),
      'too-big/profile.md': `- **Notes:** ${'x'.repeat(MAX_FILE_BYTES)}\n`,
      'dir-not-file/profile.md/inner.md': PROFILE,
      'nul/profile.md': '- **Name:** a\0b\n',
      'case/Profile.md': PROFILE,
      'other/notes.md': PROFILE,
      'ok/profile.md': PROFILE,
    });
    await fs.mkdir(path.join(dir, 'empty'));
    const scan = await readProfileFolders(dir, asText);
    expect(relativeErrors(dir, scan.folders.flatMap((f) => f.errors))).toEqual([
      'bad-utf8/profile.md: is not valid UTF-8 (byte 0xe9 at line 3): save it as UTF-8',
      'case/Profile.md: file names are case-sensitive: rename it to profile.md',
      'dir-not-file/profile.md: is a directory, expected a markdown file',
      'empty: empty folder: a user folder needs at least one of the three files',
      'nul/profile.md: contains a NUL character at line 1, which PostgreSQL cannot store in jsonb',
      'other: no profile.md, preferences.md or patterns.md in this folder: a user folder needs at least one of the three files',
      `too-big/profile.md: is ${MAX_FILE_BYTES + 14} bytes; a profile file may be at most 1 MiB (${MAX_FILE_BYTES} bytes)`,
    ]);
    expect(scan.ignored.map((p) => path.relative(dir, p))).toEqual(['other/notes.md']);
    expect(scan.folders.find((f) => f.name === 'ok')?.errors).toEqual([]);
  });

  it('accepts a file of exactly 1 MiB', async () => {
    const dir = await makeProfileDir({ 'u1/profile.md': `- **Notes:** ${'x'.repeat(MAX_FILE_BYTES - 14)}\n` });
    const [folder] = (await readProfileFolders(dir, asText)).folders;
    expect(folder?.errors).toEqual([]);
  });

  it('rejects symlinks that point outside DIR and follows those inside it', async () => {
    const outside = await makeProfileDir({ 'secret.md': '- **Password:** hunter2\n', 'user/profile.md': PROFILE });
    const dir = await makeProfileDir({ 'u1/profile.md': PROFILE, 'u2/preferences.md': PROFILE });
    await fs.symlink(path.join(outside, 'secret.md'), path.join(dir, 'u2', 'profile.md'));
    await fs.symlink(path.join(outside, 'user'), path.join(dir, 'linked-user'));
    await fs.symlink(path.join(dir, 'u1', 'profile.md'), path.join(dir, 'u2', 'patterns.md'));
    await fs.symlink(path.join(dir, 'missing'), path.join(dir, 'broken'));
    await fs.symlink(path.join(outside, 'secret.md'), path.join(dir, 'README.md')); // a file next to the folders: never read
    const scan = await readProfileFolders(dir, asText);
    expect(relativeErrors(dir, scan.errors)).toEqual([
      'broken: broken symbolic link',
      `linked-user: symbolic link to ${await fs.realpath(path.join(outside, 'user'))}, outside the profiles directory: copy it instead`,
    ]);
    const u2 = scan.folders.find((f) => f.name === 'u2');
    expect(relativeErrors(dir, u2?.errors ?? [])).toEqual([
      `u2/profile.md: symbolic link to ${await fs.realpath(path.join(outside, 'secret.md'))}, outside the profiles directory: copy it instead`,
    ]);
    expect(u2?.files.map((f) => f.column)).toEqual(['preferences', 'patterns']);
  });

  it('names a folder whose name is not valid UTF-8, instead of failing to find it', async () => {
    const dir = await makeProfileDir({ 'u1/profile.md': PROFILE, 'caf\uFFFD/profile.md': PROFILE }); // U+FFFD itself is valid UTF-8
    const bad = Buffer.concat([Buffer.from(`${dir}${path.sep}tg_`), Buffer.from([0xff, 0x31]), Buffer.from('\xe9t\xe9', 'utf8')]);
    await fs.mkdir(bad);
    await fs.writeFile(Buffer.concat([bad, Buffer.from(`${path.sep}profile.md`)]), PROFILE);
    const scan = await readProfileFolders(dir, asText);
    expect(relativeErrors(dir, scan.errors)).toEqual([
      'tg_\uFFFD1\u00e9t\u00e9: the folder name "tg_\\xFF1\u00e9t\u00e9" is not valid UTF-8: rename it (a user folder is named after its user\'s id, which is text)',
    ]);
    expect(scan.folders.map((f) => [f.name, f.errors])).toEqual([['caf\uFFFD', []], ['u1', []]]);
  });

  it('throws a usage error when DIR is missing or a file', async () => {
    const missing = path.join(os.tmpdir(), 'strata-no-such-dir-4711');
    await expect(readProfileFolders(missing, asText)).rejects.toBeInstanceOf(UsageError);
    const dir = await makeProfileDir({ 'file.md': 'x' });
    await expect(readProfileFolders(path.join(dir, 'file.md'), asText)).rejects.toThrow(/is not a directory/);
  });
});
