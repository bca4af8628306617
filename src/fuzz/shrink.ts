// Shrinking a concrete counterexample schedule to one a person can read: the shortest schedule
// first, then the fewest context switches (a trace grouped by CPU beats an interleaved one of
// the same length), then the smallest choices. A candidate is a list of CPU preferences: it is
// interpreted against the enabled set (a move whose CPU cannot run there is skipped, a choice
// out of range becomes 0), so deleting or moving steps never gives an unusable schedule; what
// counts is the schedule actually taken, checked in every state as the explorer does, and it
// must still break the same property (it may break it earlier: it is then cut there).

import type { CompiledModel } from "../model/model.ts";
import type { Move } from "../rt/machine.ts";
import { runSchedule } from "./run.ts";
import type { Scheduler } from "./strategy.ts";
import type { Outcome } from "../trace/replay.ts";

/** Steps whose CPU differs from the previous step's. */
export function contextSwitches(moves: readonly Move[]): number {
  let n = 0;
  for (let i = 1; i < moves.length; i++) if (moves[i]!.cpu !== moves[i - 1]!.cpu) n++;
  return n;
}

export interface Shrunk {
  readonly moves: readonly Move[];
  readonly violation: Outcome;
  /** Candidates replayed. */
  readonly tries: number;
}

interface Cand {
  moves: readonly Move[];
  violation: Outcome;
}

function score(m: readonly Move[]): [number, number, number] {
  let ch = 0;
  for (const x of m) ch += x.choice;
  return [m.length, contextSwitches(m), ch];
}

function better(a: readonly Move[], b: readonly Move[]): boolean {
  const x = score(a);
  const y = score(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return false;
}

/** Maximal runs of moves of one CPU: [start, end). */
function blocks(moves: readonly Move[]): [number, number][] {
  const out: [number, number][] = [];
  let s = 0;
  for (let i = 1; i <= moves.length; i++) {
    if (i === moves.length || moves[i]!.cpu !== moves[s]!.cpu) {
      out.push([s, i]);
      s = i;
    }
  }
  return out;
}

/** Moves move [from, to) to position `at` (an index of the original array outside it). */
function relocate(moves: readonly Move[], from: number, to: number, at: number): Move[] {
  const seg = moves.slice(from, to);
  const rest = [...moves.slice(0, from), ...moves.slice(to)];
  const pos = at > from ? at - (to - from) : at;
  return [...rest.slice(0, pos), ...seg, ...rest.slice(pos)];
}

/** Follows the moves as preferences: skips those that cannot be taken where they come up. */
function lenient(m: readonly Move[]): Scheduler {
  let i = 0;
  return {
    next(v) {
      while (i < m.length) {
        const mv = m[i++]!;
        if (!v.enabled.includes(mv.cpu)) continue;
        return mv.choice < v.choices(mv.cpu) ? mv : { cpu: mv.cpu, choice: 0 };
      }
      return undefined;
    },
  };
}

export function shrinkSchedule(
  model: CompiledModel,
  moves: readonly Move[],
  property: string,
  opts: { maxTries?: number; maxSeconds?: number } = {},
): Shrunk {
  const deadline = performance.now() + (opts.maxSeconds ?? 10) * 1000;
  let maxTries = opts.maxTries ?? 4000;
  let tries = 0;
  const test = (m: readonly Move[]): Cand | undefined => {
    tries++;
    if ((tries & 15) === 0 && performance.now() > deadline) maxTries = tries;
    const r = runSchedule(model, lenient(m), { depth: m.length, target: property });
    if (r.end !== "violation" || r.violation?.property !== property) return undefined;
    return { moves: r.moves, violation: r.violation };
  };
  let best = test(moves);
  if (!best) throw new Error(`shrinkSchedule: the schedule does not break ${property}`);
  const offer = (m: readonly Move[]): boolean => {
    if (tries >= maxTries) return false;
    const c = test(m);
    if (c && better(c.moves, best!.moves)) {
      best = c;
      return true;
    }
    return false;
  };

  let progress = true;
  while (progress && tries < maxTries) {
    progress = false;
    // 1. delete chunks, halving the chunk size (ddmin-style)
    for (let n = Math.max(1, best.moves.length >> 1); n >= 1; n >>= 1) {
      for (let i = 0; i + n <= best.moves.length;) {
        const m = best.moves;
        if (offer([...m.slice(0, i), ...m.slice(i + n)])) progress = true;
        else i++;
      }
    }
    // 2. group by CPU: move a block (or its first / last move) next to another block of its CPU
    let again = true;
    while (again && tries < maxTries) {
      again = false;
      const m = best.moves;
      const bl = blocks(m);
      outer: for (let a = 0; a < bl.length; a++) {
        for (let c = a + 1; c < bl.length; c++) {
          if (m[bl[a]![0]]!.cpu !== m[bl[c]![0]]!.cpu) continue;
          const [as, ae] = bl[a]!;
          const [cs, ce] = bl[c]!;
          const tries4 = [
            relocate(m, cs, ce, ae), // later block up, right after the earlier one
            relocate(m, as, ae, cs), // earlier block down, right before the later one
            relocate(m, cs, cs + 1, ae), // first move of the later block up
            relocate(m, ae - 1, ae, cs), // last move of the earlier block down
          ];
          for (const cand of tries4) {
            if (offer(cand)) {
              again = progress = true;
              break outer;
            }
          }
        }
      }
    }
    // 3. reorder: swap adjacent blocks of different CPUs, or move a block to the front (a CPU
    //    that runs earlier may loop fewer times; moves left over are skipped)
    let moved = true;
    while (moved && tries < maxTries) {
      moved = false;
      const m = best.moves;
      const bl = blocks(m);
      for (let a = 0; a + 1 < bl.length && !moved; a++) {
        const [as, ae] = bl[a]!;
        const [, be] = bl[a + 1]!;
        if (offer(relocate(m, ae, be, as))) moved = progress = true;
        else if (a > 0 && offer(relocate(m, as, ae, 0))) moved = progress = true;
      }
    }
    // 4. smallest choices
    for (let i = 0; i < best.moves.length; i++) {
      const mv = best.moves[i]!;
      if (mv.choice === 0) continue;
      const m = best.moves.slice();
      m[i] = { cpu: mv.cpu, choice: 0 };
      if (offer(m)) progress = true;
    }
  }
  return { moves: best.moves, violation: best.violation, tries };
}

export const _internals = { blocks, relocate, score };
