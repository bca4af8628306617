// Strategy by name, as the CLI and fuzzModel take it.

import { UsageError } from "../cli/errors.ts";
import type { Move } from "../rt/machine.ts";
import { mix } from "./mix.ts";
import { pct } from "./pct.ts";
import { pos } from "./pos.ts";
import { preempt } from "./preempt.ts";
import { random } from "./random.ts";
import { replaySchedule } from "./replay.ts";
import type { Strategy, StrategyName } from "./strategy.ts";

export const STRATEGY_NAMES: readonly StrategyName[] = [
  "random",
  "pct",
  "preempt",
  "mix",
  "pos",
  "replay",
];

export interface StrategyOptions {
  /** PCT's bug depth d (d−1 priority change points); default 3. */
  readonly pctDepth?: number;
  /** Bounded preemption's bound; default 2. */
  readonly preemptions?: number;
  /** The schedule the replay strategy follows. */
  readonly schedule?: readonly Move[];
}

export function makeStrategy(name: string, opts: StrategyOptions = {}): Strategy<unknown> {
  switch (name) {
    case "random":
      return random as Strategy<unknown>;
    case "pct":
      return pct(opts.pctDepth ?? 3) as Strategy<unknown>;
    case "preempt":
      return preempt(opts.preemptions ?? 2) as Strategy<unknown>;
    case "pos":
      return pos as Strategy<unknown>;
    case "mix":
      return mix() as Strategy<unknown>;
    case "replay":
      if (!opts.schedule)
        throw new UsageError(
          "E_USAGE",
          "the replay strategy needs a schedule",
          "pass schedule: [{ cpu, choice }, ...]",
        );
      return replaySchedule(opts.schedule) as Strategy<unknown>;
    default:
      throw new UsageError(
        "E_USAGE",
        `strategy "${name}": unknown`,
        `strategies: ${STRATEGY_NAMES.join(", ")}`,
      );
  }
}
