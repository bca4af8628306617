// The statements a thread is written in. A thread body is an array of statements, top to
// bottom like the kernel function it copies; `compile.ts` turns it into labelled atomic steps.
//
// Every `step` is one atomic transition. Conditions (`if_`, `while_`, loop tests) are steps
// too: they are evaluated atomically, and a step that returns a boolean can be the condition
// itself (`if_(folio_try_get(l.folio), [...], [...])`). break/continue/return/goto cost nothing.

import type { Schema } from "./schema.ts";
import type { ViewOf } from "./view.ts";
import type { Mem, Severity } from "../rt/mem.ts";
import { Violation } from "../rt/mem.ts";
import { fileURLToPath } from "node:url";

/** What a step's code sees: the shared state, its CPU's locals, its CPU number, the memory. */
export interface Ctx<S extends Schema = Schema, L extends Schema = Schema> {
  readonly s: ViewOf<S>;
  readonly l: ViewOf<L>;
  readonly cpu: number;
  readonly m: Mem;
}

export type RunFn = (c: Ctx, choice: number) => unknown;
export type GuardFn = (c: Ctx) => boolean;
/** A step's name in traces: fixed, or computed from the state before the step and its result. */
export type Label = string | ((c: Ctx, result: unknown, choice: number) => string);

/**
 * A property a step can raise: its name, or its name with the severity it is raised with
 * (`{ name: "list-corruption", severity: "warn" }`). A bare name says nothing of the severity:
 * the model's own declaration (`m.property()`) or another step's decides, else "bug".
 */
export type Raise = string | { readonly name: string; readonly severity: Severity };

export function raiseName(r: Raise): string {
  return typeof r === "string" ? r : r.name;
}

export interface StepStmt {
  readonly kind: "step";
  readonly label: Label;
  readonly run: RunFn;
  /** The step is enabled only when this holds (e.g. the lock is free). */
  readonly guard: GuardFn | undefined;
  /** Why a blocked step waits, for deadlock reports (e.g. "ds_queue.split_queue_lock held by CPU1"). */
  readonly waitsFor: ((c: Ctx) => string) | undefined;
  /** Number of non-deterministic choices (each a branch of the search). */
  readonly choices: number | ((c: Ctx) => number);
  /** Where the statement was written (file:line), for errors and traces. */
  readonly site: string;
  /**
   * The properties this step can fail as an assertion (a Violation thrown by its code), so
   * that they are listed and shown holding where no run breaks them. Static: not consulted
   * while exploring.
   */
  readonly raises: readonly Raise[] | undefined;
}

export type Stmt =
  | StepStmt
  | { readonly kind: "if"; readonly cond: StepStmt; readonly then: Stmt[]; readonly else: Stmt[] }
  | { readonly kind: "while"; readonly cond: StepStmt; readonly body: Stmt[] }
  | {
      readonly kind: "for";
      readonly init: Stmt[];
      readonly cond: StepStmt;
      /** Runs after the body and on continue_(), as C's `for (init; cond; inc)`. */
      readonly inc: Stmt[];
      readonly body: Stmt[];
    }
  | {
      readonly kind: "loop";
      /** Entered when init returns true; after the body, advance decides whether to go round. */
      readonly init: StepStmt;
      readonly advance: StepStmt;
      readonly body: Stmt[];
    }
  | { readonly kind: "either"; readonly step: StepStmt; readonly alts: Stmt[][] }
  | { readonly kind: "break" | "continue" | "return"; readonly site: string }
  | { readonly kind: "func"; readonly name: string; readonly body: Stmt[] }
  | { readonly kind: "label"; readonly name: string }
  | { readonly kind: "goto"; readonly name: string; readonly site: string }
  | readonly Stmt[];

export interface StepOptions<C> {
  guard?: (c: C) => boolean;
  waitsFor?: (c: C) => string;
  choices?: number | ((c: C) => number);
  /**
   * The properties the step's code can raise (`c.m.check(cond, "name", ...)`, a primitive's
   * Violation), each a name or `{ name, severity }`.
   */
  raises?: readonly Raise[];
}

/** The checker's own source folder (…/src/), whose frames are never the model author's. */
const OWN_SRC = fileURLToPath(new URL("../", import.meta.url));

/** Whether a stack frame's file is the checker's own code (or Node's, or a dependency's). */
export function isOwnFrame(file: string): boolean {
  return (
    file.startsWith(OWN_SRC) ||
    file.startsWith("node:") ||
    file.includes("/node_modules/") ||
    file === "native"
  );
}

/** Where the model author wrote the statement: the first stack frame outside src/. */
let recordSites = true;
const unrecorded = (): string => "(site not recorded)";

/**
 * Runs `build` with the sites of the steps it writes not recorded. Capturing a stack per step
 * is most of the cost of building a scenario; a randomized run over many scenarios builds each
 * one anew, and shows nothing of most of them. Whatever is shown comes from the same scenario
 * built again with its sites (ScenarioSpace.compile vs compileForRun).
 */
export function withoutSites<T>(build: () => T): T {
  const saved = recordSites;
  recordSites = false;
  try {
    return build();
  } finally {
    recordSites = saved;
  }
}

/** The site of the step being written, or a placeholder inside withoutSites(). */
function siteOfCaller(): () => string {
  return recordSites ? lazyCallSite() : unrecorded;
}

/**
 * The caller's site, captured now and written out when first asked for. Capturing the stack is
 * cheap; writing it out (with source maps, under tsx) is what costs, and most sites are never
 * shown: a randomized run over many scenarios builds each scenario's steps anew.
 */
export function lazyCallSite(): () => string {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 20;
  const err = new Error();
  Error.stackTraceLimit = saved;
  let text: string | undefined;
  return () => (text ??= siteFromStack(err.stack ?? ""));
}

function siteFromStack(stack: string): string {
  for (const line of stack.split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(line.trim());
    if (!m) continue;
    const file = m[1]!.replace(/^file:\/\//, "");
    if (isOwnFrame(file)) continue;
    const rel = file.startsWith(process.cwd()) ? file.slice(process.cwd().length + 1) : file;
    return `${rel}:${m[2]}`;
  }
  return "?";
}

/**
 * The result of a condition step in its label: "true"/"false", or "?" when there is none (the
 * step raised a violation, or the label is shown for a CPU that is blocked before the step).
 */
export function boolResult(r: unknown): string {
  return r === undefined ? "?" : r ? "true" : "false";
}

// Statements whose site is written out when first read. The getter lives on a class: an object
// literal with a getter is a slow (dictionary-mode) object in V8, and a scenario has hundreds
// of steps (a whole-space fuzz run builds a scenario per run).
class Sited {
  constructor(private readonly siteOf: () => string) {}
  get site(): string {
    return this.siteOf();
  }
}

class Step extends Sited implements StepStmt {
  readonly kind = "step";
  constructor(
    readonly label: Label,
    readonly run: RunFn,
    readonly guard: GuardFn | undefined,
    readonly waitsFor: ((c: Ctx) => string) | undefined,
    readonly choices: number | ((c: Ctx) => number),
    readonly raises: readonly Raise[] | undefined,
    siteOf: () => string,
  ) {
    super(siteOf);
  }
}

class Jump extends Sited {
  constructor(
    readonly kind: "break" | "continue" | "return",
    siteOf: () => string,
  ) {
    super(siteOf);
  }
}

class Goto extends Sited {
  readonly kind = "goto";
  constructor(
    readonly name: string,
    siteOf: () => string,
  ) {
    super(siteOf);
  }
}

/** One atomic step. `run` may return a boolean, used when the step is a condition. */
export function step<C = Ctx>(
  label: string | ((c: C, result: unknown, choice: number) => string),
  run: (c: C, choice: number) => unknown,
  opts: StepOptions<C> = {},
): StepStmt {
  return new Step(
    label as Label,
    run as unknown as RunFn,
    opts.guard as unknown as GuardFn | undefined,
    opts.waitsFor as unknown as ((c: Ctx) => string) | undefined,
    (opts.choices ?? 1) as number | ((c: Ctx) => number),
    opts.raises,
    siteOfCaller(),
  );
}

/**
 * Blocks until `pred` holds (a step with no effect, enabled only then). Models a wait loop
 * (`while (!cond) cpu_relax();`) so that a wait that can never end shows as a deadlock.
 */
export function wait_until<C = Ctx>(label: string, pred: (c: C) => boolean): StepStmt {
  return step<C>(`wait until ${label}`, () => undefined, { guard: pred, waitsFor: () => label });
}

/** A condition written as a predicate; its label is `label` or the predicate's source. */
export function when<C = Ctx>(label: string, pred: (c: C) => boolean): StepStmt {
  return step<C>(
    (_c, r) => `${label} -> ${r ? "true" : "false"}`,
    (c) => pred(c),
  );
}

export type Cond<C> = StepStmt | ((c: C) => boolean);

function asCond<C>(c: Cond<C>): StepStmt {
  if (typeof c !== "function") return c;
  const src = c
    .toString()
    .replace(/^\s*(\([^)]*\)|\w+)\s*=>\s*/, "")
    .replace(/\s+/g, " ");
  return when<C>(`if (${src})`, c);
}

export function if_<C = Ctx>(cond: Cond<C>, then: Stmt[], otherwise: Stmt[] = []): Stmt {
  return { kind: "if", cond: asCond(cond), then, else: otherwise };
}

export function while_<C = Ctx>(cond: Cond<C>, body: Stmt[]): Stmt {
  return { kind: "while", cond: asCond(cond), body };
}

/**
 * C's `for (init; cond; inc) body`: `init` once, then `cond` (a step, evaluated atomically)
 * before each round, `inc` after each round, and `continue_()` in the body runs `inc` too (a
 * `while_` with the increment at the end of its body would skip it). `init` and `inc` are
 * statements (usually one step each, e.g. `step("i = 0", ...)`); pass [] for none.
 */
export function for_<C = Ctx>(
  init: Stmt | Stmt[],
  cond: Cond<C>,
  inc: Stmt | Stmt[],
  body: Stmt[],
): Stmt {
  const list = (x: Stmt | Stmt[]): Stmt[] => (Array.isArray(x) ? (x as Stmt[]) : [x]);
  return { kind: "for", init: list(init), cond: asCond(cond), inc: list(inc), body };
}

/**
 * `!cond` as a condition: the same atomic step with its result negated, e.g.
 * `if_(not(folio_trylock(folio)), [goto_("next")])` for `if (!folio_trylock(folio)) goto next;`.
 * The trace shows the step as `!(folio_trylock(F1) -> false)`.
 */
export function not<C = Ctx>(cond: Cond<C>): StepStmt {
  const inner = asCond(cond);
  const lbl = inner.label;
  const site = (): string => inner.site;
  return new Step(
    (c, r, choice) => {
      const ir = r === undefined ? undefined : !r;
      return `!(${typeof lbl === "string" ? lbl : lbl(c, ir, choice)})`;
    },
    (c, choice) => !inner.run(c, choice),
    inner.guard,
    inner.waitsFor,
    inner.choices,
    inner.raises,
    site,
  );
}

/** A loop with an entry test (`init`) and a test after each round (`advance`). */
export function loop(init: StepStmt, advance: StepStmt, body: Stmt[]): Stmt {
  return { kind: "loop", init, advance, body };
}

/** Non-deterministic choice among alternatives: one atomic step, one search branch each. */
export function either(label: string, ...alts: Stmt[][]): Stmt {
  if (alts.length === 0) throw new Error("either(): needs at least one alternative");
  const st = step(
    (_c, _r, choice) => `${label} [${choice + 1}/${alts.length}]`,
    () => undefined,
    {
      choices: alts.length,
    },
  );
  return { kind: "either", step: st, alts };
}

export function break_(): Stmt {
  return jump("break");
}
export function continue_(): Stmt {
  return jump("continue");
}
/** A break, continue or return, with its site written out only when an error needs it. */
function jump(kind: "break" | "continue" | "return"): Stmt {
  return new Jump(kind, siteOfCaller());
}
/** Leaves the innermost `func`, or ends the thread. */
export function return_(): Stmt {
  return jump("return");
}
/** A named kernel function: `return_()` inside it jumps to its end; traces show the name. */
export function func(name: string, body: Stmt[]): Stmt {
  return { kind: "func", name, body };
}
export function label(name: string): Stmt {
  return { kind: "label", name };
}
export function goto_(name: string): Stmt {
  return new Goto(name, siteOfCaller());
}

/**
 * BUG_ON(!cond) inside a step: fails the property and ends the path, whatever its declared
 * severity. For a check that follows the declared severity (a warn-severity one records the
 * violation and lets the step go on) use `c.m.check(cond, property, message)`.
 */
export function check(cond: boolean, property: string, message: string): asserts cond {
  if (!cond) throw new Violation(property, message, "bug");
}

/**
 * An assertion as its own step. `severity` "bug" (default: BUG_ON / VM_BUG_ON) ends the path
 * where it fails; "warn" (WARN_ON / VM_WARN_ON_FOLIO) reports it and the CPU goes on.
 */
export function assert_<C = Ctx>(
  property: string,
  message: string,
  pred: (c: C) => boolean,
  opts: { severity?: Severity } = {},
): StepStmt {
  const severity = opts.severity ?? "bug";
  return step<C>(
    `${severity === "warn" ? "WARN_ON" : "assert"}(${message})`,
    (c) => {
      if (pred(c)) return;
      const m = (c as unknown as Ctx).m;
      if (severity === "warn") m.warn(property, message);
      else m.bug(property, message);
    },
    { raises: [{ name: property, severity }] },
  );
}

/** `WARN_ON(!pred)` as its own step: assert_ with severity "warn" (reported, the CPU goes on). */
export function warn_on<C = Ctx>(
  property: string,
  message: string,
  pred: (c: C) => boolean,
): StepStmt {
  return assert_<C>(property, message, pred, { severity: "warn" });
}
