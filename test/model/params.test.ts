// Operation-list parameters: parsing and its errors, resolution with the other parameters,
// generation (every generated list is valid), shrinking towards fewer CPUs and operations, and the
// exhaustive check of one fixed list.
import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import { formatOps, parseOps, paramsText } from "../../src/model/params.ts";
import { compileModel, resolveParams } from "../../src/model/model.ts";
import { ModelError } from "../../src/rt/mem.ts";
import { scenarioSpace } from "../../src/fuzz/scenario.ts";
import { fuzzModel, smallerScenarios } from "../../src/fuzz/fuzz.ts";
import { checkVariant } from "../../src/check.ts";
import opsCounters, { workers } from "../fixtures/ops-counters.ts";
import listLruSplit from "../../models/list-lru-split/list-lru-split.ts";

const ints = { counters: 2 };
const parse = (text: string) => parseOps("ops-counters", "workers", workers, text, ints);
const failure = (text: string): ModelError => {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error(`"${text}" was accepted`);
};

describe("parseOps", () => {
  it("reads CPUs separated by ';' and operations by ',' and prints them back", () => {
    expect(parse(" inc(C2) , nop ; once(C1)")).toEqual([
      [
        { op: "inc", arg: 2 },
        { op: "nop", arg: 0 },
      ],
      [{ op: "once", arg: 1 }],
    ]);
    expect(formatOps(workers, parse(" inc(C2) , nop ; once(C1)"))).toBe("inc(C2),nop;once(C1)");
  });

  it("text and lists round-trip: parse(format(x)) is x for every list the declaration allows", () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant("inc"), arg: fc.integer({ min: 1, max: 2 }) }),
      fc.record({ op: fc.constant("nop"), arg: fc.constant(0) }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
        (cpus) => {
          const text = formatOps(workers, cpus);
          expect(parse(text)).toEqual(cpus);
          // spaces around the separators do not matter
          expect(parse(text.replaceAll(",", " , ").replaceAll(";", " ; "))).toEqual(cpus);
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });

  it("names the parameter, the CPU, the operation and the cause", () => {
    const unknown = failure("inc(C1);frob(C1)");
    expect(unknown.code).toBe("E_PARAM");
    expect(unknown.message).toContain("params.workers");
    expect(unknown.message).toContain(`CPU 2's operation 1 "frob(C1)": no operation "frob"`);
    expect(unknown.hint).toContain("inc(Ci), nop, once(Ci)");
    expect(failure("inc").message).toContain("inc takes one object, written inc(Ci)");
    expect(failure("inc(F1)").message).toContain("inc takes one object");
    expect(failure("nop(C1)").message).toContain("nop takes no object");
    const range = failure("inc(C3)");
    expect(range.message).toContain("C3 does not exist (params.counters=2 gives C1..C2)");
    expect(range.hint).toContain("raise --param counters");
    expect(failure("inc(C1);inc(C1);inc(C1);inc(C1)").message).toContain(
      "4 CPU(s), the declaration allows 1..3",
    );
    expect(failure("").message).toContain("0 CPU(s)");
    expect(failure("nop,nop,nop,nop").message).toContain(
      "CPU 1 runs 4 operations, at most 3 are declared",
    );
    const once = failure("once(C1);nop,once(C1)");
    expect(once.message).toContain("once(C1) appears more than once: each counter has one tag");
    expect(failure("inc(C1),,nop").message).toContain(`operation 2 "" is not an operation`);
  });

  it("prints parameters for people, quoting operation lists", () => {
    expect(paramsText({ counters: 2, workers: "inc(C1);nop" })).toBe(
      "counters=2 workers='inc(C1);nop'",
    );
    expect(paramsText({})).toBe("(no parameters)");
  });
});

describe("resolveParams with an operation list", () => {
  it("validates the default, takes text overrides, and keeps the canonical form", () => {
    expect(resolveParams(opsCounters, "racy")).toEqual({ counters: 2, workers: "inc(C1)" });
    expect(
      resolveParams(opsCounters, "racy", { workers: "inc(C1) ; inc(C1)", counters: "3" }),
    ).toEqual({ counters: 3, workers: "inc(C1);inc(C1)" });
  });

  it("checks an object index against the count given in the same call", () => {
    expect(() => resolveParams(opsCounters, "racy", { workers: "inc(C3)" })).toThrow(
      /C3 does not exist \(params.counters=2/,
    );
    expect(resolveParams(opsCounters, "racy", { workers: "inc(C3)", counters: 3 }).workers).toBe(
      "inc(C3)",
    );
  });

  it("rejects a number for an operation list and text for an integer", () => {
    expect(() => resolveParams(opsCounters, "racy", { workers: 2 })).toThrow(
      /workers=2 .* is a list of operations, not a number/,
    );
    expect(() => resolveParams(opsCounters, "racy", { counters: "two" })).toThrow(
      /counters=two .* is not an integer/,
    );
  });
});

describe("the exhaustive check of one fixed list", () => {
  it("one CPU cannot lose an update; two CPUs on one counter can, on different counters cannot", async () => {
    const one = await checkVariant(opsCounters, "racy", {
      params: { workers: "inc(C1),inc(C2),inc(C1)" },
    });
    expect(one.result.verdict).toBe("holds");
    const same = await checkVariant(opsCounters, "racy", {
      params: { workers: "inc(C1);inc(C1)" },
    });
    expect(same.result.verdict).toBe("violated");
    expect(same.result.violations.map((v) => v.property)).toEqual(["all-counted"]);
    const apart = await checkVariant(opsCounters, "racy", {
      params: { workers: "inc(C1);inc(C2)" },
    });
    expect(apart.result.verdict).toBe("holds");
    // the CPUs are the lists' CPUs, named after their operations
    const m = compileModel(opsCounters, "racy", { workers: "inc(C1),nop;once(C2)" });
    expect(m.threads.map((t) => t.name)).toEqual(["inc+nop", "once"]);
  });
});

describe("the scenario space of an operation list", () => {
  const space = scenarioSpace(opsCounters, "racy");

  it("varies the list alongside the integers", () => {
    expect(space.ranges.map((r) => r.name)).toEqual(["counters"]);
    expect(space.opLists.map((o) => o.name)).toEqual(["workers"]);
  });

  it("generates only lists the model accepts (indices within the count, no repeated once-ops)", () => {
    fc.assert(
      fc.property(space.arbitrary, (p) => {
        const cpus = parseOps("ops-counters", "workers", workers, p["workers"] as string, p);
        expect(cpus.length).toBeGreaterThanOrEqual(1);
        expect(cpus.length).toBeLessThanOrEqual(3);
        for (const ops of cpus) expect(ops.length).toBeLessThanOrEqual(3);
        expect(() => space.compile(p)).not.toThrow();
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  it("reaches every operation and several CPUs", () => {
    const seen = new Set<string>();
    let maxCpus = 0;
    for (const p of fc.sample(space.arbitrary, { numRuns: 300, seed: 2 })) {
      const cpus = parseOps("ops-counters", "workers", workers, p["workers"] as string, p);
      maxCpus = Math.max(maxCpus, cpus.length);
      for (const o of cpus.flat()) seen.add(o.op);
    }
    expect([...seen].sort()).toEqual(["inc", "nop", "once"]);
    expect(maxCpus).toBe(3);
  });

  it("a fixed list keeps the counts it names: C3 holds counters at 3 or more", () => {
    const fixed = scenarioSpace(opsCounters, "racy", { workers: "inc(C3)", counters: 3 });
    expect(fixed.ranges).toEqual([]);
    const varying = scenarioSpace(opsCounters, "racy", { workers: "inc(C2);inc(C1)" });
    expect(varying.ranges).toEqual([{ name: "counters", min: 2, max: 3 }]);
    for (const p of fc.sample(varying.arbitrary, { numRuns: 50, seed: 3 })) {
      expect(p["counters"]).toBeGreaterThanOrEqual(2);
      expect(() => varying.compile(p)).not.toThrow();
    }
  });

  it("a count computed from several parameters: scenarios without the named object are left out", () => {
    const space = scenarioSpace(listLruSplit, "lock-then-freeze", {
      third_parties: "try_get_put(F2)",
    });
    const seen = new Set<string>();
    for (const p of fc.sample(space.arbitrary, { numRuns: 60, seed: 4 })) {
      const n = 1 + (p["third_party"] as number) + (p["extra_folios"] as number);
      // third_party=0 with no extra folio has F1 only
      expect(n).toBeGreaterThanOrEqual(2);
      expect(() => space.compile(p)).not.toThrow();
      seen.add(`${p["third_party"]}/${p["extra_folios"]}`);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it("offers smaller scenarios: each count lower, each CPU dropped, each operation dropped", () => {
    const p = { counters: 3, workers: "inc(C1),nop;inc(C1)" };
    expect(smallerScenarios(space, p).map((q) => paramsText(q))).toEqual([
      "counters=1 workers='inc(C1),nop;inc(C1)'",
      "counters=2 workers='inc(C1),nop;inc(C1)'",
      "counters=3 workers='inc(C1)'",
      "counters=3 workers='inc(C1),nop'",
      "counters=3 workers='nop;inc(C1)'",
      "counters=3 workers='inc(C1);inc(C1)'",
    ]);
  });

  it("fuzzing shrinks a lost update to two CPUs with one increment each", async () => {
    const r = await fuzzModel(opsCounters, {
      variant: "racy",
      strategy: "random",
      runs: 300,
      seed: 5,
      params: { counters: 3 },
      confirm: { maxStates: 100_000, maxSeconds: 10 },
    });
    expect(r.counterexample?.property).toBe("all-counted");
    const shrunk = r.counterexample!.shrunk.params["workers"] as string;
    const cpus = parseOps("ops-counters", "workers", workers, shrunk, { counters: 3 });
    expect(cpus).toHaveLength(2);
    expect(cpus.flat().filter((o) => o.op === "inc")).toHaveLength(2);
    expect(cpus.flat()).toHaveLength(2);
    // the exhaustive explorer confirms the shrunk scenario, and the shrunk trace is the shortest
    expect(r.counterexample!.bfs?.shortest).toBe(r.counterexample!.shrunk.length);
  });
});
