// One randomized run: follow a scheduler from the initial state, without a visited set, checking
// in every state exactly what the exhaustive explorer checks there (invariants, deadlock,
// end-state properties, data races: trace/replay.ts's stateOutcomes) and, on every step, the
// assertions a step throws or reports. The run stops at the first violation of the property
// looked for (any, when none is named); past another property's, it goes on exactly where the
// explorer does: past a warn-severity one, not past a bug-severity one.

import type { CompiledModel } from "../model/model.ts";
import { choicesOf, execute, isEnabled, nextNode, type Move } from "../rt/machine.ts";
import {
  errorOutcome,
  lockCycleOutcome,
  stateOutcomes,
  takeWarnings,
  type Outcome,
} from "../trace/replay.ts";
import type { Scheduler, SchedView, Strategy } from "./strategy.ts";

export type RunEnd = "violation" | "done" | "depth" | "stopped" | "infeasible";

export interface RunResult {
  /** The moves taken, up to and including the one that shows the violation. */
  readonly moves: readonly Move[];
  /** The violation that ended the run (a model error has kind "model-error"). */
  readonly violation: Outcome | undefined;
  readonly end: RunEnd;
  /** Why the scheduler's move could not be taken (replay of a schedule that no longer fits). */
  readonly infeasible?: string;
}

export interface RunOptions {
  /** Steps after which the run ends without a verdict. */
  readonly depth: number;
  /**
   * The property looked for: reported first when several break in the same state. When another
   * property is looked for, a warn-severity violation (a data race, a WARN_ON-style assertion,
   * an invariant by default) does not end the run, as the explorer goes on past it; a
   * bug-severity one ends it, as it ends the explorer's path.
   */
  readonly target?: string | readonly string[];
}

/** The outcome that ends the run, if any. */
function stopOn(
  outs: readonly Outcome[],
  target: string | readonly string[] | undefined,
): Outcome | undefined {
  if (outs.length === 0) return undefined;
  const hit = outs.find((o) =>
    typeof target === "string" ? o.property === target : target?.includes(o.property),
  );
  if (hit) return hit;
  if (target === undefined) return outs[0];
  return outs.find((o) => o.severity === "bug" || o.kind === "model-error");
}

export function runSchedule(
  model: CompiledModel,
  scheduler: Scheduler,
  opts: RunOptions,
): RunResult {
  const b = model.init.slice();
  const moves: Move[] = [];
  const T = model.threads.length;
  let last = -1;
  const view: SchedView & { enabled: number[]; step: number; last: number } = {
    model,
    state: b,
    enabled: [],
    step: 0,
    last: -1,
    choices: (t: number) => choicesOf(model, t, b),
  };
  // a data race ends the run only when no other property is looked for, or it is the one
  const target = opts.target;
  const races =
    target === undefined ||
    (typeof target === "string" ? target === "data-race" : target.includes("data-race"));
  // lockdep's lock order over this run: a cycle ends it when lock-order is looked for (or
  // nothing in particular), as the explorer reports it over its whole search
  const m = model.mem;
  const lockOrder =
    model.lockOrder !== false &&
    (target === undefined ||
      (typeof target === "string" ? target === "lock-order" : target.includes("lock-order")));
  if (lockOrder) m.resetLockOrder();
  let edges: Set<number> | undefined;
  let stop = stopOn(stateOutcomes(model, b, races), target);
  if (stop) return { moves, violation: stop, end: "violation" };
  for (;;) {
    const enabled: number[] = [];
    for (let t = 0; t < T; t++) {
      if (!nextNode(model.threads[t]!, b)) continue;
      try {
        if (isEnabled(model, t, b)) enabled.push(t);
      } catch (e) {
        // the explorer reports a guard that throws as that CPU's move failing
        moves.push({ cpu: t, choice: 0 });
        return { moves, violation: errorOutcome(e), end: "violation" };
      }
    }
    if (enabled.length === 0) return { moves, violation: undefined, end: "done" };
    if (moves.length >= opts.depth) return { moves, violation: undefined, end: "depth" };
    view.enabled = enabled;
    view.step = moves.length;
    view.last = last;
    const mv = scheduler.next(view);
    if (mv === undefined) return { moves, violation: undefined, end: "stopped" };
    const at = `move ${moves.length + 1} (CPU${mv.cpu}${mv.choice ? `:${mv.choice}` : ""})`;
    if (!enabled.includes(mv.cpu)) {
      return {
        moves,
        violation: undefined,
        end: "infeasible",
        infeasible: `${at}: CPU${mv.cpu} cannot move here`,
      };
    }
    let nch: number;
    try {
      nch = choicesOf(model, mv.cpu, b);
    } catch (e) {
      moves.push(mv);
      return { moves, violation: errorOutcome(e), end: "violation" };
    }
    if (mv.choice < 0 || mv.choice >= nch) {
      return {
        moves,
        violation: undefined,
        end: "infeasible",
        infeasible: `${at}: the step has ${nch} choice(s)`,
      };
    }
    moves.push(mv);
    try {
      execute(model, mv.cpu, mv.choice, b);
    } catch (e) {
      // the run ends here; the half-written state is not looked at again
      const thrown = errorOutcome(e);
      return {
        moves,
        violation: stopOn([...takeWarnings(model), thrown], target) ?? thrown,
        end: "violation",
      };
    }
    last = mv.cpu;
    stop = stopOn([...takeWarnings(model), ...stateOutcomes(model, b, races)], target);
    if (stop) return { moves, violation: stop, end: "violation" };
    if (lockOrder && m.loNewLen !== 0) {
      edges ??= new Set();
      for (let i = 0; i < m.loNewLen; i++) edges.add(m.loNew[i]!);
      m.loNewLen = 0;
      const lo = lockCycleOutcome(model, edges);
      if (lo) return { moves, violation: lo, end: "violation" };
    }
  }
}

/**
 * An upper estimate of a run's length in steps (PCT's k, where change points are drawn): the
 * longest of three deterministic runs that ignore every property (so a bug does not cut them
 * short): round-robin, and each CPU running until it blocks or finishes, by ascending and by
 * descending CPU number. A run that reaches `depth` (a CPU spinning forever) counts only when
 * every run does; the result is at most `depth`.
 */
export function estimateSteps(model: CompiledModel, depth: number): number {
  const roundRobin: Scheduler = {
    next: (v) => ({ cpu: v.enabled.find((t) => t > v.last) ?? v.enabled[0]!, choice: 0 }),
  };
  const serial = (descending: boolean): Scheduler => ({
    next: (v) => ({
      cpu: v.enabled.includes(v.last)
        ? v.last
        : descending
          ? v.enabled[v.enabled.length - 1]!
          : v.enabled[0]!,
      choice: 0,
    }),
  });
  const runs = [roundRobin, serial(false), serial(true)].map((s) => runLength(model, s, depth));
  const finished = runs.filter((r) => !r.atDepth).map((r) => r.steps);
  return Math.max(1, ...(finished.length ? finished : runs.map((r) => r.steps)));
}

/** Steps of a run that follows `scheduler` while ignoring properties (stops at a step that throws). */
function runLength(
  model: CompiledModel,
  scheduler: Scheduler,
  depth: number,
): { steps: number; atDepth: boolean } {
  const b = model.init.slice();
  const T = model.threads.length;
  let last = -1;
  for (let step = 0; ; step++) {
    const enabled: number[] = [];
    try {
      for (let t = 0; t < T; t++)
        if (nextNode(model.threads[t]!, b) && isEnabled(model, t, b)) enabled.push(t);
    } catch {
      return { steps: step, atDepth: false };
    }
    if (enabled.length === 0) return { steps: step, atDepth: false };
    if (step >= depth) return { steps: step, atDepth: true };
    const mv = scheduler.next({
      model,
      state: b,
      enabled,
      step,
      last,
      choices: (t) => choicesOf(model, t, b),
    });
    if (mv === undefined) return { steps: step, atDepth: false };
    try {
      execute(model, mv.cpu, mv.choice, b);
    } catch {
      return { steps: step + 1, atDepth: false };
    }
    last = mv.cpu;
  }
}

/** Runs a strategy's decisions on compiled scenarios; PCT's k (estimateSteps) is kept per scenario. */
export type StrategyRun = (
  model: CompiledModel,
  data: unknown,
  target?: string | readonly string[],
) => RunResult;

export function strategyRunner(
  strat: Pick<Strategy<unknown>, "scheduler">,
  depth: number,
): StrategyRun {
  const ks = new WeakMap<CompiledModel, number>();
  return (model, data, target) => {
    let k = ks.get(model);
    if (k === undefined) ks.set(model, (k = estimateSteps(model, depth)));
    return runSchedule(model, strat.scheduler(data, { k, depth }), { depth, target });
  };
}
