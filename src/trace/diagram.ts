// The race diagram: one column per CPU, in the style of kernel commit messages, ready to paste
// into a review mail. Each step is written in its CPU's column; the fields it changed follow
// on indented lines.
//
//   CPU0 (deferred_split_scan)          CPU1 (folio_put)
//   spin_lock(&ds_queue.split_queue_lock)
//   folio_try_get(F1) -> true
//     F1._refcount 1 -> 2
//                                       folio_put(F1): refcount 2 -> 1

import type { CompiledModel } from "../model/model.ts";
import type { Move } from "../rt/machine.ts";
import { replay, type Outcome, type Replayed, type TraceStep } from "./replay.ts";

export interface DiagramOptions {
  /** Show the fields each step changed (default true). */
  changes?: boolean;
  /** Widest a column may be before its text runs on to the right (default 44). */
  maxColumn?: number;
  /**
   * A liveness lasso: the index of the step where the cycle starts. A mark line goes before it
   * ("from here the schedule repeats forever") and another after the last step.
   */
  cycleStart?: number;
}

/** The mark a lasso's cycle starts with in the diagram. */
export const CYCLE_MARK = "from here the schedule repeats forever";

export function diagram(
  model: CompiledModel,
  steps: readonly TraceStep[],
  outcome: Outcome | undefined,
  opts: DiagramOptions = {},
): string {
  const showChanges = opts.changes ?? true;
  const cap = opts.maxColumn ?? 44;
  const used = [...new Set(steps.map((s) => s.cpu))].sort((a, b) => a - b);
  // a lasso shows every CPU: the one that never runs on the cycle is often the point
  if (used.length === 0 || opts.cycleStart !== undefined) {
    used.length = 0;
    used.push(...model.threads.map((t) => t.cpu));
  }
  const col = new Map(used.map((c, i) => [c, i]));
  const headers = used.map((c) => `CPU${c} (${model.threads[c]!.name})`);
  const cells: { col: number; lines: string[] }[] = steps.map((s, i) => {
    const lines = [s.label];
    if (showChanges) for (const ch of s.changes) lines.push(`  ${ch.name} ${ch.from} -> ${ch.to}`);
    // a warning the CPU went on past (the last step's is the outcome, shown below)
    const last = i === steps.length - 1 && outcome !== undefined;
    for (const w of s.warnings ?? [])
      if (!(last && w.property === outcome.property)) lines.push(`  WARNING: ${w.message}`);
    return { col: col.get(s.cpu)!, lines };
  });
  const width = used.map((_, i) => {
    let w = headers[i]!.length;
    for (const c of cells) if (c.col === i) for (const l of c.lines) w = Math.max(w, l.length);
    return Math.min(w, cap) + 2;
  });
  const start: number[] = [];
  let x = 0;
  for (const w of width) {
    start.push(x);
    x += w;
  }
  const out: string[] = [];
  const row = (i: number, text: string): string => " ".repeat(start[i]!) + text;
  out.push(
    headers
      .map((h, i) => h.padEnd(i === headers.length - 1 ? 0 : width[i]!))
      .join("")
      .trimEnd(),
  );
  const full = Math.max(x, 40);
  const rule = (text: string): string => {
    const t = `---- ${text} `;
    return t + "-".repeat(Math.max(4, full - t.length));
  };
  const cyc = opts.cycleStart;
  const lasso = cyc !== undefined && cyc >= 0 && cyc < cells.length;
  cells.forEach((c, i) => {
    if (lasso && i === cyc) out.push(rule(`${CYCLE_MARK} (steps ${i + 1}..${cells.length})`));
    for (const l of c.lines) out.push(row(c.col, l).trimEnd());
  });
  if (lasso) out.push(rule(`back to the mark: the same state as there, and so on forever`));
  if (outcome) {
    // messages often start with the property's name already ("deadlock: no CPU can ...")
    const msg = outcome.message.startsWith(`${outcome.property}: `)
      ? outcome.message.slice(outcome.property.length + 2)
      : outcome.message;
    out.push("", `=> ${outcome.property}: ${msg}`);
  }
  return out.join("\n");
}

/** Traces longer than this many steps are shown abridged: the first and last half of it. */
export const DISPLAY_STEPS = 400;

/**
 * The diagram of a schedule, written line by line to `line` without holding the trace: the
 * schedule is replayed twice (once for the columns' widths, once to write). With `abridge`, only
 * the first and last `abridge / 2` steps are written, with one line saying how many were left out
 * and where the rest is. Returns what the replay ended in.
 */
export function streamDiagram(
  model: CompiledModel,
  schedule: readonly Move[],
  outcome: Outcome | undefined,
  line: (text: string) => void,
  opts: DiagramOptions & { abridge?: number; omitted?: string } = {},
): Replayed {
  const showChanges = opts.changes ?? true;
  const cap = opts.maxColumn ?? 44;
  const n = schedule.length;
  const half = opts.abridge !== undefined && n > opts.abridge ? Math.floor(opts.abridge / 2) : -1;
  const kept = (i: number): boolean => half < 0 || i < half || i >= n - half;
  const T = model.threads.length;
  const widest = new Int32Array(T);
  const usedCpu = new Uint8Array(T);
  replay(model, schedule, {
    onStep: (s, i) => {
      if (!kept(i)) return;
      usedCpu[s.cpu] = 1;
      let w = Math.max(widest[s.cpu]!, s.label.length);
      for (const x of s.warnings ?? []) w = Math.max(w, x.message.length + 11);
      if (showChanges)
        for (const ch of s.changes)
          w = Math.max(w, ch.name.length + ch.from.length + ch.to.length + 6);
      widest[s.cpu] = w;
    },
  });
  const used: number[] = [];
  for (let c = 0; c < T; c++) if (usedCpu[c]) used.push(c);
  if (used.length === 0) used.push(...model.threads.map((t) => t.cpu));
  const col = new Map(used.map((c, i) => [c, i]));
  const headers = used.map((c) => `CPU${c} (${model.threads[c]!.name})`);
  const start: number[] = [];
  let x = 0;
  used.forEach((c, i) => {
    start.push(x);
    x += Math.min(Math.max(headers[i]!.length, widest[c]!), cap) + 2;
  });
  line(
    headers
      .map((h, i) => (i === headers.length - 1 ? h : h.padEnd(start[i + 1]! - start[i]!)))
      .join("")
      .trimEnd(),
  );
  const rep = replay(model, schedule, {
    onStep: (s, i) => {
      if (!kept(i)) {
        if (i === half)
          line(
            `... ${n - 2 * half} steps not shown (steps ${half + 1} to ${n - half} of ${n})` +
              (opts.omitted ? `: ${opts.omitted}` : "") +
              " ...",
          );
        return;
      }
      const pad = " ".repeat(start[col.get(s.cpu)!]!);
      line((pad + s.label).trimEnd());
      if (showChanges)
        for (const ch of s.changes) line(`${pad}  ${ch.name} ${ch.from} -> ${ch.to}`);
      // a warning the CPU went on past (the last step's is the outcome, shown below)
      const last = i === n - 1 && outcome !== undefined;
      for (const w of s.warnings ?? [])
        if (!(last && w.property === outcome.property)) line(`${pad}  WARNING: ${w.message}`);
    },
  });
  if (outcome) {
    const msg = outcome.message.startsWith(`${outcome.property}: `)
      ? outcome.message.slice(outcome.property.length + 2)
      : outcome.message;
    line("");
    line(`=> ${outcome.property}: ${msg}`);
  }
  return rep;
}
