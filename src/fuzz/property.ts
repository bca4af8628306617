// One model variant as a fast-check property, for `test.prop` (@fast-check/vitest) or fc.assert:
//   const p = scheduleProperty(model, { variant: "fixed", strategy: "random", file });
//   test.prop(p.arbitraries, { numRuns: 100 })("no run violates", p.holds);
// fast-check generates the scenario and the schedule and shrinks both; when a run breaks a
// property, `holds` shrinks the concrete schedule too, saves the counterexample and throws an
// error whose message is the diagram and the replay command.

import * as fc from "fast-check";
import type { ModelDef } from "../model/model.ts";
import { reduceScenario } from "./fuzz.ts";
import { diagram } from "../trace/diagram.ts";
import { replay } from "../trace/replay.ts";
import { strategyRunner, type RunResult } from "./run.ts";
import { scenarioSpace, type Params, type ScenarioSpace } from "./scenario.ts";
import { contextSwitches, shrinkSchedule } from "./shrink.ts";
import { makeStrategy, type StrategyOptions } from "./strategies.ts";
import type { StrategyName } from "./strategy.ts";
import { saveFuzzCounterexample } from "./save.ts";
import { formatSchedule } from "../trace/schedule.ts";

export interface SchedulePropertyOptions extends StrategyOptions {
  readonly variant: string;
  readonly strategy?: Exclude<StrategyName, "replay">;
  readonly depth?: number;
  readonly params?: Params;
  /** Model file (relative to the repository root): failures are saved when given. */
  readonly file?: string;
  readonly saveTo?: string;
}

export interface ScheduleProperty {
  readonly space: ScenarioSpace;
  readonly arbitraries: [fc.Arbitrary<Params>, fc.Arbitrary<unknown>];
  /** One run; the violation, if any. */
  run(params: Params, data: unknown): RunResult;
  /** Throws (diagram, replay command) when the run breaks a property. */
  holds(params: Params, data: unknown): void;
}

export function scheduleProperty(def: ModelDef, opts: SchedulePropertyOptions): ScheduleProperty {
  const space = scenarioSpace(def, opts.variant, opts.params ?? {});
  const depth = opts.depth ?? 500;
  const strat = makeStrategy(opts.strategy ?? "random", opts);
  const runOn = strategyRunner(strat, depth);
  const run = (params: Params, data: unknown): RunResult =>
    runOn(space.compileForRun(params), data);
  let sample: unknown[] | undefined;
  return {
    space,
    arbitraries: [space.arbitrary, strat.arbitrary({ depth })],
    run,
    holds(params, data) {
      const r = run(params, data);
      if (r.end !== "violation") return;
      const v = r.violation!;
      // fewer CPUs, folios, operations: fast-check's shrink of the scenario keeps the decisions,
      // which rarely break the property in a smaller scenario; a sample of decisions is tried
      // on each smaller one (as interleave fuzz does), then the schedule is shrunk
      const reduced = reduceScenario(
        space,
        params,
        r.moves,
        v.property,
        (sample ??= fc.sample(strat.arbitrary({ depth }), { seed: 7919, numRuns: 50 })),
        runOn,
        // fast-check calls this on every failing candidate of its own shrink: keep each short
        performance.now() + 3_000,
      );
      const sh = shrinkSchedule(space.compileForRun(reduced.params), reduced.moves, v.property, {
        maxTries: 500,
      });
      // shown from the scenario built with its sites (runs build it without them)
      const m = space.compile(reduced.params);
      const rep = replay(m, sh.moves);
      const said = rep.outcomes.find((o) => o.property === v.property) ?? sh.violation;
      const text = diagram(m, rep.steps, said);
      let where = "";
      if (opts.file !== undefined) {
        const path = saveFuzzCounterexample(
          opts.saveTo ?? "counterexamples",
          opts.file,
          {
            property: v.property,
            kind: said.kind,
            message: said.message,
            seed: -1,
            run: 1,
            found: {
              params,
              moves: r.moves,
              length: r.moves.length,
              switches: contextSwitches(r.moves),
            },
            shrunk: {
              params: reduced.params,
              moves: sh.moves,
              length: sh.moves.length,
              switches: contextSwitches(sh.moves),
            },
            model: m,
            diagram: text,
          },
          strat.name,
          strat.cliArgs,
        );
        where = `\nsaved to ${path}; replay: npx interleave replay ${path}`;
      }
      throw new Error(
        `${def.name} / ${opts.variant} ${JSON.stringify(params)}: ${v.property} violated (${v.kind}) in ${r.moves.length} steps, ` +
          `shrunk to ${sh.moves.length}` +
          (JSON.stringify(reduced.params) !== JSON.stringify(params)
            ? ` in ${JSON.stringify(reduced.params)}`
            : "") +
          ` (schedule "${formatSchedule(sh.moves)}"):\n\n${text}${where}`,
      );
    },
  };
}
