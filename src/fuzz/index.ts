// The randomized engine's public API.
export { fuzzModel, runSeed, sessionRunSeed } from "./fuzz.ts";
export { fuzzParallel } from "./parallel.ts";
export type { ParallelFuzzOptions } from "./parallel.ts";
export {
  mix,
  defaultArms,
  describeArms,
  describeLayout,
  layout,
  seedArm,
  DEFAULT_WEIGHTS,
  DEFAULT_OPENING,
} from "./mix.ts";
export type {
  FuzzOptions,
  FuzzResult,
  FuzzCounterexample,
  FuzzProgress,
  TraceSize,
} from "./fuzz.ts";
export { expectNoFuzzViolation, expectFuzzFinds, fuzzMatchers, FuzzFailure } from "./expect.ts";
export { formatFailure, fuzzCommand } from "./report.ts";
export { scenarioSpace, ScenarioError } from "./scenario.ts";
export type { ScenarioSpace, Params, ParamRange } from "./scenario.ts";
export { runSchedule } from "./run.ts";
export type { RunResult, RunEnd } from "./run.ts";
export { shrinkSchedule, contextSwitches } from "./shrink.ts";
export { makeStrategy, STRATEGY_NAMES } from "./strategies.ts";
export { random } from "./random.ts";
export { pct } from "./pct.ts";
export { preempt } from "./preempt.ts";
export { pos } from "./pos.ts";
export { replaySchedule } from "./replay.ts";
export type { Strategy, Scheduler, SchedView, StrategyName, SessionPlan } from "./strategy.ts";
export { fuzzCounterexamplePath, saveFuzzCounterexample } from "./save.ts";
export { scheduleProperty } from "./property.ts";
export type { ScheduleProperty, SchedulePropertyOptions } from "./property.ts";
