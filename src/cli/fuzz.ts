// interleave fuzz MODEL [--variant V] [--strategy mix|random|pct|preempt|pos] [--runs N] [--depth D]
//                       [--seed S] [--param k=v] [--json] ...
// Randomized runs of a model (see src/fuzz/). MODEL is a model file, a folder, or a model's name
// (looked up under models/). Exit codes as `check`: 0 no violation found (not a proof),
// 1 a violation was found, 2 usage or model error.

import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { UsageError } from "./errors.ts";
import { parseParams } from "./params.ts";
import { loadModels, type LoadedModel } from "./load.ts";
import type { FuzzResult } from "../fuzz/fuzz.ts";
import { fuzzParallel } from "../fuzz/parallel.ts";
import { formatFailure } from "../fuzz/report.ts";
import { STRATEGY_NAMES } from "../fuzz/strategies.ts";
import { compileModel, resolveParams } from "../model/model.ts";
import { availableParallelism } from "node:os";
import { reportSaveErrors } from "./save-report.ts";
import {
  EXIT_INCOMPLETE,
  EXIT_OK,
  EXIT_USAGE,
  EXIT_VIOLATION,
  installInterrupt,
  sameNames,
} from "./main.ts";
import { exportTraces, noLockOrder, parseFormat } from "./formats.ts";

export const FUZZ_HELP = `  interleave fuzz MODEL         randomized runs with shrinking (MODEL: file, folder or model name)
      --variant V               only this variant (default: each)
      --strategy mix|random|pct|preempt|pos   schedule strategy (default mix: each run is
                                scheduled by one of random, pct d=2, d=3, d=5, preempt k=2
                                and pos, in a fixed layout written in the run's seed)
      --runs N --depth D        runs per variant (default 1000), steps per run (default 500)
      --seed S                  session seed; a failure prints the seed that finds it on run 1
      --param k=v               hold a parameter fixed (the others vary: integers over min..max,
                                operation lists over their declared operations and bounds)
      --pct-depth d             PCT bug depth (default 3)   --preemptions k (default 2)
      --property P              count only violations of P   --max-seconds S  per variant
      --jobs N                  worker threads sharing the runs (default 1); the result is the
                                same as with one (the lowest failing run wins)
      --no-shrink --no-confirm  skip shrinking / the BFS check of the shrunk scenario
      --save DIR / --no-save    where counterexamples go (default counterexamples, in fuzz/)
      --json                    machine-readable results on stdout
      --format text|mermaid|itf the failures as text (default), or their traces as Mermaid or ITF`;

/** A session seed: an integer in the generator's range (0..2^31-1), or an error. */
function seedOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) > 0x7fffffff)
    throw new UsageError(
      "E_USAGE",
      `--seed ${v}: expected an integer from 0 to 2147483647 (the generator's seeds are 31-bit)`,
      "use the seed a report printed, or any integer in that range",
    );
  return Number(v);
}

/** `--property P` must be a property of one of the variants fuzzed, or nothing could fail. */
function checkProperty(
  models: readonly LoadedModel[],
  variant: string | undefined,
  p: string,
): void {
  const known = new Set<string>();
  for (const lm of models) {
    for (const v of Object.keys(lm.def.variants)) {
      if (variant !== undefined && v !== variant) continue;
      try {
        for (const q of compileModel(lm.def, v).properties) known.add(q.name);
      } catch {
        /* a variant that does not build reports itself when fuzzed */
      }
    }
  }
  known.add("deadlock");
  if (!known.has(p))
    throw new UsageError(
      "E_USAGE",
      `--property ${p}: no such property in ${models.map((m) => m.def.name).join(", ")}${variant ? ` / ${variant}` : ""}`,
      `its properties: ${[...known].sort().join(", ")}`,
    );
}

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError("E_USAGE", `${name} ${v}: expected an integer >= ${min}`);
  return n;
}

async function findModels(target: string): Promise<LoadedModel[]> {
  if (existsSync(target)) return loadModels([target], { typecheck: true });
  if (!existsSync("models")) {
    throw new UsageError(
      "E_NO_FILE",
      `${target}: no such file, and no models/ folder to look the name up in`,
      "give a model file (.ts)",
    );
  }
  const all = await loadModels(["models"], { typecheck: true });
  const hit = all.filter((m) => m.def.name === target);
  if (hit.length === 0) {
    throw new UsageError(
      "E_NO_MODEL",
      `${target}: neither a file nor the name of a model under models/`,
      `models: ${all.map((m) => m.def.name).join(", ")}`,
    );
  }
  return hit;
}

export async function runFuzz(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      variant: { type: "string" },
      strategy: { type: "string", default: "mix" },
      runs: { type: "string" },
      depth: { type: "string" },
      seed: { type: "string" },
      param: { type: "string", multiple: true },
      "pct-depth": { type: "string" },
      property: { type: "string" },
      "max-seconds": { type: "string" },
      jobs: { type: "string" },
      preemptions: { type: "string" },
      "no-shrink": { type: "boolean" },
      "no-confirm": { type: "boolean" },
      save: { type: "string", default: "counterexamples" },
      "no-save": { type: "boolean" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      format: { type: "string" },
    },
  });
  const format = parseFormat(values.format, values.json);
  if (format === "dot") throw noLockOrder();
  if (positionals.length !== 1) {
    throw new UsageError(
      "E_USAGE",
      "fuzz takes one MODEL (a model file, folder or model name)",
      "interleave fuzz models/classic/peterson.ts --strategy pct",
    );
  }
  const strategy = values.strategy!;
  if (!STRATEGY_NAMES.includes(strategy as never) || strategy === "replay") {
    throw new UsageError(
      "E_USAGE",
      `--strategy ${strategy}: expected mix, random, pct, preempt or pos`,
      "to replay a saved counterexample use `interleave replay FILE`",
    );
  }
  const runs = int("--runs", values.runs, 1) ?? 1000;
  const depth = int("--depth", values.depth, 1) ?? 500;
  const seed = seedOption(values.seed) ?? Math.floor(Math.random() * 0x7fffffff);
  const pctDepth = int("--pct-depth", values["pct-depth"], 1);
  const preemptions = int("--preemptions", values.preemptions, 0);
  if (pctDepth !== undefined && strategy !== "pct")
    throw new UsageError(
      "E_USAGE",
      `--pct-depth applies to --strategy pct, not ${strategy}`,
      strategy === "mix"
        ? "mix runs PCT at d=2, 3 and 5 among its arms; for one depth use --strategy pct --pct-depth d"
        : "add --strategy pct, or drop --pct-depth",
    );
  if (preemptions !== undefined && strategy !== "preempt")
    throw new UsageError(
      "E_USAGE",
      `--preemptions applies to --strategy preempt, not ${strategy}`,
      "add --strategy preempt, or drop --preemptions",
    );
  const params = parseParams(values.param);
  let jobs = int("--jobs", values.jobs, 1) ?? 1;
  const cores = availableParallelism();
  if (jobs > cores) {
    console.error(
      `interleave: warning: --jobs ${jobs} is more than the ${cores} core(s) of this machine: using ${cores} ` +
        `(more threads than cores only share the same cores, each with its own copy of the model)`,
    );
    jobs = cores;
  }
  const models = await findModels(positionals[0]!);
  sameNames(models);
  if (models.length === 0)
    throw new UsageError(
      "E_NO_MODEL",
      `no model found in ${positionals[0]}`,
      "a model file does `export default defineModel({ ... })`",
    );
  if (values.property !== undefined) checkProperty(models, values.variant, values.property);
  const json = values.json === true;
  const progress = !json && !values.quiet && process.stderr.isTTY === true;
  const results: FuzzResult[] = [];
  /** Variants an interrupt left out: listed as "not run". */
  const notRun: { model: string; variant: string }[] = [];
  const { signal, dispose } = installInterrupt();
  try {
    for (const lm of models) {
      if (values.variant !== undefined && !(values.variant in lm.def.variants)) {
        if (models.length === 1) resolveParams(lm.def, values.variant); // throws E_VARIANT naming the variants
        continue;
      }
      const variants =
        values.variant !== undefined ? [values.variant] : Object.keys(lm.def.variants);
      for (const v of variants) {
        if (signal.stop) {
          notRun.push({ model: lm.def.name, variant: v });
          continue;
        }
        let last = 0;
        let live = false;
        const r = await fuzzParallel(lm.def, {
          jobs,
          // in a worker even alone: a step that never returns can then be ended from here
          isolate: true,
          modelFile: lm.file,
          variant: v,
          strategy: strategy as "mix" | "random" | "pct" | "preempt" | "pos",
          runs,
          depth,
          seed,
          params,
          pctDepth,
          preemptions,
          property: values.property,
          maxSeconds: int("--max-seconds", values["max-seconds"], 1),
          shrink: !values["no-shrink"],
          confirm: !values["no-confirm"],
          saveTo: values["no-save"] ? undefined : values.save,
          file: lm.file,
          signal,
          onProgress: progress
            ? (p) => {
                const now = performance.now();
                if (now - last < 200) return;
                last = now;
                live = true;
                process.stderr.write(
                  `\r${lm.def.name}/${v}: run ${p.run}/${p.runs}  ${p.steps} steps  ${p.seconds.toFixed(1)}s\x1b[K`,
                );
              }
            : undefined,
        });
        if (live) process.stderr.write("\r\x1b[K");
        results.push(r);
        if (!json && format === "text") {
          console.log(`${formatFailure(r)}\n`);
          if (r.stuck) console.log(`${r.model} / ${r.variant}: incomplete: ${r.stuck}.\n`);
        }
      }
    }
  } finally {
    dispose();
  }
  const stopped = results.filter((r) => r.stopped !== undefined && !r.counterexample && !r.error);
  // every run cut at the depth bound: nothing was run to its end, as `check` at its depth bound
  const cut = results.filter(
    (r) => !r.counterexample && !r.error && r.runs > 0 && r.cutAtDepth === r.runs,
  );
  if (json)
    console.log(
      JSON.stringify(
        {
          results: [
            ...results.map((r) => ({
              ...resultJson(r),
              ...(cut.includes(r) ? { verdict: "incomplete" } : {}),
            })),
            ...notRun.map((n) => ({ ...n, verdict: "not run", stopped: "interrupted" })),
          ],
        },
        null,
        2,
      ),
    );
  else if (format !== "text") {
    const items = results.flatMap((r) => {
      const cx = r.counterexample;
      if (!cx || r.error) return [];
      return [{ ...cx, schedule: (cx.shortest ?? cx.shrunk).moves }];
    });
    if (items.length) console.log(exportTraces(format, items));
    for (const r of results) if (r.error) console.error(formatFailure(r));
  } else {
    for (const r of cut)
      console.log(
        `${r.model} / ${r.variant}: incomplete: all ${r.runs} runs were cut at --depth ${r.depth} ` +
          `before the model finished; raise --depth\n`,
      );
    for (const n of notRun) console.log(`${n.model} / ${n.variant}: not run (interrupted)\n`);
    const bad = results.filter((r) => r.counterexample && !r.error).length;
    const failed = results.filter((r) => r.error).length;
    const found = [
      ...(bad ? [`${bad} with a violation`] : []),
      ...(failed ? [`${failed} with an error (above)`] : []),
      ...(cut.length ? [`${cut.length} incomplete (every run cut at the depth bound)`] : []),
      ...(notRun.length ? [`${notRun.length} not run (interrupted)`] : []),
    ];
    console.log(
      `${results.length} variant(s) fuzzed, ${runs} ${strategy} runs each (seed ${seed}): ` +
        (found.length ? found.join(", ") : "no violation found") +
        (results.some((r) => !r.counterexample && !r.error)
          ? ". Finding nothing in N random runs is not a proof: `interleave check` explores every interleaving."
          : ".") +
        (stopped.length
          ? ` Stopped early (${stopped.map((r) => `${r.model}/${r.variant} after ${r.runs} of ${r.runsRequested} runs: ${r.stopped}`).join("; ")}).`
          : ""),
    );
  }
  reportSaveErrors(results.flatMap((r) => r.counterexample?.saveError ?? []));
  if (results.some((r) => r.error)) return EXIT_USAGE;
  if (results.some((r) => r.counterexample)) return EXIT_VIOLATION;
  if (stopped.length > 0 || cut.length > 0 || notRun.length > 0 || signal.stop)
    return EXIT_INCOMPLETE;
  return EXIT_OK;
}

function resultJson(r: FuzzResult): Record<string, unknown> {
  const cx = r.counterexample;
  return {
    model: r.model,
    variant: r.variant,
    strategy: r.strategy,
    strategyArgs: r.strategyArgs,
    seed: r.seed,
    runs: r.runs,
    runsRequested: r.runsRequested,
    stopped: r.stopped ?? null,
    stuck: r.stuck ?? null,
    depth: r.depth,
    steps: r.steps,
    cutAtDepth: r.cutAtDepth,
    seconds: Number(r.seconds.toFixed(3)),
    verdict: r.error ? "error" : cx ? "violated" : "none found (not a proof)",
    error: r.error ?? null,
    counterexample: cx
      ? {
          property: cx.property,
          kind: cx.kind,
          severity: cx.severity ?? null,
          message: cx.message,
          seed: cx.seed,
          run: cx.run,
          arm: cx.arm ?? null,
          found: { params: cx.found.params, length: cx.found.length, switches: cx.found.switches },
          shrunk: {
            params: cx.shrunk.params,
            length: cx.shrunk.length,
            switches: cx.shrunk.switches,
          },
          shortest: cx.shortest
            ? { length: cx.shortest.length, switches: cx.shortest.switches }
            : null,
          bfs: cx.bfs ?? null,
          file: cx.file ?? null,
        }
      : null,
  };
}
