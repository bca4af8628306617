// interleave diff MODEL [--variants a,b,...] [--param k=v] [--json] [--all-traces] [--expect]:
// one run per variant, then the table property x variant (every property the model declares,
// holding or not), and for each property that one variant breaks and another keeps, one
// counterexample: the shortest. The pre-review use: the posted patch against the suggested one.

import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";
import { parseParams } from "./params.ts";
import { paramText } from "../model/params.ts";
import { columns } from "./columns.ts";
import { loadModels } from "./load.ts";
import {
  checkVariant,
  explain,
  propertyStatuses,
  type Checked,
  type PropertyStatus,
} from "../check.ts";
import type { Severity, ViolationReport } from "../explore/result.ts";
import { searchWorker } from "../isolate/isolate.ts";
import { reportSaveErrors } from "./save-report.ts";
import {
  EXIT_INCOMPLETE,
  EXIT_OK,
  EXIT_USAGE,
  EXIT_VIOLATION,
  installInterrupt,
  positiveInt,
  resultJson,
} from "./main.ts";

export async function runDiff(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      variants: { type: "string" },
      param: { type: "string", multiple: true },
      "max-states": { type: "string" },
      "max-seconds": { type: "string" },
      json: { type: "boolean" },
      save: { type: "string", default: "counterexamples" },
      "no-save": { type: "boolean" },
      "all-traces": { type: "boolean" },
      "no-liveness": { type: "boolean" },
      "no-reduce": { type: "boolean" },
      expect: { type: "boolean" },
    },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      "E_USAGE",
      "diff takes one model file",
      "interleave diff models/NAME/NAME.ts --variants a,b",
    );
  const models = await loadModels(positionals, { typecheck: true });
  if (models.length !== 1)
    throw new UsageError(
      "E_USAGE",
      `${positionals[0]} holds ${models.length} models; name one file`,
    );
  const { def, file } = models[0]!;
  const all = Object.keys(def.variants);
  const names = values.variants
    ? [
        ...new Set(
          values.variants
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ]
    : all;
  if (names.length === 0)
    throw new UsageError(
      "E_USAGE",
      "--variants names no variant",
      `give a comma-separated list of: ${all.join(", ")}`,
    );
  for (const n of names) {
    if (!all.includes(n))
      throw new UsageError(
        "E_VARIANT",
        `model ${def.name} has no variant "${n}"`,
        `its variants are: ${all.join(", ")}`,
      );
  }
  const params = parseParams(values.param);
  const { signal, dispose } = installInterrupt();
  const worker = searchWorker();
  const runs: Checked[] = [];
  try {
    for (const v of names) {
      if (signal.stop) break;
      runs.push(
        await checkVariant(def, v, {
          params,
          file,
          signal,
          worker,
          maxStates: positiveInt("--max-states", values["max-states"]),
          maxSeconds: positiveInt("--max-seconds", values["max-seconds"]),
          saveTo: values["no-save"] ? undefined : values.save,
          liveness: values["no-liveness"] ? false : undefined,
          reduce: values["no-reduce"] ? false : undefined,
        }),
      );
    }
  } finally {
    dispose();
  }
  // the variants an interrupt left out are named, not silently dropped
  const notRun = names.slice(runs.length);
  const table = diffTable(runs);
  const { props, contrasts } = table;
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          model: def.name,
          properties: props.map((p) => p.name),
          severities: Object.fromEntries(props.map((p) => [p.name, p.severity ?? null])),
          variants: runs.map((r, i) => ({
            ...resultJson(r),
            cells: Object.fromEntries(
              props.map((p) => [p.name, cellText(table.cells[i]!.get(p.name))]),
            ),
          })),
          contrasts: contrasts.map((c) => c.property),
          notRun,
        },
        null,
        2,
      ),
    );
  } else {
    const rows = [
      ["property", "severity", ...names],
      ...props.map((p) => [
        p.declared ? p.name : `${p.name} *`,
        p.severity ?? "-",
        ...runs.map((_, i) => cellText(table.cells[i]!.get(p.name))),
      ]),
    ];
    rows.push(["(states)", "", ...runs.map((r) => String(r.result.states))]);
    // variants may declare their own parameters: show the ones that differ, or the table
    // would compare different scenarios without saying so
    const differ = Object.keys(runs[0]?.result.params ?? {}).filter((k) =>
      runs.some((r) => r.result.params[k] !== runs[0]!.result.params[k]),
    );
    if (differ.length > 0)
      rows.push([
        "(params)",
        "",
        ...runs.map((r) => differ.map((k) => paramText(k, r.result.params[k]!)).join(" ")),
      ]);
    rows.push([
      "(verdict)",
      "",
      ...runs.map(
        (r) =>
          r.result.verdict +
          (r.judgement ? (r.judgement.ok ? ", as declared" : ", NOT as declared") : ""),
      ),
    ]);
    console.log(`${def.name}: ${def.doc}\n`);
    console.log(columns(rows));
    // a variant whose run failed: its cells say "error"; here is why
    for (const r of runs) {
      const e = r.result.error;
      if (e)
        console.log(
          `\n${r.model.variant}: error ${e.code}: ${e.message}${e.where ? `\n  in ${e.where}` : ""}` +
            (e.code === "E_STEP"
              ? "\n  hint: a step of the model threw (a bug in its code); set INTERLEAVE_DEBUG=1 to see the stack"
              : e.hint
                ? `\n  hint: ${e.hint}`
                : ""),
        );
      if (r.result.stuck) console.log(`\n${r.model.variant}: ${r.result.stuck}.`);
    }
    if (notRun.length) console.log(`\nnot run (interrupted): ${notRun.join(", ")}`);
    const notes: string[] = [];
    if (props.some((p) => !p.declared))
      notes.push(
        `* raised by a step that does not declare it (\`raises\` / m.property()): "holds" means only "not seen"`,
      );
    if (table.cells.some((m) => [...m.values()].some((c) => c.status === "off")))
      notes.push(
        "off: the data-race check (races: false) or the liveness check (--no-liveness) was disabled",
      );
    if (table.cells.some((m) => props.some((p) => !m.has(p.name))))
      notes.push("-: the variant does not have that property (not checked)");
    if (notes.length) console.log(`\n${notes.join("\n")}`);
    for (const c of contrasts) {
      const broken = c.breaking
        .map((b) => `${b.run.model.variant} (${b.violation.length})`)
        .join(", ");
      const kept = c.keeping.map((r) => r.model.variant).join(", ");
      const shown = values["all-traces"] ? c.breaking : c.breaking.slice(0, 1);
      for (const [k, b] of shown.entries()) {
        const head =
          k === 0
            ? `${c.property}: broken by ${broken}; kept by ${kept}`
            : `${c.property}: also broken by ${b.run.model.variant}`;
        const v = b.violation;
        const which =
          values["all-traces"] || c.breaking.length === 1
            ? "counterexample"
            : "shortest counterexample";
        console.log(
          `\n${head}\n${which}: ${b.run.model.variant}, ${v.length} step${v.length === 1 ? "" : "s"}${v.file ? ` (${v.file})` : ""}\n`,
        );
        console.log(explain(b.run.model, v));
      }
    }
    const more = contrasts.reduce((n, c) => n + c.breaking.length - 1, 0);
    if (!values["all-traces"] && more > 0)
      console.log(
        `\n(${more} more counterexample(s) of these properties in other variants: --all-traces prints them)`,
      );
  }
  reportSaveErrors(runs.flatMap((r) => r.result.violations.flatMap((v) => v.saveError ?? [])));
  if (runs.some((r) => r.result.verdict === "error")) return EXIT_USAGE;
  if (notRun.length > 0 && !runs.some((r) => r.result.violations.length > 0))
    return EXIT_INCOMPLETE;
  if (values.expect) return runs.every((r) => r.judgement?.ok !== false) ? EXIT_OK : EXIT_VIOLATION;
  if (runs.some((r) => r.result.violations.length > 0)) return EXIT_VIOLATION;
  if (runs.some((r) => !r.result.complete)) return EXIT_INCOMPLETE;
  return EXIT_OK;
}

/** A property that one variant breaks and another keeps, with the breaking runs shortest first. */
export interface Contrast {
  readonly property: string;
  readonly breaking: readonly { run: Checked; violation: ViolationReport }[];
  readonly keeping: readonly Checked[];
}

export interface DiffTable {
  /** The rows: every property a variant declares or breaks, in first-seen order, with its severity. */
  readonly props: readonly { name: string; declared: boolean; severity?: Severity }[];
  /** Per run, its status of each property it has. */
  readonly cells: readonly Map<string, PropertyStatus>[];
  readonly contrasts: readonly Contrast[];
}

/** The table property x variant of a diff, from the checked runs (in the order given). */
export function diffTable(runs: readonly Checked[]): DiffTable {
  const props: { name: string; declared: boolean; severity?: Severity }[] = [];
  const cells = runs.map((r) => {
    const m = new Map<string, PropertyStatus>();
    for (const s of propertyStatuses(r)) m.set(s.name, s);
    return m;
  });
  runs.forEach((r, i) => {
    const declared = new Set(r.model.properties.map((p) => p.name));
    for (const s of cells[i]!.values()) {
      const known = declared.has(s.name) || s.kind === "data-race";
      const row = props.find((p) => p.name === s.name);
      if (!row)
        props.push({
          name: s.name,
          declared: known,
          ...(s.severity ? { severity: s.severity } : {}),
        });
      else {
        if (known) row.declared = true;
        row.severity ??= s.severity;
      }
    }
  });
  // a property no variant declares was only seen where it broke: where it was not seen, say
  // what the run says of the rest (holds when complete) and mark the row
  for (const p of props) {
    if (p.declared) continue;
    runs.forEach((r, i) => {
      if (!cells[i]!.has(p.name))
        cells[i]!.set(p.name, {
          name: p.name,
          kind: "assertion",
          status:
            r.result.verdict === "error" ? "error" : r.result.complete ? "holds" : "incomplete",
        });
    });
  }
  const contrasts: Contrast[] = [];
  for (const p of props) {
    const breaking = runs
      .map((run) => ({ run, violation: run.result.violations.find((v) => v.property === p.name) }))
      .filter((b): b is { run: Checked; violation: ViolationReport } => b.violation !== undefined)
      .sort((a, b) => a.violation.length - b.violation.length);
    const keeping = runs.filter((_, i) => cells[i]!.get(p.name)?.status === "holds");
    if (breaking.length > 0 && keeping.length > 0)
      contrasts.push({ property: p.name, breaking, keeping });
  }
  return { props, cells, contrasts };
}

/** A cell's text: holds, violated (N), incomplete, off, error, or "-" (not a property of the variant). */
export function cellText(s: PropertyStatus | undefined): string {
  if (!s) return "-";
  return s.status === "violated" ? `violated (${s.length})` : s.status;
}
