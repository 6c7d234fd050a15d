// Tables for the terminal and for bench/results.md, from one description:
// { title, columns, rows: [[cell, ...]], notes: [string] }. Numbers are right-aligned.
const isNum = (v) => typeof v === 'number' || (typeof v === 'string' && /^[-+]?[\d,.]+(\s?[×x%a-zµ]+)?$/.test(v));
const text = (v) => (v === null || v === undefined ? '–' : typeof v === 'number' ? String(v) : v);
const plain = (s) => s.replace(/\*\*(.*?)\*\*/g, '$1').replace(/`/g, '');

export function toText(section) {
  const cells = [section.columns, ...section.rows].map((r) => r.map((c) => plain(text(c))));
  const widths = section.columns.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? '')].length)));
  const line = (r, raw) => r.map((c, i) => {
    const pad = widths[i] - [...c].length;
    return isNum(raw?.[i]) && i > 0 ? ' '.repeat(pad) + c : c + ' '.repeat(pad);
  }).join('  ');
  const out = [`== ${section.title} ==`, line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  ')];
  section.rows.forEach((r, i) => out.push(line(cells[i + 1], r)));
  for (const n of section.notes ?? []) out.push(`  · ${plain(n)}`);
  return out.join('\n');
}

export function toMarkdown(section) {
  const esc = (s) => text(s).replace(/\|/g, '\\|');
  const out = [`### ${section.title}`, '', `| ${section.columns.join(' | ')} |`,
    `| ${section.columns.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of section.rows) out.push(`| ${r.map(esc).join(' | ')} |`);
  if (section.notes?.length) { out.push(''); for (const n of section.notes) out.push(`- ${n}`); }
  return out.join('\n');
}
