// What a run reports. Plain data: printed as the verdict table, as JSON, or saved with a
// counterexample.

import type { Move } from "../rt/machine.ts";
import type { ParamValues } from "../model/params.ts";
import type { Severity } from "../rt/mem.ts";

export type { Severity } from "../rt/mem.ts";

export type Verdict = "holds" | "violated" | "incomplete" | "error";
export type ViolationKind =
  | "invariant"
  | "assertion"
  | "deadlock"
  | "end-state"
  | "data-race"
  /** A fair infinite run (a lasso) or a run to an end state breaks it: termination, eventually, leadsTo. */
  | "liveness"
  /** lockdep: a cycle in the order locks are taken (explore/lockorder.ts). */
  | "lock-order";
export type StopReason = "states" | "depth" | "time" | "memory" | "interrupted";

export interface ViolationReport {
  readonly property: string;
  readonly kind: ViolationKind;
  /**
   * What the search did past it: "warn" went on (WARN_ON-style; invariants by default; data
   * races), "bug" ended the path (BUG_ON-style). None for deadlock and end-state violations:
   * nothing follows them.
   */
  readonly severity?: Severity;
  readonly message: string;
  readonly schedule: readonly Move[];
  readonly length: number;
  /**
   * Liveness (a lasso): the index in `schedule` where the cycle starts; the moves from there to
   * the end repeat forever (the state after them equals the state at the index). Absent for a
   * finite counterexample.
   */
  readonly cycle?: number;
  /** Where the counterexample was saved, when it was. */
  file?: string;
  /**
   * lock-order: one acquisition path per edge of the cycle (`schedule` is the last one's):
   * the moves up to the step that took `to` while holding `from`.
   */
  readonly paths?: readonly LockPath[];
  /** Why saving it failed, when it did (the verdict stands). */
  saveError?: {
    readonly path: string;
    readonly code: string | undefined;
    readonly message: string;
  };
  /**
   * Set when the trace was not built (schedule empty, `length` still its length): keeping it
   * would have exceeded the memory budget.
   */
  traceOmitted?: string;
}

/** A path to the first acquisition of lock (class) `to` while holding `from`. */
export interface LockPath {
  readonly from: string;
  readonly to: string;
  readonly schedule: readonly Move[];
}

export interface ModelErrorReport {
  readonly code: string;
  readonly message: string;
  readonly hint: string | undefined;
  readonly where: string;
  readonly stack: string | undefined;
  readonly schedule: readonly Move[];
  /**
   * The schedule's last move is the step that failed (it led to no state); otherwise the
   * schedule leads to the state where an invariant or end-state property threw.
   */
  readonly stepFailed?: boolean;
}

export interface CheckResult {
  readonly model: string;
  readonly variant: string;
  readonly params: ParamValues;
  readonly verdict: Verdict;
  readonly states: number;
  readonly transitions: number;
  readonly seconds: number;
  readonly maxDepth: number;
  /** The whole reachable state space was explored. */
  readonly complete: boolean;
  readonly stopReason: StopReason | undefined;
  readonly memoryBytes: number;
  readonly violations: readonly ViolationReport[];
  readonly error?: ModelErrorReport;
  /** Whether the liveness properties (termination, eventually, leadsTo) were checked. */
  readonly liveness?: boolean;
  /** Of `seconds`, the time the liveness analysis took after the search. */
  readonly livenessSeconds?: number;
  /** The same in CPU time of this process (user + system), robust when cores are shared. */
  readonly livenessCpuSeconds?: number;
  /** Set when the run was ended from outside because a step never returned: which, and why. */
  readonly stuck?: string;
  /**
   * Fingerprint mode (--fingerprint): the chance that two states shared a 64-bit fingerprint, so
   * that one was never explored (birthday bound n(n-1)/2^65), and TLC's optimistic estimate.
   */
  readonly fingerprint?: {
    readonly bits: 64;
    readonly collisionProbability: number;
    readonly optimistic: number;
  };
  /**
   * Symmetry reduction, for a model that declares alike CPUs or objects: whether it was used
   * (states then stand for every permutation of the members), the sets, and why it was not.
   */
  readonly symmetry?: {
    readonly used: boolean;
    readonly sets: readonly string[];
    readonly note?: string;
  };
  /**
   * The parallel search (--workers, explore/parallel.ts): the worker threads it ran on, and why
   * it ran on one when more were asked for.
   */
  readonly parallel?: { readonly workers: number; readonly note?: string };
  /** Partial-order reduction: on (with what it did) or off (and why). */
  readonly reduction?: ReductionReport;
}

/**
 * Partial-order reduction (explore/por.ts): whether it was on and, if so, how many states were
 * expanded with one CPU-local step; if not, why.
 */
export interface ReductionReport {
  readonly on: boolean;
  readonly why?: string;
  /** States expanded with one CPU-local step instead of every CPU's. */
  readonly reducedStates?: number;
  /** States with a local step whose successor was seen already, expanded in full (C3). */
  readonly provisoFull?: number;
  /** Distinct (CPU, local state) pairs whose next step was classified. */
  readonly classified?: number;
  /** Of those, the steps found CPU-local. */
  readonly localSteps?: number;
}

export interface Progress {
  readonly states: number;
  readonly transitions: number;
  readonly seconds: number;
  readonly statesPerSecond: number;
  readonly depth: number;
  readonly frontier: number;
  readonly memoryBytes: number;
}
