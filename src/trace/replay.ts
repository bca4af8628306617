// Replaying a schedule: re-executes (cpu, choice) moves from the initial state, naming each step
// and the fields it changed, and says whether (and how) a violation shows at the end.
// Replay is how every trace is printed: the explorer itself stores only moves.

import type { CompiledModel } from "../model/model.ts";
import { ModelError, Violation } from "../rt/mem.ts";
import {
  choicesOf,
  execute,
  isEnabled,
  labelOf,
  nextNode,
  waitingFor,
  type Move,
} from "../rt/machine.ts";
import { ACC_RACY, ACC_SHIFT, ACC_WRITE, ACC_MARKED, type Severity } from "../rt/mem.ts";
import type { ViolationKind } from "../explore/result.ts";
import { lockOffsets, orderedByLock, raceMessage } from "../explore/explorer.ts";
import { findLockCycle, lockGraph, lockNodeName } from "../explore/lockorder.ts";

export interface Change {
  /** Field name in the model's terms; CPU-local fields by their local name. */
  readonly name: string;
  readonly from: string;
  readonly to: string;
}

export interface TraceStep {
  readonly cpu: number;
  readonly choice: number;
  readonly label: string;
  /** Enclosing kernel functions (`deferred_split_scan > folio_put`). */
  readonly funcs: string;
  readonly site: string;
  readonly changes: readonly Change[];
  /** Warn-severity violations the step raised (it went on past them). */
  readonly warnings?: readonly Outcome[];
}

export interface Outcome {
  readonly property: string;
  readonly kind: ViolationKind | "model-error";
  readonly message: string;
  /**
   * "warn": the path goes on past it; "bug": it ends the path (a thrown assertion, a
   * bug-severity invariant). None for deadlock, end-state and model errors.
   */
  readonly severity?: Severity;
}

export interface Replayed {
  readonly steps: readonly TraceStep[];
  /** Violations visible at the end of the schedule (empty if none). */
  readonly outcomes: readonly Outcome[];
  /** Set when the schedule cannot be followed on this model (it changed since it was saved). */
  readonly infeasible: string | undefined;
  readonly final: Int32Array;
}

function diff(model: CompiledModel, pre: Int32Array, post: Int32Array, cpu: number): Change[] {
  const lay = model.layout;
  const out: Change[] = [];
  for (let i = 0; i < pre.length; i++) {
    if (pre[i] === post[i]) continue;
    const f = lay.fields[i]!;
    if (f.kind === "pc" || f.short.startsWith("__")) continue;
    const name = f.cpu === cpu ? f.short : f.name;
    out.push({ name, from: lay.format(i, pre[i]!), to: lay.format(i, post[i]!) });
  }
  return out;
}

export interface ReplayOptions {
  /**
   * A liveness counterexample: the property it breaks (termination, or an eventually/leadsTo
   * of the model) and, for a lasso, the index of the move where the cycle starts. The replay then
   * checks it (see livenessOutcome) and lists it among the outcomes when it shows.
   */
  readonly liveness?: { readonly property: string; readonly cycle: number | undefined };
  /**
   * Each step is handed over as it is replayed and not kept (`steps` is then empty): a long
   * trace is rendered or saved without being held in memory.
   */
  readonly onStep?: (step: TraceStep, index: number) => void;
}

export function replay(
  model: CompiledModel,
  schedule: readonly Move[],
  opts: ReplayOptions = {},
): Replayed {
  const r = replayLocked(model, schedule, opts.onStep);
  const lv = opts.liveness;
  if (lv === undefined || r.infeasible !== undefined) return r;
  const o = livenessOutcome(model, schedule, lv.cycle, lv.property);
  return typeof o === "string" ? { ...r, infeasible: o } : { ...r, outcomes: [...r.outcomes, o] };
}

function replayLocked(
  model: CompiledModel,
  schedule: readonly Move[],
  onStep?: (step: TraceStep, index: number) => void,
): Replayed {
  const b = model.init.slice();
  // lockdep's lock order along this schedule (a cycle of its own is a lock-order outcome)
  const m = model.mem;
  const loSaved = model.lockOrder !== false ? m.loSeen.slice() : undefined;
  if (loSaved) m.resetLockOrder();
  const edges = new Set<number>();
  try {
    return stepsOf(model, schedule, b, edges, onStep);
  } finally {
    if (loSaved) {
      m.loSeen.set(loSaved);
      m.loNewLen = 0;
    }
  }
}

function stepsOf(
  model: CompiledModel,
  schedule: readonly Move[],
  b: Int32Array,
  edges: Set<number>,
  onStep?: (step: TraceStep, index: number) => void,
): Replayed {
  const steps: TraceStep[] = [];
  const outcomes: Outcome[] = [];
  let lastWarnings: readonly Outcome[] = [];
  const T = model.threads.length;
  for (let i = 0; i < schedule.length; i++) {
    const { cpu, choice } = schedule[i]!;
    const at = `move ${i + 1} of ${schedule.length} (CPU${cpu}${choice ? `:${choice}` : ""})`;
    if (cpu < 0 || cpu >= T) {
      return {
        steps,
        outcomes,
        final: b,
        infeasible: `${at}: the model has no CPU${cpu} (it has ${T})`,
      };
    }
    const th = model.threads[cpu]!;
    const node = nextNode(th, b);
    if (!node)
      return {
        steps,
        outcomes,
        final: b,
        infeasible: `${at}: CPU${cpu} (${th.name}) has already finished`,
      };
    let en: boolean;
    try {
      en = isEnabled(model, cpu, b);
    } catch (e) {
      return { steps, outcomes: [errorOutcome(e)], final: b, infeasible: undefined };
    }
    if (!en) {
      return {
        steps,
        outcomes,
        final: b,
        infeasible: `${at}: CPU${cpu} cannot move: ${waitingFor(model, cpu, b)}`,
      };
    }
    const nch = choicesOf(model, cpu, b);
    if (choice >= nch) {
      return {
        steps,
        outcomes,
        final: b,
        infeasible: `${at}: choice ${choice} but the step has ${nch} choice(s)`,
      };
    }
    const pre = b.slice();
    let result: unknown;
    let thrown: unknown;
    try {
      result = execute(model, cpu, choice, b);
    } catch (e) {
      thrown = e;
    }
    const warnings = takeWarnings(model);
    const mem = model.mem;
    for (let k = 0; k < mem.loNewLen; k++) edges.add(mem.loNew[k]!);
    mem.loNewLen = 0;
    lastWarnings = warnings; // kept apart from `steps`, which onStep leaves empty
    const label = labelOf(model, cpu, node, pre, result, choice);
    const st: TraceStep = {
      cpu,
      choice,
      label,
      funcs: node.funcs,
      site: node.site,
      changes: thrown ? [] : diff(model, pre, b, cpu),
      ...(warnings.length ? { warnings } : {}),
    };
    if (onStep) onStep(st, i);
    else steps.push(st);
    if (thrown !== undefined) {
      b.set(pre);
      const o = errorOutcome(thrown);
      if (i === schedule.length - 1)
        return { steps, outcomes: [...warnings, o], final: b, infeasible: undefined };
      return {
        steps,
        outcomes,
        final: b,
        infeasible: `${at}: the step fails here (${o.message}) before the end of the schedule`,
      };
    }
  }
  // the last step's warnings show at the end, with what the state breaks
  outcomes.push(...lastWarnings, ...stateOutcomes(model, b));
  if (edges.size > 0 && model.lockOrder !== false) {
    const lo = lockCycleOutcome(model, edges);
    if (lo) outcomes.push(lo);
  }
  return { steps, outcomes, final: b, infeasible: undefined };
}

/** The warn-severity violations the step just executed raised (mem.pending), as outcomes. */
export function takeWarnings(model: CompiledModel): Outcome[] {
  const p = model.mem.pending;
  if (p.length === 0) return [];
  const out = p.map((v): Outcome => ({
    property: v.property,
    kind: "assertion",
    message: v.message,
    severity: "warn",
  }));
  p.length = 0;
  return out;
}

/** What a step, guard or property that threw amounts to: a violation, or a model error. */
export function errorOutcome(e: unknown): Outcome {
  if (e instanceof Violation)
    return { property: e.property, kind: "assertion", message: e.message, severity: "bug" };
  const msg = e instanceof Error ? e.message : String(e);
  return {
    property: e instanceof ModelError ? e.code : "model-error",
    kind: "model-error",
    message: msg,
  };
}

/**
 * Violations visible in state b: invariants, deadlock, end-state properties, data races (unless
 * `races` is false: a caller that does not look for them skips their cost, a dry run of every
 * enabled CPU's step).
 */
export function stateOutcomes(model: CompiledModel, b: Int32Array, races = true): Outcome[] {
  const out: Outcome[] = [];
  const m = model.mem;
  const saved = m.b;
  m.b = b;
  try {
    for (const inv of model.invariants) {
      const r = inv.fn(model.world);
      if (r !== true) {
        out.push({
          property: inv.name,
          kind: "invariant",
          message: typeof r === "string" ? r : `invariant "${inv.name}" does not hold`,
          severity: inv.severity,
        });
      }
    }
  } catch (e) {
    out.push(errorOutcome(e));
  } finally {
    m.b = saved;
  }
  const T = model.threads.length;
  const enabled: number[] = [];
  let live = 0;
  for (let t = 0; t < T; t++) {
    if (!nextNode(model.threads[t]!, b)) continue;
    // an endless CPU (a kthread loop) blocked once every other CPU is done: an end state
    if (!model.threads[t]!.endless) live++;
    try {
      if (isEnabled(model, t, b)) enabled.push(t);
    } catch {
      /* a guard that throws shows when the step is taken */
    }
  }
  if (enabled.length === 0 && live > 0) {
    const waits = model.threads
      .filter((th) => nextNode(th, b))
      .map((th) => `CPU${th.cpu} (${th.name}) ${waitingFor(model, th.cpu, b)}`);
    out.push({
      property: "deadlock",
      kind: "deadlock",
      message: `deadlock: no CPU can make progress; ${waits.join("; ")}`,
    });
  }
  if (live === 0 && enabled.length === 0) {
    m.b = b;
    try {
      for (const p of model.endStates) {
        const r = p.fn(model.world);
        if (r !== true) {
          out.push({
            property: p.name,
            kind: "end-state",
            message: typeof r === "string" ? r : `at quiescence, "${p.name}" does not hold`,
          });
        }
      }
    } finally {
      m.b = saved;
    }
  }
  if (races && model.races && enabled.length > 1) {
    const race = findRace(model, b, enabled);
    if (race) out.push(race);
  }
  return out;
}

/**
 * The shared-state accesses (`off << ACC_SHIFT | ACC_WRITE/ACC_MARKED/ACC_RACY` flags) of CPU
 * t's next step with this choice in state b, from a dry run on `scratch` (b is not touched; what
 * it reports is dropped); undefined when the step throws.
 */
export function stepAccesses(
  model: CompiledModel,
  t: number,
  choice: number,
  b: Int32Array,
  scratch: Int32Array = new Int32Array(b.length),
): { list: Int32Array; result: unknown } | undefined {
  const m = model.mem;
  scratch.set(b);
  m.nacc = 0;
  m.trk = true;
  // a dry run takes no lock for lockdep's lock order
  const lo = m.lo;
  m.lo = false;
  try {
    const result = execute(model, t, choice, scratch);
    return { list: m.acc.slice(0, m.nacc), result };
  } catch {
    return undefined;
  } finally {
    m.trk = false;
    m.pending.length = 0;
    m.lo = lo;
  }
}

/**
 * Whether accesses x and y (of two different CPUs) race under the LKMM / KCSAN rule: the same
 * word, at least one writes, at least one is plain, neither is inside data_race().
 */
export function races(x: number, y: number): boolean {
  return (
    x >> ACC_SHIFT === y >> ACC_SHIFT &&
    ((x | y) & ACC_WRITE) !== 0 &&
    ((x | y) & ACC_RACY) === 0 &&
    (x & y & ACC_MARKED) === 0
  );
}

/** The data-race check of the explorer, for one state. */
export function findRace(
  model: CompiledModel,
  b: Int32Array,
  enabled: readonly number[],
): Outcome | undefined {
  const acc: { t: number; list: Int32Array; result: unknown }[] = [];
  const copy = new Int32Array(b.length);
  for (const t of enabled) {
    const a = stepAccesses(model, t, 0, b, copy);
    if (a) acc.push({ t, ...a });
  }
  let locks: Int32Array | undefined;
  for (let i = 0; i < acc.length; i++) {
    for (let j = i + 1; j < acc.length; j++) {
      const A = acc[i]!.list;
      const B = acc[j]!.list;
      for (let ia = 0; ia < A.length; ia++) {
        const x = A[ia]!;
        for (let jb = 0; jb < B.length; jb++) {
          const y = B[jb]!;
          if (!races(x, y)) continue;
          locks ??= lockOffsets(model);
          if (orderedByLock(locks, b, acc[i]!.t, A, ia, acc[j]!.t, B, jb)) continue;
          const side = (a: { t: number; result: unknown }, k: number) => {
            const node = nextNode(model.threads[a.t]!, b)!;
            return {
              cpu: a.t,
              acc: k,
              label: labelOf(model, a.t, node, b, a.result, 0),
              site: node.site,
            };
          };
          return {
            property: "data-race",
            kind: "data-race",
            message: raceMessage(model, side(acc[i]!, x), side(acc[j]!, y)),
            severity: "warn",
          };
        }
      }
    }
  }
  return undefined;
}

/** Whether p holds in state b (a predicate that throws a Violation counts as false). */
function holdsIn(
  model: CompiledModel,
  p: (w: CompiledModel["world"]) => boolean | string,
  b: Int32Array,
): boolean {
  const m = model.mem;
  const saved = m.b;
  m.b = b;
  try {
    return p(model.world) === true;
  } catch (e) {
    if (e instanceof Violation) return false;
    throw e;
  } finally {
    m.b = saved;
  }
}

/**
 * Checks a liveness counterexample on the model: the states along the schedule, then, for a
 * lasso, that the cycle closes (the state after its last move equals the state where it starts),
 * that it is weakly fair (every fair CPU moves on it or is disabled in one of its states), and
 * that the property fails on it (termination: a CPU that must finish does not; eventually /
 * leadsTo: q never holds from the obligation on). Without a cycle, the schedule must end in a
 * state where no CPU can move. Returns the violation, or why the schedule does not show it.
 */
export function livenessOutcome(
  model: CompiledModel,
  schedule: readonly Move[],
  cycle: number | undefined,
  property: string,
): Outcome | string {
  const T = model.threads.length;
  const states: Int32Array[] = [model.init.slice()];
  const b = model.init.slice();
  for (const { cpu, choice } of schedule) {
    try {
      execute(model, cpu, choice, b);
    } catch (e) {
      return `a step fails on the way (${errorOutcome(e).message})`;
    }
    states.push(b.slice());
  }
  const decl = model.livenessProps.find((l) => l.name === property);
  if (property !== "termination" && decl === undefined)
    return `${property} is not a liveness property of this model`;
  const last = states[states.length - 1]!;
  const enabledIn = (s: Int32Array): number => {
    let en = 0;
    for (let t = 0; t < T; t++) if (isEnabled(model, t, s)) en |= 1 << t;
    return en;
  };
  let loop: Int32Array[];
  if (cycle === undefined) {
    if (property === "termination") return "a termination counterexample needs a cycle";
    if (enabledIn(last) !== 0) return "the schedule ends in a state where a CPU can still move";
    loop = [last];
  } else {
    if (cycle >= schedule.length) return `the cycle (from move ${cycle + 1}) has no move`;
    const at = states[cycle]!;
    if (at.some((v, i) => v !== last[i]))
      return `the cycle does not close: the state after move ${schedule.length} differs from the state after move ${cycle}`;
    loop = states.slice(cycle, -1);
    // weak fairness on the cycle
    let moved = 0;
    for (let i = cycle; i < schedule.length; i++) moved |= 1 << schedule[i]!.cpu;
    let disabled = 0;
    for (const s of loop) disabled |= ~enabledIn(s);
    for (let t = 0; t < T; t++) {
      const th = model.threads[t]!;
      if (th.fair && !(moved & (1 << t)) && !(disabled & (1 << t)))
        return `the cycle is not fair: CPU${t} (${th.name}) stays enabled on it and never runs`;
    }
    if (property === "termination") {
      const stuck = model.threads.filter(
        (th) =>
          !th.endless && at[th.pcOff] !== th.end && (th.fair || (moved & (1 << th.cpu)) !== 0),
      );
      if (stuck.length === 0) return "every CPU that must finish has finished on the cycle";
      return {
        property,
        kind: "liveness",
        message:
          `termination: ${stuck.map((th) => `CPU${th.cpu} (${th.name})`).join(", ")} never finish${stuck.length === 1 ? "es" : ""}: ` +
          `the cycle of moves ${cycle + 1}..${schedule.length} closes and is weakly fair`,
      };
    }
  }
  // eventually / leadsTo: from the obligation on, q never holds, through the cycle
  const q = decl!.q;
  for (const s of loop) if (holdsIn(model, q, s)) return "q holds on the cycle";
  let lastQ = -1;
  for (let i = 0; i < states.length; i++) if (holdsIn(model, q, states[i]!)) lastQ = i;
  let from = 0;
  if (decl!.p === undefined) {
    if (lastQ >= 0) return `q holds after move ${lastQ}`;
  } else {
    from = -1;
    for (let i = lastQ + 1; i < states.length && from < 0; i++)
      if (holdsIn(model, decl!.p, states[i]!)) from = i;
    if (from < 0) return "p never holds after the last state where q holds";
  }
  return {
    property,
    kind: "liveness",
    message:
      cycle !== undefined
        ? `${property}: q never holds after move ${from}: the cycle of moves ${cycle + 1}..${schedule.length} closes and is weakly fair`
        : `${property}: q never holds after move ${from}, and no CPU can move after move ${schedule.length}`,
  };
}

/**
 * lockdep's lock-order check over saved acquisition paths (a `lock-order` counterexample keeps
 * one per edge of the cycle): replays each from the initial state, collects the lock-order
 * edges their steps take, and reports the cycle they close, if any.
 */
export function lockOrderOutcome(
  model: CompiledModel,
  schedules: readonly (readonly Move[])[],
): Outcome | undefined {
  const m = model.mem;
  if (model.lockOrder === false) return undefined;
  const saved = m.loSeen.slice();
  const savedLen = m.loNewLen;
  const edges = new Set<number>();
  try {
    for (const schedule of schedules) {
      m.resetLockOrder();
      const b = model.init.slice();
      for (const { cpu, choice } of schedule) {
        try {
          if (!isEnabled(model, cpu, b)) break;
          execute(model, cpu, choice, b);
        } catch {
          break;
        }
        for (let i = 0; i < m.loNewLen; i++) edges.add(m.loNew[i]!);
        m.loNewLen = 0;
      }
    }
  } finally {
    m.loSeen.set(saved);
    m.loNewLen = savedLen;
  }
  return lockCycleOutcome(model, edges);
}

/** The `lock-order` outcome of a set of lock-order edges (ids of Mem's matrix), if they close a cycle. */
export function lockCycleOutcome(
  model: CompiledModel,
  edges: Iterable<number>,
): Outcome | undefined {
  const m = model.mem;
  const ids = findLockCycle(lockGraph(m, edges));
  if (!ids) return undefined;
  const names = ids.map((e) => lockNodeName(m, Math.floor(e / m.loN)));
  return {
    property: "lock-order",
    kind: "lock-order",
    message:
      ids.length === 1
        ? `possible recursive locking: ${names[0]} taken while a lock of the same ${m.loInstances ? "instance" : "class"} is held`
        : `possible circular locking dependency: ${[...names, names[0]].join(" -> ")}`,
  };
}
