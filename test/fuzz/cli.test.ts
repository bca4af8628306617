// `interleave fuzz`: exit codes as `check` (0 none found, 1 violation, 2 usage/model error),
// the failing run's seed printed, JSON output.
import { describe, expect, it, vi } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const error = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    const code = await main(args);
    return { code, out: log.mock.calls.flat().join("\n"), err: error.mock.calls.flat().join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe("interleave fuzz", () => {
  const save = mkdtempSync(join(tmpdir(), "fuzz-cli-"));

  it("exits 1 on a violation, printing the diagram, the seed that finds it and the replay command", async () => {
    const r = await run([
      "fuzz",
      "models/classic/peterson.ts",
      "--variant",
      "no-turn",
      "--seed",
      "7",
      "--save",
      save,
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/deadlock violated/);
    expect(r.out).toMatch(/CPU0 \(peterson_lock0\)/);
    const seed =
      /seed (\d+): npx interleave fuzz models\/classic\/peterson\.ts --variant no-turn --strategy mix --seed \1 --runs 1/.exec(
        r.out,
      );
    expect(seed).not.toBeNull();
    expect(r.out).toMatch(
      /replay: npx interleave replay .*peterson\/no-turn\/fuzz\/deadlock\.json/,
    );
    // the printed seed goes straight to it
    const again = await run([
      "fuzz",
      "peterson",
      "--variant",
      "no-turn",
      "--seed",
      seed![1]!,
      "--runs",
      "1",
      "--no-save",
    ]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(
      /found by mix \(arm (random|pct d=[235]|preempt k=2|pos)\) on run 1 of 1/,
    );
  });

  it("exits 0 when nothing is found, saying it is not a proof", async () => {
    const r = await run([
      "fuzz",
      "philosophers",
      "--variant",
      "ordered",
      "--runs",
      "100",
      "--seed",
      "1",
      "--strategy",
      "random",
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/no violation in 100 random runs \(seed 1\); not a proof/);
  });

  it("--json gives one result per variant", async () => {
    const r = await run([
      "fuzz",
      "models/classic/flag-lock.ts",
      "--runs",
      "2000",
      "--seed",
      "3",
      "--strategy",
      "preempt",
      "--json",
      "--no-save",
    ]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as {
      results: {
        variant: string;
        verdict: string;
        counterexample: { shrunk: { length: number }; bfs: { shortest: number } } | null;
      }[];
    };
    expect(j.results.map((x) => x.variant)).toEqual(["test-then-set", "test-and-set"]);
    expect(j.results[0]!.verdict).toBe("violated");
    expect(j.results[0]!.counterexample!.shrunk.length).toBe(
      j.results[0]!.counterexample!.bfs.shortest,
    );
    expect(j.results[1]!.verdict).toBe("none found (not a proof)");
  });

  it("exits 2 on usage and model errors, naming what is wrong", async () => {
    expect((await run(["fuzz"])).code).toBe(2);
    const s = await run(["fuzz", "peterson", "--strategy", "dfs"]);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/--strategy dfs: expected mix, random, pct, preempt or pos/);
    const p = await run(["fuzz", "philosophers", "--param", "n=9"]);
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/n=9 .* outside 2\.\.6/);
    const v = await run(["fuzz", "peterson", "--variant", "nope"]);
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/no variant "nope"/);
    const m = await run(["fuzz", "no-such-model"]);
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/neither a file nor the name of a model/);
    expect((await run(["fuzz", "peterson", "--runs", "0"])).code).toBe(2);
    const d = await run(["fuzz", "peterson", "--pct-depth", "5"]);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/--pct-depth applies to --strategy pct, not mix/);
    expect(d.err).toMatch(/hint: mix runs PCT at d=2, 3 and 5/);
    const k = await run(["fuzz", "peterson", "--strategy", "pct", "--preemptions", "1"]);
    expect(k.code).toBe(2);
    expect(k.err).toMatch(/--preemptions applies to --strategy preempt, not pct/);
  });

  it("--jobs 2 prints what --jobs 1 prints", async () => {
    const args = [
      "fuzz",
      "models/classic/flag-lock.ts",
      "--seed",
      "5",
      "--runs",
      "400",
      "--no-save",
    ];
    const one = await run(args);
    const two = await run([...args, "--jobs", "2"]);
    expect(one.code).toBe(1);
    expect(two.code).toBe(1);
    expect(two.out).toBe(one.out);
    expect((await run([...args, "--jobs", "0"])).err).toMatch(/--jobs 0: expected an integer >= 1/);
  });

  it("the command that reproduces a PCT run keeps its depth", async () => {
    const pct5 = [
      "fuzz",
      "models/classic/peterson.ts",
      "--variant",
      "no-turn",
      "--strategy",
      "pct",
    ];
    pct5.push("--pct-depth", "5", "--no-save");
    const r = await run([...pct5, "--seed", "4"]);
    expect(r.code).toBe(1);
    const seed = /--strategy pct --pct-depth 5 --seed (\d+) --runs 1/.exec(r.out);
    expect(seed, r.out).not.toBeNull();
    const again = await run([...pct5, "--seed", seed![1]!, "--runs", "1"]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/found by pct on run 1 of 1/);
  });

  it("takes an operation list with --param, quoted in the command that reproduces the run", async () => {
    const r = await run([
      "fuzz",
      "models/deferred-split/deferred-split.ts",
      "--variant",
      "private-list",
      "--param",
      "third_parties=partial_unmap(F1);split(F2)",
      "--param",
      "putters=0",
      "--runs",
      "200",
      "--seed",
      "3",
      "--no-save",
    ]);
    expect(r.code).toBe(1);
    // the fixed list is kept as given (it is not shrunk away) and quoted for the shell
    expect(r.out).toContain("third_parties='partial_unmap(F1);split(F2)'");
    expect(r.out).toMatch(
      /--seed \d+ --runs 1 --depth 500 --param third_parties='partial_unmap\(F1\);split\(F2\)' --param putters=0/,
    );
    // folios is not drawn below the F2 the list names
    expect(r.out).toMatch(/shrunk: folios=2 .*third_parties='partial_unmap\(F1\);split\(F2\)'/);
  });

  it("rejects an operation list the model does not declare, naming the CPU and the operation", async () => {
    const r = await run([
      "fuzz",
      "models/deferred-split/deferred-split.ts",
      "--variant",
      "folio-batch",
      "--param",
      "third_parties=folio_put(F1);frob(F2)",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `params.third_parties: CPU 2's operation 1 "frob(F2)": no operation "frob"`,
    );
    expect(r.err).toContain("folio_put(Fi), partial_unmap(Fi), split(Fi), migrate(Fi)");
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("a model error in a run exits 2 and the summary says so (not 'no violation found')", async () => {
    // --no-save: a test writes nothing into the working tree
    const r = await run([
      "fuzz",
      "test/fixtures/bad-range.ts",
      "--runs",
      "50",
      "--seed",
      "1",
      "--no-save",
    ]);
    expect(r.code).toBe(2);
    expect(r.out).toContain("E_RANGE");
    expect(r.out).toMatch(
      /1 variant\(s\) fuzzed, 50 mix runs each \(seed 1\): 1 with an error \(above\)\./,
    );
    expect(r.out).not.toContain("no violation found");
  });

  it("is listed in --help", async () => {
    const r = await run(["--help"]);
    expect(r.out).toMatch(/interleave fuzz MODEL/);
  });
});
