// A trace as a Mermaid `sequenceDiagram`, to paste into a GitHub or GitLab comment (both render
// ```mermaid blocks): one participant per CPU named by its kernel function, one note per step
// with the fields it changed, lock holds as activation bars, the data race as a note across
// the two CPUs, and a lasso's repeating part in a `loop` block.

import type { TraceDoc } from "./document.ts";

/**
 * Text made safe inside a Mermaid message or note: the characters Mermaid reads as syntax
 * (`;` ends a statement, `#` starts an entity code, `%%` a comment, `<`/`>` HTML) are written as
 * Mermaid entity codes (`#59;` ...), which it renders as the characters.
 */
export function mermaidText(s: string): string {
  return s.replace(/[;#%<>&{}"\n\r]/g, (c) =>
    c === "\n" || c === "\r" ? " " : `#${c.charCodeAt(0)};`,
  );
}

export interface MermaidOptions {
  /** Show the fields each step changed (default true). */
  changes?: boolean;
}

export function mermaidSequence(doc: TraceDoc, opts: MermaidOptions = {}): string {
  const showChanges = opts.changes ?? true;
  const id = (cpu: number): string => `CPU${cpu}`;
  const out = ["sequenceDiagram"];
  for (const l of doc.lanes)
    out.push(`  participant ${id(l.cpu)} as ${mermaidText(`CPU${l.cpu} (${l.name})`)}`);
  // activation bars: a lock taken before the first step is shown from the start
  const takes = new Map<number, { cpu: number; lock: string }[]>();
  const drops = new Map<number, { cpu: number; lock: string }[]>();
  for (const h of doc.locks) {
    const at = (m: Map<number, { cpu: number; lock: string }[]>, k: number): void => {
      const list = m.get(k) ?? [];
      list.push({ cpu: h.cpu, lock: h.lock });
      m.set(k, list);
    };
    at(takes, Math.max(h.from, 0));
    if (h.released) at(drops, h.to);
  }
  // activations must be closed for Mermaid to accept the diagram: the ones still open at the
  // end are closed after the last step
  const open: number[] = [];
  doc.steps.forEach((s, i) => {
    if (doc.cycleStart === i) out.push(`  loop ${mermaidText("repeats forever (lasso)")}`);
    const text = [s.label];
    if (showChanges) for (const c of s.changes) text.push(`${c.name} ${c.from} → ${c.to}`);
    out.push(`  Note over ${id(s.cpu)}: ${text.map(mermaidText).join("<br/>")}`);
    for (const t of takes.get(i) ?? []) {
      out.push(`  activate ${id(t.cpu)}`);
      open.push(t.cpu);
    }
    for (const d of drops.get(i) ?? []) {
      const k = open.lastIndexOf(d.cpu);
      if (k >= 0) {
        open.splice(k, 1);
        out.push(`  deactivate ${id(d.cpu)}`);
      }
    }
  });
  if (doc.cycleStart !== undefined) out.push("  end");
  for (const c of open.reverse()) out.push(`  deactivate ${id(c)}`);
  if (doc.race) {
    const { a, b, field } = doc.race;
    const rw = (x: { write: boolean; marked: boolean }): string =>
      `${x.marked ? "marked" : "plain"} ${x.write ? "write of" : "read of"}`;
    out.push(`  Note over ${id(a.cpu)}: ${mermaidText(`next: ${a.label} (${rw(a)} ${field})`)}`);
    out.push(`  Note over ${id(b.cpu)}: ${mermaidText(`next: ${b.label} (${rw(b)} ${field})`)}`);
    out.push(`  ${id(a.cpu)}--x${id(b.cpu)}: ${mermaidText(`data race on ${field}`)}`);
  }
  const across =
    doc.lanes.length > 1
      ? `${id(doc.lanes[0]!.cpu)},${id(doc.lanes[doc.lanes.length - 1]!.cpu)}`
      : id(doc.lanes[0]?.cpu ?? 0);
  // messages often start with the property's name already ("deadlock: no CPU can ...")
  const msg = doc.message.startsWith(`${doc.property}: `)
    ? doc.message.slice(doc.property.length + 2)
    : doc.message;
  if (doc.lanes.length > 0)
    out.push(`  Note over ${across}: ${mermaidText(`${doc.property}: ${msg}`)}`);
  return out.join("\n");
}

/** The diagram in a fenced block with a heading line, ready for a Markdown comment. */
export function mermaidMarkdown(doc: TraceDoc, opts: MermaidOptions = {}): string {
  const head = `**${doc.model} / ${doc.variant}: ${doc.property}** (${doc.steps.length} steps, ${doc.switches} context switches)`;
  return `${head}\n\n\`\`\`mermaid\n${mermaidSequence(doc, opts)}\n\`\`\``;
}
