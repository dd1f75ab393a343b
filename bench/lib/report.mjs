/** Formatting of the figures: the console table and the markdown for BENCHMARKS.md. */

/** 1234 → "1.23 s", 12.3 → "12.3 ms", 0.456 → "0.46 ms". */
export function formatMs(ms) {
  if (!Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (abs >= 100) return `${ms.toFixed(0)} ms`;
  if (abs >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** "1.23 s (1.10–1.40)": median with min–max. */
export function formatStats(s, format = formatMs) {
  if (!s || !Number.isFinite(s.median)) return '–';
  const [lo, hi] = [format(s.min), format(s.max)];
  const unit = (t) => t.split(' ')[1];
  return `${format(s.median)} (${unit(lo) === unit(hi) ? lo.split(' ')[0] : lo}–${hi})`;
}

/** Pads a table of strings into aligned columns. */
export function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A markdown table. */
export function markdownTable(header, rows) {
  const esc = (c) => (c ?? '').replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${header.map((_, i) => esc(r[i])).join(' | ')} |`)].join('\n');
}
