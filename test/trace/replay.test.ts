// Every stored counterexample must replay to its property through the code of
// `interleave replay`; a tampered schedule or a changed model must say "not reproduced".
import { describe, it, expect, afterAll } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { compileModel } from "../../src/index.ts";
import { replay } from "../../src/trace/replay.ts";
import { parseSchedule } from "../../src/trace/schedule.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import { cli } from "../helpers.ts";

const ROOT = "counterexamples";
const files = readdirSync(ROOT, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".json"))
  .map((f) => join(ROOT, f))
  .sort();

const tmp = mkdtempSync(join(tmpdir(), "interleave-replay-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tampered(name: string, edit: (cx: Record<string, unknown>) => void): string {
  const cx = JSON.parse(
    readFileSync(join(ROOT, "flag-lock/test-then-set/mutual-exclusion.json"), "utf8"),
  ) as Record<string, unknown>;
  edit(cx);
  const p = join(tmp, `${name}.json`);
  writeFileSync(p, JSON.stringify(cx));
  return p;
}

describe("stored counterexamples", () => {
  it("there are some (the classic models' at least)", () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)("%s replays to its property", async (file) => {
    const cx = JSON.parse(readFileSync(file, "utf8")) as {
      property: string;
      length: number;
      schedule: string;
    };
    const r = await cli("replay", file, "--json");
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as {
      reproduced: boolean;
      infeasible: string | null;
      outcomes: { property: string }[];
      steps: unknown[];
    };
    expect(out.infeasible).toBeNull();
    expect(out.outcomes.map((o) => o.property)).toContain(cx.property);
    expect(out.reproduced).toBe(true);
    expect(out.steps).toHaveLength(parseSchedule(cx.schedule).length);
    expect(cx.length).toBe(out.steps.length);
    expect(r.code).toBe(1);
  });
});

describe("replay of a counterexample that no longer holds", () => {
  it("a truncated schedule: not reproduced, exit 4", async () => {
    const f = tampered("short", (cx) => (cx.schedule = "0 1 0 0 1"));
    const r = await cli("replay", f);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("NOT reproduced on test-then-set");
    expect(r.stderr).toContain("mutual-exclusion holds on it: the fix works for this schedule");
  });

  it("a move of a CPU the model does not have: infeasible, exit 4", async () => {
    const f = tampered("cpu7", (cx) => (cx.schedule = "0 1 7"));
    const r = await cli("replay", f);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("the schedule no longer fits the model");
    expect(r.stderr).toContain("move 3 of 3 (CPU7): the model has no CPU7 (it has 2)");
  });

  it("a move of a blocked or finished CPU: infeasible, exit 4", async () => {
    const blocked = tampered("blocked", (cx) => (cx.schedule = "0 0 0 0 0 0 0"));
    const r = await cli("replay", blocked);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("CPU0 (flag_lock0) has already finished");
  });

  it("a choice the step does not have: infeasible, exit 4", async () => {
    const f = tampered("choice", (cx) => (cx.schedule = "0:3 1"));
    const r = await cli("replay", f);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("choice 3 but the step has 1 choice(s)");
  });

  it("the model was fixed since: not reproduced, exit 4", async () => {
    const f = tampered("fixed", (cx) => (cx.model = "test/fixtures/flag-lock-fixed.ts"));
    const r = await cli("replay", f);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("NOT reproduced");
    expect(r.stderr).toContain("The model changed since this counterexample was saved");
  });

  it("another property's violation at the end is not this one's", async () => {
    const f = tampered("other", (cx) => (cx.property = "deadlock"));
    const r = await cli("replay", f);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("now ends in mutual-exclusion instead");
  });
});

describe("replay()", () => {
  const model = compileModel(flagLock, "test-then-set");

  it("names each step and only the fields it changed, in the model's terms", () => {
    const rep = replay(model, parseSchedule("0 1 0 0 1 1"));
    expect(rep.infeasible).toBeUndefined();
    expect(rep.steps.map((s) => [s.cpu, s.label])).toEqual([
      [0, "locked -> false"],
      [1, "locked -> false"],
      [0, "locked = true"],
      [0, "critical section: enter"],
      [1, "locked = true"],
      [1, "critical section: enter"],
    ]);
    expect(rep.steps[2]!.changes).toEqual([{ name: "locked", from: "false", to: "true" }]);
    // CPU1 sets a flag that is already set: nothing changed, nothing shown
    expect(rep.steps[4]!.changes).toEqual([]);
    expect(rep.steps[5]!.changes).toEqual([{ name: "in_critical", from: "1", to: "2" }]);
    expect(rep.steps[0]!.funcs).toBe("flag_lock0");
    expect(rep.steps[0]!.site).toMatch(/models\/classic\/flag-lock\.ts:\d+/);
    expect(rep.outcomes.map((o) => o.property)).toEqual(["mutual-exclusion"]);
  });

  it("does not touch the model's initial state", () => {
    const before = model.init.slice();
    replay(model, parseSchedule("0 1 0 0 1 1"));
    expect(Array.from(model.init)).toEqual(Array.from(before));
  });
});

describe("replay of a liveness lasso", () => {
  const LASSO = join(ROOT, "mutex-starvation/trylock-spin/termination.json");
  function lasso(name: string, edit: (cx: Record<string, unknown>) => void): string {
    const cx = JSON.parse(readFileSync(LASSO, "utf8")) as Record<string, unknown>;
    edit(cx);
    const p = join(tmp, `${name}.json`);
    writeFileSync(p, JSON.stringify(cx));
    return p;
  }

  it("as saved: the cycle closes and is fair, reproduced, with the mark in the diagram", async () => {
    const r = await cli("replay", LASSO);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("from here the schedule repeats forever");
    expect(r.stdout).toContain("reproduced: termination");
  });

  it("a cycle that does not lead back to its start: not reproduced", async () => {
    const r = await cli(
      "replay",
      lasso("open", (cx) => (cx.cycle = 1)),
    );
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("the cycle does not close");
  });

  it("a cycle on which a CPU stays enabled and never runs: not fair, not reproduced", async () => {
    // the kthread's loop alone: the spinning task can always take a step, and never does
    const r = await cli(
      "replay",
      lasso("unfair", (cx) => (cx.schedule = "0 0 0 0")),
    );
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("the cycle is not fair: CPU1 (task) stays enabled on it");
  });

  it("the fixed lock: the schedule no longer closes a starving cycle", async () => {
    const r = await cli(
      "replay",
      lasso("ticket", (cx) => (cx.variant = "ticket")),
    );
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("NOT reproduced on ticket");
  });

  it("a bad cycle field is a clear error", async () => {
    const r = await cli(
      "replay",
      lasso("badcycle", (cx) => (cx.cycle = -2)),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('field "cycle" should be the index of the move');
  });
});
