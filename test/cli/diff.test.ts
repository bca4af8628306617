// `interleave diff`: every declared property is a row (holding or not), the data-race cell of a
// variant without the race check says "off", one counterexample per property that differs
// (the shortest), all of them with --all-traces, and the exit code with and without --expect.
import { describe, it, expect } from "vitest";
import { cli } from "../helpers.ts";

const FIX = "test/fixtures/diff-variants.ts";

/** The table's rows (up to "(states)") as property -> cells (after the severity column). */
function rows(stdout: string, severity = false): Map<string, string[]> {
  const lines = stdout.split("\n");
  const at = lines.findIndex((l) => l.startsWith("property "));
  const out = new Map<string, string[]>();
  for (const l of lines.slice(at + 1)) {
    if (l.startsWith("(")) break;
    const cells = l.split(/ {2,}/);
    out.set(cells[0]!, severity ? [cells[1]!] : cells.slice(2));
  }
  return out;
}

const lines = (m: Map<string, string[]>): Record<string, string> =>
  Object.fromEntries([...m].map(([k, v]) => [k, v[0]!]));

describe("interleave diff", () => {
  it("shows declared properties holding, data-race off, one diagram per differing property", async () => {
    const r = await cli("diff", FIX, "--no-save");
    expect(r.code).toBe(1);
    const t = rows(r.stdout);
    expect(t.get("property")).toBeUndefined();
    // declared by m.property() and by the step's raises; nobody breaks it
    expect(t.get("y-ok")).toEqual(["holds", "holds", "holds", "holds"]);
    // raised by spin_unlock, a primitive: declared by the primitive itself
    expect(t.get("bad-unlock")).toEqual(["holds", "holds", "holds", "holds"]);
    expect(t.get("data-race")).toEqual(["holds", "holds", "off", "holds"]);
    expect(t.get("x-small")).toEqual(["violated (1)", "violated (3)", "holds", "violated (1)"]);
    // raised by a step that declares nothing: still a row, marked
    expect(t.get("surprise *")).toEqual(["holds", "violated (3)", "holds", "holds"]);
    // the severity column: what the search does past a violation
    const sev = rows(r.stdout, true);
    expect(lines(sev)).toEqual({
      "x-small": "warn",
      "y-ok": "bug",
      "bad-unlock": "warn",
      deadlock: "-",
      "data-race": "warn",
      termination: "-",
      "surprise *": "bug",
    });
    // two properties differ: two diagrams, the shortest of x-small's three
    expect(r.stdout.match(/^=> /gm)).toHaveLength(2);
    expect(r.stdout).toContain(
      "x-small: broken by short (1), mislabeled (1), long (3); kept by fixed\nshortest counterexample: short, 1 step\n",
    );
    expect(r.stdout).toContain("surprise: broken by long (3); kept by short, fixed, mislabeled");
    expect(r.stdout).toContain("--all-traces prints them");
  });

  it("--all-traces prints the counterexample of every breaking variant", async () => {
    const r = await cli("diff", FIX, "--no-save", "--all-traces");
    expect(r.stdout.match(/^=> x-small/gm)).toHaveLength(3);
    expect(r.stdout.match(/^=> surprise/gm)).toHaveLength(1);
    expect(r.stdout).toContain("x-small: also broken by long");
    expect(r.stdout).not.toContain("--all-traces prints them");
  });

  it("--expect: exit 0 exactly when every variant's verdict is the declared one", async () => {
    expect((await cli("diff", FIX, "--no-save", "--variants", "short,long,fixed")).code).toBe(1);
    expect(
      (await cli("diff", FIX, "--no-save", "--variants", "short,long,fixed", "--expect")).code,
    ).toBe(0);
    expect((await cli("diff", FIX, "--no-save", "--expect")).code).toBe(1);
    expect((await cli("diff", FIX, "--no-save", "--variants", "fixed")).code).toBe(0);
    expect((await cli("diff", FIX, "--no-save", "--variants", "fixed", "--expect")).code).toBe(0);
  });

  it("--json: per-variant property statuses, cells and contrasts", async () => {
    const r = await cli("diff", FIX, "--no-save", "--json");
    const out = JSON.parse(r.stdout) as {
      properties: string[];
      severities: Record<string, string | null>;
      variants: {
        variant: string;
        cells: Record<string, string>;
        properties: { name: string; kind: string; status: string; length: number | null }[];
      }[];
      contrasts: string[];
    };
    expect(out.properties).toEqual([
      "x-small",
      "y-ok",
      "bad-unlock",
      "deadlock",
      "data-race",
      "termination",
      "surprise",
    ]);
    expect(out.severities).toEqual({
      "x-small": "warn",
      "y-ok": "bug",
      "bad-unlock": "warn",
      deadlock: null,
      "data-race": "warn",
      termination: null,
      surprise: "bug",
    });
    const fixed = out.variants.find((v) => v.variant === "fixed")!;
    expect(fixed.cells["data-race"]).toBe("off");
    expect(fixed.properties.find((p) => p.name === "data-race")).toEqual({
      name: "data-race",
      kind: "data-race",
      severity: "warn",
      status: "off",
      length: null,
    });
    const long = out.variants.find((v) => v.variant === "long")!;
    expect(long.properties.find((p) => p.name === "surprise")).toMatchObject({
      kind: "assertion",
      status: "violated",
      length: 3,
    });
    expect(long.properties.find((p) => p.name === "y-ok")).toMatchObject({
      kind: "assertion",
      status: "holds",
    });
    expect(out.contrasts).toEqual(["x-small", "surprise"]);
  });

  it("an incomplete run says incomplete, not holds, and exits 3", async () => {
    const r = await cli("diff", FIX, "--no-save", "--variants", "fixed", "--max-states", "3");
    expect(r.code).toBe(3);
    expect(rows(r.stdout).get("y-ok")).toEqual(["incomplete"]);
    expect(rows(r.stdout).get("data-race")).toEqual(["off"]);
  });

  it("check --json and list show the full property list", async () => {
    const r = await cli("check", FIX, "--no-save", "--json", "--variant", "fixed");
    const [res] = (
      JSON.parse(r.stdout) as { results: { properties: { name: string; status: string }[] }[] }
    ).results;
    expect(res!.properties.map((p) => [p.name, p.status])).toEqual([
      ["x-small", "holds"],
      ["y-ok", "holds"],
      ["bad-unlock", "holds"],
      ["deadlock", "holds"],
      ["data-race", "off"],
      ["termination", "holds"],
    ]);
    // --no-races turns the check off for the run, whatever the model says
    const nr = await cli("check", FIX, "--no-save", "--json", "--variant", "short", "--no-races");
    const [short] = (
      JSON.parse(nr.stdout) as { results: { properties: { name: string; status: string }[] }[] }
    ).results;
    expect(short!.properties.find((p) => p.name === "data-race")!.status).toBe("off");
    // --no-liveness likewise for termination
    const nl = await cli(
      "check",
      FIX,
      "--no-save",
      "--json",
      "--variant",
      "short",
      "--no-liveness",
    );
    const [shortNl] = (
      JSON.parse(nl.stdout) as { results: { properties: { name: string; status: string }[] }[] }
    ).results;
    expect(shortNl!.properties.find((p) => p.name === "termination")!.status).toBe("off");
    expect(short!.properties.find((p) => p.name === "termination")!.status).not.toBe("off");
    const l = await cli("list", FIX);
    expect(l.stdout).toContain("assertions: y-ok (bug), bad-unlock (warn)");
    expect(l.stdout).toContain("invariants: x-small (warn)");
    expect(l.stdout).toContain("explorer:   deadlock, (data-race off)");
    expect(l.stdout).toContain("liveness:   termination");
    expect(l.stdout).not.toContain("assertions of the primitives");
  });
});
