// A trace in the Informal Trace Format (ITF) of Apalache and Quint (Apalache ADR-015, "Informal
// Trace Format in JSON"): `{ "#meta", "params", "vars", "states": [...], "loop"? }`, each state
// an object with a value for every variable in `vars` and its own `#meta`. Our variables are
// the shared state's top-level objects (`F1`, `lru`, `nr_anon_partially_mapped`: records of
// their fields) and one record per CPU (`CPU0`: its kernel function, the site of its next step,
// its locals). Values: integers as JSON integers (`{"#bigint": "..."}` outside the range JSON
// integers are exact in), booleans as booleans, a flags word as the `#set` of the names of its
// bits that are set, everything else (enums, pointers, list pointers, locks) as the string the
// diagrams show. State 0 is the initial state, state i the
// state after step i, whose `#meta` names the CPU and the step that led to it. A lasso's
// repeating part is the ITF `loop` (the index of the state it goes back to).

import type { CompiledModel } from "../model/model.ts";
import type { TraceDoc } from "./document.ts";

export type ItfValue =
  number | boolean | string | { "#bigint": string } | ItfValue[] | { [k: string]: ItfValue };

export interface ItfState {
  "#meta": Record<string, unknown>;
  [v: string]: ItfValue | Record<string, unknown>;
}

export interface ItfTrace {
  "#meta": Record<string, unknown>;
  params: string[];
  vars: string[];
  states: ItfState[];
  loop?: number;
}

/** An integer as ITF writes it: a JSON integer when exact there, else `{"#bigint": "..."}`. */
export function itfInt(n: number | bigint): ItfValue {
  if (typeof n === "number" && Number.isSafeInteger(n)) return n;
  return { "#bigint": BigInt(n).toString() };
}

function put(rec: Record<string, ItfValue>, path: readonly string[], v: ItfValue): void {
  let r = rec;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = r[k];
    if (typeof next !== "object" || next === null || Array.isArray(next) || "#bigint" in next)
      r[k] = {};
    r = r[k] as Record<string, ItfValue>;
  }
  r[path[path.length - 1]!] = v;
}

function stateVars(model: CompiledModel, b: Int32Array): Record<string, ItfValue> {
  const lay = model.layout;
  const out: Record<string, ItfValue> = {};
  for (const t of model.threads) {
    const pc = b[t.pcOff]!;
    const node = pc === t.end ? undefined : t.nodes[pc];
    out[`CPU${t.cpu}`] = { function: t.name, next: node ? node.site : "finished" };
  }
  for (const f of lay.fields) {
    if (f.kind === "pc" || f.short.startsWith("__")) continue;
    const v = b[f.off]!;
    const val: ItfValue =
      f.kind === "int"
        ? itfInt(v)
        : f.kind === "bool"
          ? v !== 0
          : f.kind === "flags" && f.schema.kind === "flags"
            ? // a flags word: the set of the bits that are set, by name (ITF's #set)
              { "#set": f.schema.order.filter((_n, i) => (v & (1 << i)) !== 0) }
            : lay.format(f.off, v);
    if (f.cpu >= 0) {
      const cpuRec = out[`CPU${f.cpu}`] as Record<string, ItfValue>;
      if (!("locals" in cpuRec)) cpuRec.locals = {};
      put(cpuRec.locals as Record<string, ItfValue>, f.short.split("."), val);
    } else put(out, f.name.split("."), val);
  }
  return out;
}

export function toItf(model: CompiledModel, doc: TraceDoc): ItfTrace {
  // a lasso whose last step comes back to the state its cycle starts in: ITF's `loop` says that
  // the state after the last one listed is states[loop], so the repeated state is not listed
  const c = doc.cycleStart;
  const last = doc.states[doc.states.length - 1]!;
  const closes =
    c !== undefined && doc.states[c]!.every((v, i) => v === last[i]) && doc.states.length > 1;
  const listed = closes ? doc.states.slice(0, -1) : doc.states;
  const states: ItfState[] = listed.map((b, i) => {
    const meta: Record<string, unknown> = { index: i };
    if (i > 0) {
      const s = doc.steps[i - 1]!;
      meta.cpu = s.cpu;
      meta.step = s.label;
      meta.site = s.site;
      if (s.choice) meta.choice = s.choice;
    }
    if (i === listed.length - 1) meta.violation = doc.property;
    return { "#meta": meta, ...stateVars(model, b) };
  });
  const vars = Object.keys(stateVars(model, doc.states[0]!));
  const trace: ItfTrace = {
    "#meta": {
      format: "ITF",
      "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
      source: model.file ?? model.name,
      description: `interleave counterexample: ${doc.model} / ${doc.variant}: ${doc.property}`,
      model: doc.model,
      variant: doc.variant,
      modelParams: doc.params,
      property: doc.property,
      kind: doc.kind,
      message: doc.message,
      schedule: doc.schedule,
    },
    params: [],
    vars,
    states,
  };
  // steps cycleStart.. repeat: the loop goes back to the state before step cycleStart
  if (c !== undefined) {
    trace.loop = c;
    if (closes) {
      const s = doc.steps[doc.steps.length - 1]!;
      trace["#meta"].loopStep = { cpu: s.cpu, step: s.label, site: s.site };
    }
  }
  return trace;
}
