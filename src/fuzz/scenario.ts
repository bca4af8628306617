// The scenario space of a model variant, derived from its declaration: every parameter with a
// min..max range varies, except those the variant or the caller fixes. The same space drives
// random generation (a fast-check arbitrary that shrinks towards each minimum: fewer CPUs,
// fewer folios, fewer operations) and the exhaustive check of one fixed scenario.

import * as fc from "fast-check";
import { compileModel, resolveParams, type CompiledModel, type ModelDef } from "../model/model.ts";
import {
  formatOps,
  isOpsDecl,
  normalizeOps,
  objectsOf,
  parseOps,
  paramText,
  type OpLists,
  type OpsParamDecl,
  type ParamDecl,
  type ParamValues,
} from "../model/params.ts";
import { ModelError } from "../rt/mem.ts";
import { SchemaError } from "../model/schema.ts";
import { CompileError } from "../model/compile.ts";
import { withoutSites } from "../model/dsl.ts";
import { checkVariant, type Checked, type CheckOptions } from "../check.ts";

export type Params = ParamValues;

export interface ParamRange {
  readonly name: string;
  readonly min: number;
  readonly max: number;
}

/** A generated scenario the model rejects: names the parameter(s) and what to do. */
export class ScenarioError extends ModelError {
  override name = "ScenarioError";
  constructor(
    message: string,
    hint: string,
    readonly fields: readonly string[],
  ) {
    super("E_SCENARIO", message, hint);
  }
}

/** An operation list that varies, with its declaration. */
export interface OpsRange {
  readonly name: string;
  readonly decl: OpsParamDecl;
}

export interface ScenarioSpace {
  readonly def: ModelDef;
  readonly variant: string;
  /** Parameters that vary, with their ranges. */
  readonly ranges: readonly ParamRange[];
  /** Operation lists that vary (which operations each extra CPU runs, on which object). */
  readonly opLists: readonly OpsRange[];
  /** Every parameter's value when nothing varies (defaults, then the variant's, then the caller's). */
  readonly base: Params;
  readonly arbitrary: fc.Arbitrary<Params>;
  /** Compiles a scenario (cached); throws ScenarioError when the model rejects it. */
  compile(params: Params): CompiledModel;
  /**
   * The same scenario built without its steps' sites (about 2x cheaper to build), for runs
   * whose text is not shown: what is shown comes from compile(), whose messages name the
   * sites. A scenario the model rejects is built with its sites, for the error.
   */
  compileForRun(params: Params): CompiledModel;
  /** The exhaustive explorer on one fixed scenario of this space. */
  check(params: Params, opts?: CheckOptions): Promise<Checked>;
}

/**
 * What a session draws and what it holds: each varying parameter with its range (operation
 * lists by name), and the held ones with where their value comes from.
 */
export function describeSpace(space: ScenarioSpace, fixed: Params): string {
  const drawn = [
    ...space.ranges.map((r) => `${r.name} ${r.min}..${r.max}`),
    ...space.opLists.map((o) => `${o.name} (operation lists)`),
  ];
  const byVariant = space.def.variants[space.variant]!.params ?? {};
  const pin = new Set(space.def.variants[space.variant]!.pin ?? []);
  const held = Object.keys(space.base)
    .filter((k) => !drawn.some((d) => d.startsWith(`${k} `)))
    .map((k) => {
      const why = k in fixed ? "--param" : k in byVariant ? "variant" : pin.has(k) ? "pinned" : "";
      return `${paramText(k, space.base[k]!)}${why ? ` (${why})` : ""}`;
    });
  return `drawn: ${drawn.join(", ") || "nothing (every parameter is held)"}; held: ${held.join(", ") || "none"}`;
}

/**
 * The parameters in which a scenario differs from the one `check` verifies for the variant
 * (defaults, then the variant's, then --param): a failure there does not contradict the
 * variant's declared verdict, which speaks of that one scenario.
 */
export function outsideVerified(verified: Params, p: Params): string[] {
  return Object.keys(p).filter(
    (k) => k in verified && paramText(k, p[k]!) !== paramText(k, verified[k]!),
  );
}

/** Scenarios built for runs that are kept (the oldest goes first). */
const RUN_CACHE = 256;

function key(p: Params): string {
  return Object.keys(p)
    .sort()
    .map((k) => paramText(k, p[k]!))
    .join(",");
}

const isModelRejection = (e: unknown): e is Error =>
  e instanceof ModelError ||
  e instanceof SchemaError ||
  e instanceof CompileError ||
  e instanceof RangeError;

export function scenarioSpace(def: ModelDef, variant: string, fixed: Params = {}): ScenarioSpace {
  const base = resolveParams(def, variant, fixed); // validates variant and fixed values
  const byVariant = def.variants[variant]!.params ?? {};
  const pinned = new Set(def.variants[variant]!.pin ?? []);
  const ranges: ParamRange[] = [];
  const opLists: OpsRange[] = [];
  const decls = def.params as Readonly<Record<string, ParamDecl>>;
  for (const [name, d] of Object.entries(decls)) {
    if (name in fixed || name in byVariant || pinned.has(name)) continue;
    if (isOpsDecl(d)) {
      if (d.cpus.max > 0 && d.maxOps > 0) opLists.push({ name, decl: d });
      continue;
    }
    if (d.min === undefined || d.max === undefined) continue;
    if (!Number.isInteger(d.min) || !Number.isInteger(d.max) || d.min > d.max) {
      throw new ScenarioError(
        `model ${def.name}: parameter "${name}" declares the range ${d.min}..${d.max}, which holds no integer`,
        `fix params.${name}.min / params.${name}.max in the model's declaration`,
        [name],
      );
    }
    if (d.min < d.max) ranges.push({ name, min: d.min, max: d.max });
  }
  // a fixed operation list names objects: their counts may not go below what it names
  const fixedLists: { name: string; decl: OpsParamDecl; text: string }[] = [];
  for (const [name, d] of Object.entries(decls)) {
    if (!isOpsDecl(d) || opLists.some((o) => o.name === name)) continue;
    const text = base[name];
    if (typeof text === "string" && text !== "") fixedLists.push({ name, decl: d, text });
  }
  for (const f of fixedLists) {
    for (const o of parseOps(def.name, f.name, f.decl, f.text, base).flat()) {
      const count = f.decl.ops[o.op]!.arg?.count;
      if (typeof count !== "string") continue;
      const i = ranges.findIndex((r) => r.name === count);
      if (i < 0 || ranges[i]!.min >= o.arg) continue;
      ranges[i] = { ...ranges[i]!, min: o.arg };
    }
  }
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const r of ranges) fields[r.name] = fc.integer({ min: r.min, max: r.max });
  for (const o of opLists) fields[o.name] = opListArbitrary(o.decl);
  // a count computed from several parameters cannot be bounded above: such scenarios are left out
  const fitsFixedLists = (p: Params): boolean =>
    fixedLists.every((f) => {
      try {
        parseOps(def.name, f.name, f.decl, f.text, p);
        return true;
      } catch {
        return false;
      }
    });
  const arbitrary = fc
    .noBias(fc.record(fields))
    .map((v) => {
      const out: Record<string, number | string> = { ...base };
      for (const r of ranges) out[r.name] = v[r.name] as number;
      // an object index beyond the generated count is taken modulo it (F5 of 3 folios is F2)
      for (const o of opLists) out[o.name] = opListText(o.decl, v[o.name] as OpLists, out);
      return out as Params;
    })
    .filter(fitsFixedLists);
  const cache = new Map<string, CompiledModel | ScenarioError>();

  const tryCompile = (p: Params): CompiledModel | Error => {
    try {
      return compileModel(def, variant, p);
    } catch (e) {
      if (isModelRejection(e)) return e;
      throw e;
    }
  };

  const reject = (p: Params, err: Error): ScenarioError => {
    // name the parameters that are rejected on their own (the others at their base value)
    const suspects = ranges.map((r) => r.name).filter((k) => p[k] !== base[k]);
    const alone = suspects.filter((k) => tryCompile({ ...base, [k]: p[k]! }) instanceof Error);
    const named = alone.length > 0 ? alone : suspects;
    const what =
      named.length > 0
        ? named.map((k) => `params.${paramText(k, p[k]!)}`).join(", ")
        : `the scenario ${key(p)}`;
    return new ScenarioError(
      `model ${def.name} (${variant}) rejects the generated scenario ${key(p)}: ${what}: ${err.message}`,
      named.length > 0
        ? `narrow the declared range of ${named.map((k) => `"${k}"`).join(", ")} (min..max) to values build() accepts, or make build() accept them`
        : "the model rejects even its default parameters; fix its build()",
      named,
    );
  };

  const compile = (p: Params): CompiledModel => {
    const k = key(p);
    let m = cache.get(k);
    if (m === undefined) {
      const r = tryCompile(p);
      m = r instanceof Error ? reject(p, r) : r;
      cache.set(k, m);
    }
    if (m instanceof ScenarioError) throw m;
    return m;
  };
  const runCache = new Map<string, CompiledModel>();
  const compileForRun = (p: Params): CompiledModel => {
    const k = key(p);
    const m = runCache.get(k) ?? cache.get(k);
    if (m instanceof ScenarioError) throw m;
    if (m !== undefined) return m;
    let built: CompiledModel;
    try {
      built = withoutSites(() => compileModel(def, variant, p));
    } catch {
      return compile(p); // the error as compile() gives it (sites included), or a model
    }
    // a bounded cache: a space with operation lists rarely draws a scenario twice, and
    // keeping every one built makes each garbage collection slower (it was half the time)
    if (runCache.size >= RUN_CACHE) runCache.delete(runCache.keys().next().value!);
    runCache.set(k, built);
    return built;
  };

  return {
    def,
    variant,
    ranges,
    opLists,
    base,
    arbitrary,
    compile,
    compileForRun,
    check: (p, opts = {}) => checkVariant(def, variant, { ...opts, params: p }),
  };
}

/** CPUs (up to cpus.max), each with 1..maxOps operations; shrinks towards fewer of both. */
function opListArbitrary(d: OpsParamDecl): fc.Arbitrary<OpLists> {
  const names = Object.keys(d.ops);
  const op = fc.record({ op: fc.constantFrom(...names), arg: fc.nat(63) });
  return fc.array(fc.array(op, { minLength: 1, maxLength: d.maxOps }), {
    minLength: d.cpus.min,
    maxLength: d.cpus.max,
  });
}

/** The text of a generated list: indices folded into 1..count, repeats of once-per-object ops dropped. */
function opListText(
  d: OpsParamDecl,
  raw: OpLists,
  ints: Readonly<Record<string, unknown>>,
): string {
  // an operation with no object to act on in this scenario is left out
  const cpus = raw.map((ops) =>
    ops.flatMap((o) => {
      if (!d.ops[o.op]!.arg) return [{ op: o.op, arg: 0 }];
      const { first, last } = objectsOf(d, o.op, ints as Params);
      return last >= first ? [{ op: o.op, arg: first + (o.arg % (last - first + 1)) }] : [];
    }),
  );
  let out = normalizeOps(d, cpus);
  // a list that must have CPUs gets the first declared operation on its first object
  const [op0, decl0] = Object.entries(d.ops)[0]!;
  while (out.length < d.cpus.min)
    out = [...out, [{ op: op0, arg: decl0.arg ? (decl0.arg.first ?? 1) : 0 }]];
  return formatOps(d, out);
}
