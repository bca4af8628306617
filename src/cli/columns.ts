// Plain-text tables for the terminal: each column as wide as its widest cell, two spaces apart.

/** Lays out `rows` (the first is usually the header) in left-aligned columns. */
export function columns(rows: readonly (readonly string[])[]): string {
  const w: number[] = [];
  for (const r of rows) r.forEach((x, i) => (w[i] = Math.max(w[i] ?? 0, x.length)));
  return rows
    .map((r) =>
      r
        .map((x, i) => x.padEnd(w[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
