// The command line: exit codes, --json shapes, and a clear coded error (no stack trace) for
// every kind of bad input. Most cases call main() in this process (the code bin/interleave.mjs
// runs); a few spawn the real binary to check what a user's shell sees.
import { describe, it, expect, afterAll } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { cli, type CliRun } from "../helpers.ts";
import { compileModel, explore } from "../../src/index.ts";
import philosophers from "../../models/classic/philosophers.ts";

const tmp = mkdtempSync(join(tmpdir(), "interleave-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STACK = /\n\s+at .*:\d+:\d+/;

/** A user mistake: exit 2, one `interleave: error CODE: ...` line naming the cause, no stack. */
function expectUsageError(r: CliRun, code: string, ...mentions: string[]): void {
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^interleave: error ${code}: `, "m"));
  for (const m of mentions) expect(r.stderr).toContain(m);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stderr).not.toContain("internal error");
}

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

interface JsonResult {
  model: string;
  variant: string;
  verdict: string;
  states: number;
  transitions: number;
  seconds: number;
  complete: boolean;
  stopReason: string | null;
  expected: { ok: boolean; detail: string } | null;
  violations: { property: string; kind: string; length: number; file: string | null }[];
  error: { code: string; message: string; where: string } | null;
}
const results = (r: CliRun) => (JSON.parse(r.stdout) as { results: JsonResult[] }).results;

describe("check", () => {
  it("exit 0 when every property holds, with the documented --json shape", async () => {
    const r = await cli("check", "test/fixtures/counters.ts", "--json", "--param", "k=4");
    expect(r.code).toBe(0);
    const [res] = results(r);
    expect(res).toMatchObject({
      model: "counters",
      variant: "plain",
      verdict: "holds",
      states: 25,
      transitions: 40,
      complete: true,
      stopReason: null,
      violations: [],
      expected: { ok: true },
    });
    expect(typeof res!.seconds).toBe("number");
  });

  it("exit 1 on a violation; the counterexample is saved where --save says", async () => {
    const dir = join(tmp, "cx");
    const r = await cli(
      "check",
      "models/classic/flag-lock.ts",
      "--variant",
      "test-then-set",
      "--json",
      "--save",
      dir,
    );
    expect(r.code).toBe(1);
    const [res] = results(r);
    expect(res!.verdict).toBe("violated");
    const v = res!.violations[0]!;
    expect(v).toMatchObject({ property: "mutual-exclusion", kind: "invariant", length: 6 });
    expect(v.file).toBe(join(dir, "flag-lock/test-then-set/mutual-exclusion.json"));
    const saved = JSON.parse(readFileSync(v.file!, "utf8")) as Record<string, unknown>;
    expect(saved).toMatchObject({
      model: "models/classic/flag-lock.ts",
      name: "flag-lock",
      variant: "test-then-set",
      params: { cpus: 2 },
      property: "mutual-exclusion",
      schedule: "0 1 0 0 1 1",
      length: 6,
    });
    // and it replays
    const rep = await cli("replay", v.file!);
    expect(rep.code).toBe(1);
    expect(rep.stdout).toContain("reproduced: mutual-exclusion");
  });

  it("prints the verdict table and the diagram of each violation", async () => {
    const r = await cli("check", "models/classic/philosophers.ts", "--no-save");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^model\s+variant\s+verdict\s+declared\s+states/);
    expect(r.stdout).toMatch(/philosophers\s+left-then-right\s+violated\s+ok\s+87/);
    expect(r.stdout).toMatch(/philosophers\s+ordered\s+holds\s+ok\s+72/);
    expect(r.stdout).toContain("CPU0 (philosopher0)");
    expect(r.stdout).toContain("=> deadlock: no CPU can make progress");
    expect(r.stdout).toContain("2 of 2 as declared");
  });

  it("exit 3 when a bound stops the run", async () => {
    const r = await cli("check", "test/fixtures/counters.ts", "--max-states", "5", "--json");
    expect(r.code).toBe(3);
    expect(results(r)[0]).toMatchObject({
      verdict: "incomplete",
      stopReason: "states",
      states: 5,
      complete: false,
      expected: { ok: false },
    });
  });

  it("--fingerprint reaches the search (in its worker): same states, and the collision odds", async () => {
    const exact = await cli("check", "models/classic/peterson.ts", "--no-save", "--json");
    const fp = await cli(
      "check",
      "models/classic/peterson.ts",
      "--no-save",
      "--json",
      "--fingerprint",
    );
    expect(fp.code).toBe(exact.code);
    const [a, b] = [results(exact), results(fp)];
    expect(b.map((x) => x.states)).toEqual(a.map((x) => x.states));
    for (const x of a) expect((x as { fingerprint?: unknown }).fingerprint ?? null).toBeNull();
    for (const x of b) expect((x as { fingerprint?: { bits: number } }).fingerprint?.bits).toBe(64);
    const text = await cli("check", "models/classic/peterson.ts", "--no-save", "--fingerprint");
    expect(text.stdout).toMatch(/collision hid a state is at most \d\.\de-\d+ per variant/);
  });

  it("--max-depth and --strategy dfs", async () => {
    const r = await cli(
      "check",
      "test/fixtures/counters.ts",
      "--max-depth",
      "2",
      "--strategy",
      "dfs",
      "--json",
    );
    expect(r.code).toBe(3);
    expect(results(r)[0]).toMatchObject({ stopReason: "depth", states: 6 });
  });

  it("--json: a liveness lasso has kind liveness and its cycle; --no-liveness drops it", async () => {
    const m = "models/classic/polite-livelock.ts";
    const r = await cli("check", m, "--variant", "both-back-off", "--no-save", "--json");
    expect(r.code).toBe(1);
    const [res] = JSON.parse(r.stdout).results as {
      violations: { property: string; kind: string; cycle: number | null; length: number }[];
    }[];
    expect(res!.violations).toMatchObject([
      { property: "termination", kind: "liveness", cycle: 0, length: 6 },
    ]);
    const text = await cli("check", m, "--variant", "both-back-off", "--no-save");
    expect(text.stdout).toContain("termination (0 steps, then a 6-step cycle repeated forever)");
    expect(text.stdout).toContain("from here the schedule repeats forever");
    const off = await cli("check", m, "--variant", "both-back-off", "--no-save", "--no-liveness");
    expect(off.code).toBe(0);
    // the table says what was not checked
    const nl = await cli(
      "check",
      m,
      "--variant",
      "both-back-off",
      "--no-liveness",
      "--json",
      "--no-save",
    );
    const [r2] = JSON.parse(nl.stdout).results as {
      properties: { name: string; status: string }[];
    }[];
    expect(r2!.properties.find((p) => p.name === "termination")!.status).toBe("off");
  });

  it("--expect: exit 0 exactly when every verdict is as declared", async () => {
    const ok = await cli("check", "models/classic", "--expect", "--no-save", "--json");
    expect(ok.code).toBe(0);
    expect(results(ok).every((x) => x.expected?.ok)).toBe(true);
    const bad = await cli("check", "test/fixtures/counters.ts", "--expect", "--max-states", "3");
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(
      "NOT as declared: counters/plain (incomplete (reached the max-states bound)",
    );
  });

  it("a model error (value out of range) is exit 2 and names field, step and trace", async () => {
    const r = await cli("check", "test/fixtures/bad-range.ts");
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("model error E_RANGE in bad-range/only: refcount = 3");
    expect(r.stdout).toContain("step `folio_get#1` at test/fixtures/bad-range.ts:");
    expect(r.stdout).toContain("the trace that led to it:");
    expect(r.stdout).toContain("folio_get#0");
    expect(r.stdout).not.toMatch(STACK);
    const j = await cli("check", "test/fixtures/bad-range.ts", "--json");
    expect(j.code).toBe(2);
    expect(results(j)[0]).toMatchObject({ verdict: "error", error: { code: "E_RANGE" } });
  });

  it("a step that throws is exit 2 with where it threw, and no stack", async () => {
    const r = await cli("check", "test/fixtures/step-throws.ts");
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("model error E_STEP");
    expect(r.stdout).toContain("Cannot read properties of undefined");
    expect(r.stdout).toMatch(/thrown at test\/fixtures\/step-throws\.ts:\d+/);
    expect(r.stdout).toContain("INTERLEAVE_DEBUG=1");
    expect(r.stdout).not.toMatch(STACK);
  });

  it("a model whose build throws: E_BUILD naming model, variant and line; others still run", async () => {
    const r = await cli("check", "test/fixtures/build-throws.ts");
    expectUsageError(r, "E_BUILD", "model build-throws (variant only)", "no folio to queue");
    expect(r.stderr).toMatch(/test\/fixtures\/build-throws\.ts:\d+/);
    const both = await cli(
      "check",
      "test/fixtures/build-throws.ts",
      "test/fixtures/counters.ts",
      "--json",
    );
    expect(both.code).toBe(2);
    const rs = results(both);
    expect(rs.map((x) => [x.model, x.verdict])).toEqual([
      ["counters", "holds"],
      ["build-throws", "error"],
    ]);
    expect(rs[1]!.error!.code).toBe("E_BUILD");
  });
});

describe("bad input: a clear coded error, exit 2, no stack trace", () => {
  it("no command", async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("usage:");
  });

  it("unknown command", async () => {
    expectUsageError(await cli("frobnicate"), "E_USAGE", 'unknown command "frobnicate"');
  });

  it("unknown option", async () => {
    expectUsageError(await cli("check", "--frob"), "E_USAGE", "--frob");
    expectUsageError(await cli("replay", "x.json", "--frob"), "E_USAGE", "--frob");
    expectUsageError(await cli("list", "--frob"), "E_USAGE", "--frob");
  });

  it("bad --param: not NAME=INTEGER, unknown name, out of range, not an integer", async () => {
    const m = "models/classic/philosophers.ts";
    expectUsageError(await cli("check", m, "--param", "n"), "E_USAGE", "expected NAME=INTEGER");
    expectUsageError(
      await cli("check", m, "--param", "n=two"),
      "E_PARAM",
      "n=two",
      "not an integer",
    );
    expectUsageError(
      await cli("check", m, "--param", "folios=3"),
      "E_PARAM",
      'no parameter "folios"',
      "its parameters are: n",
    );
    expectUsageError(await cli("check", m, "--param", "n=99"), "E_PARAM", "outside 2..6");
  });

  it("over several models, --param goes to the models that declare it", async () => {
    const r = await cli("check", "models/classic", "--param", "n=4", "--json", "--no-save");
    const rows = results(r);
    const phil = rows.filter((x) => x.model === "philosophers");
    const n4 = await Promise.all(
      ["left-then-right", "ordered"].map((v) =>
        explore(compileModel(philosophers, v, { n: 4 })).then((x) => x.states),
      ),
    );
    const n3 = await explore(compileModel(philosophers, "ordered"));
    expect(phil.map((x) => x.states)).toEqual(n4);
    expect(n4[1]).not.toBe(n3.states);
    expect(rows.find((x) => x.model === "peterson")!.states).toBe(42);
    expectUsageError(
      await cli("check", "models/classic", "--param", "zz=1"),
      "E_PARAM",
      'no model in models/classic has a parameter "zz"',
    );
  });

  it("bad bounds and strategy", async () => {
    const m = "test/fixtures/counters.ts";
    expectUsageError(await cli("check", m, "--max-states", "0"), "E_USAGE", "--max-states");
    expectUsageError(await cli("check", m, "--max-seconds", "soon"), "E_USAGE", "--max-seconds");
    expectUsageError(await cli("check", m, "--strategy", "xfs"), "E_USAGE", "bfs or dfs");
  });

  it("unknown variant (one model, many models, diff)", async () => {
    expectUsageError(
      await cli("check", "models/classic/peterson.ts", "--variant", "nope"),
      "E_VARIANT",
      'no variant "nope"',
      "peterson, no-turn",
    );
    expectUsageError(
      await cli("check", "models/classic", "--variant", "nope"),
      "E_VARIANT",
      '"nope"',
    );
    expectUsageError(
      await cli("diff", "models/classic/peterson.ts", "--variants", "peterson,nope"),
      "E_VARIANT",
      'no variant "nope"',
    );
  });

  it("missing file", async () => {
    expectUsageError(await cli("check", "models/nope.ts"), "E_NO_FILE", "models/nope.ts");
    expectUsageError(await cli("list", "nowhere"), "E_NO_FILE", "nowhere");
    expectUsageError(await cli("replay", "nope.json"), "E_NO_FILE", "nope.json");
    expectUsageError(await cli("diff", "nope.ts"), "E_NO_FILE", "nope.ts");
  });

  it("a file that is not a model, and a folder without models", async () => {
    expectUsageError(
      await cli("check", "test/fixtures/not-a-model.ts"),
      "E_NOT_MODEL",
      "test/fixtures/not-a-model.ts: exports no model",
      "defineModel",
    );
    const empty = mkdtempSync(join(tmp, "empty-"));
    expectUsageError(await cli("check", empty), "E_NO_MODEL", "no model found");
  });

  it("a model file that fails to load (throws, or does not parse)", async () => {
    expectUsageError(
      await cli("check", "test/fixtures/load-throws.ts"),
      "E_MODEL_LOAD",
      "test/fixtures/load-throws.ts: the model file failed to load",
      "split_queue_len is not declared",
      "INTERLEAVE_DEBUG=1",
    );
    const broken = file("broken-syntax.ts", "export default { name: ;\n");
    expectUsageError(await cli("check", broken), "E_MODEL_LOAD", "broken-syntax.ts");
  });

  it("broken counterexample files", async () => {
    const good = JSON.parse(
      readFileSync("counterexamples/flag-lock/test-then-set/mutual-exclusion.json", "utf8"),
    ) as Record<string, unknown>;
    const variant = (name: string, edit: (o: Record<string, unknown>) => void): string => {
      const o = structuredClone(good);
      edit(o);
      return file(`${name}.json`, JSON.stringify(o));
    };
    expectUsageError(
      await cli("replay", file("not-json.json", "{ nope")),
      "E_CX_JSON",
      "not-json.json: not valid JSON",
    );
    expectUsageError(
      await cli(
        "replay",
        variant("no-schedule", (o) => delete o.schedule),
      ),
      "E_CX_FIELD",
      'field "schedule" should be a string, found nothing',
    );
    expectUsageError(
      await cli(
        "replay",
        variant("num-variant", (o) => (o.variant = 3)),
      ),
      "E_CX_FIELD",
      'field "variant" should be a string, found number',
    );
    expectUsageError(
      await cli(
        "replay",
        variant("bad-params", (o) => (o.params = { cpus: true })),
      ),
      "E_CX_FIELD",
      "params.cpus should be a number (or, for a list of operations, a string)",
    );
    expectUsageError(
      await cli(
        "replay",
        variant("bad-schedule", (o) => (o.schedule = "0 1 x")),
      ),
      "E_CX_FIELD",
      '"x" is not a move',
    );
    expectUsageError(
      await cli(
        "replay",
        variant("no-model-file", (o) => (o.model = "models/gone.ts")),
      ),
      "E_NO_FILE",
      "models/gone.ts does not exist",
    );
    expectUsageError(
      await cli(
        "replay",
        variant("no-variant", (o) => (o.variant = "gone")),
      ),
      "E_VARIANT",
      'no variant "gone"',
    );
    expectUsageError(
      await cli(
        "replay",
        variant("bad-param-value", (o) => (o.params = { cpus: 9 })),
      ),
      "E_PARAM",
      "cpus=9",
    );
    for (const [name, text] of [
      ["array", "[]"],
      ["null", "null"],
      ["number", "42"],
    ]) {
      expectUsageError(
        await cli("replay", file(`${name}.json`, text!)),
        "E_CX_JSON",
        `${name}.json: not a counterexample`,
      );
    }
  });
});

describe("list and diff", () => {
  it("list --json: models, variants with expected verdicts, properties", async () => {
    const r = await cli("list", "models/classic", "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      name: string;
      file: string;
      variants: {
        name: string;
        expect: unknown;
        properties: string[];
        severities: Record<string, string>;
      }[];
    }[];
    expect(out.map((m) => m.name)).toEqual([
      "flag-lock",
      "mutex-starvation",
      "peterson",
      "philosophers",
      "polite-livelock",
    ]);
    const fl = out[0]!;
    expect(fl.file).toBe("models/classic/flag-lock.ts");
    expect(fl.variants.map((v) => [v.name, v.expect])).toEqual([
      ["test-then-set", { violated: ["mutual-exclusion"] }],
      ["test-and-set", "holds"],
    ]);
    expect(fl.variants[0]!.properties).toEqual(["mutual-exclusion", "deadlock", "termination"]);
    // severities of the properties that have one (an invariant: warn by default)
    expect(fl.variants[0]!.severities).toEqual({ "mutual-exclusion": "warn" });
    const text = await cli("list", "models/classic");
    expect(text.stdout).toContain("- test-then-set: expected violates mutual-exclusion");
    expect(text.stdout).toContain("params: n=3 [2..6]");
  });

  it("list of a model that does not build: the variant is shown with its error, exit 2", async () => {
    const r = await cli("list", "test/fixtures/build-throws.ts", "--json");
    expect(r.code).toBe(2);
    const [m] = JSON.parse(r.stdout) as { variants: { error: { code: string } | null }[] }[];
    expect(m!.variants[0]!.error!.code).toBe("E_BUILD");
    const text = await cli("list", "test/fixtures/build-throws.ts");
    expect(text.stdout).toContain("does not build: error E_BUILD");
    expectUsageError(text, "E_BUILD", "no folio to queue");
  });

  it("diff --json: the property x variant table and the contrasts", async () => {
    const r = await cli("diff", "models/classic/peterson.ts", "--json", "--no-save");
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as {
      properties: string[];
      variants: { variant: string; cells: Record<string, string> }[];
      contrasts: string[];
    };
    // peterson runs without the data-race check: its cell says so
    expect(out.properties).toEqual(["mutual-exclusion", "deadlock", "data-race", "termination"]);
    const cells = { "mutual-exclusion": "holds", "data-race": "off", termination: "holds" };
    expect(out.variants.map((v) => [v.variant, v.cells])).toEqual([
      ["peterson", { ...cells, deadlock: "holds" }],
      ["no-turn", { ...cells, deadlock: "violated (2)" }],
    ]);
    expect(out.contrasts).toEqual(["deadlock"]);
    const text = await cli("diff", "models/classic/peterson.ts", "--no-save");
    expect(text.stdout).toContain("deadlock: broken by no-turn (2); kept by peterson");
  });

  it("diff needs exactly one model file", async () => {
    expectUsageError(await cli("diff"), "E_USAGE", "diff takes one model file");
  });
});

describe("the progress line", () => {
  /** Runs a 1.3 s check of the endless model with stderr claiming to be a terminal or not. */
  async function run(tty: boolean, ...extra: string[]): Promise<CliRun> {
    const saved = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
    Object.defineProperty(process.stderr, "isTTY", { value: tty, configurable: true });
    try {
      return await cli("check", "test/fixtures/endless.ts", "--max-seconds", "1.3", ...extra);
    } finally {
      if (saved) Object.defineProperty(process.stderr, "isTTY", saved);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  }

  it("on a terminal, a run longer than a second shows states, rate, depth, frontier, memory", async () => {
    const r = await run(true);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /\rendless\/only {2}states [\d.]+[kM]? \([\d.]+[kM]?\/s\) {2}depth \d+ {2}frontier [\d.]+[kM]? {2}mem \d+ MB {2}\ds/,
    );
    // the line is cleared before the table is printed
    expect(r.stderr.endsWith("\r\x1b[K")).toBe(true);
  });

  it("none with --quiet, none when stderr is not a terminal", async () => {
    for (const r of [await run(true, "--quiet"), await run(false)]) {
      expect(r.code).toBe(3);
      // the model is built in this thread and in the search worker: no progress line besides
      expect(r.stderr).toMatch(/^(endless: built\n)+$/);
    }
  });
});

describe("the real binary", () => {
  /** Runs the binary; resolves with its exit status and stderr. */
  const run = (...args: string[]) =>
    new Promise<{ status: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ["bin/interleave.mjs", ...args], (err, _out, stderr) => {
        resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stderr });
      });
    });

  it("exit codes 0, 1, 2, 3 reach the shell", async () => {
    const [ok, violated, bad, incomplete] = await Promise.all([
      run("check", "test/fixtures/counters.ts", "--quiet"),
      run("check", "models/classic/flag-lock.ts", "--no-save"),
      run("check", "test/fixtures/build-throws.ts"),
      run("check", "test/fixtures/counters.ts", "--max-states", "2"),
    ]);
    expect(ok.status).toBe(0);
    expect(violated.status).toBe(1);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("interleave: error E_BUILD:");
    expect(bad.stderr).not.toMatch(STACK);
    expect(incomplete.status).toBe(3);
  });

  it("Ctrl-C ends a run cleanly: incomplete (exit 3) with what was explored", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(
      process.execPath,
      ["bin/interleave.mjs", "check", "test/fixtures/endless.ts", "--json"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    await new Promise<void>((resolve) => {
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        // the model announces that it is built: the run (and its SIGINT handler) is live
        if (stderr.includes("endless: built")) resolve();
      });
    });
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(3);
    expect(stderr).toContain("interrupted; finishing the report");
    const [res] = results({ code: code ?? -1, stdout, stderr });
    expect(res).toMatchObject({
      verdict: "incomplete",
      stopReason: "interrupted",
      complete: false,
    });
    expect(res!.states).toBeGreaterThan(0);
  });
});

it("fixture files exist (guards against a renamed fixture silently weakening a test)", () => {
  for (const f of [
    "counters",
    "bad-range",
    "step-throws",
    "build-throws",
    "not-a-model",
    "load-throws",
    "endless",
    "flag-lock-fixed",
  ])
    expect(existsSync(`test/fixtures/${f}.ts`)).toBe(true);
});
