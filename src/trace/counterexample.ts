// Counterexample files: counterexamples/<model>/<variant>/<property>.json, holding what is
// needed to replay the violation (model file, variant, parameters, schedule) and, for people,
// the diagram.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UsageError } from "../cli/errors.ts";
import type { ParamValues } from "../model/params.ts";

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

export function counterexamplePath(
  root: string,
  name: string,
  variant: string,
  property: string,
): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, "_");
  return join(root, safe(name), safe(variant), `${safe(property)}.json`);
}

export function writeCounterexample(path: string, cx: CounterexampleFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(cx, null, 2) + "\n");
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
