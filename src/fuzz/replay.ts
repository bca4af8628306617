// Replay as a strategy: the schedule is the data. Each move must be feasible where it is taken
// (the run ends "infeasible" otherwise); the run ends when the moves are used up.

import * as fc from "fast-check";
import type { Move } from "../rt/machine.ts";
import type { Strategy } from "./strategy.ts";

export function replaySchedule(moves: readonly Move[]): Strategy<readonly Move[]> {
  return {
    name: "replay",
    arbitrary: () => fc.constant(moves),
    scheduler: (data) => ({ next: (view) => data[view.step] }),
  };
}
