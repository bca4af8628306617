// interleave: the command line.
//   interleave check [PATHS...] [--variant V] [--param k=v] [--strategy bfs|dfs] [--max-states N]
//                    [--max-seconds S] [--max-depth D] [--max-memory MB] [--json] [--expect] ...
//   interleave replay FILE
//   interleave list [PATHS...]
// Exit codes: 0 every property holds, 1 a violation was found, 2 usage or model error,
// 3 incomplete (a bound was reached).

import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "./errors.ts";
import { paramDeclText, paramsJson, parseParams } from "./params.ts";
import { columns } from "./columns.ts";
import { loadModels, loadFile, type LoadedModel } from "./load.ts";
import { checkVariant, explain, propertyStatuses, type Checked } from "../check.ts";
import { compileModel, modelFrame, resolveParams } from "../model/model.ts";
import { ModelError } from "../rt/mem.ts";
import { SchemaError } from "../model/schema.ts";
import { CompileError } from "../model/compile.ts";
import { readCounterexample } from "../trace/counterexample.ts";
import { parseSchedule } from "../trace/schedule.ts";
import { lockOrderOutcome, replay } from "../trace/replay.ts";
import { diagram, DISPLAY_STEPS, streamDiagram } from "../trace/diagram.ts";
import type { CheckResult, Progress, ViolationKind } from "../explore/result.ts";
import { match } from "ts-pattern";
import { runDiff } from "./diff.ts";
import { reportSaveErrors } from "./save-report.ts";
import { searchWorker } from "../isolate/isolate.ts";
import { defaultWorkers, ExplorePool, workerHeapMb } from "../explore/parallel.ts";
import { DEFAULT_MAX_MEMORY } from "../explore/explorer.ts";
import { runFuzz, FUZZ_HELP } from "./fuzz.ts";
import { runReport, REPORT_HELP, groupByModel, writeReport } from "./report.ts";
import {
  exportLockOrders,
  exportTraces,
  FORMAT_HELP,
  lockOrderEdges,
  noLockOrder,
  parseFormat,
  type OutputFormat,
} from "./formats.ts";
import type { LockOrderEdge } from "../trace/dot.ts";

export const EXIT_OK = 0;
export const EXIT_VIOLATION = 1;
export const EXIT_USAGE = 2;
export const EXIT_INCOMPLETE = 3;
/** replay: the counterexample no longer shows (distinct from a malformed file, which is 2). */
export const EXIT_NOT_REPRODUCED = 4;

const HELP = `interleave — a model checker for kernel-style concurrency races

usage:
  interleave check [PATHS...]   explore every interleaving of the models (default path: models)
      --variant V               only this variant
      --param k=v               set a model parameter (repeatable): an integer, or for a list
                                of operations the CPUs separated by ";" and each CPU's
                                operations by ",", e.g. --param third_parties='folio_put(F2);migrate(F1)'
      --strategy bfs|dfs        search order (bfs: shortest counterexamples; dfs: less memory)
      --max-states N --max-depth D --max-seconds S --max-memory MB
                                bounds: reaching one ends the run as "incomplete"
      --stop-first              stop at the first violation
      --workers N               search with N worker threads sharing the visited set
                                (default: the number of cores; 1: one thread); same states,
                                verdicts and counterexamples as one thread (BFS only)
      --fingerprint             store 64-bit fingerprints instead of states (about 16 bytes a
                                state); prints the probability that a collision hid a state
      --no-races                skip the data-race check
      --no-liveness             skip the liveness check (termination under weak fairness,
                                eventually, leadsTo): no edge of the state graph is kept
      --no-symmetry             search without the symmetry reduction a model declares with
                                alike() (on by default; off anyway while liveness is checked)
      --no-reduce               no partial-order reduction (on by default when the liveness
                                check is off): the shortest traces, every state stored
      --expect                  exit 0 exactly when every verdict is the one the model declares
      --save DIR                where counterexamples go (default: counterexamples)
      --no-save                 do not save counterexamples
      --show / --no-show        print each counterexample's diagram (default: when one model)
      --json                    machine-readable results on stdout
      --html FILE               also write the HTML report of the variants checked
${FORMAT_HELP}
      --quiet                   no progress line
      --no-typecheck            load the model files without type-checking them first
                                (INTERLEAVE_NO_TYPECHECK=1 does the same for every command)
  interleave diff MODEL         properties x variants of one model: every property it declares,
                                holds / violated (trace length) / incomplete / off, and for each
                                property one variant breaks and another keeps, the shortest
                                counterexample
      --variants a,b            only these variants (default: all)
      --param k=v --max-states N --max-seconds S --save DIR --no-save --no-liveness
      --no-reduce --json        as for check
      --all-traces              print the counterexample of every breaking variant
      --expect                  exit 0 exactly when every variant's verdict is the declared one
                                (default: 1 when any variant violates a property, else 3 when a
                                run is incomplete, else 0)
  interleave replay FILE...     re-run saved counterexamples and print their diagrams
      --variant V               on this variant instead of the recorded one (a fix)
      --full                    print a long trace whole (default: first and last steps)
      --format text|mermaid|itf|dot   the diagram, the trace as Mermaid or ITF, or (for a
                                lock-order counterexample) the lock cycle in dot (see check)
      --json --no-changes
${FUZZ_HELP}
${REPORT_HELP}
  interleave list [PATHS...]    models, variants, parameters and properties

exit codes: 0 holds, 1 violation found, 2 usage or model error, 3 incomplete,
4 replay: not reproduced`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && (rest.includes("--help") || rest.includes("-h"))) {
    console.log(HELP);
    return EXIT_OK;
  }
  try {
    switch (cmd) {
      case "check":
        return await cmdCheck(rest);
      case "replay":
        return await cmdReplay(rest);
      case "list":
        return await cmdList(rest);
      case "diff":
        return await runDiff(rest);
      case "fuzz":
        return await runFuzz(rest);
      case "report":
        return await runReport(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(HELP);
        return cmd === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        throw new UsageError(
          "E_USAGE",
          `unknown command "${cmd}"`,
          "commands: check, diff, fuzz, replay, report, list (see --help)",
        );
    }
  } catch (e) {
    return reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (e instanceof UsageError || e instanceof ModelError) {
    console.error(`interleave: error ${e.code}: ${e.message}`);
    if (e.hint) console.error(`  hint: ${e.hint}`);
    if (e instanceof UsageError && e.detail && process.env.INTERLEAVE_DEBUG)
      console.error(e.detail);
    return EXIT_USAGE;
  }
  if (e instanceof SchemaError || e instanceof CompileError) {
    console.error(`interleave: error E_MODEL: ${e.message}`);
    return EXIT_USAGE;
  }
  if (
    e instanceof TypeError &&
    /parseArgs|Unknown option|unexpected argument/i.test(
      `${e.message} ${(e as { code?: string }).code ?? ""}`,
    )
  ) {
    console.error(`interleave: error E_USAGE: ${e.message}`);
    console.error("  hint: see interleave --help");
    return EXIT_USAGE;
  }
  const err = e as { code?: string; message?: string; stack?: string };
  if (typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS")) {
    console.error(`interleave: error E_USAGE: ${err.message}`);
    console.error("  hint: see interleave --help");
    return EXIT_USAGE;
  }
  console.error(`interleave: internal error: ${err.message ?? String(e)}`);
  if (err.stack) console.error(err.stack);
  return EXIT_USAGE;
}

/** Two models of one name would save to one path and show as identical rows: an error. */
export function sameNames(models: readonly LoadedModel[]): void {
  const seen = new Map<string, LoadedModel>();
  for (const lm of models) {
    const other = seen.get(lm.def.name);
    if (other && other.def !== lm.def) {
      throw new UsageError(
        "E_MODEL",
        `two models are named "${lm.def.name}": in ${other.file} and in ${lm.file}; their rows ` +
          `would look the same and their counterexamples would overwrite each other`,
        "give one of them another name (defineModel({ name }))",
      );
    }
    seen.set(lm.def.name, lm);
  }
}

export function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError("E_USAGE", `${name} ${v}: expected a positive number`);
  return n;
}

function human(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function progressLine(p: Progress): string {
  return (
    `  states ${human(p.states)} (${human(Math.round(p.statesPerSecond))}/s)  depth ${p.depth}  ` +
    `frontier ${human(p.frontier)}  mem ${(p.memoryBytes / 2 ** 20).toFixed(0)} MB  ${p.seconds.toFixed(0)}s`
  );
}

/**
 * Ctrl-C: the first ends the run cleanly ("incomplete"), a second one exits at once. After the
 * first, the handler is removed, so that the second one is the default action (the process ends
 * with SIGINT) even while the main thread is busy writing a long report.
 */
export function installInterrupt(): { signal: { stop: boolean }; dispose: () => void } {
  const signal = { stop: false };
  const onInt = (): void => {
    if (signal.stop) process.exit(130);
    signal.stop = true;
    process.off("SIGINT", onInt);
    // on a terminal, replace the progress line rather than leaving it half-written
    process.stderr.write(
      `${process.stderr.isTTY ? "\r\x1b[K" : "\n"}interleave: interrupted; finishing the report (Ctrl-C again to quit)\n`,
    );
  };
  process.on("SIGINT", onInt);
  return { signal, dispose: () => process.off("SIGINT", onInt) };
}

async function cmdCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      variant: { type: "string" },
      param: { type: "string", multiple: true },
      strategy: { type: "string", default: "bfs" },
      "max-states": { type: "string" },
      "max-depth": { type: "string" },
      "max-seconds": { type: "string" },
      "max-memory": { type: "string" },
      "stop-first": { type: "boolean" },
      workers: { type: "string" },
      "no-races": { type: "boolean" },
      "no-liveness": { type: "boolean" },
      "no-reduce": { type: "boolean" },
      fingerprint: { type: "boolean" },
      "no-symmetry": { type: "boolean" },
      expect: { type: "boolean" },
      save: { type: "string", default: "counterexamples" },
      "no-save": { type: "boolean" },
      show: { type: "boolean" },
      "no-show": { type: "boolean" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      html: { type: "string" },
      format: { type: "string" },
      "no-typecheck": { type: "boolean" },
    },
  });
  const format = parseFormat(values.format, values.json);
  if (values.strategy !== "bfs" && values.strategy !== "dfs") {
    throw new UsageError("E_USAGE", `--strategy ${values.strategy}: expected bfs or dfs`);
  }
  const paths = positionals.length > 0 ? positionals : ["models"];
  const models = await loadModels(paths, { typecheck: values["no-typecheck"] !== true });
  if (models.length === 0)
    throw new UsageError(
      "E_NO_MODEL",
      `no model found in ${paths.join(", ")}`,
      "a model file does `export default defineModel({ ... })`",
    );
  sameNames(models);
  const params = parseParams(values.param);
  // over several models, a parameter goes to the models that declare it (and must exist in one)
  if (models.length > 1) {
    for (const k of Object.keys(params)) {
      if (!models.some((lm) => k in lm.def.params)) {
        throw new UsageError(
          "E_PARAM",
          `no model in ${paths.join(", ")} has a parameter "${k}"`,
          "see the parameters with `interleave list`",
        );
      }
    }
  }
  const paramsOf = (lm: LoadedModel): Record<string, number | string> =>
    models.length > 1
      ? Object.fromEntries(Object.entries(params).filter(([k]) => k in lm.def.params))
      : params;
  const show = values["no-show"] ? false : (values.show ?? models.length === 1);
  const json = values.json === true;
  const progress = !json && !values.quiet && process.stderr.isTTY === true;
  const bounds = {
    maxStates: positiveInt("--max-states", values["max-states"]),
    maxDepth: positiveInt("--max-depth", values["max-depth"]),
    maxSeconds: positiveInt("--max-seconds", values["max-seconds"]),
    maxMemory:
      values["max-memory"] !== undefined
        ? positiveInt("--max-memory", values["max-memory"])! * 2 ** 20
        : undefined,
  };
  if (values.variant !== undefined && !models.some((lm) => values.variant! in lm.def.variants)) {
    if (models.length === 1) resolveParams(models[0]!.def, values.variant);
    throw new UsageError(
      "E_VARIANT",
      `no model in ${paths.join(", ")} has a variant "${values.variant}"`,
      "see the variants with `interleave list`",
    );
  }
  const workersGiven = positiveInt("--workers", values.workers);
  const workers = workersGiven ?? defaultWorkers();
  let pool: ExplorePool | undefined;
  const { signal, dispose } = installInterrupt();
  const worker = searchWorker();
  const checked: { lm: LoadedModel; c: Checked }[] = [];
  /** Variants an interrupt left out: listed as "not run". */
  const notRun: { lm: LoadedModel; variant: string }[] = [];
  const errors: string[] = [];
  /** Variants that could not even be built (the other models are still checked). */
  const failed: { lm: LoadedModel; variant: string; error: ModelError }[] = [];
  try {
    for (const lm of models) {
      if (values.variant !== undefined && !(values.variant in lm.def.variants)) continue;
      const variants =
        values.variant !== undefined ? [values.variant] : Object.keys(lm.def.variants);
      for (const v of variants) {
        if (signal.stop) {
          notRun.push({ lm, variant: v });
          continue;
        }
        for (const [k, val] of Object.entries(paramsOf(lm))) {
          const own = lm.def.variants[v]?.params?.[k];
          if (own !== undefined && own !== val && !json) {
            console.error(
              `interleave: note: --param ${k}=${val} overrides ${lm.def.name}/${v}'s own ${k}=${own}; ` +
                `the result is not the variant as declared`,
            );
          }
        }
        let live = false;
        let c: Checked;
        try {
          c = await checkVariant(lm.def, v, {
            params: paramsOf(lm),
            strategy: values.strategy,
            ...bounds,
            stopAtFirst: values["stop-first"],
            fingerprint: values.fingerprint,
            ...(values["no-symmetry"] ? { symmetry: false } : {}),
            races: values["no-races"] ? false : undefined,
            liveness: values["no-liveness"] ? false : undefined,
            reduce: values["no-reduce"] ? false : undefined,
            saveTo: values["no-save"] ? undefined : values.save,
            file: lm.file,
            signal,
            worker,
            workers,
            pool:
              workers > 1
                ? (pool ??= new ExplorePool(
                    workers,
                    workerHeapMb(bounds.maxMemory ?? DEFAULT_MAX_MEMORY),
                  ))
                : undefined,
            onProgress: progress
              ? (p) => {
                  live = true;
                  process.stderr.write(`\r${lm.def.name}/${v}${progressLine(p)}\x1b[K`);
                }
              : undefined,
          });
        } catch (e) {
          // a parameter or variant the model does not have is a usage error of the whole run
          if (!(e instanceof ModelError) || e.code === "E_PARAM" || e.code === "E_VARIANT") throw e;
          failed.push({ lm, variant: v, error: e });
          continue;
        } finally {
          if (live) process.stderr.write("\r\x1b[K");
        }
        checked.push({ lm, c });
        if (workersGiven !== undefined && c.result.parallel?.note !== undefined && !json)
          console.error(
            `interleave: note: --workers ${workers}: ${lm.def.name}/${v}: ${c.result.parallel.note}`,
          );
        // a pool whose worker was ended (a step that did not return) serves no other variant
        if (pool?.isClosed) pool = undefined;
        if (c.result.error) errors.push(formatModelError(lm, c));
      }
    }
  } finally {
    dispose();
    await pool?.close();
  }
  if (values.html !== undefined) {
    const n = writeReport(values.html, groupByModel(checked), `interleave check ${args.join(" ")}`);
    if (!json)
      console.error(`report: ${n.traces} counterexample diagram(s) written to ${values.html}`);
  }
  for (const f of failed) {
    errors.push(
      `${f.lm.file}: model error ${f.error.code} in ${f.lm.def.name}/${f.variant}: ${f.error.message}` +
        (f.error.hint ? `\n  hint: ${f.error.hint}` : "") +
        (process.env.INTERLEAVE_DEBUG && f.error.stack ? `\n${f.error.stack}` : ""),
    );
  }
  if (json) {
    const results = [
      ...checked.map(({ c }) => resultJson(c)),
      ...failed.map((f) => failedJson(f.lm, f.variant, f.error)),
      ...notRun.map((n) => notRunJson(n.lm, n.variant)),
    ];
    console.log(JSON.stringify({ results }, null, 2));
  } else if (format === "dot") {
    const dot = exportLockOrders(
      checked.map(({ c }) => ({
        model: c.model.name,
        variant: c.model.variant,
        lockOrder: lockOrderEdges(
          c.model,
          c.result.violations,
          (c.result as { lockOrder?: readonly LockOrderEdge[] }).lockOrder,
        ),
      })),
    );
    if (dot === undefined) throw noLockOrder();
    console.log(dot);
  } else if (format !== "text") {
    const items = checked.flatMap(({ c }) =>
      c.result.violations.map((v) => ({ model: c.model, ...v, cycleStart: v.cycle })),
    );
    if (items.length) console.log(exportTraces(format, items));
    for (const e of errors) console.error(e);
  } else if (checked.length === 0 && failed.length > 0) {
    // nothing could be built: the error lines below say why, without an empty table
  } else {
    console.log(
      table(
        checked.map(({ c }) => c),
        notRun,
      ),
    );
    for (const e of errors) console.log(`\n${e}`);
    for (const { c } of checked) {
      const line = symmetryLine(c.result);
      if (line) console.log(`\n${c.model.name} / ${c.model.variant}: ${line}`);
    }
    for (const { c } of checked)
      if (c.result.stuck) console.log(`\n${c.model.name} / ${c.model.variant}: ${c.result.stuck}.`);
    if (show) {
      for (const { c } of checked) {
        for (const v of c.result.violations) {
          console.log(
            `\n${c.model.name} / ${c.model.variant}: ${v.property} (${lengthText(v)})${v.file ? ` saved to ${v.file}` : ""}\n`,
          );
          console.log(explain(c.model, v));
        }
      }
    }
    const judged = checked.filter(({ c }) => c.judgement);
    const bad = judged.filter(({ c }) => !c.judgement!.ok);
    console.log(
      `\n${checked.length} variant(s) checked; ${judged.length - bad.length} of ${judged.length} as declared` +
        (bad.length
          ? `; NOT as declared: ${bad.map(({ c }) => `${c.model.name}/${c.model.variant} (${c.judgement!.detail})`).join("; ")}`
          : "") +
        (failed.length
          ? `; ${failed.length} could not be built: ${failed.map((f) => `${f.lm.def.name}/${f.variant}`).join(", ")}`
          : "") +
        (notRun.length ? `; ${notRun.length} not run (interrupted)` : "") +
        (values.fingerprint
          ? fingerprintLine(checked.map(({ c }) => c.result))
          : ". States are stored in full: no hash collision can hide a state."),
    );
    const por = reductionLine(checked.map(({ c }) => c.result));
    if (por !== undefined) console.log(por);
  }
  reportSaveErrors(
    checked.flatMap(({ c }) => c.result.violations.flatMap((v) => v.saveError ?? [])),
  );
  if (failed.length > 0) {
    // also on stderr, in the one error format, so a script sees why the exit code is 2
    for (const f of failed) {
      console.error(`interleave: error ${f.error.code}: ${f.error.message}`);
      if (f.error.hint) console.error(`  hint: ${f.error.hint}`);
    }
    return EXIT_USAGE;
  }
  if (checked.some(({ c }) => c.result.verdict === "error")) return EXIT_USAGE;
  if (values.expect)
    return checked.every(({ c }) => c.judgement?.ok !== false) ? EXIT_OK : EXIT_VIOLATION;
  if (checked.some(({ c }) => c.result.verdict === "violated")) return EXIT_VIOLATION;
  if (checked.some(({ c }) => c.result.verdict === "incomplete") || notRun.length > 0)
    return EXIT_INCOMPLETE;
  return EXIT_OK;
}

/** "6 steps", or for a lasso "2 steps, then a 4-step cycle repeated forever". */
function lengthText(v: { length: number; cycle?: number }): string {
  if (v.cycle === undefined) return `${v.length} steps`;
  return `${v.cycle} step${v.cycle === 1 ? "" : "s"}, then a ${v.length - v.cycle}-step cycle repeated forever`;
}

function formatModelError(lm: LoadedModel, c: Checked): string {
  const e = c.result.error!;
  const lines = [
    `${lm.file}: model error ${e.code} in ${c.model.name}/${c.model.variant}: ${e.message}`,
  ];
  if (e.where) lines.push(`  in ${e.where}`);
  const thrownAt = e.stack ? modelFrame(e.stack) : undefined;
  if (thrownAt) lines.push(`  thrown at ${thrownAt}`);
  if (e.code === "E_STEP") {
    // the stack is only printed on request: say how to get it
    lines.push(`  hint: ${STEP_HINT}`);
  } else if (e.hint) lines.push(`  hint: ${e.hint}`);
  if (e.schedule.length > 0) {
    // a failed step is not replayed (it throws again); an invariant's state is reached in full
    const rep = replay(c.model, e.stepFailed === false ? e.schedule : e.schedule.slice(0, -1));
    lines.push(
      "  the trace that led to it:",
      ...diagram(c.model, rep.steps, undefined)
        .split("\n")
        .map((l) => `    ${l}`),
    );
  }
  if (e.stack && process.env.INTERLEAVE_DEBUG) lines.push(e.stack);
  return lines.join("\n");
}

function failedJson(lm: LoadedModel, variant: string, e: ModelError): Record<string, unknown> {
  return {
    model: lm.def.name,
    variant,
    params: null,
    verdict: "error",
    expected: { ok: false, detail: `model error: ${e.message}` },
    complete: false,
    stopReason: null,
    states: 0,
    transitions: 0,
    seconds: 0,
    violations: [],
    error: { code: e.code, message: e.message, where: lm.file, hint: e.hint ?? null },
  };
}

/**
 * What a run did with the symmetry its model declares: "symmetry reduction used over ..." (each
 * state stands for up to n! states), or why not; undefined when the model declares none.
 */
export function symmetryLine(r: CheckResult): string | undefined {
  const s = r.symmetry;
  if (!s) return undefined;
  const sets = s.sets.join("; ");
  return s.used
    ? `symmetry reduction used over ${sets}: each state stored stands for its permutations of them; counterexamples are mapped back to the model's own CPUs and objects`
    : `symmetry reduction over ${sets} ${s.note ?? "off"}`;
}

/** The explorer's hint for a throwing step talks of a stack the CLI only prints on request. */
const STEP_HINT =
  "a step of the model threw (a bug in its code); set INTERLEAVE_DEBUG=1 to see the stack";

/**
 * What partial-order reduction did over a check (undefined when it was turned off): how many
 * states it expanded with one CPU-local step, that a BFS trace may then be longer than the
 * shortest, and for how many variants it was off because the liveness check ran.
 */
export function reductionLine(results: readonly CheckResult[]): string | undefined {
  const on = results.filter((r) => r.reduction?.on === true);
  const reduced = on.reduce((n, r) => n + (r.reduction?.reducedStates ?? 0), 0);
  const states = on.reduce((n, r) => n + r.states, 0);
  const offLiveness = results.filter((r) => r.reduction?.on === false && r.liveness).length;
  const redone = results.filter(
    (r) => r.reduction?.on === false && !r.liveness && /unreduced/.test(r.reduction.why ?? ""),
  ).length;
  const parts: string[] = [];
  if (reduced > 0)
    parts.push(
      `Partial-order reduction: ${reduced} of ${states} states expanded with one CPU-local step; ` +
        `a trace may be longer than the shortest (--no-reduce gives the shortest)`,
    );
  if (offLiveness > 0)
    parts.push(
      `Partial-order reduction off for ${offLiveness === results.length ? "every variant" : `${offLiveness} variant(s)`}: ` +
        `the liveness check needs every edge of the state graph (--no-liveness to reduce)`,
    );
  if (redone > 0)
    parts.push(
      `${redone} variant(s) searched unreduced: an invariant reads CPU locals or program counters`,
    );
  return parts.length > 0 ? `${parts.join(". ")}.` : undefined;
}

/**
 * The sentence that ends a fingerprint-mode run: how likely it is that a fingerprint collision hid
 * a state, over every variant checked (the largest probability).
 */
export function fingerprintLine(results: readonly CheckResult[]): string {
  const fps = results.flatMap((r) => (r.fingerprint ? [r.fingerprint] : []));
  const worst = Math.max(0, ...fps.map((f) => f.collisionProbability));
  const opt = Math.max(0, ...fps.map((f) => f.optimistic));
  const p = (x: number): string => (x === 0 ? "0" : x.toExponential(1));
  return (
    `. Fingerprint mode: the probability that a 64-bit fingerprint collision hid a state is at most ` +
    `${p(worst)} per variant (n(n-1)/2^65 for n states; TLC's optimistic estimate d(g-d)/2^64: ${p(opt)}); ` +
    `check without --fingerprint to be certain.`
  );
}

export function resultJson(c: Checked): Record<string, unknown> {
  const r = c.result;
  return {
    model: r.model,
    variant: r.variant,
    params: r.params,
    verdict: r.verdict,
    expected: c.judgement ? { ok: c.judgement.ok, detail: c.judgement.detail } : null,
    complete: r.complete,
    stopReason: r.stopReason ?? null,
    states: r.states,
    transitions: r.transitions,
    seconds: Number(r.seconds.toFixed(3)),
    maxDepth: r.maxDepth,
    memoryBytes: r.memoryBytes,
    bytesPerState: r.states ? Math.round(r.memoryBytes / r.states) : 0,
    fingerprint: r.fingerprint ?? null,
    symmetry: r.symmetry ?? null,
    reduction: r.reduction ?? null,
    violations: r.violations.map((v) => ({
      property: v.property,
      kind: v.kind,
      severity: v.severity ?? null,
      length: v.length,
      file: v.file ?? null,
      message: v.message,
      // liveness lassos: the index of the move where the cycle starts (null: no cycle)
      cycle: v.cycle ?? null,
      // why the file is missing: its save failed, or the trace was too long for the budget
      ...(v.saveError ? { saveError: `${v.saveError.path}: ${v.saveError.message}` } : {}),
      ...(v.traceOmitted ? { traceOmitted: v.traceOmitted } : {}),
    })),
    // every property of the variant: holds, violated (with length), incomplete, off, error
    properties: propertyStatuses(c).map((p) => ({
      name: p.name,
      kind: p.kind,
      severity: p.severity ?? null,
      status: p.status,
      length: p.length ?? null,
    })),
    error: r.error
      ? {
          code: r.error.code,
          message: r.error.message,
          where: r.error.where,
          hint: r.error.code === "E_STEP" ? STEP_HINT : (r.error.hint ?? null),
        }
      : null,
  };
}

function notRunJson(lm: LoadedModel, variant: string): Record<string, unknown> {
  return {
    model: lm.def.name,
    variant,
    params: null,
    verdict: "not run",
    expected: null,
    complete: false,
    stopReason: "interrupted",
    states: 0,
    transitions: 0,
    seconds: 0,
    violations: [],
    error: null,
  };
}

export function table(
  cs: readonly Checked[],
  notRun: readonly { lm: LoadedModel; variant: string }[] = [],
): string {
  const rows = [
    [
      "model",
      "variant",
      "verdict",
      "declared",
      "states",
      "transitions",
      "seconds",
      "violations (trace length)",
    ],
  ];
  for (const c of cs) {
    const r = c.result;
    rows.push([
      r.model,
      r.variant,
      verdictText(r),
      c.judgement ? (c.judgement.ok ? "ok" : "NOT AS DECLARED") : "-",
      String(r.states),
      String(r.transitions),
      r.seconds.toFixed(2),
      r.violations.map((v) => `${v.property} (${v.length})`).join(", ") ||
        (r.stopReason
          ? `stopped: ${r.stopReason}${r.stuck ? " (a step did not return)" : ""}`
          : "-"),
    ]);
  }
  for (const n of notRun)
    rows.push([n.lm.def.name, n.variant, "not run", "-", "-", "-", "-", "interrupted before it"]);
  return columns(rows);
}

/** A verdict for the table: a violation found by a run that a bound stopped is "partial". */
export function verdictText(r: Pick<CheckResult, "verdict" | "complete">): string {
  return match(r.verdict)
    .with("violated", () => (r.complete ? "violated" : "violated (partial)"))
    .with("holds", "incomplete", "error", (v) => v)
    .exhaustive();
}

const LIST_GROUPS = ["invariants", "end state", "assertions", "explorer", "liveness"] as const;

/** The `list` group of a property kind (exhaustive: a new kind must be given its group). */
export function listGroup(kind: ViolationKind): (typeof LIST_GROUPS)[number] {
  return match(kind)
    .with("invariant", () => "invariants" as const)
    .with("end-state", () => "end state" as const)
    .with("assertion", () => "assertions" as const)
    .with("deadlock", "data-race", "lock-order", () => "explorer" as const)
    .with("liveness", () => "liveness" as const)
    .exhaustive();
}

function findRoot(from: string): string | undefined {
  let d = resolve(from);
  for (;;) {
    if (existsSync(join(d, "package.json"))) return d;
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

async function cmdReplay(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "no-changes": { type: "boolean" },
      json: { type: "boolean" },
      variant: { type: "string" },
      full: { type: "boolean" },
      format: { type: "string" },
    },
  });
  const format = parseFormat(values.format, values.json);
  if (positionals.length === 0)
    throw new UsageError(
      "E_USAGE",
      "replay takes one or more counterexample files",
      "interleave replay counterexamples/MODEL/VARIANT/PROPERTY.json [--variant FIXED]",
    );
  const outs: ReplayOutcome[] = [];
  let failed = 0;
  for (const file of positionals) {
    try {
      outs.push(await replayFile(file, values, format));
    } catch (e) {
      // a malformed file is reported and the others are still replayed
      if (positionals.length === 1) throw e;
      failed++;
      reportError(e);
    }
  }
  if (values.json) {
    const js = outs.map((o) => o.json);
    console.log(JSON.stringify(positionals.length === 1 ? js[0] : js, null, 2));
  }
  if (failed > 0) return EXIT_USAGE;
  if (outs.some((o) => o.reproduced)) return EXIT_VIOLATION;
  return EXIT_NOT_REPRODUCED;
}

interface ReplayOutcome {
  readonly reproduced: boolean;
  readonly json: Record<string, unknown>;
}

async function replayFile(
  file: string,
  values: { "no-changes"?: boolean; json?: boolean; variant?: string; full?: boolean },
  format: OutputFormat,
): Promise<ReplayOutcome> {
  const cx = readCounterexample(file);
  let modelPath = resolve(cx.model);
  if (!existsSync(modelPath)) {
    const root = findRoot(dirname(resolve(file)));
    if (root && existsSync(join(root, cx.model))) modelPath = join(root, cx.model);
  }
  if (!existsSync(modelPath)) {
    throw new UsageError(
      "E_NO_FILE",
      `${file}: its model file ${cx.model} does not exist`,
      'run replay from the repository root, or fix the file\'s "model" field',
    );
  }
  const defs = await loadFile(modelPath);
  const lm = defs.find((d) => d.def.name === cx.name) ?? (defs.length === 1 ? defs[0] : undefined);
  if (!lm)
    throw new UsageError("E_NOT_MODEL", `${file}: ${cx.model} has no model named ${cx.name}`);
  const variant = values.variant ?? cx.variant;
  if (!(variant in lm.def.variants))
    throw new UsageError(
      "E_VARIANT",
      `${file}: model ${lm.def.name} has no variant "${variant}"`,
      `its variants are: ${Object.keys(lm.def.variants).join(", ")}`,
    );
  // on another variant, the file's parameters apply where that variant does not set its own
  const own = lm.def.variants[variant]!.params ?? {};
  const params =
    variant === cx.variant
      ? cx.params
      : Object.fromEntries(
          Object.entries(cx.params).filter(([k]) => k in lm.def.params && !(k in own)),
        );
  const model = compileModel(lm.def, variant, params);
  let schedule;
  try {
    schedule = parseSchedule(cx.schedule);
  } catch (e) {
    throw new UsageError("E_CX_FIELD", `${file}: field "schedule": ${(e as Error).message}`);
  }
  // a liveness counterexample: replay checks the cycle closes, is fair, and breaks the property
  const isLiveness = cx.kind === "liveness" || cx.cycle !== undefined;
  const lvOpts = isLiveness ? { liveness: { property: cx.property, cycle: cx.cycle } } : {};
  const on = variant === cx.variant ? cx.variant : `${variant} (recorded on ${cx.variant})`;
  // the trace is replayed step by step, and a long one shown abridged unless --full
  const abridge = values.full ? Infinity : DISPLAY_STEPS;
  let rep = replay(model, schedule, { ...lvOpts, onStep: () => {} });
  if (cx.paths) {
    // lock-order: the cycle shows only over every saved acquisition path together
    let paths;
    try {
      paths = cx.paths.map((p) => parseSchedule(p.schedule));
    } catch (e) {
      throw new UsageError("E_CX_FIELD", `${file}: field "paths": ${(e as Error).message}`);
    }
    const lo = lockOrderOutcome(model, [...paths, schedule]);
    if (lo) rep = { ...rep, outcomes: [...rep.outcomes, lo] };
  }
  const hit = rep.outcomes.find((o) => o.property === cx.property);
  if (format === "dot") {
    // the lock-order cycle of a lock-order counterexample, from its acquisition paths
    const edges = lockOrderEdges(model, [
      { paths: (cx.paths ?? []).map((p) => ({ ...p, schedule: parseSchedule(p.schedule) })) },
    ]);
    if (edges.length === 0) throw noLockOrder();
    console.log(exportLockOrders([{ model: cx.name, variant: cx.variant, lockOrder: edges }]));
  } else if (format !== "text") {
    const shown = hit ?? rep.outcomes[0];
    if (shown)
      console.log(
        exportTraces(format, [
          {
            model,
            // the steps that could be followed (rep kept none: it was replayed step by step)
            schedule: schedule.slice(0, replay(model, schedule, lvOpts).steps.length),
            ...shown,
            kind: shown.kind,
            cycleStart: cx.cycle,
          },
        ]),
      );
  } else if (!values.json) {
    console.log(
      `${cx.name} / ${on} ${JSON.stringify(model.params)}: ${cx.property}, ${schedule.length} steps\n`,
    );
    if (schedule.length <= DISPLAY_STEPS) {
      console.log(
        diagram(model, replay(model, schedule).steps, hit ?? rep.outcomes[0], {
          changes: !values["no-changes"],
          ...(cx.cycle !== undefined ? { cycleStart: cx.cycle } : {}),
        }),
      );
    } else {
      // line by line: a second Ctrl-C (the default action: no handler here) ends it at once
      streamDiagram(model, schedule, hit ?? rep.outcomes[0], (l) => console.log(l), {
        changes: !values["no-changes"],
        abridge,
        omitted: "--full prints them",
      });
    }
  }
  const verdict = hit
    ? "reproduced"
    : rep.infeasible
      ? "no longer fits"
      : rep.outcomes.length
        ? "other violation"
        : "holds";
  const json = {
    file,
    variant,
    recordedVariant: cx.variant,
    reproduced: hit !== undefined,
    verdict,
    infeasible: rep.infeasible ?? null,
    outcomes: rep.outcomes,
    // a long trace's steps only with --full (the file holds them all)
    steps:
      values.full || schedule.length <= DISPLAY_STEPS ? replay(model, schedule, lvOpts).steps : [],
  };
  if (hit) {
    if (!values.json && format === "text") console.log(`\nreproduced: ${cx.property} on ${on}`);
    return { reproduced: true, json };
  }
  const why = rep.infeasible
    ? `the schedule no longer fits ${variant === cx.variant ? "the model" : `variant ${variant}`}: ${rep.infeasible}. ` +
      (variant === cx.variant
        ? "The model changed since this counterexample was saved; check it again to regenerate it."
        : "That variant runs different steps; the schedule says nothing about it either way: check it.")
    : rep.outcomes.length
      ? `the schedule still runs, and now ends in ${rep.outcomes.map((o) => o.property).join(", ")} instead.`
      : `the schedule still runs to its end and ${cx.property} holds on it: the fix works for this schedule ` +
        "(other schedules may still break it: `interleave check` explores them all).";
  console.error(`\n${file}: NOT reproduced on ${on}: ${why}`);
  return { reproduced: false, json };
}

async function cmdList(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  const models = await loadModels(positionals.length ? positionals : ["models"], {
    typecheck: true,
  });
  const out = models.map(({ def, file }) => {
    const variants = Object.entries(def.variants).map(([name, v]) => {
      let props: string[] = [];
      let kinds: Record<string, string> = {};
      let severities: Record<string, string> = {};
      let error: { code: string; message: string } | null = null;
      try {
        const m = compileModel(def, name);
        props = m.properties.map((p) => p.name);
        kinds = Object.fromEntries(m.properties.map((p) => [p.name, p.kind]));
        severities = Object.fromEntries(
          m.properties.flatMap((p) => (p.severity ? [[p.name, p.severity]] : [])),
        );
      } catch (e) {
        if (!(e instanceof ModelError)) throw e;
        error = { code: e.code, message: e.message };
      }
      return {
        name,
        doc: v.doc ?? "",
        expect: v.expect,
        params: v.params ?? {},
        properties: props,
        kinds,
        severities,
        error,
      };
    });
    return { name: def.name, file, doc: def.doc, params: def.params, variants };
  });
  // a variant that does not build is a model error: listed, and the exit code says so
  const status = out.some((m) => m.variants.some((v) => v.error)) ? EXIT_USAGE : EXIT_OK;
  if (values.json) {
    console.log(
      JSON.stringify(
        out.map((m) => ({ ...m, params: paramsJson(m.params) })),
        null,
        2,
      ),
    );
    return status;
  }
  for (const m of out) {
    console.log(`${m.name}  (${m.file})\n  ${m.doc}`);
    const ps = Object.entries(m.params);
    if (ps.length) console.log(`  params: ${ps.map(([k, d]) => paramDeclText(k, d)).join(", ")}`);
    for (const v of m.variants) {
      const exp = v.expect === "holds" ? "holds" : `violates ${v.expect.violated.join(", ")}`;
      console.log(`  - ${v.name}: expected ${exp}${v.doc ? ` — ${v.doc}` : ""}`);
      if (v.error) console.log(`      does not build: error ${v.error.code}: ${v.error.message}`);
      else {
        // each property with its severity (warn: the search goes on past it; bug: the path
        // ends), under the group of its kind
        const groups = new Map<ReturnType<typeof listGroup>, string[]>(
          LIST_GROUPS.map((g) => [g, []]),
        );
        for (const p of v.properties)
          groups
            .get(listGroup(v.kinds[p] as ViolationKind))!
            .push(v.severities[p] ? `${p} (${v.severities[p]})` : p);
        if (!v.properties.some((p) => v.kinds[p] === "data-race"))
          groups.get("explorer")!.push("(data-race off)");
        for (const [title, ps] of groups)
          if (ps.length) console.log(`      ${`${title}:`.padEnd(12)}${ps.join(", ")}`);
      }
    }
  }
  for (const m of out)
    for (const v of m.variants)
      if (v.error) console.error(`interleave: error ${v.error.code}: ${v.error.message}`);
  return status;
}
