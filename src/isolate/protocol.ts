// What crosses between the main thread and the search worker (isolate.ts, worker.ts): plain
// data, with traces as Int32Arrays of encoded moves (a long trace crosses as one buffer).

import type { ExploreOptions } from "../explore/explorer.ts";
import type { CheckResult } from "../explore/result.ts";
import type { ParamValues } from "../model/params.ts";

/** Int32 slots of the control buffer: [stop flag, probe (rt/probe.ts)...]. */
export const CTL_STOP = 0;
export const CTL_PROBE = 1;
export const CTL_WORDS = 4;
/** Float64 slots of the progress buffer. */
export const PROG_STATES = 0;
export const PROG_TRANSITIONS = 1;
export const PROG_DEPTH = 2;
export const PROG_FRONTIER = 3;
export const PROG_MEMORY = 4;
/** Date.now() of the worker's last sign of life (a slice of the search ended). */
export const PROG_HEARTBEAT = 5;
export const PROG_WORDS = 6;

export type JobOptions = Pick<
  ExploreOptions,
  | "strategy"
  | "maxStates"
  | "maxDepth"
  | "maxSeconds"
  | "maxMemory"
  | "stopAtFirst"
  | "races"
  | "liveness"
  | "fingerprint"
  | "symmetry"
  | "reduce"
>;

export interface Job {
  /** Absolute path of the model file. */
  readonly file: string;
  readonly name: string;
  readonly variant: string;
  readonly params: ParamValues;
  readonly opts: JobOptions;
}

/** A CheckResult whose schedules are encoded moves. */
export type Packed = Omit<CheckResult, "violations" | "error"> & {
  readonly violations: (Omit<CheckResult["violations"][number], "schedule"> & {
    readonly moves: Int32Array;
  })[];
  readonly error?: Omit<NonNullable<CheckResult["error"]>, "schedule"> & {
    readonly moves: Int32Array;
  };
};

export type Reply = { readonly result: Packed } | { readonly crash: string };
