// Which step a thread is executing, for a watchdog in another thread: a worker running a search
// or a fuzz session points `stepProbe` at shared memory, and when it stops answering (a step
// whose code never returns), the main thread reads there which step did not return.
//
//   probe[0] >= 0: CPU probe[0] is running its step (or guard) at pc probe[1]
//   probe[0] == PROBE_INVARIANT: invariant probe[1] is being evaluated
//   probe[0] == PROBE_END_STATE: end-state property probe[1] is being evaluated
//   probe[0] == PROBE_REPORTING: the search is over and its result is being built

export const PROBE_INVARIANT = -1;
export const PROBE_END_STATE = -2;
export const PROBE_REPORTING = -3;
/** Int32 slots a probe needs. */
export const PROBE_WORDS = 2;

/** Where steps are announced (a private array unless a worker shares one). */
export let stepProbe: Int32Array = new Int32Array(PROBE_WORDS);

export function setStepProbe(a: Int32Array): void {
  stepProbe = a;
}
