// Executing one step of one CPU, outside the explorer's inner loop: used by replay, the trace
// printer and the randomized engine. The explorer's inner loop has its own copy of execute()
// (it reuses buffers and records accesses) but shares successorPc().

import type { CompiledModel, CompiledThread } from "../model/model.ts";
import { ACTION, BRANCH, type Node } from "../model/compile.ts";
import { stepProbe } from "./probe.ts";

export interface Move {
  readonly cpu: number;
  readonly choice: number;
}

export function encodeMove(cpu: number, choice: number): number {
  return cpu | (choice << 8);
}
export function decodeMove(m: number): Move {
  return { cpu: m & 0xff, choice: m >>> 8 };
}

/** The node CPU t would execute next in state b, or undefined when it has finished. */
export function nextNode(th: CompiledThread, b: Int32Array): Node | undefined {
  const pc = b[th.pcOff]!;
  return pc === th.end ? undefined : th.nodes[pc];
}

/** Whether CPU t can take a step in state b (mem.b is pointed at b). */
export function isEnabled(model: CompiledModel, t: number, b: Int32Array): boolean {
  const th = model.threads[t]!;
  const node = nextNode(th, b);
  if (!node) return false;
  if (!node.guard) return true;
  const m = model.mem;
  const saved = m.b;
  m.b = b;
  m.cpu = t;
  const probe = stepProbe;
  probe[0] = t;
  probe[1] = node.pc;
  try {
    return node.guard(th.ctx);
  } finally {
    m.b = saved;
  }
}

export function choicesOf(model: CompiledModel, t: number, b: Int32Array): number {
  const th = model.threads[t]!;
  const node = nextNode(th, b);
  if (!node) return 0;
  if (node.nchoices >= 0) return node.nchoices;
  const m = model.mem;
  const saved = m.b;
  m.b = b;
  try {
    return node.choicesFn!(th.ctx);
  } finally {
    m.b = saved;
  }
}

/** CPUs that can step in state b. */
export function enabledCpus(model: CompiledModel, b: Int32Array): number[] {
  const out: number[] = [];
  for (let t = 0; t < model.threads.length; t++) if (isEnabled(model, t, b)) out.push(t);
  return out;
}

/**
 * Where a CPU goes after `node` ran with result r and choice c: an action to its next node, a
 * condition to `next` or `alt` by its result, an `either` to the branch of its choice. The
 * explorer's inner loop calls it too (small enough for the JIT to inline).
 */
export function successorPc(node: Node, r: unknown, choice: number): number {
  return node.kind === ACTION
    ? node.next
    : node.kind === BRANCH
      ? r
        ? node.next
        : node.alt
      : node.targets[choice]!;
}

/**
 * Executes CPU t's next step with `choice`, in place on `b` (which must be a copy the caller
 * owns). Returns the step's result. Throws what the step throws (a bug-severity Violation, a
 * model error); the warn-severity violations it raised are left in `model.mem.pending` (cleared
 * when the step starts) for the caller to take.
 */
export function execute(model: CompiledModel, t: number, choice: number, b: Int32Array): unknown {
  const th = model.threads[t]!;
  const node = nextNode(th, b);
  if (!node) throw new Error(`CPU${t} has finished`);
  const m = model.mem;
  const saved = m.b;
  m.pending.length = 0;
  m.b = b;
  m.cpu = t;
  m.ld = model.lockdep;
  const probe = stepProbe;
  probe[0] = t;
  probe[1] = node.pc;
  try {
    const r = node.run(th.ctx, choice);
    b[th.pcOff] = successorPc(node, r, choice);
    return r;
  } finally {
    m.ld = false;
    m.b = saved;
  }
}

/** The step's name in traces, computed in the state before it ran. */
export function labelOf(
  model: CompiledModel,
  t: number,
  node: Node,
  pre: Int32Array,
  result: unknown,
  choice: number,
): string {
  if (typeof node.label === "string") return node.label;
  const m = model.mem;
  const saved = m.b;
  const savedTrk = m.trk;
  const savedPending = m.pending.length;
  m.b = pre.slice();
  m.trk = false;
  try {
    return node.label(model.threads[t]!.ctx, result, choice);
  } catch (e) {
    return `(label failed: ${(e as Error).message})`;
  } finally {
    m.b = saved;
    m.trk = savedTrk;
    m.pending.length = savedPending;
  }
}

/** What a blocked CPU waits for, for deadlock reports. */
export function waitingFor(model: CompiledModel, t: number, b: Int32Array): string {
  const th = model.threads[t]!;
  const node = nextNode(th, b);
  if (!node) return "finished";
  const where = labelOf(model, t, node, b, undefined, 0);
  if (!node.waitsFor) return `blocked at ${where}`;
  const m = model.mem;
  const saved = m.b;
  m.b = b;
  try {
    return `blocked at ${where}: waits for ${node.waitsFor(th.ctx)}`;
  } finally {
    m.b = saved;
  }
}
