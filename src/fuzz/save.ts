// Saving a fuzz-found counterexample next to the explorer's: the explorer's go to
// counterexamples/<model>/<variant>/<property>.json, the fuzzer's to
// counterexamples/<model>/<variant>/fuzz/<property>.json. Same format (plus a "fuzz" record of
// how it was found), so `interleave replay` replays both.

import { dirname, join, basename } from "node:path";
import { writeFileAtomic } from "../trace/atomic.ts";
import {
  counterexamplePath,
  FORMAT_VERSION,
  type CounterexampleFile,
} from "../trace/counterexample.ts";
import { formatSchedule } from "../trace/schedule.ts";
import type { FuzzCounterexample } from "./fuzz.ts";

export function fuzzCounterexamplePath(
  root: string,
  name: string,
  variant: string,
  property: string,
): string {
  const p = counterexamplePath(root, name, variant, property);
  return join(dirname(p), "fuzz", basename(p));
}

export function saveFuzzCounterexample(
  root: string,
  file: string,
  cx: FuzzCounterexample,
  strategy: string,
  strategyArgs: readonly string[] = [],
): string {
  const m = cx.model;
  const path = fuzzCounterexamplePath(root, m.name, m.variant, cx.property);
  const out: CounterexampleFile & { fuzz: Record<string, unknown> } = {
    interleave: FORMAT_VERSION as 1,
    model: file,
    name: m.name,
    variant: m.variant,
    params: m.params,
    property: cx.property,
    kind: cx.kind,
    ...(cx.severity ? { severity: cx.severity } : {}),
    message: cx.message,
    length: (cx.shortest ?? cx.shrunk).length,
    schedule: formatSchedule((cx.shortest ?? cx.shrunk).moves),
    replay: `npx interleave replay ${path}`,
    diagram: cx.diagram.split("\n"),
    fuzz: {
      strategy,
      ...(strategyArgs.length ? { options: strategyArgs.join(" ") } : {}),
      ...(cx.arm !== undefined ? { arm: cx.arm } : {}),
      seed: cx.seed >= 0 ? cx.seed : null,
      found: { params: cx.found.params, length: cx.found.length, switches: cx.found.switches },
      shrunk: { length: cx.shrunk.length, switches: cx.shrunk.switches },
      bfsShortest: cx.bfs?.shortest ?? null,
      // the schedule above: the shrunk one, or the explorer's shortest when it is shorter
      shown: cx.shortest ? "bfs-shortest" : "shrunk",
    },
  };
  // written whole or not at all (tests replay every stored file while suites save theirs), and
  // not rewritten when unchanged; throws SaveError
  writeFileAtomic(path, JSON.stringify(out, null, 2) + "\n");
  return path;
}
