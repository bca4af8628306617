// Counterexample files: counterexamples/<model>/<variant>/<property>.json, holding what is
// needed to replay the violation (model file, variant, parameters, schedule) and, for people,
// the diagram.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../cli/errors.ts";
import type { ParamValues } from "../model/params.ts";
import { writeFileAtomic, type Emit } from "./atomic.ts";

/** The version of the file format this interleave writes and reads (the "interleave" field). */
export const FORMAT_VERSION = 1;

export interface CounterexampleFile {
  readonly interleave: 1;
  /** Model file, relative to the repository root (the working directory of the run). */
  readonly model: string;
  readonly name: string;
  readonly variant: string;
  readonly params: ParamValues;
  readonly property: string;
  readonly kind: string;
  /** "warn" (the search went on past it) or "bug" (it ended the path); absent for deadlock/end-state. */
  readonly severity?: string;
  readonly message: string;
  readonly length: number;
  /** Moves "cpu" or "cpu:choice", space separated (see trace/schedule.ts). */
  readonly schedule: string;
  /**
   * Liveness lassos: the index of the move where the cycle starts; the moves from there to the
   * end repeat forever (replay checks that they lead back to the state at the index).
   */
  readonly cycle?: number;
  /** lock-order: one acquisition path per edge of the cycle (the last is `schedule`). */
  readonly paths?: readonly {
    readonly from: string;
    readonly to: string;
    readonly schedule: string;
  }[];
  /** How to replay it. */
  readonly replay: string;
  readonly diagram: readonly string[];
  /** Context switches of `schedule`. */
  readonly switches?: number;
  /**
   * The equivalent schedule (same steps, independent ones swapped) with the fewest context
   * switches, when it has fewer than `schedule`: the order `diagram` shows. `schedule` stays the
   * order the checker found.
   */
  readonly reordered?: { readonly schedule: string; readonly switches: number };
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9._=-]+/g, "_");

/**
 * Where a counterexample goes: `<root>/<model>/<variant>/<property>.json`, or, when the run had
 * parameters other than the variant's own (`--param`), `<property>@k=v,k2=v2.json`, so that it
 * never overwrites the counterexample of the declared scenario (nor another scenario's: a value
 * whose characters had to be replaced gets a hash of the exact parameters too).
 */
export function counterexamplePath(
  root: string,
  name: string,
  variant: string,
  property: string,
  params: ParamValues = {},
  defaults: ParamValues = params,
): string {
  const differ = Object.keys(params)
    .filter((k) => params[k] !== defaults[k])
    .sort();
  let tag = "";
  if (differ.length > 0) {
    const exact = differ.map((k) => `${k}=${String(params[k])}`).join(",");
    tag = `@${safe(exact)}`;
    if (safe(exact) !== exact || tag.length > 80) tag = `${tag.slice(0, 72)}-${hash8(exact)}`;
  }
  return join(root, safe(name), safe(variant), `${safe(property)}${tag}.json`);
}

function hash8(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * Saves a counterexample atomically (see atomic.ts; throws SaveError). A long trace's schedule
 * and diagram can be given as functions that emit them piece by piece (`schedule` then holds
 * nothing), so that the file is streamed to disk and never held whole in memory.
 */
export function writeCounterexample(
  path: string,
  cx: CounterexampleFile,
  stream?: { schedule: (emit: Emit) => void; diagram: (line: (text: string) => void) => void },
): void {
  if (!stream) {
    writeFileAtomic(path, JSON.stringify(cx, null, 2) + "\n");
    return;
  }
  writeFileAtomic(path, (emit) => {
    emit("{\n");
    for (const [k, v] of Object.entries(cx)) {
      if (k === "diagram") continue;
      if (k === "schedule") {
        // moves are digits, spaces and colons: nothing to escape
        emit(`  "schedule": "`);
        stream.schedule(emit);
        emit(`",\n`);
        continue;
      }
      emit(`  ${JSON.stringify(k)}: ${JSON.stringify(v, null, 2).replace(/\n/g, "\n  ")},\n`);
    }
    emit(`  "diagram": [`);
    let first = true;
    stream.diagram((line) => {
      emit(`${first ? "" : ","}\n    ${JSON.stringify(line)}`);
      first = false;
    });
    emit(`\n  ]\n}\n`);
  });
}

export function readCounterexample(path: string): CounterexampleFile {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch {
    throw new UsageError(
      "E_NO_FILE",
      `${path}: cannot read the counterexample file`,
      "give the path of a saved .json counterexample",
    );
  }
  let j: unknown;
  try {
    j = JSON.parse(raw);
  } catch (e) {
    throw new UsageError(
      "E_CX_JSON",
      `${path}: not valid JSON (${(e as Error).message})`,
      "restore the file or check the model again to regenerate it",
    );
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) {
    throw new UsageError(
      "E_CX_JSON",
      `${path}: not a counterexample (the file holds ${j === null ? "null" : Array.isArray(j) ? "an array" : `a ${typeof j}`}, not an object)`,
      "give a file saved by `interleave check` under counterexamples/",
    );
  }
  const o = j as Record<string, unknown>;
  if (o.interleave !== FORMAT_VERSION) {
    throw new UsageError(
      "E_CX_VERSION",
      `${path}: format version ${o.interleave === undefined ? "missing" : JSON.stringify(o.interleave)}; this interleave reads version ${FORMAT_VERSION} ("interleave": ${FORMAT_VERSION})`,
      typeof o.interleave === "number" && o.interleave > FORMAT_VERSION
        ? "the file was written by a newer interleave: replay it with that version"
        : 'regenerate it with `interleave check` (or fix its "interleave" field)',
    );
  }
  const need = (k: string, type: string): void => {
    if (typeof o[k] !== type) {
      throw new UsageError(
        "E_CX_FIELD",
        `${path}: field "${k}" should be a ${type}, found ${o[k] === undefined ? "nothing" : typeof o[k]}`,
        "a counterexample file needs model, variant, params, property and schedule; regenerate it with `interleave check`",
      );
    }
  };
  need("model", "string");
  need("variant", "string");
  need("property", "string");
  need("schedule", "string");
  need("params", "object");
  if (
    o.cycle !== undefined &&
    (typeof o.cycle !== "number" || !Number.isInteger(o.cycle) || o.cycle < 0)
  ) {
    throw new UsageError(
      "E_CX_FIELD",
      `${path}: field "cycle" should be the index of the move where the cycle starts (an integer >= 0)`,
      "fix or regenerate the file",
    );
  }
  for (const [k, v] of Object.entries(o.params as Record<string, unknown>)) {
    if (typeof v !== "number" && typeof v !== "string") {
      throw new UsageError(
        "E_CX_FIELD",
        `${path}: params.${k} should be a number (or, for a list of operations, a string)`,
        "fix or regenerate the file",
      );
    }
  }
  return o as unknown as CounterexampleFile;
}
