// How a fuzz failure reads, for the CLI and for failing tests: the kernel-commit style diagram,
// the sizes before and after shrinking next to the explorer's shortest, the seed and the
// commands that reproduce it.

import type { FuzzResult } from "./fuzz.ts";
import { paramsText, paramText } from "../model/params.ts";
import { outsideVerified } from "./scenario.ts";

/** The command that re-runs the failing run first. */
export function fuzzCommand(r: FuzzResult, seed: number): string {
  const target = r.file ?? r.model;
  return (
    `npx interleave fuzz ${target} --variant ${r.variant} --strategy ${r.strategy}` +
    r.strategyArgs.map((a) => ` ${a}`).join("") +
    ` --seed ${seed} --runs 1 --depth ${r.depth}` +
    Object.entries(r.fixed)
      .map(([k, v]) => ` --param ${paramText(k, v)}`)
      .join("")
  );
}

export function formatFailure(r: FuzzResult): string {
  const cx = r.counterexample;
  if (r.error) {
    const head = `${r.model} / ${r.variant}: error ${r.error.code}: ${r.error.message}${r.error.hint ? `\n  hint: ${r.error.hint}` : ""}`;
    return cx ? `${head}\n\n${cx.diagram}\n\nseed ${cx.seed}: ${fuzzCommand(r, cx.seed)}` : head;
  }
  if (!cx) {
    return (
      `${r.model} / ${r.variant}: no violation in ${r.runs} ${r.strategy} runs (seed ${r.seed})` +
      (r.stopped
        ? `, stopped ${r.stopped === "time" ? "at the time limit" : "by an interrupt"} (${r.runsRequested} asked)`
        : "") +
      (r.cutAtDepth
        ? `; ${r.cutAtDepth} run(s) reached the depth bound ${r.depth} unfinished`
        : "") +
      "; not a proof" +
      (r.space ? `\n  ${r.space}` : "")
    );
  }
  const bfs = cx.bfs
    ? cx.bfs.shortest !== undefined
      ? `; BFS shortest ${cx.bfs.shortest} steps (${cx.bfs.states} states)`
      : `; BFS ${cx.bfs.complete ? "finds no such trace (!)" : `incomplete after ${cx.bfs.states} states`}`
    : "";
  const lines = [
    `${r.model} / ${r.variant}: ${cx.property} violated (${cx.kind}), found by ${r.strategy}${cx.arm !== undefined ? ` (arm ${cx.arm})` : ""} on run ${cx.run} of ${r.runsRequested}`,
    `  found:  ${paramsText(cx.found.params)}, ${cx.found.length} steps, ${cx.found.switches} context switches`,
    `  shrunk: ${paramsText(cx.shrunk.params)}, ${cx.shrunk.length} steps, ${cx.shrunk.switches} context switches${bfs}`,
    ...(r.space ? [`  ${r.space}`] : []),
    ...outsideLine(r),
    ...(cx.shortest
      ? [
          `  shown:  the explorer's shortest trace, ${cx.shortest.length} steps, ${cx.shortest.switches} context switches`,
        ]
      : []),
    "",
    cx.diagram,
    "",
    `seed ${cx.seed}: ${fuzzCommand(r, cx.seed)}`,
  ];
  if (cx.file) lines.push(`saved to ${cx.file}; replay: npx interleave replay ${cx.file}`);
  return lines.join("\n");
}

/**
 * A failure in a scenario `check` did not verify for the variant says so: it shows where the
 * declared verdict stops, it does not contradict it.
 */
function outsideLine(r: FuzzResult): string[] {
  const cx = r.counterexample;
  if (!cx || !r.verified) return [];
  const diff = outsideVerified(r.verified, cx.shrunk.params);
  if (diff.length === 0) return [];
  return [
    `  outside the parameters \`check\` verified for ${r.variant} (${diff.map((k) => `${paramText(k, cx.shrunk.params[k]!)} where check has ${paramText(k, r.verified![k]!)}`).join(", ")}): ` +
      `this does not contradict its declared verdict; pin the parameter in the variant if the verdict depends on it`,
  ];
}
