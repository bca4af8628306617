// Model parameters: integers with a range, and operation lists ("which operations each CPU runs
// and on which object"). An operation list is a value of its own kind, written as text so that
// it reads the same on the command line, in a counterexample file and in a report:
//
//     folio_put(F3),partial_unmap(F1);migrate(F1)
//
// is two CPUs: the first runs folio_put on F3 then partial_unmap on F1, the second migrate on F1.
// The empty string is no CPU at all. The declaration (OpsParamDecl) names the operations, the
// object each one takes (an index 1..N, where N is another parameter, e.g. the number of folios)
// and the bounds; the same declaration drives random generation (fuzz/scenario.ts), validation
// here, and the exhaustive check of one fixed list.

import { ModelError } from "../rt/mem.ts";

/** An integer parameter (a count, a switch). */
export interface IntParamDecl {
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
  readonly doc?: string;
}

/** What an operation takes: an object index 1..params[count], printed with a prefix ("F2"). */
export interface OpArgDecl {
  /** Prefix of the object's name: "F" gives F1, F2, ... */
  readonly prefix: string;
  /**
   * How many objects there are (the index goes 1..count): the name of the integer parameter that
   * counts them, or a function of the integer parameters when no single one does.
   */
  readonly count: string | ((ints: Readonly<Record<string, ParamValue>>) => number);
  /** The first index the operation may take (default 1): e.g. 3 when F1 and F2 have set roles. */
  readonly first?: number;
}

/**
 * The last index an operation may take in a scenario (the object count), and how to say where
 * the range comes from.
 */
function objectCount(a: OpArgDecl, ints: Readonly<Record<string, ParamValue>>): [number, string] {
  const first = a.first ?? 1;
  const range = (n: number): string =>
    n >= first ? `${a.prefix}${first}..${a.prefix}${n}` : `no ${a.prefix}${first} or later`;
  if (typeof a.count === "function") {
    const n = a.count(ints);
    return [n, `this scenario has ${range(n)}`];
  }
  const v = ints[a.count];
  const n = typeof v === "number" ? v : 0;
  return [n, `params.${a.count}=${String(v)} gives ${range(n)}`];
}

export interface OpDecl {
  /** The object the operation acts on; omitted for an operation without one. */
  readonly arg?: OpArgDecl;
  /**
   * At most one such operation per object in a whole scenario, with the reason (e.g. "a folio is
   * isolated for one migration at a time"). Generation drops the repeats; validation rejects them.
   */
  readonly oncePerObject?: string;
  readonly doc?: string;
}

/** A list of CPUs, each running a list of operations in order. */
export interface OpsParamDecl {
  readonly kind: "ops";
  /** The value when nothing sets it, in the text form ("" for no CPU). */
  readonly default: string;
  readonly ops: Readonly<Record<string, OpDecl>>;
  /** How many CPUs the list may give (each runs at least one operation). */
  readonly cpus: { readonly min: number; readonly max: number };
  /** At most this many operations per CPU. */
  readonly maxOps: number;
  readonly doc?: string;
}

export type ParamDecl = IntParamDecl | OpsParamDecl;
export type ParamValue = number | string;
export type ParamValues = Readonly<Record<string, ParamValue>>;

export const isOpsDecl = (d: ParamDecl): d is OpsParamDecl => "kind" in d && d.kind === "ops";

/** One operation of a CPU's list: its name and its object's index (0 when it takes none). */
export interface Op {
  readonly op: string;
  readonly arg: number;
}

export type OpLists = readonly (readonly Op[])[];

const TOKEN = /^([A-Za-z_]\w*)(?:\(([A-Za-z_]*)(\d+)\))?$/;

function opError(model: string, name: string, msg: string, hint: string): ModelError {
  return new ModelError("E_PARAM", `model ${model}: params.${name}: ${msg}`, hint);
}

function syntaxHint(name: string, d: OpsParamDecl): string {
  const ex = Object.entries(d.ops)
    .slice(0, 2)
    .map(([op, o]) => (o.arg ? `${op}(${o.arg.prefix}1)` : op));
  return (
    `write CPUs separated by ";" and each CPU's operations separated by ",", e.g. ` +
    `--param ${name}='${ex.join(",")}'; the operations are: ${opNames(d)}`
  );
}

/** The declared operations as people write them: `folio_put(Fi), partial_unmap(Fi), ...`. */
export const opNames = (d: OpsParamDecl): string =>
  Object.entries(d.ops)
    .map(([op, o]) => (o.arg ? `${op}(${o.arg.prefix}i)` : op))
    .join(", ");

/**
 * Parses and validates an operation list against its declaration and the integer parameters
 * (the object counts). Errors name the parameter, the CPU and the operation, the cause and what
 * to write instead.
 */
export function parseOps(
  model: string,
  name: string,
  d: OpsParamDecl,
  text: string,
  ints: Readonly<Record<string, ParamValue>>,
): Op[][] {
  const src = text.trim();
  const cpus: Op[][] = [];
  if (src !== "") {
    for (const [ci, cpuText] of src.split(";").entries()) {
      const ops: Op[] = [];
      for (const [oi, raw] of cpuText.split(",").entries()) {
        const tok = raw.trim();
        const where = `CPU ${ci + 1}'s operation ${oi + 1} "${tok}"`;
        const m = TOKEN.exec(tok);
        if (!m) throw opError(model, name, `${where} is not an operation`, syntaxHint(name, d));
        const decl = d.ops[m[1]!];
        if (!decl) {
          throw opError(
            model,
            name,
            `${where}: no operation "${m[1]}"`,
            `the operations are: ${opNames(d)}`,
          );
        }
        let arg = 0;
        if (decl.arg) {
          if (m[3] === undefined || m[2] !== decl.arg.prefix) {
            throw opError(
              model,
              name,
              `${where}: ${m[1]} takes one object, written ${m[1]}(${decl.arg.prefix}i)`,
              syntaxHint(name, d),
            );
          }
          arg = Number(m[3]);
          const [n, whence] = objectCount(decl.arg, ints);
          const first = decl.arg.first ?? 1;
          if (arg < first || arg > n) {
            const what = arg < first ? "is not one this operation takes" : "does not exist";
            throw opError(
              model,
              name,
              `${where}: ${decl.arg.prefix}${arg} ${what} (${whence})`,
              typeof decl.arg.count === "string"
                ? `use an index in ${first}..${Math.max(first, n)}, or raise --param ${decl.arg.count}`
                : n >= first
                  ? `use an index in ${first}..${n}`
                  : `set the parameters so that ${decl.arg.prefix}${first} exists${d.doc ? ` (${name}: ${d.doc})` : ""}`,
            );
          }
        } else if (m[3] !== undefined) {
          throw opError(model, name, `${where}: ${m[1]} takes no object`, `write it as ${m[1]}`);
        }
        ops.push({ op: m[1]!, arg });
      }
      cpus.push(ops);
    }
  }
  if (cpus.length < d.cpus.min || cpus.length > d.cpus.max) {
    throw opError(
      model,
      name,
      `${cpus.length} CPU(s), the declaration allows ${d.cpus.min}..${d.cpus.max}`,
      syntaxHint(name, d),
    );
  }
  for (const [ci, ops] of cpus.entries()) {
    if (ops.length > d.maxOps) {
      throw opError(
        model,
        name,
        `CPU ${ci + 1} runs ${ops.length} operations, at most ${d.maxOps} are declared`,
        "split them over more CPUs, or raise maxOps in the model's declaration",
      );
    }
  }
  const seen = new Set<string>();
  for (const ops of cpus) {
    for (const o of ops) {
      const reason = d.ops[o.op]!.oncePerObject;
      if (reason === undefined) continue;
      const k = `${o.op}(${o.arg})`;
      if (seen.has(k)) {
        throw opError(
          model,
          name,
          `${formatOp(d, o)} appears more than once: ${reason}`,
          `keep one ${formatOp(d, o)}`,
        );
      }
      seen.add(k);
    }
  }
  return cpus;
}

function formatOp(d: OpsParamDecl, o: Op): string {
  const a = d.ops[o.op]?.arg;
  return a ? `${o.op}(${a.prefix}${o.arg})` : o.op;
}

/** The indices operation `op` may take given the integer parameters (last < first: none). */
export function objectsOf(
  d: OpsParamDecl,
  op: string,
  ints: Readonly<Record<string, ParamValue>>,
): { first: number; last: number } {
  const a = d.ops[op]?.arg;
  return a ? { first: a.first ?? 1, last: objectCount(a, ints)[0] } : { first: 1, last: 0 };
}

/** The text form of an operation list (the canonical value of the parameter). */
export function formatOps(d: OpsParamDecl, cpus: OpLists): string {
  return cpus.map((ops) => ops.map((o) => formatOp(d, o)).join(",")).join(";");
}

/** Drops the repeats of operations declared once per object (the later ones), and empty CPUs. */
export function normalizeOps(d: OpsParamDecl, cpus: OpLists): Op[][] {
  const seen = new Set<string>();
  const out: Op[][] = [];
  for (const ops of cpus) {
    const kept = ops.filter((o) => {
      if (d.ops[o.op]?.oncePerObject === undefined) return true;
      const k = `${o.op}(${o.arg})`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    if (kept.length > 0) out.push(kept);
  }
  return out;
}

/** A parameter's value as printed: `name=value`, quoting operation lists. */
export function paramText(name: string, v: ParamValue): string {
  return typeof v === "number" ? `${name}=${v}` : `${name}='${v}'`;
}

/** Every parameter, `a=1 b='x(F1)'`, or "(no parameters)". */
export function paramsText(p: ParamValues): string {
  const e = Object.entries(p);
  return e.length ? e.map(([k, v]) => paramText(k, v)).join(" ") : "(no parameters)";
}
