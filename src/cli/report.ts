// interleave report MODEL... [--out report.html]: checks every variant of the models and writes
// one self-contained HTML page (src/report/html.ts) with the diff table of each model, the run
// figures and the swimlane diagram of every counterexample. `check --html FILE` writes the same
// page from the variants it checked.

import { parseArgs } from "node:util";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "./errors.ts";
import { parseParams } from "./params.ts";
import { loadModels, type LoadedModel } from "./load.ts";
import { checkVariant, type Checked } from "../check.ts";
import { cellText, diffTable } from "./diff.ts";
import { stopText } from "../check.ts";
import { readableOrder } from "../trace/reorder.ts";
import { traceDoc } from "../trace/document.ts";
import {
  anchor,
  reportHtml,
  type ReportModel,
  type ReportTrace,
  type ReportVariant,
} from "../report/html.ts";
import {
  EXIT_INCOMPLETE,
  EXIT_OK,
  EXIT_USAGE,
  EXIT_VIOLATION,
  installInterrupt,
  positiveInt,
} from "./main.ts";

export const REPORT_HELP = `  interleave report [PATHS...]  check every variant and write one self-contained HTML page:
                                per model the property x variant table (cells link to the
                                traces), run figures, and a swimlane diagram per counterexample
      --out FILE                where (default report.html)
      --variant V --param k=v --max-states N --max-seconds S --save DIR --no-save   as for check
      --expect                  exit 0 exactly when every verdict is the declared one`;

/** The page's data for one model's checked variants (in the order given). */
export function reportModel(lm: LoadedModel, runs: readonly Checked[]): ReportModel {
  const table = diffTable(runs);
  const traces: ReportTrace[] = [];
  const variants: ReportVariant[] = runs.map((c, i) => {
    const r = c.result;
    const traceIds: Record<string, string> = {};
    for (const v of r.violations) {
      const id = anchor("trace", lm.def.name, r.variant, v.property);
      traceIds[v.property] = id;
      // a liveness counterexample (a lasso) says where its repeating part starts
      const cycleStart = v.cycle;
      const order = readableOrder(c.model, v.schedule, v.property, cycleStart);
      const outcome = { property: v.property, kind: v.kind, message: v.message };
      const shown = traceDoc(c.model, order.moves, outcome, { cycleStart });
      const original =
        order.switches < order.originalSwitches
          ? traceDoc(c.model, v.schedule, outcome)
          : undefined;
      traces.push({
        id,
        shown,
        original,
        file: v.file,
        replay: v.file ? `npx interleave replay ${v.file}` : undefined,
      });
    }
    return {
      name: r.variant,
      verdict: r.verdict,
      asDeclared: c.judgement?.ok,
      declaredDetail: c.judgement?.detail,
      complete: r.complete,
      stopReason: r.stopReason ? stopText(r.stopReason) : undefined,
      states: r.states,
      transitions: r.transitions,
      seconds: r.seconds,
      memoryBytes: r.memoryBytes,
      params: r.params,
      cells: Object.fromEntries(
        table.props.map((p) => [p.name, cellText(table.cells[i]!.get(p.name))]),
      ),
      traceIds,
      error: r.error ? `model error ${r.error.code}: ${r.error.message}` : undefined,
    };
  });
  return {
    name: lm.def.name,
    doc: lm.def.doc,
    file: lm.file,
    properties: table.props,
    variants,
    traces,
  };
}

/** Writes the page atomically (a temporary file in the same folder, then a rename). */
export function writeReport(
  path: string,
  groups: readonly { lm: LoadedModel; runs: readonly Checked[] }[],
  command: string,
): { models: number; variants: number; traces: number } {
  const models = groups.map((g) => reportModel(g.lm, g.runs));
  const html = reportHtml({
    title: `interleave report: ${models.map((m) => m.name).join(", ")}`,
    generated: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command,
    models,
  });
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, html);
    renameSync(tmp, path);
  } catch (e) {
    throw new UsageError(
      "E_NO_FILE",
      `${path}: cannot write the report (${(e as Error).message})`,
      "give --out a path in a folder you can write to",
    );
  }
  return {
    models: models.length,
    variants: models.reduce((n, m) => n + m.variants.length, 0),
    traces: models.reduce((n, m) => n + m.traces.length, 0),
  };
}

/** Groups checked runs by model, in the order first seen. */
export function groupByModel(
  checked: readonly { lm: LoadedModel; c: Checked }[],
): { lm: LoadedModel; runs: Checked[] }[] {
  const out: { lm: LoadedModel; runs: Checked[] }[] = [];
  for (const { lm, c } of checked) {
    const g = out.find((x) => x.lm === lm);
    if (g) g.runs.push(c);
    else out.push({ lm, runs: [c] });
  }
  return out;
}

export async function runReport(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: "string", default: "report.html" },
      variant: { type: "string" },
      param: { type: "string", multiple: true },
      "max-states": { type: "string" },
      "max-seconds": { type: "string" },
      save: { type: "string", default: "counterexamples" },
      "no-save": { type: "boolean" },
      expect: { type: "boolean" },
      quiet: { type: "boolean" },
    },
  });
  const paths = positionals.length > 0 ? positionals : ["models"];
  const models = await loadModels(paths);
  if (models.length === 0)
    throw new UsageError(
      "E_NO_MODEL",
      `no model found in ${paths.join(", ")}`,
      "a model file does `export default defineModel({ ... })`",
    );
  if (values.variant !== undefined && !models.some((lm) => values.variant! in lm.def.variants))
    throw new UsageError(
      "E_VARIANT",
      `no model in ${paths.join(", ")} has a variant "${values.variant}"`,
      "see the variants with `interleave list`",
    );
  const params = parseParams(values.param);
  const { signal, dispose } = installInterrupt();
  const checked: { lm: LoadedModel; c: Checked }[] = [];
  try {
    for (const lm of models) {
      const variants =
        values.variant !== undefined
          ? values.variant in lm.def.variants
            ? [values.variant]
            : []
          : Object.keys(lm.def.variants);
      const own = Object.fromEntries(
        Object.entries(params).filter(([k]) => models.length === 1 || k in lm.def.params),
      );
      for (const v of variants) {
        if (signal.stop) break;
        const c = await checkVariant(lm.def, v, {
          params: own,
          file: lm.file,
          signal,
          maxStates: positiveInt("--max-states", values["max-states"]),
          maxSeconds: positiveInt("--max-seconds", values["max-seconds"]),
          saveTo: values["no-save"] ? undefined : values.save,
        });
        checked.push({ lm, c });
        if (!values.quiet)
          process.stderr.write(
            `${lm.def.name}/${v}: ${c.result.verdict} (${c.result.violations.length} trace(s))\n`,
          );
      }
    }
  } finally {
    dispose();
  }
  const out = values.out!;
  const n = writeReport(out, groupByModel(checked), `interleave report ${args.join(" ")}`.trim());
  console.log(
    `report: ${n.models} model(s), ${n.variants} variant(s), ${n.traces} counterexample diagram(s) written to ${out}`,
  );
  const cs = checked.map((x) => x.c);
  if (cs.some((c) => c.result.verdict === "error")) return EXIT_USAGE;
  if (values.expect) return cs.every((c) => c.judgement?.ok !== false) ? EXIT_OK : EXIT_VIOLATION;
  if (cs.some((c) => c.result.verdict === "violated")) return EXIT_VIOLATION;
  if (cs.some((c) => c.result.verdict === "incomplete")) return EXIT_INCOMPLETE;
  return EXIT_OK;
}
