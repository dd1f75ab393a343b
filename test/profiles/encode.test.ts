import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeFolder, hasFiles, packFolder, unpackFolder } from '../../src/profiles/encode.js';
import type { UserFolder } from '../../src/profiles/files.js';
import { parseProfileMarkdown, type ParsedMarkdown } from '../../src/profiles/markdown.js';
import { runTask } from '../../src/profiles/folder-task.js';

const ref = { name: 'tg_1', path: path.join('profiles', 'tg_1') };
const file = (name: string): string => path.join(ref.path, name);

/** A folder as files.ts reads it, its files parsed. */
function folder(files: Record<string, string>, errors: { path: string; message: string }[] = []): UserFolder<ParsedMarkdown> {
  const columns = { 'profile.md': 'profile', 'preferences.md': 'preferences', 'patterns.md': 'patterns' } as const;
  return {
    ...ref,
    errors,
    files: Object.entries(files).map(([name, text]) => ({ column: columns[name as keyof typeof columns], path: file(name), content: parseProfileMarkdown(text) })),
  };
}

describe('a parsed folder, encoded and packed for the trip between threads', () => {
  it('keeps each file as the JSON text of its mapping, and the time zone with the file it came from', () => {
    const encoded = encodeFolder(folder({
      'preferences.md': '- **Timezone:** Europe/London\n- **Units:** metric\n',
      'patterns.md': '## Sleep\n\n- Late on *weekends*\n',
    }), []);
    expect(encoded).toEqual({
      name: 'tg_1', path: ref.path, errors: [], ignored: [],
      json: { preferences: '{"timezone":"Europe/London","units":"metric"}', patterns: '{"sleep":["Late on weekends"]}' },
      paths: { preferences: file('preferences.md'), patterns: file('patterns.md') },
      timezone: 'Europe/London', timezonePath: file('preferences.md'),
    });
    expect(hasFiles(encoded)).toBe(true);
  });

  it('lists folder errors, then markdown issues, then time zone key problems, in that order', () => {
    const encoded = encodeFolder(folder({
      'profile.md': '- Timezone: UTC\n',
      'preferences.md': '- Timezone: Europe/Paris\n\n<div>x</div>\n',
    }, [{ path: file('Patterns.md'), message: 'file names are case-sensitive: rename it to patterns.md' }]), [file('notes.md')]);
    expect(encoded.errors.map((e) => `${path.basename(e.path)}: ${e.message}`)).toEqual([
      'Patterns.md: file names are case-sensitive: rename it to patterns.md',
      'preferences.md: line 3: HTML is not supported ("<div>x</div>"): write plain markdown',
      `preferences.md: timezone "Europe/Paris" differs from "UTC" in ${file('profile.md')}: keep one`,
    ]);
    expect(encoded.ignored).toEqual([file('notes.md')]);
  });

  it('unpacks to exactly what was packed, whatever characters the values hold', () => {
    const cases = [
      folder({ 'profile.md': '- **Name:** Ren \u0001 \u0002 "quoted" \\ back — ünï\n- **Timezone:** Asia/Tokyo\n', 'patterns.md': '' }),
      folder({ 'patterns.md': '## Mood\n\nline one  \nline two\n' }, [{ path: file('profile.md'), message: 'is a directory, expected a markdown file' }]),
      folder({}, [{ path: ref.path, message: 'empty folder: a user folder needs at least one of the three files' }]),
      folder({ 'profile.md': '- **Timezone:** 1\n- **Timezone:** 2\n' }),
    ];
    for (const parsed of cases) {
      const encoded = encodeFolder(parsed, [file('x.md')]);
      expect(unpackFolder(ref, packFolder(encoded))).toEqual(encoded);
    }
  });

  it('is what a worker answers for a folder: the same as encoding it here', () => {
    const texts: UserFolder<string> = { ...ref, errors: [], files: [{ column: 'profile', path: file('profile.md'), content: '- **Name:** Ada\n' }] };
    const packed = runTask({ folder: texts, ignored: [] });
    expect(typeof packed).toBe('string');
    expect(unpackFolder(ref, packed as string)).toEqual(encodeFolder(folder({ 'profile.md': '- **Name:** Ada\n' }), []));
  });
});
