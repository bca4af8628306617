// A variant pins the parameters its verdict depends on; fuzz draws the others, says what it drew,
// and labels a failure found outside the scenario `check` verified for the variant.
import { describe, expect, it } from "vitest";
import { compileModel, defineModel, int, ModelBuilder } from "../../src/index.ts";
import { fuzzModel } from "../../src/fuzz/index.ts";
import { formatFailure } from "../../src/fuzz/report.ts";
import { scenarioSpace } from "../../src/fuzz/scenario.ts";

// `cpus` CPUs each add 1 to x in two steps (read, write): with one CPU the count is right, with
// two an update can be lost. The variant "one-cpu" declares "holds" for its default cpus=1.
const counter = (pin: boolean) =>
  defineModel({
    name: "lost-update",
    doc: "a read-modify-write split in two steps",
    params: {
      cpus: { default: 1, min: 1, max: 2, doc: "CPUs adding 1" },
      spare: { default: 0, min: 0, max: 1, doc: "a parameter nothing depends on" },
    },
    variants: {
      "one-cpu": { options: {}, expect: "holds", ...(pin ? { pin: ["cpus"] } : {}) },
    },
    build: ({ params: p }) => {
      const m = new ModelBuilder({ x: int(0, 2) }, { races: false });
      for (let i = 0; i < p.cpus; i++) {
        m.thread("add", { v: int(0, 2) }, ({ step }) => [
          step("v = x", ({ s, l }) => {
            l.v = s.x;
          }),
          step("x = v + 1", ({ s, l }) => {
            s.x = l.v + 1;
          }),
        ]);
      }
      m.endState("count", ({ s }) => s.x === p.cpus || `x is ${s.x}, not ${p.cpus}`);
      return m;
    },
  });

describe("pinned parameters", () => {
  it("without pin, fuzz draws cpus and labels the failure as outside what check verified", async () => {
    const r = await fuzzModel(counter(false), { variant: "one-cpu", runs: 300, seed: 3 });
    expect(r.counterexample?.property).toBe("count");
    const text = formatFailure(r);
    expect(text).toContain("drawn: cpus 1..2, spare 0..1");
    expect(text).toMatch(
      /outside the parameters `check` verified for one-cpu \(cpus=2 where check has cpus=1\)/,
    );
    expect(text).toContain("does not contradict its declared verdict");
  });

  it("with pin: ['cpus'], cpus is held and only spare is drawn; nothing fails", async () => {
    const def = counter(true);
    const space = scenarioSpace(def, "one-cpu");
    expect(space.ranges.map((x) => x.name)).toEqual(["spare"]);
    const r = await fuzzModel(def, { variant: "one-cpu", runs: 200, seed: 3 });
    expect(r.counterexample).toBeUndefined();
    expect(formatFailure(r)).toContain("  drawn: spare 0..1; held: cpus=1 (pinned)");
  });

  it("a failure inside the verified scenario is not labelled", async () => {
    // --param cpus=2: check verifies cpus=2 too, so the failure contradicts nothing it did not check
    const r = await fuzzModel(counter(false), {
      variant: "one-cpu",
      runs: 300,
      seed: 3,
      params: { cpus: 2 },
    });
    expect(r.counterexample?.property).toBe("count");
    expect(formatFailure(r)).not.toContain("outside the parameters");
  });

  it("pin naming no parameter is an error", () => {
    const bad = defineModel({
      name: "bad-pin",
      doc: "d",
      params: { n: { default: 1, min: 1, max: 2 } },
      variants: { v: { options: {}, expect: "holds", pin: ["m"] } },
      build: () => {
        const m = new ModelBuilder({ x: int(0, 1) });
        m.thread("t", {}, ({ step }) => [step("nop", () => undefined)]);
        return m;
      },
    });
    expect(() => compileModel(bad, "v")).toThrow(/pin names "m", which is not a parameter/);
  });
});
