// --format for check, fuzz and replay: the counterexamples as Mermaid sequence diagrams (Markdown
// blocks to paste into a GitHub or GitLab comment), as ITF traces (Apalache/Quint's Informal
// Trace Format, one JSON object per line), or the lock-order graphs as Graphviz dot.

import type { CompiledModel } from "../model/model.ts";
import type { Move } from "../rt/machine.ts";
import { UsageError } from "./errors.ts";
import { readableOrder } from "../trace/reorder.ts";
import { traceDoc } from "../trace/document.ts";
import { mermaidMarkdown } from "../trace/mermaid.ts";
import { toItf } from "../trace/itf.ts";
import { lockOrderDot, type LockOrderEdge } from "../trace/dot.ts";
import { formatSchedule } from "../trace/schedule.ts";
import { replay } from "../trace/replay.ts";

export type OutputFormat = "text" | "mermaid" | "itf" | "dot";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["text", "mermaid", "itf", "dot"];

export const FORMAT_HELP = `      --format FMT              text (default); mermaid: a sequenceDiagram per counterexample
                                in a Markdown block; itf: one ITF trace (Apalache/Quint) per
                                line; dot: the lock-order graph of each result that has one`;

export function parseFormat(v: string | undefined, json: boolean | undefined): OutputFormat {
  if (v === undefined) return "text";
  if (!OUTPUT_FORMATS.includes(v as OutputFormat))
    throw new UsageError(
      "E_USAGE",
      `--format ${v}: expected one of ${OUTPUT_FORMATS.join(", ")}`,
      "mermaid for a GitHub/GitLab comment, itf for Apalache/Quint tools, dot for the lock-order graph",
    );
  if (json && v !== "text")
    throw new UsageError(
      "E_USAGE",
      `--json and --format ${v} both choose what stdout holds`,
      "drop one of them",
    );
  return v as OutputFormat;
}

export interface TraceItem {
  readonly model: CompiledModel;
  readonly schedule: readonly Move[];
  readonly property: string;
  readonly kind: string;
  readonly message: string;
  /** A lasso's first repeating step (liveness counterexamples). */
  readonly cycleStart?: number;
}

/** The counterexamples in Mermaid or ITF (each in the order with the fewest context switches). */
export function exportTraces(format: "mermaid" | "itf", items: readonly TraceItem[]): string {
  return items
    .map((it) => {
      // a lasso keeps its order (its cycle must stay in one piece)
      const moves = readableOrder(it.model, it.schedule, it.property, it.cycleStart).moves;
      const doc = traceDoc(it.model, moves, it, { cycleStart: it.cycleStart });
      if (format === "mermaid") return mermaidMarkdown(doc);
      const itf = toItf(it.model, doc);
      itf["#meta"].originalSchedule = formatSchedule(it.schedule);
      return JSON.stringify(itf);
    })
    .join(format === "mermaid" ? "\n\n" : "\n");
}

/**
 * The lock-order graphs of the results that carry one (`lockOrder`: the edges "held A, took B"
 * that a lock-order check records), in dot; undefined when none does.
 */
export function exportLockOrders(
  results: readonly { model: string; variant: string; lockOrder?: readonly LockOrderEdge[] }[],
): string | undefined {
  const graphs = results
    .filter((r) => r.lockOrder && r.lockOrder.length > 0)
    .map((r) => lockOrderDot(r.lockOrder!, `${r.model} / ${r.variant}`));
  return graphs.length ? graphs.join("\n\n") : undefined;
}

/**
 * A result's lock-order edges: its `lockOrder` graph when it carries one, else the edges of the
 * cycle its lock-order violations report (one acquisition path per edge: the path's last step
 * took `to` while holding `from`; that step is the edge's label).
 */
export function lockOrderEdges(
  model: CompiledModel,
  violations: readonly {
    paths?: readonly { from: string; to: string; schedule: readonly Move[] }[];
  }[],
  carried?: readonly LockOrderEdge[],
): LockOrderEdge[] {
  if (carried && carried.length > 0) return [...carried];
  const out: LockOrderEdge[] = [];
  for (const v of violations) {
    for (const p of v.paths ?? []) {
      const steps = replay(model, p.schedule).steps;
      const last = steps[steps.length - 1];
      out.push({
        from: p.from,
        to: p.to,
        ...(last
          ? { where: `CPU${last.cpu} ${model.threads[last.cpu]?.name ?? ""}: ${last.label}` }
          : {}),
      });
    }
  }
  return out;
}

/** What `--format dot` says when no result has a lock-order graph. */
export function noLockOrder(): UsageError {
  return new UsageError(
    "E_USAGE",
    "--format dot: no result here has a lock-order graph",
    "a lock-order graph comes with a lock-order violation (lockdep: a cycle of locks taken while holding others); use --format mermaid or itf for the counterexamples",
  );
}
