// Plain-text tables for people: the agent's scan table and every CLI listing share one renderer.

/** Columns padded to the widest cell (capped at maxWidth); the last column is never padded. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], maxWidth = 80): string {
  const widths = headers.map((h, i) => Math.min(maxWidth, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
