// Declaring a model: its parameters, its variants (patch versions) with their expected verdicts,
// and a build function that lays out the state and writes the threads for one variant.

import type { ArrayS, Fields, LockS, RecordS, Schema } from "./schema.ts";
import { int, nodeptr, record, SchemaError } from "./schema.ts";
import { Layout, NEEDS_BITS_REG, sizeOf } from "./layout.ts";
import { makeRef, Ref, type RecordRef, type RefOf } from "./ref.ts";
import { ViewBuilder, type ViewOf } from "./view.ts";
import {
  assert_,
  for_,
  not,
  if_,
  isOwnFrame,
  lazyCallSite,
  step,
  wait_until,
  when,
  while_,
  type Ctx,
  type Stmt,
} from "./dsl.ts";
import { collectRaises, CompileError, compileThread, type Node } from "./compile.ts";
import { resolveAlike, type AlikeDecl, type AlikeRequest } from "./alike.ts";
import type { ViolationKind } from "../explore/result.ts";
import { DEFAULT_SEVERITIES, Mem, ModelError, type Severity } from "../rt/mem.ts";
import {
  isOpsDecl,
  parseOps,
  formatOps,
  type IntParamDecl,
  type OpsParamDecl,
  type ParamDecl,
  type ParamValue,
  type ParamValues,
} from "./params.ts";

export type { IntParamDecl, OpsParamDecl, ParamValue, ParamValues } from "./params.ts";

/** The expected verdict of a variant: every property holds, or exactly these are violated. */
export type Expect = "holds" | { readonly violated: readonly string[] };

export interface VariantDecl<O> {
  readonly doc?: string;
  readonly options: O;
  /** Parameter values for this variant (overriding the model's defaults). */
  readonly params?: ParamValues;
  /**
   * Parameters the verdict depends on, held at the variant's value (its `params`, else the
   * default) when fuzz and the property suites draw the others from their ranges. Those in
   * `params` are held already; `pin` names defaults the verdict needs too.
   */
  readonly pin?: readonly string[];
  readonly expect: Expect;
}

export interface BuildArgs<P, O> {
  readonly params: P;
  readonly options: O;
  readonly variant: string;
}

// options and parameters are typed per model; `ModelDef` with no arguments accepts any model
export interface ModelDef<P extends Record<string, ParamValue> = any, O = any> {
  readonly kind: "interleave-model";
  readonly name: string;
  readonly doc: string;
  /** Integer parameters, and operation lists (strings, see params.ts). */
  readonly params: { readonly [K in keyof P]: ParamDecl & { readonly default: P[K] } };
  readonly variants: Readonly<Record<string, VariantDecl<O>>>;
  readonly build: (args: BuildArgs<P, O>) => AnyModelBuilder;
}

export function defineModel<P extends Record<string, ParamValue>, O>(
  def: Omit<ModelDef<P, O>, "kind">,
): ModelDef<P, O> {
  if (Object.keys(def.variants).length === 0) {
    throw new SchemaError(`model ${def.name}: declare at least one variant`);
  }
  return { kind: "interleave-model", ...def };
}

/** What invariants and end-state properties see. */
export interface World<S extends Schema = Schema> {
  readonly s: ViewOf<S>;
  readonly m: Mem;
  readonly cpus: readonly CpuView[];
}
export interface CpuView {
  readonly cpu: number;
  readonly name: string;
  readonly l: ViewOf<Schema>;
  /** Current program counter (nodes.length when finished). */
  readonly pc: number;
  readonly done: boolean;
}

/** An invariant returns true when it holds, or false / a message describing the violation. */
export type Predicate<S extends Schema> = (w: World<S>) => boolean | string;

export interface InvariantOptions {
  /**
   * "warn" (default): a state that breaks it is reported and still expanded, so what happens
   * next is searched too; "bug": the state is not expanded (the path ends there).
   */
  readonly severity?: Severity;
}

export interface PropertyOptions {
  readonly doc?: string;
  /**
   * The severity of the property's checks that follow the declaration (`c.m.check`,
   * `c.m.report`, the kernel primitives): "warn" reports and goes on, "bug" ends the path.
   * Default: what the steps that raise it declare, else "bug".
   */
  readonly severity?: Severity;
}

interface ThreadDecl {
  cpu: number;
  name: string;
  locals: RecordS;
  localsBase: number;
  body: Stmt[];
  fair: boolean;
  endless: boolean;
}

/** How the liveness check treats a CPU (see README "Liveness"). */
export interface ThreadOptions {
  /**
   * Weak fairness for this CPU (default true): a CPU that stays enabled eventually runs. A CPU
   * declared `fair: false` may stop forever (a task that may never be scheduled again): nothing
   * waits for it, but if it keeps running it must still finish.
   */
  readonly fair?: boolean;
  /**
   * The CPU need not finish (a kthread main loop, `for (;;)`): it is still scheduled fairly and
   * must not starve the others; blocked forever once the others have finished is its end state.
   */
  readonly endless?: boolean;
}

/** A liveness property under weak fairness: `eventually(p)` = leadsTo(initial state, p). */
export interface LivenessDecl<S extends Schema = Schema> {
  readonly name: string;
  /** Where an obligation starts: undefined = the initial state only (eventually). */
  readonly p: Predicate<S> | undefined;
  readonly q: Predicate<S>;
}

/** What a thread body is written with: refs to the state, and statement makers typed for it. */
export interface ThreadRefs<F extends Fields, LF extends Fields> {
  readonly s: RecordRef<RecordS<F>>;
  readonly l: RecordRef<RecordS<LF>>;
  readonly cpu: number;
  readonly step: typeof step<Ctx<RecordS<F>, RecordS<LF>>>;
  readonly when: typeof when<Ctx<RecordS<F>, RecordS<LF>>>;
  readonly if_: typeof if_<Ctx<RecordS<F>, RecordS<LF>>>;
  readonly while_: typeof while_<Ctx<RecordS<F>, RecordS<LF>>>;
  readonly assert_: typeof assert_<Ctx<RecordS<F>, RecordS<LF>>>;
  readonly wait_until: typeof wait_until<Ctx<RecordS<F>, RecordS<LF>>>;
  readonly not: typeof not<Ctx<RecordS<F>, RecordS<LF>>>;
  readonly for_: typeof for_<Ctx<RecordS<F>, RecordS<LF>>>;
}

export interface ModelOptions {
  /** Report data races between enabled steps (default on). */
  races?: boolean;
  /** Check termination and the eventually/leadsTo properties (default on). */
  liveness?: boolean;
  /**
   * lockdep (default on; see kernel/lockdep.ts): `wrong-lock` for a plain access to data whose
   * protecting lock the CPU does not hold, and `lock-order` for a cycle in the order locks are
   * taken, keyed by lock class (`order: "class"`, as lockdep) or by lock instance
   * (`order: "instance"`). `false` turns both off; `{ order: false }` keeps only the first.
   */
  lockdep?:
    boolean | { readonly protection?: boolean; readonly order?: "class" | "instance" | false };
}

/** What a build function returns: a ModelBuilder of any shared-state shape. */
export abstract class AnyModelBuilder {
  protected abstract readonly brand: "interleave-model-builder";
}

/** The thread whose body is being written (set by ModelBuilder.thread while body() runs). */
let writing:
  | {
      cpu: number;
      name: string;
      layout: Layout;
      locals: Map<string, { schema: Schema; ref: unknown }>;
    }
  | undefined;

/**
 * A C local of a kernel function, for the CPU whose body is being written: a primitive that
 * keeps a value across its steps (the queue `get_deferred_split_queue()` returned, to unlock the
 * lock it locked) asks for one by name instead of making the model declare it. The same name on
 * the same CPU is the same word (a function is not re-entered); it shows in traces as
 * `CPU1.name`. Must be called while a thread body is being written.
 */
export function kernelLocal<S extends Schema>(name: string, schema: S): RefOf<S> {
  const t = writing;
  if (!t) {
    throw new ModelError(
      "E_BUILD",
      `the kernel primitive needing the local "${name}" was called outside a thread body`,
      "call kernel primitives inside m.thread(name, locals, (t) => [ ... ])",
    );
  }
  const had = t.locals.get(name);
  if (had) {
    if (JSON.stringify(had.schema) !== JSON.stringify(schema)) {
      throw new ModelError(
        "E_BUILD",
        `CPU${t.cpu} (${t.name}): two primitives declare the local "${name}" with different types`,
        "give one of them another name",
      );
    }
    return had.ref as RefOf<S>;
  }
  const base = t.layout.alloc(schema, `CPU${t.cpu}.${name}`, t.cpu, name);
  const ref = makeRef(t.layout, schema, base, `CPU${t.cpu}.${name}`, `l.${name}`);
  t.locals.set(name, { schema, ref });
  return ref;
}

export class ModelBuilder<F extends Fields = Fields> extends AnyModelBuilder {
  protected readonly brand = "interleave-model-builder" as const;
  readonly layout = new Layout();
  readonly shared: RecordS<F>;
  readonly s: RecordRef<RecordS<F>>;
  readonly threads: ThreadDecl[] = [];
  readonly invariants: {
    name: string;
    fn: Predicate<RecordS<F>>;
    severity: Severity;
    site?: () => string;
  }[] = [];
  readonly endStates: { name: string; fn: Predicate<RecordS<F>>; site?: () => string }[] = [];
  readonly inits: ((s: ViewOf<RecordS<F>>, w: World<RecordS<F>>) => void)[] = [];
  /** Assertion properties the model raises from its own steps (`check()` in step code). */
  readonly assertions: { name: string; doc: string | undefined; severity?: Severity }[] = [];
  readonly liveness: LivenessDecl<RecordS<F>>[] = [];
  races = true;
  checkLiveness = true;
  /** lockdep's checks of lock protection (wrong-lock). */
  lockProtection = true;
  /** lockdep's lock-order graph, by class or by instance, or off. */
  lockOrder: "class" | "instance" | false = "class";
  /** Protections declared with protect(): the word (or list head) and its lock. */
  readonly protections: { what: Ref; lock: Ref<LockS> }[] = [];
  /** Interchangeable CPUs and objects declared with alike() (checked when compiled). */
  readonly alikes: AlikeRequest[] = [];

  constructor(shared: F, opts: ModelOptions = {}) {
    super();
    this.shared = record(shared, "shared");
    this.layout.alloc(this.shared, "", -1, "");
    this.s = makeRef(this.layout, this.shared, 0, "", "s") as RecordRef<RecordS<F>>;
    if (opts.races !== undefined) this.races = opts.races;
    if (opts.liveness !== undefined) this.checkLiveness = opts.liveness;
    if (opts.lockdep === false) {
      this.lockProtection = false;
      this.lockOrder = false;
    } else if (typeof opts.lockdep === "object") {
      if (opts.lockdep.protection !== undefined) this.lockProtection = opts.lockdep.protection;
      if (opts.lockdep.order !== undefined) this.lockOrder = opts.lockdep.order;
    }
  }

  /**
   * Declares that `lock` protects `what` (a counter, a flags word, or a list head: the list and
   * every node on it), as protectedBy() / listHead({ lock }) do in the schema. A plain access by
   * a CPU that does not hold it is `wrong-lock`; both refs must name fixed places.
   */
  protect(what: Ref, lock: Ref<LockS>): this {
    for (const [r, role] of [
      [what, "the protected field"],
      [lock, "the lock"],
    ] as const) {
      if (r.$static < 0)
        throw new SchemaError(
          `protect(${what.$text}, ${lock.$text}): ${role} must be a fixed place, not one reached through a pointer or a run-time index`,
        );
    }
    if (lock.$schema.kind !== "lock")
      throw new SchemaError(
        `protect(${what.$text}, ${lock.$text}): ${lock.$text} is not a spinlock()`,
      );
    const k = what.$schema.kind;
    if (k !== "int" && k !== "flags" && k !== "list_head" && k !== "bool" && k !== "enum")
      throw new SchemaError(
        `protect(${what.$text}, ${lock.$text}): a ${k} cannot be protected (a counter, flags word, bool, enum or list head can)`,
      );
    this.protections.push({ what, lock });
    return this;
  }

  /**
   * Declares interchangeable members, for symmetry reduction (src/explore/symmetry.ts): CPUs
   * that run the same code (`{ cpus: [p1, p2, p3] }`, the numbers thread() returned), or elements
   * of a shared array of records that start alike (`{ objects: m.s.folio }`, or some of them
   * with `indices`). The search then stores one state for all the states that differ only by
   * which of them is which. Invariants, end-state properties and steps must not single one
   * out (`CPU1`, `F2`): compiling checks what it can (E_SYMMETRY), the search checks its first
   * states, and `--no-symmetry` searches without the reduction.
   */
  alike(
    what:
      | { readonly cpus: readonly number[] }
      | { readonly objects: Ref<ArrayS>; readonly indices?: readonly number[] },
  ): this {
    const site = lazyCallSite();
    if ("cpus" in what) {
      if (!Array.isArray(what.cpus))
        throw new SchemaError("alike({ cpus }): give an array of CPU numbers");
      this.alikes.push({ cpus: [...what.cpus], site });
      return this;
    }
    const r = (what as { objects?: unknown }).objects;
    if (!(r instanceof Ref) || r.$schema.kind !== "array" || r.$static < 0)
      throw new SchemaError(
        "alike(): give { cpus: [...] } or { objects: <a shared array ref, e.g. m.s.folio> }",
      );
    this.alikes.push({
      array: { base: r.$static, text: r.$text },
      ...(what.indices ? { indices: [...what.indices] } : {}),
      site,
    });
    return this;
  }

  /** Adds a CPU running `name` with these locals; returns its CPU number. */
  thread<LF extends Fields>(
    name: string,
    locals: LF,
    body: (t: ThreadRefs<F, LF>) => Stmt[],
    opts: ThreadOptions = {},
  ): number {
    const cpu = this.threads.length;
    for (const k of Object.keys(opts)) {
      if (k !== "fair" && k !== "endless")
        throw new SchemaError(`thread ${name}: unknown option "${k}" (options: fair, endless)`);
    }
    for (const k of Object.keys(locals)) {
      if (k.startsWith("__"))
        throw new SchemaError(`thread ${name}: local "${k}": names starting with __ are reserved`);
    }
    // three scratch registers for list operations split into their individual writes
    const rec = record(
      { ...locals, __r0: nodeptr(), __r1: nodeptr(), __r2: nodeptr() },
      `${name}_locals`,
    );
    this.layout.allocPc(cpu);
    const localsBase = this.layout.alloc(rec, `CPU${cpu}`, cpu, "");
    this.layout.scratch[cpu] = localsBase + sizeOf(rec) - 3;
    const l = makeRef(this.layout, rec, localsBase, `CPU${cpu}`, "l") as RecordRef<RecordS<LF>>;
    const refs = {
      s: this.s,
      l,
      cpu,
      step,
      when,
      if_,
      while_,
      assert_,
      wait_until,
      not,
      for_,
    } as ThreadRefs<F, LF>;
    const saved = writing;
    writing = { cpu, name, layout: this.layout, locals: new Map() };
    try {
      this.threads.push({
        cpu,
        name,
        locals: rec,
        localsBase,
        body: body(refs),
        fair: opts.fair ?? true,
        endless: opts.endless ?? false,
      });
    } finally {
      writing = saved;
    }
    return cpu;
  }

  /** Sets up the initial state (the explorer starts from it). */
  init(fn: (s: ViewOf<RecordS<F>>, w: World<RecordS<F>>) => void): this {
    this.inits.push(fn);
    return this;
  }

  /**
   * A property checked in every reachable state. By default a warning: a state that breaks it
   * is reported and still expanded; `{ severity: "bug" }` ends the path there.
   */
  invariant(name: string, fn: Predicate<RecordS<F>>, opts: InvariantOptions = {}): this {
    // site: where it was declared (an invariant that throws is reported at this file:line)
    this.invariants.push({
      name,
      fn,
      severity: checkSeverity(opts.severity ?? "warn", name),
      site: lazyCallSite(),
    });
    return this;
  }

  /** A property checked in every state where all CPUs have finished (quiescence). */
  endState(name: string, fn: Predicate<RecordS<F>>): this {
    this.endStates.push({ name, fn, site: lazyCallSite() });
    return this;
  }

  /**
   * A liveness property: on every run under weak fairness (see `thread`'s options), `p`
   * eventually holds (in the initial state or later). Broken by a fair cycle, or a run to an end
   * state, on which p never holds.
   */
  eventually(name: string, p: Predicate<RecordS<F>>): this {
    this.addLiveness(name, undefined, p);
    return this;
  }

  /**
   * `p ~> q`: whenever p holds, q holds then or later, on every run under weak fairness ("a
   * queued partially mapped folio is eventually scanned or freed").
   */
  leadsTo(name: string, p: Predicate<RecordS<F>>, q: Predicate<RecordS<F>>): this {
    this.addLiveness(name, p, q);
    return this;
  }

  private addLiveness(
    name: string,
    p: Predicate<RecordS<F>> | undefined,
    q: Predicate<RecordS<F>>,
  ): void {
    if (typeof name !== "string" || name.trim() === "")
      throw new SchemaError("eventually()/leadsTo(): the property needs a non-empty name");
    if (this.liveness.some((l) => l.name === name) || name === "termination")
      throw new SchemaError(`liveness property "${name}" is declared twice`);
    if (typeof q !== "function" || (p !== undefined && typeof p !== "function"))
      throw new SchemaError(`liveness property "${name}": give predicates (w) => boolean`);
    this.liveness.push({ name, p, q });
  }

  /**
   * Declares an assertion property the model's own steps raise (`check(cond, name, ...)` in
   * step code), so that it is listed and shown holding where no run breaks it. Steps can also
   * say it themselves with `step(label, run, { raises: [name] })`.
   */
  property(name: string, opts?: string | PropertyOptions): this {
    if (typeof name !== "string" || name.trim() === "")
      throw new SchemaError("property(): the property needs a non-empty name");
    const o: PropertyOptions = typeof opts === "string" ? { doc: opts } : (opts ?? {});
    const severity = o.severity === undefined ? undefined : checkSeverity(o.severity, name);
    const prev = this.assertions.find((a) => a.name === name);
    if (!prev) {
      this.assertions.push(severity ? { name, doc: o.doc, severity } : { name, doc: o.doc });
    } else if (severity) {
      if (prev.severity && prev.severity !== severity)
        throw new SchemaError(
          `property("${name}"): declared with severity "${prev.severity}" and again with "${severity}"`,
        );
      prev.severity = severity;
    }
    return this;
  }
}

function checkSeverity(s: unknown, name: string): Severity {
  if (s === "warn" || s === "bug") return s;
  throw new SchemaError(
    `property "${name}": severity ${JSON.stringify(s)} is not "warn" (WARN_ON: reported, the search goes on) or "bug" (BUG_ON: the path ends)`,
  );
}

/** A property a compiled model can report, and how it is checked. */
export interface PropertyDecl {
  readonly name: string;
  readonly kind: ViolationKind;
  readonly doc?: string;
  /**
   * What the search does past a violation: "warn" goes on, "bug" ends the path. None for
   * deadlock and end-state properties (nothing follows them).
   */
  readonly severity?: Severity;
}

export interface CompiledThread {
  readonly cpu: number;
  readonly name: string;
  readonly nodes: Node[];
  readonly end: number;
  readonly pcOff: number;
  readonly ctx: Ctx;
  /** Weak fairness applies to this CPU (ThreadOptions.fair). */
  readonly fair: boolean;
  /** The CPU need not finish (ThreadOptions.endless). */
  readonly endless: boolean;
}

export interface CompiledModel {
  readonly name: string;
  readonly variant: string;
  readonly params: ParamValues;
  readonly options: unknown;
  readonly expect: Expect | undefined;
  readonly layout: Layout;
  readonly mem: Mem;
  readonly threads: readonly CompiledThread[];
  readonly init: Int32Array;
  readonly invariants: readonly {
    name: string;
    fn: Predicate<Schema>;
    severity: Severity;
    site?: () => string;
  }[];
  readonly endStates: readonly { name: string; fn: Predicate<Schema>; site?: () => string }[];
  readonly races: boolean;
  /** The model's own setting for the liveness check (ModelOptions.liveness). */
  readonly liveness: boolean;
  /** eventually / leadsTo properties (termination is built in). */
  readonly livenessProps: readonly LivenessDecl[];
  /** lockdep: wrong-lock checks of declared protections (Mem.ld is set around each step). */
  readonly lockdep: boolean;
  /** lockdep: the lock-order graph's keys, or false when it is off. */
  readonly lockOrder: "class" | "instance" | false;
  /**
   * Every property the model can report, each once: invariants, end-state properties, the
   * assertions its steps declare (`raises`, `assert_`, `property()`), deadlock, and data-race
   * when the race check is on. A step may still raise an undeclared name; reports add it.
   */
  readonly properties: readonly PropertyDecl[];
  readonly world: World;
  /** Interchangeable CPUs and objects (ModelBuilder.alike), validated. */
  readonly alike: readonly AlikeDecl[];
  /** Source file of the model, when loaded from one. */
  file: string | undefined;
}

/** Resolves parameters: defaults, then the variant's, then the caller's; validates each. */
export function resolveParams(
  def: ModelDef,
  variant: string,
  overrides: ParamValues = {},
): Record<string, ParamValue> {
  const v = def.variants[variant];
  if (!v) {
    throw new ModelError(
      "E_VARIANT",
      `model ${def.name} has no variant "${variant}"`,
      `its variants are: ${Object.keys(def.variants).join(", ")}`,
    );
  }
  const out: Record<string, ParamValue> = {};
  const decls = def.params as Readonly<Record<string, IntParamDecl | OpsParamDecl>>;
  for (const k of v.pin ?? []) {
    if (!(k in decls)) {
      throw new ModelError(
        "E_PARAM",
        `model ${def.name}, variant ${variant}: pin names "${k}", which is not a parameter of the model`,
        Object.keys(decls).length
          ? `its parameters are: ${Object.keys(decls).join(", ")}`
          : "it takes no parameters",
      );
    }
  }
  for (const [k, d] of Object.entries(decls)) out[k] = d.default;
  for (const [k, val] of Object.entries(v.params ?? {})) out[k] = val;
  for (const [k, raw] of Object.entries(overrides)) {
    const d = decls[k];
    if (!d) {
      throw new ModelError(
        "E_PARAM",
        `model ${def.name} has no parameter "${k}"`,
        Object.keys(decls).length
          ? `its parameters are: ${Object.keys(decls).join(", ")}`
          : "it takes no parameters",
      );
    }
    if (isOpsDecl(d)) {
      if (typeof raw !== "string") {
        throw new ModelError(
          "E_PARAM",
          `parameter ${k}=${raw} of model ${def.name} is a list of operations, not a number`,
          `write it as text, e.g. --param ${k}='${d.default}'${d.doc ? ` (${d.doc})` : ""}`,
        );
      }
      out[k] = raw;
      continue;
    }
    const val = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof val !== "number" || !Number.isInteger(val)) {
      throw new ModelError(
        "E_PARAM",
        `parameter ${k}=${val} of model ${def.name} is not an integer`,
        d.doc,
      );
    }
    if ((d.min !== undefined && val < d.min) || (d.max !== undefined && val > d.max)) {
      throw new ModelError(
        "E_PARAM",
        `parameter ${k}=${val} of model ${def.name} is outside ${d.min ?? "-inf"}..${d.max ?? "inf"}`,
        d.doc,
      );
    }
    out[k] = val;
  }
  // operation lists are checked once the object counts are known, and kept in canonical form
  for (const [k, d] of Object.entries(decls)) {
    if (!isOpsDecl(d)) continue;
    const text = out[k];
    if (typeof text !== "string") {
      throw new ModelError(
        "E_PARAM",
        `model ${def.name}: params.${k} is a list of operations, but the variant gives ${String(text)}`,
        `give it as text, e.g. '${d.default}'`,
      );
    }
    out[k] = formatOps(d, parseOps(def.name, k, d, text, out));
  }
  return out;
}

export function compileModel(
  def: ModelDef,
  variant: string,
  overrides: ParamValues = {},
): CompiledModel {
  const params = resolveParams(def, variant, overrides);
  try {
    return compileResolved(def, variant, params);
  } catch (e) {
    throw asBuildError(e, def.name, variant);
  }
}

/** A build-time failure as a ModelError naming the model, the variant and where it was thrown. */
function asBuildError(e: unknown, model: string, variant: string): ModelError {
  const what = `model ${model} (variant ${variant})`;
  if (e instanceof ModelError) {
    if (e.message.includes(`model ${model}`)) return e;
    const w = new ModelError(e.code, `${what}: ${e.message}`, e.hint);
    w.stack = e.stack;
    return w;
  }
  if (e instanceof SchemaError || e instanceof CompileError) {
    const w = new ModelError("E_MODEL", `${what}: ${e.message}`, "fix the model's declarations");
    w.stack = e.stack;
    return w;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const at = modelFrame(err.stack);
  const w = new ModelError(
    "E_BUILD",
    `${what}: building the model threw: ${err.message}${at ? ` (at ${at})` : ""}`,
    "fix the model's build() or init(); set INTERLEAVE_DEBUG=1 to see the stack",
  );
  w.stack = err.stack;
  return w;
}

/** The first stack frame outside the checker's own sources (the model's line), if any. */
export function modelFrame(stack: string | undefined): string | undefined {
  for (const line of (stack ?? "").split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(line.trim());
    if (!m) continue;
    const file = m[1]!.replace(/^file:\/\//, "");
    if (isOwnFrame(file)) continue;
    const rel = file.startsWith(process.cwd()) ? file.slice(process.cwd().length + 1) : file;
    return `${rel}:${m[2]}`;
  }
  return undefined;
}

function compileResolved(
  def: ModelDef,
  variant: string,
  params: Record<string, ParamValue>,
): CompiledModel {
  const v = def.variants[variant]!;
  const b = def.build({ params, options: v.options, variant }) as ModelBuilder;
  if (!(b instanceof ModelBuilder)) {
    throw new ModelError(
      "E_BUILD",
      `model ${def.name}: build() must return the ModelBuilder it filled in`,
    );
  }
  if (b.threads.length === 0) {
    throw new ModelError("E_BUILD", `model ${def.name} (${variant}) declares no thread`);
  }
  const programs = b.threads.map((t) => compileThread(t.body, t.name));
  const lay = b.layout;
  // a non-atomic bitop keeps the word it loaded in a register of its CPU until its store
  if (lay.flagsMax > 0 && programs.some((p) => p.some((n) => NEEDS_BITS_REG.has(n.run)))) {
    for (const t of b.threads)
      lay.bitsReg[t.cpu] = lay.alloc(int(0, lay.flagsMax), `CPU${t.cpu}.__bits`, t.cpu, "__bits");
  }
  lay.finalize(
    b.threads.length,
    programs.map((p) => p.length),
  );
  for (const p of b.protections) {
    const off = p.what.$static;
    const lk = p.lock.$static;
    if (p.what.$schema.kind === "list_head") {
      const n = lay.nodes[lay.nodeAtOff[off]!]!;
      n.lockOff = lk;
      n.protects = true;
    } else lay.lockOfWord[off] = lk;
    lay.hasProtected = true;
  }
  const mem = new Mem(lay, b.lockOrder === false ? "class" : b.lockOrder);
  mem.lo = b.lockOrder !== false;
  const views = new ViewBuilder(mem);
  const sView = views.build(b.shared, 0);
  const threads: CompiledThread[] = b.threads.map((t, i) => {
    const l = views.build(t.locals, t.localsBase);
    return {
      cpu: t.cpu,
      name: t.name,
      nodes: programs[i]!,
      end: programs[i]!.length,
      pcOff: lay.pcOff[t.cpu]!,
      ctx: { s: sView, l, cpu: t.cpu, m: mem },
      fair: t.fair,
      endless: t.endless,
    };
  });
  const cpus: CpuView[] = threads.map((t) => ({
    cpu: t.cpu,
    name: t.name,
    l: t.ctx.l,
    get pc() {
      return mem.b[t.pcOff]!;
    },
    get done() {
      return mem.b[t.pcOff] === t.end;
    },
  }));
  const world: World = { s: sView, m: mem, cpus };
  mem.b = lay.initialState();
  for (const f of b.inits) (f as (s: unknown, w: World) => void)(sView, world);
  const init = mem.b;
  const properties: PropertyDecl[] = [];
  const declare = (name: string, kind: ViolationKind, severity?: Severity, doc?: string): void => {
    if (properties.some((p) => p.name === name)) return;
    properties.push({
      name,
      kind,
      ...(severity === undefined ? {} : { severity }),
      ...(doc === undefined ? {} : { doc }),
    });
  };
  // an assertion's severity: the model's m.property(), else the first step that gives one, else
  // the catalogue's (src/kernel/properties.ts), else bug
  const raised = collectRaises(programs);
  const dflt = (p: string): Severity => DEFAULT_SEVERITIES.get(p) ?? "bug";
  for (const i of b.invariants) declare(i.name, "invariant", i.severity);
  for (const e of b.endStates) declare(e.name, "end-state");
  for (const a of b.assertions)
    declare(a.name, "assertion", a.severity ?? raised.get(a.name) ?? dflt(a.name), a.doc);
  for (const [p, sev] of raised) declare(p, "assertion", sev ?? dflt(p));
  declare("deadlock", "deadlock");
  // KCSAN reports a race and the kernel goes on
  if (b.races) declare("data-race", "data-race", "warn");
  if (b.lockProtection && (lay.hasProtected || lay.nodes.some((n) => n.lockOff >= 0 && n.protects)))
    declare("wrong-lock", "assertion", "warn");
  if (b.lockOrder !== false && lay.locks.length > 1) declare("lock-order", "lock-order", "warn");
  declare("termination", "liveness");
  for (const l of b.liveness) declare(l.name, "liveness");
  for (const p of properties) if (p.severity) mem.severities.set(p.name, p.severity);
  return {
    name: def.name,
    variant,
    params,
    options: v.options,
    expect: v.expect,
    layout: lay,
    mem,
    threads,
    init,
    invariants: b.invariants as unknown as {
      name: string;
      fn: Predicate<Schema>;
      severity: Severity;
      site?: () => string;
    }[],
    endStates: b.endStates as unknown as {
      name: string;
      fn: Predicate<Schema>;
      site?: () => string;
    }[],
    races: b.races,
    liveness: b.checkLiveness,
    livenessProps: b.liveness as unknown as LivenessDecl[],
    lockdep: b.lockProtection,
    lockOrder: b.lockOrder,
    properties,
    world,
    alike: resolveAlike(b.alikes, lay, programs, b.threads, init),
    file: undefined,
  };
}
