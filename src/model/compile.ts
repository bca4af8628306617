// Turns a thread's statements into its program: an array of nodes, each one atomic step, with
// its successors. Control statements (break, continue, return, goto, sequencing) are resolved
// here and cost no step.

import { match } from "ts-pattern";
import type { GuardFn, Label, Raise, RunFn, Stmt, StepStmt, Ctx } from "./dsl.ts";
import type { Severity } from "../rt/mem.ts";

export const ACTION = 0;
export const BRANCH = 1;
export const EITHER = 2;

/**
 * One node of a compiled thread: one atomic step and its successors. A class, so that the
 * site getter is on the prototype: an object literal with a getter is a slow (dictionary-mode)
 * object in V8, and the explorer and every run read these.
 */
export class Node {
  readonly run: RunFn;
  readonly guard: GuardFn | undefined;
  readonly waitsFor: ((c: Ctx) => string) | undefined;
  /** Static number of choices, or -1 when `choicesFn` decides. */
  readonly nchoices: number;
  readonly choicesFn: ((c: Ctx) => number) | undefined;
  readonly label: Label;
  /** Successor (ACTION), successor when true (BRANCH). */
  next = PENDING;
  /** Successor when false (BRANCH). */
  alt = PENDING;
  /** Successor per choice (EITHER). */
  targets: number[] = [];
  /** Properties the step declares it can raise (static; the explorer does not read it). */
  readonly raises: readonly Raise[] | undefined;
  constructor(
    public pc: number,
    readonly kind: number,
    private readonly stmt: StepStmt,
    /** Enclosing kernel functions, outermost first (e.g. `folio_put > __folio_put`). */
    readonly funcs: string,
  ) {
    this.run = stmt.run;
    this.guard = stmt.guard;
    this.waitsFor = stmt.waitsFor;
    this.nchoices = typeof stmt.choices === "number" ? stmt.choices : -1;
    this.choicesFn = typeof stmt.choices === "function" ? stmt.choices : undefined;
    this.label = stmt.label;
    this.raises = stmt.raises;
  }
  /** Where the step was written (file:line), written out when a message first needs it. */
  get site(): string {
    return this.stmt.site;
  }
}

export class CompileError extends Error {
  override name = "CompileError";
}

interface Env {
  brk: number | undefined;
  cont: number | undefined;
  ret: number;
  funcs: string[];
}

const PENDING = -2;

/** Compiles a thread body. pc 0 is the entry; pc `nodes.length` is the end of the thread. */
export function compileThread(body: Stmt[], threadName: string): Node[] {
  const nodes: Node[] = [];
  const labels = new Map<string, number>();
  const gotos: {
    node: Node;
    field: "next" | "alt" | number;
    name: string;
    stmt: { readonly site: string };
  }[] = [];
  const END = -1;

  const alloc = (st: StepStmt, kind: number, funcs: string[]): Node => {
    const n = new Node(nodes.length, kind, st, funcs.join(" > "));
    if (kind !== EITHER && n.nchoices !== 1 && n.nchoices !== -1 && n.nchoices < 1) {
      throw new CompileError(`${st.site}: a step needs at least one choice`);
    }
    nodes.push(n);
    return n;
  };

  // Goto targets are only known at the end; a jump to a label is recorded as a negative
  // placeholder -(index + 3) and patched below.
  const gotoPlaceholders: string[] = [];
  const gotoTarget = (name: string): number => {
    gotoPlaceholders.push(name);
    return -(gotoPlaceholders.length + 2);
  };

  const seq = (stmts: readonly Stmt[], k: number, env: Env): number => {
    let entry = k;
    for (let i = stmts.length - 1; i >= 0; i--) entry = one(stmts[i]!, entry, env);
    return entry;
  };

  const one = (st: Stmt, k: number, env: Env): number => {
    if (Array.isArray(st)) return seq(st, k, env);
    const s = st as Exclude<Stmt, readonly Stmt[]>;
    // every statement kind is handled: a new kind is a type error here until it is
    return match(s)
      .with({ kind: "step" }, (s) => {
        const n = alloc(s, ACTION, env.funcs);
        n.next = k;
        return n.pc;
      })
      .with({ kind: "if" }, (s) => {
        const n = alloc(s.cond, BRANCH, env.funcs);
        n.next = seq(s.then, k, env);
        n.alt = seq(s.else, k, env);
        return n.pc;
      })
      .with({ kind: "while" }, (s) => {
        const n = alloc(s.cond, BRANCH, env.funcs);
        n.next = seq(s.body, n.pc, { ...env, brk: k, cont: n.pc });
        n.alt = k;
        return n.pc;
      })
      .with({ kind: "for" }, (s) => {
        const n = alloc(s.cond, BRANCH, env.funcs);
        const inc = seq(s.inc, n.pc, env);
        n.next = seq(s.body, inc, { ...env, brk: k, cont: inc });
        n.alt = k;
        return seq(s.init, n.pc, env);
      })
      .with({ kind: "loop" }, (s) => {
        const init = alloc(s.init, BRANCH, env.funcs);
        const adv = alloc(s.advance, BRANCH, env.funcs);
        const body = seq(s.body, adv.pc, { ...env, brk: k, cont: adv.pc });
        init.next = body;
        init.alt = k;
        adv.next = body;
        adv.alt = k;
        return init.pc;
      })
      .with({ kind: "either" }, (s) => {
        const n = alloc(s.step, EITHER, env.funcs);
        n.targets = s.alts.map((a) => seq(a, k, env));
        return n.pc;
      })
      .with({ kind: "break" }, (s) => {
        if (env.brk === undefined) throw new CompileError(`${s.site}: break_() outside a loop`);
        return env.brk;
      })
      .with({ kind: "continue" }, (s) => {
        if (env.cont === undefined) throw new CompileError(`${s.site}: continue_() outside a loop`);
        return env.cont;
      })
      .with({ kind: "return" }, () => env.ret)
      .with({ kind: "func" }, (s) =>
        seq(s.body, k, {
          brk: undefined,
          cont: undefined,
          ret: k,
          funcs: [...env.funcs, s.name],
        }),
      )
      .with({ kind: "label" }, (s) => {
        if (labels.has(s.name))
          throw new CompileError(`${threadName}: label "${s.name}" is defined twice`);
        labels.set(s.name, k);
        return k;
      })
      .with({ kind: "goto" }, (s) => {
        gotos.push({
          node: undefined as unknown as Node,
          field: "next",
          name: s.name,
          stmt: s, // its site is written out only for an error
        });
        return gotoTarget(s.name);
      })
      .exhaustive();
  };

  const entry = seq(body, END, { brk: undefined, cont: undefined, ret: END, funcs: [threadName] });

  // Resolve goto placeholders, then renumber nodes in the order the code is read (entry first,
  // depth-first along successors), with END = nodes.length.
  const resolve = (t: number, seen = new Set<number>()): number => {
    if (t >= -1) return t;
    const name = gotoPlaceholders[-t - 3]!;
    const to = labels.get(name);
    if (to === undefined) {
      const g = gotos.find((x) => x.name === name);
      throw new CompileError(
        `${g?.stmt.site ?? threadName}: goto_("${name}") to a label that does not exist`,
      );
    }
    if (seen.has(t))
      throw new CompileError(`${threadName}: goto_("${name}") jumps to itself forever`);
    seen.add(t);
    return resolve(to, seen);
  };
  for (const n of nodes) {
    if (n.kind === EITHER) n.targets = n.targets.map((t) => resolve(t));
    else {
      n.next = resolve(n.next);
      if (n.kind === BRANCH) n.alt = resolve(n.alt);
    }
  }
  const start = resolve(entry);
  if (start === END) return [];

  const order: number[] = [];
  const visited = new Set<number>();
  const stack = [start];
  while (stack.length > 0) {
    const pc = stack.pop()!;
    if (pc === END || visited.has(pc)) continue;
    visited.add(pc);
    order.push(pc);
    const n = nodes[pc]!;
    const succ = n.kind === EITHER ? n.targets : n.kind === BRANCH ? [n.next, n.alt] : [n.next];
    for (let i = succ.length - 1; i >= 0; i--) stack.push(succ[i]!);
  }
  const renum = new Map<number, number>();
  order.forEach((old, i) => renum.set(old, i));
  const end = order.length;
  const map = (t: number): number => (t === END ? end : renum.get(t)!);
  const out = order.map((old) => nodes[old]!);
  for (const n of out) {
    n.pc = renum.get(n.pc)!;
    if (n.kind === EITHER) n.targets = n.targets.map(map);
    else {
      n.next = map(n.next);
      if (n.kind === BRANCH) n.alt = map(n.alt);
    }
  }
  return out;
}

/**
 * The assertion properties the compiled threads can raise: every name a reachable step declares
 * in `raises`, in first-seen order (thread by thread, in program order), with the severity the
 * first step that gives one declares (undefined when no step says).
 */
export function collectRaises(
  programs: readonly (readonly Node[])[],
): Map<string, Severity | undefined> {
  const out = new Map<string, Severity | undefined>();
  for (const nodes of programs)
    for (const n of nodes)
      for (const r of n.raises ?? []) {
        if (typeof r === "string") {
          if (!out.has(r)) out.set(r, undefined);
        } else if (out.get(r.name) === undefined) out.set(r.name, r.severity);
      }
  return out;
}
