// Faults and bad input lose nothing (issue 12): the CLI is run as a subprocess against each row
// of the issue's table — saves into a read-only folder, into a file, onto a full disk; a step that
// never returns under --max-seconds and Ctrl-C; a very long trace under a small --max-memory; and
// the bad inputs — asserting the exit code, the message, and that every file that was there
// before is byte for byte intact.

import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative } from "node:path";

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the binary. `onStderr` sees stderr as it grows and may send signals (it gets the child's
 * kill function); returns once the process has ended.
 */
function run(
  args: string[],
  opts: {
    env?: Record<string, string>;
    onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void;
    onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void;
  } = {},
): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/interleave.mjs", ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const kill = (s: NodeJS.Signals): void => void child.kill(s);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout, kill);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr, kill);
    });
    child.on("close", (code, signal) =>
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }),
    );
  });
}

/** Every file under `dir` with its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** The files that were there before are there, unchanged; no temporary file is left. */
function expectIntact(dir: string, before: Map<string, Buffer>): void {
  const after = snapshot(dir);
  for (const [p, bytes] of before) {
    expect(after.has(p), `${p} still exists`).toBe(true);
    expect(after.get(p)!.equals(bytes), `${p} unchanged`).toBe(true);
  }
  expect([...after.keys()].filter((p) => p.endsWith(".tmp"))).toEqual([]);
}

const tmp = (prefix: string): string => mkdtempSync(join(tmpdir(), `faults-${prefix}-`));

/** A save folder holding a valid counterexample of flag-lock/test-then-set, as a run left it. */
function savedFolder(prefix: string): { dir: string; file: string } {
  const dir = tmp(prefix);
  const file = join(dir, "flag-lock", "test-then-set", "mutual-exclusion.json");
  mkdirSync(join(dir, "flag-lock", "test-then-set"), { recursive: true });
  // valid, but not what this run writes (so the run really tries to replace it)
  const cx = {
    interleave: 1,
    model: "models/classic/flag-lock.ts",
    name: "flag-lock",
    variant: "test-then-set",
    params: { cpus: 2 },
    property: "mutual-exclusion",
    kind: "invariant",
    message: "2 CPUs in the critical section (an older run)",
    length: 6,
    schedule: "0 1 0 0 1 1",
    replay: "npx interleave replay old.json",
    diagram: ["(older)"],
  };
  writeFileSync(file, JSON.stringify(cx, null, 2) + "\n");
  return { dir, file };
}

const noStack = (s: string): void => expect(s).not.toMatch(/\n\s+at .*:\d+:\d+/);

describe("saves are atomic and never fatal", () => {
  const check = (save: string, env?: Record<string, string>) =>
    run(["check", "models/classic/flag-lock.ts", "--save", save, "--no-show"], { env });

  it("a read-only save folder: the verdicts stand, one E_SAVE error after them, nothing changed", async () => {
    const { dir } = savedFolder("ro");
    const before = snapshot(dir);
    chmodSync(join(dir, "flag-lock", "test-then-set"), 0o555);
    // root writes anyway: the fault is then injected where the write would fail
    const root = process.getuid?.() === 0;
    const r = await check(dir, root ? { INTERLEAVE_FAULT_SAVE: "EACCES" } : undefined);
    chmodSync(join(dir, "flag-lock", "test-then-set"), 0o755);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/flag-lock\s+test-then-set\s+violated\s+ok/);
    expect(r.stdout).toMatch(/2 variant\(s\) checked; 2 of 2 as declared/);
    expect(r.stderr).toMatch(
      /interleave: error E_SAVE: could not save .*mutual-exclusion\.json: EACCES/,
    );
    expect(r.stderr).toContain("make the folder writable");
    expect(r.stderr).toContain("--save DIR");
    expect(r.stderr).not.toContain("internal error");
    noStack(r.stderr);
    expectIntact(dir, before);
  });

  it("--save naming a file (ENOTDIR): the file is untouched", async () => {
    const dir = tmp("notdir");
    const file = join(dir, "README.md");
    writeFileSync(file, "# not a folder\n");
    const before = snapshot(dir);
    const r = await check(file);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/flag-lock\s+test-then-set\s+violated/);
    expect(r.stderr).toMatch(/E_SAVE: could not save .*README\.md\/flag-lock.*ENOTDIR/);
    expect(r.stderr).toContain("a file stands where a folder is needed");
    noStack(r.stderr);
    expectIntact(dir, before);
  });

  it("a full disk (ENOSPC after 4096 bytes): the existing counterexample is not truncated", async () => {
    const { dir, file } = savedFolder("full");
    const before = snapshot(dir);
    // a trace long enough that its file is past the 4096 bytes the disk has room for
    const r = await run(
      [
        "check",
        "test/fixtures/faults/long-trace.ts",
        "--param",
        "n=3000",
        "--save",
        dir,
        "--no-show",
      ],
      { env: { INTERLEAVE_FAULT_SAVE: "ENOSPC:4096" } },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/long-trace\s+only\s+violated\s+ok/);
    expect(r.stderr).toMatch(/E_SAVE: could not save .*counted@n=3000\.json: ENOSPC/);
    expect(r.stderr).toContain("free some disk space");
    expectIntact(dir, before);
    // and on the file that was there: the same fault while replacing it
    const again = await check(dir, { INTERLEAVE_FAULT_SAVE: "ENOSPC:100" });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/E_SAVE: could not save .*mutual-exclusion\.json: ENOSPC/);
    expect(JSON.parse(readFileSync(file, "utf8")).message).toContain("an older run");
    expectIntact(dir, before);
  });

  it("fuzz saves through the same helper: a full disk is reported after the result", async () => {
    const { dir } = savedFolder("fuzzfull");
    const before = snapshot(dir);
    const r = await run(
      [
        "fuzz",
        "models/classic/flag-lock.ts",
        "--variant",
        "test-then-set",
        "--seed",
        "3",
        "--runs",
        "50",
        "--save",
        dir,
      ],
      { env: { INTERLEAVE_FAULT_SAVE: "ENOSPC" } },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/mutual-exclusion violated/);
    expect(r.stderr).toMatch(/E_SAVE: could not save .*fuzz\/mutual-exclusion\.json: ENOSPC/);
    expectIntact(dir, before);
  });
});

describe("a run can always be stopped", () => {
  const stuckLine =
    /CPU1 \(spinner\) step `spin forever` at test\/fixtures\/faults\/stuck\.ts:\d+ did not return/;

  it("check: --max-seconds ends a step that loops forever, naming it", async () => {
    const r = await run([
      "check",
      "test/fixtures/faults/stuck.ts",
      "--no-save",
      "--max-seconds",
      "1",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/stuck\s+only\s+incomplete/);
    expect(r.stdout).toMatch(stuckLine);
    expect(r.stdout).toContain("after --max-seconds 1");
  });

  it("check: the memory budget ends a step that allocates without end, naming it", async () => {
    const r = await run([
      "check",
      "test/fixtures/faults/hog.ts",
      "--no-save",
      "--max-memory",
      "64",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/hog\s+only\s+incomplete.*stopped: memory/);
    expect(r.stdout).toMatch(
      /CPU0 \(hog\) step `grow a list forever` at test\/fixtures\/faults\/hog\.ts:\d+ did not return \(its code allocated past the worker's heap limit \(256 MB\)\)/,
    );
    expect(r.stderr).not.toMatch(/FATAL|heap out of memory/);
  });

  it("fuzz: --max-seconds ends a session stuck in a step, naming it", async () => {
    const r = await run([
      "fuzz",
      "test/fixtures/faults/stuck.ts",
      "--no-save",
      "--max-seconds",
      "1",
      "--runs",
      "20",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(stuckLine);
  });

  it("Ctrl-C ends a stuck step; the variants not reached are listed as not run", async () => {
    const save = tmp("int");
    let sent = false;
    const r = await run(
      ["check", "test/fixtures/faults/stuck.ts", "test/fixtures/put-race.ts", "--save", save],
      {
        onStderr: (text, kill) => {
          // built here and in the search worker: the search has started
          if (!sent && (text.match(/stuck: built/g) ?? []).length >= 2) {
            sent = true;
            setTimeout(() => kill("SIGINT"), 300);
          }
        },
      },
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(stuckLine);
    expect(r.stdout).toContain("after the interrupt");
    expect(r.stdout).toMatch(/put-race\s+open-coded\s+not run/);
    expect(r.stdout).toMatch(/put-race\s+atomic\s+not run/);
    expect(r.stdout).toContain("2 not run (interrupted)");
    expect(readdirSync(save)).toEqual([]);
  });

  it("the variants an interrupt skipped are in the JSON as not run", async () => {
    let sent = false;
    const r = await run(
      [
        "check",
        "test/fixtures/faults/stuck.ts",
        "test/fixtures/put-race.ts",
        "--json",
        "--no-save",
      ],
      {
        onStderr: (text, kill) => {
          if (!sent && (text.match(/stuck: built/g) ?? []).length >= 2) {
            sent = true;
            setTimeout(() => kill("SIGINT"), 300);
          }
        },
      },
    );
    expect(r.code).toBe(3);
    const j = JSON.parse(r.stdout) as { results: { variant: string; verdict: string }[] };
    expect(j.results.map((x) => `${x.variant}:${x.verdict}`)).toEqual([
      "only:incomplete",
      "open-coded:not run",
      "atomic:not run",
    ]);
  });

  it("a second Ctrl-C quits at once, without waiting for the stuck step", async () => {
    let sent = false;
    let firstAt = 0;
    const r = await run(["check", "test/fixtures/faults/stuck.ts", "--no-save"], {
      onStderr: (text, kill) => {
        if (!sent && (text.match(/stuck: built/g) ?? []).length >= 2) {
          sent = true;
          setTimeout(() => {
            firstAt = Date.now();
            kill("SIGINT");
            setTimeout(() => kill("SIGINT"), 200);
          }, 300);
        }
      },
    });
    expect(r.signal === "SIGINT" || r.code === 130).toBe(true);
    // well before the 1.5 s the first Ctrl-C gives a stuck step
    expect(Date.now() - firstAt).toBeLessThan(1400);
  });

  it("a second Ctrl-C quits at once while a long trace prints", async () => {
    const save = tmp("longprint");
    const made = await run([
      "check",
      "test/fixtures/faults/long-trace.ts",
      "--param",
      "n=100000",
      "--save",
      save,
      "--no-show",
    ]);
    expect(made.code).toBe(1);
    const file = join(save, "long-trace", "only", "counted@n=100000.json");
    let sent = false;
    let at = 0;
    const r = await run(["replay", file, "--full"], {
      onStdout: (text, kill) => {
        if (!sent && text.length > 1000) {
          sent = true;
          at = Date.now();
          kill("SIGINT");
          setTimeout(() => kill("SIGINT"), 100);
        }
      },
    });
    expect(r.signal === "SIGINT" || r.code === 130).toBe(true);
    expect(Date.now() - at).toBeLessThan(1500);
  });
});

describe("long traces are bounded", () => {
  it("a 200k-step trace: shown abridged, saved whole (streamed)", async () => {
    const save = tmp("long");
    const r = await run([
      "check",
      "test/fixtures/faults/long-trace.ts",
      "--param",
      "n=100000",
      "--save",
      save,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/counted \(200002\)/);
    expect(r.stdout).toMatch(
      /\.\.\. 199602 steps not shown \(steps 201 to 199802 of 200002\): the whole trace is in .*counted@n=100000\.json/,
    );
    expect(r.stdout.split("\n").length).toBeLessThan(1000);
    const cx = JSON.parse(
      readFileSync(join(save, "long-trace", "only", "counted@n=100000.json"), "utf8"),
    ) as { schedule: string; diagram: string[]; length: number };
    expect(cx.length).toBe(200002);
    expect(cx.schedule.split(" ").length).toBe(200002);
    expect(cx.diagram.at(-1)).toBe("=> counted: count reached n");
    expect(cx.diagram.length).toBeGreaterThan(300000);
  });

  it("a trace past a small --max-memory is not built: violated, said so, no crash", async () => {
    const save = tmp("longmem");
    const r = await run([
      "check",
      "test/fixtures/faults/long-trace.ts",
      "--param",
      "n=400000",
      "--max-memory",
      "60",
      "--save",
      save,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/long-trace\s+only\s+violated\s+ok/);
    expect(r.stdout).toMatch(
      /trace not kept: its 800002 steps would take about \d+ MB, past the memory budget \(60 MB/,
    );
    expect(r.stdout).toContain("raise --max-memory");
    expect(r.stderr).not.toMatch(/heap out of memory|FATAL/);
    expect(readdirSync(save)).toEqual([]);
  });
});

describe("no silent all-clear", () => {
  it("fuzz --property with a name the model does not have is an error listing the properties", async () => {
    const r = await run(["fuzz", "models/classic/flag-lock.ts", "--property", "nosuch"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("E_USAGE: --property nosuch: no such property in flag-lock");
    expect(r.stderr).toMatch(/hint: its properties: .*deadlock.*mutual-exclusion/);
  });

  it("a fuzz session whose runs were all cut at --depth is incomplete, exit 3", async () => {
    const r = await run([
      "fuzz",
      "models/classic/flag-lock.ts",
      "--variant",
      "test-and-set",
      "--depth",
      "2",
      "--runs",
      "20",
      "--no-save",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain("incomplete: all 20 runs were cut at --depth 2");
  });
});

describe("nothing is overwritten by surprise", () => {
  it("--param other than the variant's own saves to a path that names it", async () => {
    const save = tmp("param");
    const first = await run([
      "check",
      "test/fixtures/faults/long-trace.ts",
      "--save",
      save,
      "--no-show",
    ]);
    expect(first.code).toBe(1);
    const before = snapshot(save);
    expect([...before.keys()]).toEqual(["long-trace/only/counted.json"]);
    const r = await run([
      "check",
      "test/fixtures/faults/long-trace.ts",
      "--param",
      "n=5",
      "--save",
      save,
      "--no-show",
    ]);
    expect(r.code).toBe(1);
    expectIntact(save, before);
    expect(snapshot(save).has("long-trace/only/counted@n=5.json")).toBe(true);
  });

  it("two models with the same name are an error naming both files", async () => {
    const save = tmp("twin");
    const r = await run(["check", "test/fixtures/faults/same-name", "--save", save]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /E_MODEL: two models are named "twin": in test\/fixtures\/faults\/same-name\/a\.ts and in test\/fixtures\/faults\/same-name\/b\.ts/,
    );
    expect(readdirSync(save)).toEqual([]);
  });

  it("the README's fuzz and check examples that save write outside the repository", () => {
    const readme = readFileSync("README.md", "utf8");
    const fuzz = readme.split("\n").filter((l) => l.startsWith("$ npx interleave fuzz"));
    expect(fuzz.length).toBeGreaterThan(0);
    for (const l of fuzz) expect(l).toMatch(/--save \/tmp\/|--no-save/);
  });

  it("the suite checks that it leaves the working tree clean (test/clean-tree.ts)", () => {
    expect(readFileSync("vitest.config.ts", "utf8")).toContain(
      'globalSetup: ["test/clean-tree.ts"]',
    );
  });
});

describe("inputs are checked where they enter", () => {
  it("--jobs above the core count is capped with a warning", async () => {
    const r = await run([
      "fuzz",
      "models/classic/flag-lock.ts",
      "--variant",
      "test-and-set",
      "--runs",
      "4",
      "--jobs",
      "100",
      "--no-save",
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `warning: --jobs 100 is more than the ${availableParallelism()} core(s) of this machine: using ${availableParallelism()}`,
    );
  });

  it("seeds outside the generator's range are rejected", async () => {
    for (const seed of ["4294967296", "99999999999999999999", "-1", "1e3"]) {
      const r = await run(["fuzz", "models/classic/flag-lock.ts", `--seed=${seed}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--seed ${seed}: expected an integer from 0 to 2147483647`);
    }
  });

  it("a declared range wider than 32 bits is an error at the declaration", async () => {
    const r = await run(["check", "test/fixtures/faults/wide-int.ts", "--no-save"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("int(0, 1099511627776): the range does not fit the 32-bit words");
  });

  it("a counterexample of another format version is refused", async () => {
    const { file } = savedFolder("version");
    const cx = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...cx, interleave: 99 }));
    const r = await run(["replay", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_CX_VERSION: .*format version 99; this interleave reads version 1/);
    expect(r.stderr).toContain("written by a newer interleave");
  });

  it("--strategy pos is accepted", async () => {
    const r = await run([
      "fuzz",
      "models/classic/flag-lock.ts",
      "--variant",
      "test-then-set",
      "--strategy",
      "pos",
      "--runs",
      "200",
      "--seed",
      "1",
      "--no-save",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("mutual-exclusion violated");
  });
});

describe("replay answers the question a fix asks", () => {
  it("on the fixed variant: not reproduced, exit 4, the fix works for this schedule", async () => {
    const r = await run([
      "replay",
      "counterexamples/peterson/no-turn/deadlock.json",
      "--variant",
      "peterson",
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("NOT reproduced on peterson (recorded on no-turn)");
    expect(r.stderr).toContain("the fix works for this schedule");
  });

  it("a schedule that no longer fits says so, exit 4", async () => {
    const r = await run([
      "replay",
      "counterexamples/flag-lock/test-then-set/mutual-exclusion.json",
      "--variant",
      "test-and-set",
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("the schedule no longer fits variant test-and-set");
  });

  it("several files: reproduced wins over not reproduced (exit 1); a malformed one is exit 2", async () => {
    const both = await run([
      "replay",
      "counterexamples/flag-lock/test-then-set/mutual-exclusion.json",
      "counterexamples/peterson/no-turn/deadlock.json",
    ]);
    expect(both.code).toBe(1);
    expect(both.stdout).toContain("reproduced: mutual-exclusion on test-then-set");
    expect(both.stdout).toContain("reproduced: deadlock on no-turn");
    const dir = tmp("bad");
    writeFileSync(join(dir, "bad.json"), "{ not json");
    const bad = await run([
      "replay",
      join(dir, "bad.json"),
      "counterexamples/peterson/no-turn/deadlock.json",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("E_CX_JSON");
    expect(bad.stdout).toContain("reproduced: deadlock on no-turn");
  });
});

describe("errors carry their cause", () => {
  it("diff prints the message of a variant whose step throws", async () => {
    const r = await run(["diff", "test/fixtures/faults/diff-error.ts", "--no-save"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/deadlock\s+(-\s+)?holds\s+error/);
    expect(r.stdout).toContain("buggy: error E_STEP: folio->mapping is NULL here");
    expect(r.stdout).toMatch(
      /in CPU0 \(t\) step `x = 1` at test\/fixtures\/faults\/diff-error\.ts:\d+/,
    );
  });

  it("an invariant that throws: the whole trace to its state and the invariant's file:line", async () => {
    const r = await run(["check", "test/fixtures/faults/invariant-throws.ts", "--no-save"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('E_PROPERTY in invariant-throws/only: invariant "x-small" threw');
    expect(r.stdout).toMatch(
      /in invariant "x-small" declared at test\/fixtures\/faults\/invariant-throws\.ts:20/,
    );
    // both steps, the last one included
    expect(r.stdout).toMatch(/x = 1\n\s+x 0 -> 1\n\s+x = 2\n\s+x 1 -> 2/);
  });
});
