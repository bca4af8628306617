// Shared by the search-mode tests: whether a violation's counterexample replays to it.
import type { ViolationReport } from "../../src/explore/result.ts";
import type { CompiledModel } from "../../src/model/model.ts";
import { lockOrderOutcome, replay } from "../../src/trace/replay.ts";

/** Whether replaying the violation's schedule from the initial state shows its property. */
export function replays(
  model: CompiledModel,
  v: Pick<ViolationReport, "schedule" | "property" | "paths">,
): boolean {
  // a lock-order cycle is seen over its acquisition paths together (trace/replay.ts)
  if (v.paths && v.paths.length >= 2)
    return (
      lockOrderOutcome(
        model,
        v.paths.map((p) => p.schedule),
      )?.property === v.property
    );
  const r = replay(model, v.schedule);
  return r.infeasible === undefined && r.outcomes.some((o) => o.property === v.property);
}
