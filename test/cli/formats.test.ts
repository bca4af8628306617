// --format on check, fuzz and replay: Mermaid blocks and ITF lines for every counterexample,
// plain usage errors for a bad format or one that clashes with --json, and --format dot saying
// when no result has a lock-order graph.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { cli } from "../helpers.ts";

const validItf = new Ajv({ strict: false }).compile(
  JSON.parse(readFileSync("docs/itf.schema.json", "utf8")) as object,
);

describe("--format", () => {
  it("check --format itf: one valid ITF trace per line, one per violation, nothing else", async () => {
    const j = await cli("check", "models/classic", "--no-save", "--json");
    const expected = (
      JSON.parse(j.stdout) as { results: { violations: { property: string }[] }[] }
    ).results.flatMap((x) => x.violations.map((v) => v.property));
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const r = await cli("check", "models/classic", "--no-save", "--format", "itf");
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    const traces = lines.map(
      (l) => JSON.parse(l) as { "#meta": { property: string }; loop?: number },
    );
    for (const t of traces) expect(validItf(t), JSON.stringify(validItf.errors)).toBe(true);
    expect(traces.map((t) => t["#meta"].property)).toEqual(expected);
    // the liveness counterexamples (lassos) carry ITF's loop index
    expect(traces.some((t) => t.loop !== undefined)).toBe(true);
  });

  it("check --format mermaid: a Markdown block per violation", async () => {
    const r = await cli(
      "check",
      "models/classic/philosophers.ts",
      "--no-save",
      "--format",
      "mermaid",
    );
    const j = await cli("check", "models/classic/philosophers.ts", "--no-save", "--json");
    const n = (JSON.parse(j.stdout) as { results: { violations: unknown[] }[] }).results.reduce(
      (k, x) => k + x.violations.length,
      0,
    );
    expect(n).toBeGreaterThan(0);
    expect(r.stdout.match(/```mermaid\nsequenceDiagram\n/g)).toHaveLength(n);
    expect(r.stdout).toContain("participant CPU0 as CPU0 (");
    expect(r.stdout).not.toContain("variant(s) checked");
  });

  it("fuzz --format itf", async () => {
    const r = await cli(
      "fuzz",
      "models/classic/flag-lock.ts",
      "--variant",
      "test-then-set",
      "--runs",
      "50",
      "--seed",
      "1",
      "--no-save",
      "--format",
      "itf",
    );
    expect(r.code).toBe(1);
    const t = JSON.parse(r.stdout.trim()) as { "#meta": { property: string } };
    expect(validItf(t)).toBe(true);
    expect(t["#meta"].property).toBe("mutual-exclusion");
  });

  it("replay --format mermaid", async () => {
    const r = await cli(
      "replay",
      "counterexamples/peterson/no-turn/deadlock.json",
      "--format",
      "mermaid",
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^\*\*peterson \/ no-turn: deadlock\*\*/);
  });

  it("usage errors: an unknown format, --json with --format, dot without a lock-order graph", async () => {
    const bad = await cli("check", "models/classic/flag-lock.ts", "--no-save", "--format", "svg");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /error E_USAGE: --format svg: expected one of text, mermaid, itf, dot/,
    );
    const both = await cli("check", "models/classic/flag-lock.ts", "--json", "--format", "itf");
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--json and --format itf/);
    const dot = await cli("check", "models/classic/flag-lock.ts", "--no-save", "--format", "dot");
    expect(dot.code).toBe(2);
    expect(dot.stderr).toMatch(/no result here has a lock-order graph/);
  });

  it("report: a clear error for an --out it cannot write, and for a folder without models", async () => {
    const r = await cli(
      "report",
      "models/classic/flag-lock.ts",
      "--no-save",
      "--quiet",
      "--out",
      "README.md/report.html",
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error E_NO_FILE: README\.md\/report\.html: cannot write the report/);
    expect(r.stderr).toContain("hint: give --out a path in a folder you can write to");
    const none = await cli("report", "test/trace", "--no-save", "--quiet");
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/error E_NO_MODEL: no model found in test\/trace/);
  });

  it("--format dot: philosophers' lock-order cycle, from check and from the saved file", async () => {
    const c = await cli("check", "models/classic/philosophers.ts", "--no-save", "--format", "dot");
    const r = await cli(
      "replay",
      "counterexamples/philosophers/left-then-right/lock-order.json",
      "--format",
      "dot",
    );
    for (const out of [c.stdout, r.stdout]) {
      expect(out).toContain('digraph "philosophers / left-then-right" {');
      const edges = [...out.matchAll(/"(fork\d)" -> "(fork\d)" \[label="([^"]+)", color=red/g)];
      expect(edges.map((e) => `${e[1]}->${e[2]}`).sort()).toEqual([
        "fork0->fork1",
        "fork1->fork2",
        "fork2->fork0",
      ]);
      for (const e of edges) expect(e[3]).toMatch(new RegExp(`spin_lock\\(&${e[2]}\\)`));
    }
    // the variant without the cycle has no graph: not printed
    expect(c.stdout).not.toContain("ordered");
  });
});
