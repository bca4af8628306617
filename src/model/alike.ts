// Symmetry declarations: "these CPUs are alike", "these objects are alike" (ModelBuilder.alike).
// A declaration names a set of interchangeable members; the explorer (explore/symmetry.ts) then
// stores one state per class of states that differ only by a permutation of the members.
//
// What is checked here, when the model is compiled:
// - CPUs: the same program (same steps, labels, branches, choices, and the same source text of
//   every step, guard and label function), the same fairness, the same CPU-local fields (names,
//   types, ranges) with the same initial values;
// - objects: elements of one shared array of records, with the same initial values (references
//   aside: list links and pointers are renamed by the permutation, so alike objects may sit at
//   different places of a list).
// What cannot be seen here (a closure compares equal by its source, not by what it captured:
// `() => i` on two CPUs; an invariant that names CPU1 or F2) is checked by the explorer on the
// first states of the search (explore/symmetry.ts, checkSymmetry), where it shows.

import type { Node } from "./compile.ts";
import type { ArrayInfo, Layout } from "./layout.ts";
import { ModelError } from "../rt/mem.ts";

/** One declared set of interchangeable members, as the explorer uses it. */
export type AlikeDecl =
  | {
      readonly kind: "cpus";
      /** CPU numbers, ascending. */
      readonly members: readonly number[];
      /** Where it was declared (file:line). */
      readonly site: string;
    }
  | {
      readonly kind: "objects";
      readonly array: ArrayInfo;
      /** Element indices in `array`, ascending. */
      readonly members: readonly number[];
      readonly site: string;
    };

/** What ModelBuilder.alike() records before the model is compiled. */
export interface AlikeRequest {
  readonly cpus?: readonly number[];
  /** The base offset of the shared array named (its ref's $static), and its text. */
  readonly array?: { readonly base: number; readonly text: string };
  readonly indices?: readonly number[];
  readonly site: () => string;
}

const HINT_CPUS =
  "declare alike only CPUs built by the same code with the same locals (e.g. one loop making n " +
  "identical putters), or remove the alike() declaration";

function err(message: string, hint: string): ModelError {
  return new ModelError("E_SYMMETRY", message, hint);
}

function fnText(f: unknown): string {
  return typeof f === "function" ? f.toString() : String(f);
}

/** Why two compiled programs differ, or undefined when they are the same code. */
function programDiff(
  a: readonly Node[],
  b: readonly Node[],
  nameA: string,
  nameB: string,
): string | undefined {
  // the enclosing functions start with the thread's own name, which may differ
  const funcs = (f: string, name: string): string =>
    f === name ? "" : f.startsWith(`${name} > `) ? f.slice(name.length + 3) : f;
  if (a.length !== b.length) return `${a.length} steps against ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const what = `step ${i + 1} (\`${typeof x.label === "string" ? x.label : "(computed label)"}\`)`;
    if (x.kind !== y.kind || x.next !== y.next || x.alt !== y.alt)
      return `${what}: different control flow`;
    if (x.targets.join() !== y.targets.join()) return `${what}: different branch targets`;
    if (x.nchoices !== y.nchoices || fnText(x.choicesFn) !== fnText(y.choicesFn))
      return `${what}: different choices`;
    if (fnText(x.label) !== fnText(y.label))
      return `${what}: labelled \`${fnText(x.label)}\` against \`${fnText(y.label)}\``;
    if (fnText(x.run) !== fnText(y.run) || fnText(x.guard) !== fnText(y.guard))
      return `${what}: different code`;
    if (funcs(x.funcs, nameA) !== funcs(y.funcs, nameB))
      return `${what}: inside ${x.funcs} against ${y.funcs}`;
  }
  return undefined;
}

/** The CPU-local fields of a CPU, in offset order. */
function localsOf(lay: Layout, cpu: number): number[] {
  const out: number[] = [];
  for (const f of lay.fields) if (f.cpu === cpu) out.push(f.off);
  return out;
}

/**
 * A word's initial value with references made relative: a list pointer to a node of the member
 * itself as its slot there, one to another member of the set as "a member", others as they are.
 */
function relValue(
  lay: Layout,
  off: number,
  v: number,
  ownNodes: readonly number[],
  otherNodes: ReadonlySet<number>,
): string {
  const f = lay.fields[off]!;
  if (f.kind === "nodeptr" && v >= 0) {
    const k = ownNodes.indexOf(v);
    if (k >= 0) return `own${k}`;
    if (otherNodes.has(v)) return "member";
  }
  return String(v);
}

/** Validates the declarations against the compiled model; throws E_SYMMETRY. */
export function resolveAlike(
  reqs: readonly AlikeRequest[],
  lay: Layout,
  programs: readonly (readonly Node[])[],
  threads: readonly { name: string; fair: boolean; endless: boolean }[],
  init: Int32Array,
): AlikeDecl[] {
  const out: AlikeDecl[] = [];
  const cpusSeen = new Set<number>();
  for (const r of reqs) {
    const site = r.site();
    if (r.cpus !== undefined) {
      const members = [...new Set(r.cpus)].sort((a, b) => a - b);
      const bad = members.find((c) => !Number.isInteger(c) || c < 0 || c >= threads.length);
      if (bad !== undefined)
        throw err(
          `alike({ cpus }) at ${site}: the model has no CPU${bad} (it has ${threads.length})`,
          "pass the CPU numbers m.thread() returned",
        );
      if (members.length < 2)
        throw err(`alike({ cpus }) at ${site}: name at least two CPUs`, HINT_CPUS);
      const again = members.find((c) => cpusSeen.has(c));
      if (again !== undefined)
        throw err(
          `alike({ cpus }) at ${site}: CPU${again} is already in another alike() set`,
          "merge the two sets into one",
        );
      members.forEach((c) => cpusSeen.add(c));
      const c0 = members[0]!;
      const loc0 = localsOf(lay, c0);
      const nodes0 = lay.nodes.filter((n) => n.cpu === c0).map((n) => n.id);
      const allNodes = new Set(lay.nodes.filter((n) => members.includes(n.cpu)).map((n) => n.id));
      for (const c of members.slice(1)) {
        const who = `CPU${c0} (${threads[c0]!.name}) and CPU${c} (${threads[c]!.name})`;
        const d = programDiff(programs[c0]!, programs[c]!, threads[c0]!.name, threads[c]!.name);
        if (d !== undefined)
          throw err(`alike({ cpus }) at ${site}: ${who} do not run the same code: ${d}`, HINT_CPUS);
        if (threads[c]!.fair !== threads[c0]!.fair || threads[c]!.endless !== threads[c0]!.endless)
          throw err(
            `alike({ cpus }) at ${site}: ${who} differ in fairness (fair/endless)`,
            HINT_CPUS,
          );
        const loc = localsOf(lay, c);
        const nodes = lay.nodes.filter((n) => n.cpu === c).map((n) => n.id);
        if (loc.length !== loc0.length || nodes.length !== nodes0.length)
          throw err(
            `alike({ cpus }) at ${site}: ${who} have different locals (${loc0.length} words against ${loc.length})`,
            HINT_CPUS,
          );
        for (let i = 0; i < loc.length; i++) {
          const f = lay.fields[loc[i]!]!;
          const g = lay.fields[loc0[i]!]!;
          if (f.short !== g.short || f.kind !== g.kind || f.min !== g.min || f.max !== g.max)
            throw err(
              `alike({ cpus }) at ${site}: ${who} have different locals (${g.name} against ${f.name})`,
              HINT_CPUS,
            );
          const a = relValue(lay, g.off, init[g.off]!, nodes0, allNodes);
          const b = relValue(lay, f.off, init[f.off]!, nodes, allNodes);
          if (a !== b)
            throw err(
              `alike({ cpus }) at ${site}: ${who} start from different local state: ${g.name} = ${lay.format(g.off, init[g.off]!)}, ${f.name} = ${lay.format(f.off, init[f.off]!)}`,
              HINT_CPUS,
            );
        }
      }
      out.push({ kind: "cpus", members, site });
      continue;
    }
    const a = r.array;
    const arr = a ? lay.arrays.find((x) => x.base === a.base) : undefined;
    if (!a || !arr || arr.elem.kind !== "record")
      throw err(
        `alike({ objects }) at ${site}: ${a ? `${a.text} is not` : "give"} a shared array of records (e.g. objects: m.s.folio)`,
        "name a shared array(N, Record) field of the model",
      );
    const fields0 = lay.fields[arr.base];
    if (fields0 === undefined || fields0.cpu >= 0)
      throw err(
        `alike({ objects }) at ${site}: ${a.text} is a CPU's local array; only shared objects can be alike`,
        "declare the objects in the shared state, or the CPUs alike instead",
      );
    if (out.some((d) => d.kind === "objects" && d.array === arr))
      throw err(
        `alike({ objects }) at ${site}: ${a.text} is named in two alike() declarations`,
        "declare one set per array",
      );
    const members = [...new Set(r.indices ?? Array.from({ length: arr.length }, (_, i) => i))].sort(
      (x, y) => x - y,
    );
    const badI = members.find((i) => !Number.isInteger(i) || i < 0 || i >= arr.length);
    if (badI !== undefined)
      throw err(
        `alike({ objects }) at ${site}: ${a.text} has no element ${badI} (it has ${arr.length})`,
        `indices run 0..${arr.length - 1}`,
      );
    if (members.length < 2)
      throw err(
        `alike({ objects }) at ${site}: name at least two elements of ${a.text}`,
        "remove the declaration",
      );
    const nodesOf = (i: number): number[] =>
      lay.nodes
        .filter((n) => n.container?.array === arr && n.container.index === i)
        .map((n) => n.id);
    const allNodes = new Set(members.flatMap(nodesOf));
    const i0 = members[0]!;
    const n0 = nodesOf(i0);
    for (const i of members.slice(1) as number[]) {
      const ni = nodesOf(i);
      for (let k = 0; k < arr.stride; k++) {
        const o0 = arr.base + i0 * arr.stride + k;
        const oi = arr.base + i * arr.stride + k;
        const f = lay.fields[oi]!;
        // list links and pointers are renamed by the permutation: they are not compared
        if (f.kind === "nodeptr" || f.kind === "ptr") continue;
        const v0 = relValue(lay, o0, init[o0]!, n0, allNodes);
        const vi = relValue(lay, oi, init[oi]!, ni, allNodes);
        if (v0 !== vi)
          throw err(
            `alike({ objects }) at ${site}: ${arr.labels[i0]} and ${arr.labels[i]} start from different states: ` +
              `${lay.fields[o0]!.name} = ${lay.format(o0, init[o0]!)}, ${f.name} = ${lay.format(oi, init[oi]!)}`,
            "objects are alike only when they start the same (e.g. every folio partially mapped); declare alike the ones that do",
          );
      }
    }
    out.push({ kind: "objects", array: arr, members, site });
  }
  return out;
}
