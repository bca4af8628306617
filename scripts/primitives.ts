// Generates docs/primitives.md, the reference of the kernel primitives, from the declarations of
// src/kernel/*.ts: for each module its header (the kernel file and version it follows, how it
// splits accesses into steps, what it leaves out), and for each exported function its doc
// comment (the kernel function it models), its atomicity (from its return type and the steps it
// writes) and the properties it can raise (the names in its `raises`, its check()/warn()/report()
// calls and the Violations it throws). test/docs.test.ts fails when the committed file differs
// from what this prints, so the reference cannot drift from the code.
//
//   npm run docs:primitives        # rewrites docs/primitives.md

import ts from "typescript";
import * as prettier from "prettier";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const KERNEL = join(ROOT, "src", "kernel");
export const OUT = join(ROOT, "docs", "primitives.md");

/** The leading `//` comment block of a module (its header). */
function header(text: string): string {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("//")) break;
    lines.push(line.replace(/^\/\/ ?/, ""));
  }
  return lines.join("\n").trim();
}

function jsdoc(node: ts.Node, sf: ts.SourceFile): string {
  const ranges = ts.getLeadingCommentRanges(sf.text, node.getFullStart()) ?? [];
  const doc = ranges
    .map((r) => sf.text.slice(r.pos, r.end))
    .filter((t) => t.startsWith("/**"))
    .pop();
  if (!doc) return "";
  return doc
    .replace(/^\/\*\*\s?/, "")
    .replace(/\s*\*\/$/, "")
    .split("\n")
    .map((l) => l.replace(/^\s*\* ?/, ""))
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Property names a function body can raise. */
function raisedNames(body: ts.Node): string[] {
  const out = new Set<string>();
  const visit = (n: ts.Node): void => {
    // raises: ["a", { name: "b", severity: ... }]
    if (ts.isPropertyAssignment(n) && n.name.getText() === "raises") {
      const collect = (e: ts.Node): void => {
        if (ts.isStringLiteral(e)) out.add(e.text);
        else if (ts.isObjectLiteralExpression(e)) {
          for (const p of e.properties)
            if (
              ts.isPropertyAssignment(p) &&
              p.name.getText() === "name" &&
              ts.isStringLiteral(p.initializer)
            )
              out.add(p.initializer.text);
        } else ts.forEachChild(e, collect);
      };
      collect(n.initializer);
    }
    if (ts.isCallExpression(n)) {
      const callee = n.expression.getText();
      const args = n.arguments;
      // new Violation("x", ...), c.m.warn("x"), c.m.report("x"), c.m.check(cond, "x"), check(cond, "x")
      if (/(^|\.)(warn|report)$/.test(callee) && args[0] && ts.isStringLiteral(args[0]))
        out.add(args[0].text);
      if (/(^|\.)check$/.test(callee) && args[1] && ts.isStringLiteral(args[1]))
        out.add(args[1].text);
      if (/(^|\.)raises?$/.test(callee))
        for (const a of args) if (ts.isStringLiteral(a)) out.add(a.text);
      // a helper given the list of properties it raises (lruCondition(..., ["list-corruption"]))
      for (const a of args)
        if (ts.isArrayLiteralExpression(a))
          for (const e of a.elements)
            if (ts.isStringLiteral(e) && /^[a-z]+(-[a-z]+)+$/.test(e.text)) out.add(e.text);
    }
    if (ts.isNewExpression(n) && n.expression.getText() === "Violation") {
      const a = n.arguments?.[0];
      if (a && ts.isStringLiteral(a)) out.add(a.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(body);
  return [...out].sort();
}

/** Functions of the kernel modules called from a body (the primitives it is made of). */
function calls(body: ts.Node, exported: Set<string>, self: string): string[] {
  const out = new Set<string>();
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression)) {
      const f = n.expression.text;
      if (exported.has(f) && f !== self) out.add(f);
    }
    ts.forEachChild(n, visit);
  };
  visit(body);
  return [...out].sort();
}

function countSteps(body: ts.Node): number {
  let k = 0;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.expression.getText() === "step") k++;
    ts.forEachChild(n, visit);
  };
  visit(body);
  return k;
}

interface Fn {
  name: string;
  doc: string;
  returns: string;
  body: ts.Node;
}

/** Exported functions (declarations and `export const f = (...) =>`) of a module. */
function functionsOf(sf: ts.SourceFile): Fn[] {
  const out: Fn[] = [];
  for (const st of sf.statements) {
    const exported =
      ts.getCombinedModifierFlags(st as unknown as ts.Declaration) & ts.ModifierFlags.Export;
    if (!exported) continue;
    if (ts.isFunctionDeclaration(st) && st.name && st.body) {
      out.push({
        name: st.name.text,
        doc: jsdoc(st, sf),
        returns: st.type?.getText(sf) ?? "",
        body: st.body,
      });
    } else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        const init = d.initializer;
        if (
          !ts.isIdentifier(d.name) ||
          !init ||
          !(ts.isArrowFunction(init) || ts.isFunctionExpression(init))
        )
          continue;
        out.push({
          name: d.name.text,
          doc: jsdoc(st, sf),
          returns: init.type?.getText(sf) ?? "",
          body: init.body,
        });
      }
    }
  }
  return out;
}

function atomicity(f: Fn, parts: string[]): string {
  const steps = countSteps(f.body);
  const r = f.returns.replace(/\s+/g, " ");
  if (/^StepStmt$/.test(r)) return "one atomic step";
  if (/StepStmt|Stmt/.test(r) || parts.length > 0 || steps > 0) {
    const bits: string[] = [];
    if (steps > 0) bits.push(`${steps} step${steps > 1 ? "s" : ""} of its own`);
    if (parts.length > 0) bits.push(`with ${parts.map((p) => `\`${p}\``).join(", ")}`);
    return `statements: ${bits.join(", ") || "a sequence"}`;
  }
  return "run-time helper (inside a step) or declaration";
}

export function primitivesReference(): string {
  const files = readdirSync(KERNEL)
    .filter((f) => f.endsWith(".ts"))
    .sort();
  const parsed = files.map((f) => {
    const text = readFileSync(join(KERNEL, f), "utf8");
    return { file: f, text, sf: ts.createSourceFile(f, text, ts.ScriptTarget.ES2022, true) };
  });
  const exported = new Set(parsed.flatMap((p) => functionsOf(p.sf).map((f) => f.name)));
  const lines: string[] = [
    "# Kernel primitives reference",
    "",
    "<!-- generated by `npm run docs:primitives` from src/kernel/*.ts; test/docs.test.ts checks it is current -->",
    "",
    "Each module of `src/kernel/` mirrors a kernel file. Its header says which kernel version it",
    "follows, how it splits its accesses into atomic steps and what it leaves out; each primitive",
    "below gives the kernel function it models (its doc comment), its atomicity, and the properties",
    "it can raise (see `src/kernel/properties.ts` for each one's severity: `warn` goes on, `bug`",
    "ends the path). Everything here is exported from `src/index.ts`.",
    "",
  ];
  for (const p of parsed) {
    const fns = functionsOf(p.sf);
    if (fns.length === 0) continue;
    lines.push(`## ${p.file.replace(/\.ts$/, "")}`, "", "```text", header(p.text), "```", "");
    lines.push("| primitive | kernel function / what it models | atomicity | raises |");
    lines.push("| --- | --- | --- | --- |");
    for (const f of fns) {
      const parts = calls(f.body, exported, f.name);
      const raised = raisedNames(f.body);
      const cell = (s: string): string => s.replace(/\|/g, "\\|");
      lines.push(
        `| \`${f.name}\` | ${cell(f.doc || "-")} | ${cell(atomicity(f, parts))} | ${raised.map((r) => `\`${r}\``).join(", ") || "-"} |`,
      );
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** The reference as committed: formatted with the repository's prettier settings. */
export async function formattedReference(): Promise<string> {
  const config = (await prettier.resolveConfig(OUT)) ?? {};
  return prettier.format(primitivesReference(), { ...config, parser: "markdown" });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const tmp = `${OUT}.${process.pid}.tmp`;
  writeFileSync(tmp, await formattedReference());
  renameSync(tmp, OUT);
  console.log(`wrote ${OUT}`);
}
