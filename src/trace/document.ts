// A trace as the pictures and exports draw it: the steps of a schedule with their CPU lanes,
// the state after each step, lock hold intervals, the two pending accesses of a data race, and
// (for a liveness lasso) where the repeating part starts. Plain data, built by replaying the
// schedule; the HTML report, Mermaid and ITF writers read only this.

import type { CompiledModel } from "../model/model.ts";
import { execute, labelOf, nextNode, type Move } from "../rt/machine.ts";
import { replay, stepAccesses, type Outcome, type TraceStep } from "./replay.ts";
import { formatSchedule } from "./schedule.ts";
import { contextSwitches } from "./reorder.ts";

export interface Lane {
  readonly cpu: number;
  /** The kernel function the CPU runs (its thread's name). */
  readonly name: string;
}

/** A lock held by one CPU from the step that took it to the step that released it. */
export interface LockHold {
  readonly lock: string;
  /** Index of the lock among the model's locks (for a colour per lock). */
  readonly index: number;
  readonly cpu: number;
  /** Step that took it (-1: held from the initial state). */
  readonly from: number;
  /** Step that released it; the last step's index when still held at the end. */
  readonly to: number;
  readonly released: boolean;
}

export interface RaceAccess {
  readonly cpu: number;
  readonly label: string;
  readonly write: boolean;
  /** READ_ONCE()/WRITE_ONCE()/atomic: a marked access racing with a plain one. */
  readonly marked: boolean;
}

/** The data race of the final state: the next steps of two CPUs, on one word. */
export interface RaceMark {
  readonly field: string;
  readonly a: RaceAccess;
  readonly b: RaceAccess;
}

export interface TraceDoc {
  readonly model: string;
  readonly variant: string;
  readonly params: Readonly<Record<string, number | string>>;
  readonly property: string;
  readonly kind: string;
  readonly message: string;
  readonly lanes: readonly Lane[];
  readonly moves: readonly Move[];
  readonly schedule: string;
  readonly steps: readonly TraceStep[];
  readonly switches: number;
  readonly locks: readonly LockHold[];
  readonly race: RaceMark | undefined;
  /**
   * For a liveness counterexample (a lasso): the index of the first step of the part that
   * repeats forever (steps cycleStart..end, then back to cycleStart). Undefined for a finite
   * trace.
   */
  readonly cycleStart: number | undefined;
  /** The state before the first step and after each step: steps.length + 1 vectors. */
  readonly states: readonly Int32Array[];
}

export interface DocOptions {
  cycleStart?: number;
}

/** Builds the document of a schedule that ends in `outcome` (undefined: no violation). */
export function traceDoc(
  model: CompiledModel,
  moves: readonly Move[],
  outcome: Pick<Outcome, "property" | "message"> & { kind: string },
  opts: DocOptions = {},
): TraceDoc {
  const rep = replay(model, moves);
  const steps = rep.steps;
  const states: Int32Array[] = [model.init.slice()];
  const b = model.init.slice();
  for (let i = 0; i < steps.length; i++) {
    const { cpu, choice } = moves[i]!;
    const pre = b.slice();
    try {
      execute(model, cpu, choice, b);
    } catch {
      b.set(pre); // the step that throws changes nothing (as replay shows it)
    }
    states.push(b.slice());
  }
  const used = [...new Set(steps.map((s) => s.cpu))];
  const race =
    outcome.property === "data-race" ? raceMark(model, rep.final, outcome.message) : undefined;
  if (race) used.push(race.a.cpu, race.b.cpu);
  // a deadlock or a liveness violation is about the CPUs that do not move, too
  if (outcome.kind === "deadlock" || outcome.kind === "liveness")
    used.push(...model.threads.map((t) => t.cpu));
  const lanes = [...new Set(used)]
    .sort((x, y) => x - y)
    .map((cpu) => ({ cpu, name: model.threads[cpu]?.name ?? `cpu${cpu}` }));
  const cycleStart = opts.cycleStart;
  if (
    cycleStart !== undefined &&
    !(Number.isInteger(cycleStart) && cycleStart >= 0 && cycleStart < steps.length)
  )
    throw new RangeError(`cycleStart ${cycleStart} is outside the trace's ${steps.length} steps`);
  return {
    model: model.name,
    variant: model.variant,
    params: model.params,
    property: outcome.property,
    kind: outcome.kind,
    message: outcome.message,
    lanes,
    moves: moves.slice(0, steps.length),
    schedule: formatSchedule(moves.slice(0, steps.length)),
    steps,
    switches: contextSwitches(steps),
    locks: lockHolds(model, states),
    race,
    cycleStart,
    states,
  };
}

/** Who holds each lock when: a lock word holds the holding CPU, or -1. */
export function lockHolds(model: CompiledModel, states: readonly Int32Array[]): LockHold[] {
  const out: LockHold[] = [];
  const last = states.length - 2; // index of the last step
  model.layout.locks.forEach((lk, index) => {
    let holder = states[0]![lk.off]!;
    let from = -1;
    for (let k = 1; k < states.length; k++) {
      const v = states[k]![lk.off]!;
      if (v === holder) continue;
      if (holder >= 0)
        out.push({ lock: lk.name, index, cpu: holder, from, to: k - 1, released: true });
      holder = v;
      from = k - 1;
    }
    if (holder >= 0 && last >= 0)
      out.push({ lock: lk.name, index, cpu: holder, from, to: last, released: false });
  });
  return out;
}

/**
 * The two accesses of the data race reported in state b: the CPUs and field named by the
 * race check's message, with the label of each CPU's next step.
 */
export function raceMark(
  model: CompiledModel,
  b: Int32Array,
  message: string,
): RaceMark | undefined {
  const field = /^data race on (\S+?):/.exec(message)?.[1];
  // "CPU0 reads", or with the LKMM rule's words, "CPU0 plain reads" / "CPU2 marked writes"
  const who = [
    ...message.matchAll(/(?:^|: |while )CPU(\d+) (?:(plain|marked) )?(writes|reads) /g),
  ].map((m) => ({
    cpu: Number(m[1]),
    write: m[3] === "writes",
    marked: m[2] === "marked",
  }));
  if (!field || who.length < 2) return undefined;
  const access = (w: { cpu: number; write: boolean; marked: boolean }): RaceAccess | undefined => {
    const th = model.threads[w.cpu];
    const node = th && nextNode(th, b);
    if (!node) return undefined;
    const dry = stepAccesses(model, w.cpu, 0, b);
    return {
      cpu: w.cpu,
      write: w.write,
      marked: w.marked,
      label: labelOf(model, w.cpu, node, b, dry?.result, 0),
    };
  };
  const a = access(who[0]!);
  const c = access(who[1]!);
  return a && c ? { field, a, b: c } : undefined;
}
