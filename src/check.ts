// Checking a model variant end to end: compile, explore, judge against the declared verdict,
// render and save each counterexample. The CLI, the tests and the benchmarks all go through here.

import { match } from "ts-pattern";
import {
  compileModel,
  resolveParams,
  type CompiledModel,
  type Expect,
  type ModelDef,
} from "./model/model.ts";
import type { ParamValues } from "./model/params.ts";
import { explore, type ExploreOptions } from "./explore/explorer.ts";
import type { CheckResult, Severity, ViolationKind, ViolationReport } from "./explore/result.ts";
import { replay } from "./trace/replay.ts";
import { diagram, DISPLAY_STEPS, streamDiagram } from "./trace/diagram.ts";
import {
  counterexamplePath,
  FORMAT_VERSION,
  writeCounterexample,
  type CounterexampleFile,
} from "./trace/counterexample.ts";
import { readableOrder, type Reordered } from "./trace/reorder.ts";
import type { Move } from "./rt/machine.ts";
import { formatSchedule } from "./trace/schedule.ts";
import { SaveError } from "./trace/atomic.ts";
import type { SearchWorker } from "./isolate/isolate.ts";
import { exploreParallel, serialOnly, type ExplorePool } from "./explore/parallel.ts";
import { resolve } from "node:path";

export interface CheckOptions extends ExploreOptions {
  variant?: string;
  params?: ParamValues;
  /** Folder to save counterexamples in (e.g. "counterexamples"); nothing is saved when unset. */
  saveTo?: string;
  /** The model's file, recorded in saved counterexamples. */
  file?: string;
  /**
   * Explore in this worker thread (needs `file`), so that bounds and interrupts end even a
   * step that never returns (isolate/isolate.ts). Default: in this thread.
   */
  worker?: SearchWorker;
  /**
   * Explore with these worker threads (the parallel search, explore/parallel.ts; needs `file`):
   * from `pool` when given. 1 or unset: the serial explorer.
   */
  workers?: number;
  pool?: ExplorePool;
}

export interface Checked {
  readonly model: CompiledModel;
  readonly result: CheckResult;
  readonly judgement: Judgement | undefined;
  /** Whether the data-race check ran (the model's setting, or the caller's override). */
  readonly races: boolean;
  /** Whether the liveness check ran (termination, eventually, leadsTo). */
  readonly liveness: boolean;
}

export interface Judgement {
  readonly ok: boolean;
  readonly detail: string;
}

/** Checks every variant of a model (or the one named in opts.variant). */
export async function checkModel(def: ModelDef, opts: CheckOptions = {}): Promise<Checked[]> {
  const variants = opts.variant !== undefined ? [opts.variant] : Object.keys(def.variants);
  const out: Checked[] = [];
  for (const v of variants) out.push(await checkVariant(def, v, opts));
  return out;
}

export async function checkVariant(
  def: ModelDef,
  variant: string,
  opts: CheckOptions = {},
): Promise<Checked> {
  const model = compileModel(def, variant, opts.params ?? {});
  model.file = opts.file;
  const workers = opts.workers ?? 1;
  const serialWhy = workers > 1 ? serialOnly(opts, model) : undefined;
  const raw =
    workers > 1 && serialWhy === undefined && opts.file !== undefined
      ? await exploreParallel(
          model,
          { kind: "file", file: resolve(opts.file), name: def.name },
          { ...opts, workers },
          opts.pool,
        )
      : opts.worker && opts.file !== undefined
        ? await opts.worker.explore(model, opts.file, opts)
        : await explore(model, opts);
  const result = expectNamesProperties(
    model,
    serialWhy !== undefined
      ? { ...raw, parallel: { workers: 1, note: `${serialWhy}: ran on 1 thread` } }
      : raw,
  );
  if (opts.saveTo !== undefined && model.file !== undefined) {
    saveViolations(opts.saveTo, model, result.violations, resolveParams(def, variant));
  }
  return {
    model,
    result,
    judgement: model.expect ? judge(result, model.expect) : undefined,
    races: opts.races ?? model.races,
    liveness: result.liveness === true,
  };
}

/**
 * An expected verdict may only name properties of the variant: declared ones (invariants,
 * end states, assertions its steps declare, deadlock, data-race) or one a step raised in this
 * run without declaring it. Any other name (`folio-fred` for `folio-freed`) makes the result
 * an E_EXPECT error listing the properties that exist, instead of "expected ... but it holds".
 */
export function expectNamesProperties(model: CompiledModel, r: CheckResult): CheckResult {
  const expect = model.expect;
  if (expect === undefined || expect === "holds" || r.verdict === "error") return r;
  const names = model.properties.map((p) => p.name);
  const raised = r.violations.map((v) => v.property);
  const unknown = expect.violated.filter((p) => !names.includes(p) && !raised.includes(p));
  if (unknown.length === 0) return r;
  const off = unknown.includes("data-race") && !model.races;
  return {
    ...r,
    verdict: "error",
    error: {
      code: "E_EXPECT",
      message:
        `model ${model.name}, variant ${model.variant}: expect names ${unknown.map((u) => `"${u}"`).join(", ")}, ` +
        `which ${unknown.length > 1 ? "are not properties" : "is not a property"} of this variant` +
        (r.complete ? "" : " (none was raised before the run stopped)"),
      hint:
        `its properties are: ${[...new Set([...names, ...raised])].join(", ")}; fix the name in the variant's expect, ` +
        `or declare the property (m.property("name"), or raises: ["name"] on the step that fails it)` +
        (off ? "; data-race: the model turns the race check off" : ""),
      where: "",
      stack: undefined,
      schedule: [],
    },
  };
}

/** Whether a result is the declared verdict. */
export function judge(r: CheckResult, expect: Expect): Judgement {
  if (r.verdict === "error")
    return { ok: false, detail: `model error: ${r.error?.message ?? "?"}` };
  const got = new Set(r.violations.map((v) => v.property));
  const want = new Set(expect === "holds" ? [] : expect.violated);
  const missing = [...want].filter((p) => !got.has(p));
  const extra = [...got].filter((p) => !want.has(p));
  if (extra.length > 0) return { ok: false, detail: `unexpected violation of ${extra.join(", ")}` };
  if (missing.length > 0) {
    return {
      ok: false,
      detail: r.complete
        ? `expected ${missing.join(", ")} to be violated, but ${missing.length > 1 ? "they hold" : "it holds"}`
        : `expected ${missing.join(", ")} to be violated; not found before the run stopped (${stopText(r.stopReason)})`,
    };
  }
  if (!r.complete && expect === "holds") {
    return {
      ok: false,
      detail: `incomplete (${stopText(r.stopReason)}): cannot confirm that every property holds`,
    };
  }
  return { ok: true, detail: expect === "holds" ? "holds, as declared" : "violations as declared" };
}

/**
 * What a run says of one property: broken (with the trace length), kept over the whole state
 * space, not decided because a bound stopped the run, not checked at all ("off": the data-race
 * or liveness check disabled), or unknown because the model failed.
 */
export type PropertyState = "holds" | "violated" | "incomplete" | "off" | "error";

export interface PropertyStatus {
  readonly name: string;
  readonly kind: ViolationKind;
  /** Declared severity (the violation's own, for a property raised without a declaration). */
  readonly severity?: Severity;
  readonly status: PropertyState;
  /** Steps of the counterexample, when violated. */
  readonly length?: number;
}

/**
 * The status of every property of a checked variant: the ones the model declares (see
 * CompiledModel.properties), then any violated one it did not declare (a step raising a name
 * nobody listed), in the order found.
 */
export function propertyStatuses(c: Checked): PropertyStatus[] {
  const r = c.result;
  const out: PropertyStatus[] = [];
  const one = (name: string, kind: ViolationKind, sev: Severity | undefined): PropertyStatus => {
    const s = sev ? { severity: sev } : {};
    const v = r.violations.find((x) => x.property === name);
    if (v) return { name, kind, ...s, status: "violated", length: v.length };
    if (kind === "data-race" && !c.races) return { name, kind, ...s, status: "off" };
    if (kind === "liveness" && !c.liveness) return { name, kind, ...s, status: "off" };
    if (r.verdict === "error") return { name, kind, ...s, status: "error" };
    return { name, kind, ...s, status: r.complete ? "holds" : "incomplete" };
  };
  for (const p of c.model.properties)
    if (p.kind !== "data-race" && p.kind !== "liveness") out.push(one(p.name, p.kind, p.severity));
  // listed whether or not it ran: "off" says the check was disabled
  out.push(one("data-race", "data-race", "warn"));
  for (const p of c.model.properties)
    if (p.kind === "liveness") out.push(one(p.name, p.kind, p.severity));
  for (const v of r.violations)
    if (!out.some((p) => p.name === v.property)) out.push(one(v.property, v.kind, v.severity));
  return out;
}

/** Why a run stopped early, in words (every stop reason has its words: a new one is a type error). */
export function stopText(reason: CheckResult["stopReason"]): string {
  return match(reason)
    .with("interrupted", () => "interrupted")
    .with("states", () => "reached the max-states bound")
    .with("depth", () => "reached the max-depth bound")
    .with("time", () => "reached the max-seconds bound")
    .with("memory", () => "reached the memory budget")
    .with(undefined, () => "stopped")
    .exhaustive();
}

/**
 * The kernel-commit style diagram of a violation, in the equivalent order with the fewest
 * context switches (trace/reorder.ts); a last line gives the order found when it differs. A
 * trace longer than `abridge` steps (default DISPLAY_STEPS; Infinity for all) is shown abridged,
 * in the order found: its first and last steps, with one line saying how many were left out.
 */
export function explain(
  model: CompiledModel,
  v: Pick<ViolationReport, "schedule" | "property" | "message" | "kind" | "cycle" | "paths"> & {
    file?: string;
    traceOmitted?: string;
  },
  abridge = DISPLAY_STEPS,
): string {
  const outcome = { property: v.property, kind: v.kind, message: v.message };
  if (v.traceOmitted)
    return `(trace not kept: ${v.traceOmitted})\n\n=> ${v.property}: ${v.message}`;
  if (v.paths && v.paths.length >= 2) {
    // lock-order: every acquisition path of the cycle, the last one being the main schedule
    const parts = v.paths.map((p, i) => {
      const steps = replay(model, p.schedule).steps;
      return `path ${i + 1} of ${v.paths!.length}: takes ${p.to} while holding ${p.from}\n\n${diagram(model, steps, undefined)}`;
    });
    return `${parts.join("\n\n")}\n\n=> ${v.property}: ${v.message}`;
  }
  if (v.schedule.length <= abridge) {
    // a lasso keeps its order: its repeating part must stay in one piece
    const order = readableOrder(model, v.schedule, v.property, v.cycle);
    const rep = replay(model, order.moves);
    const main = diagram(
      model,
      rep.steps,
      outcome,
      v.cycle !== undefined ? { cycleStart: v.cycle } : {},
    );
    return order.switches < order.originalSwitches
      ? `${main}\n\n${reorderNote(v.schedule, order)}`
      : main;
  }
  const lines: string[] = [];
  streamDiagram(model, v.schedule, outcome, (l) => lines.push(l), {
    abridge,
    omitted: v.file
      ? `the whole trace is in ${v.file}`
      : "save the counterexample (--save DIR) to keep the whole trace",
  });
  return lines.join("\n");
}

/** The line under a reordered diagram. */
export function reorderNote(schedule: readonly Move[], order: Reordered): string {
  return (
    `(independent steps reordered for reading: ${order.switches} context switch${order.switches === 1 ? "" : "es"} ` +
    `instead of ${order.originalSwitches}; the order found: ${formatSchedule(schedule)})`
  );
}

/**
 * Saves each violation's counterexample; a save that fails is recorded on the violation
 * (`saveError`) and does not stop the others: the caller reports it after the verdicts.
 */
export function saveViolations(
  root: string,
  model: CompiledModel,
  violations: readonly ViolationReport[],
  defaults?: Record<string, number | string>,
): void {
  for (const v of violations) {
    if (v.traceOmitted) continue;
    try {
      v.file = saveViolation(root, model, v, defaults);
    } catch (e) {
      if (!(e instanceof SaveError)) throw e;
      v.saveError = { path: e.path, code: e.cause_code, message: e.message };
    }
  }
}

/**
 * Saves one counterexample (throws SaveError). `defaults`: the variant's own parameters; a run
 * with others saves to a path that names them (counterexamplePath). A long trace is streamed.
 */
export function saveViolation(
  root: string,
  model: CompiledModel,
  v: ViolationReport,
  defaults?: Record<string, number | string>,
): string {
  const path = counterexamplePath(
    root,
    model.name,
    model.variant,
    v.property,
    model.params,
    defaults ?? model.params,
  );
  const outcome = { property: v.property, kind: v.kind, message: v.message };
  const cx = {
    interleave: FORMAT_VERSION as 1,
    model: model.file!,
    name: model.name,
    variant: model.variant,
    params: model.params,
    property: v.property,
    kind: v.kind,
    ...(v.severity ? { severity: v.severity } : {}),
    message: v.message,
    length: v.length,
    schedule: "",
    ...(v.cycle !== undefined ? { cycle: v.cycle } : {}),
    ...(v.paths
      ? {
          paths: v.paths.map((p) => ({
            from: p.from,
            to: p.to,
            schedule: formatSchedule(p.schedule),
          })),
        }
      : {}),
    replay: `npx interleave replay ${path}`,
    diagram: [] as string[],
  };
  if (v.schedule.length <= DISPLAY_STEPS) {
    writeCounterexample(path, {
      ...cx,
      schedule: formatSchedule(v.schedule),
      diagram: explain(model, v).split("\n"),
      ...readableFields(model, v),
    });
    return path;
  }
  writeCounterexample(path, cx, {
    schedule: (emit) => {
      const s = v.schedule;
      for (let i = 0; i < s.length; i += 4096)
        emit((i ? " " : "") + formatSchedule(s.slice(i, Math.min(s.length, i + 4096))));
    },
    diagram: (line) => void streamDiagram(model, v.schedule, outcome, line),
  });
  return path;
}

/** The saved file's record of the reordering: `switches`, and `reordered` when it has fewer. */
function readableFields(
  model: CompiledModel,
  v: ViolationReport,
): Pick<CounterexampleFile, "switches" | "reordered"> {
  const order = readableOrder(model, v.schedule, v.property, v.cycle);
  return {
    switches: order.originalSwitches,
    ...(order.switches < order.originalSwitches
      ? { reordered: { schedule: formatSchedule(order.moves), switches: order.switches } }
      : {}),
  };
}

/** The properties a run violated, sorted: for assertions in tests. */
export function violatedProperties(r: Pick<CheckResult, "violations">): string[] {
  return r.violations.map((v) => v.property).sort();
}

/** Each violated property with the length of its (BFS: shortest) counterexample. */
export function traceLengths(r: Pick<CheckResult, "violations">): Record<string, number> {
  return Object.fromEntries(r.violations.map((v) => [v.property, v.length]));
}

/** The trace length of one violated property, or -1 when it was not violated. */
export function traceLength(r: Pick<CheckResult, "violations">, property: string): number {
  return r.violations.find((v) => v.property === property)?.length ?? -1;
}
