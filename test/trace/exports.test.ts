// The trace documents and their writers (Mermaid, ITF, dot, the HTML page), without a browser:
// ITF validated against the schema written from the format's spec, every model text escaped,
// lock holds and lassos drawn, the dot writer on a hand-made lock-order graph.
import { describe, it, expect, afterAll } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Ajv } from "ajv";
import { compileModel } from "../../src/index.ts";
import { parseSchedule } from "../../src/trace/schedule.ts";
import { traceDoc, lockHolds } from "../../src/trace/document.ts";
import { mermaidSequence, mermaidText, mermaidMarkdown } from "../../src/trace/mermaid.ts";
import { toItf, itfInt } from "../../src/trace/itf.ts";
import { lockOrderDot, cycleEdges, dotString } from "../../src/trace/dot.ts";
import { esc, reportHtml, swimlaneSvg } from "../../src/report/html.ts";
import { exportLockOrders } from "../../src/cli/formats.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import deferredSplit from "../../models/deferred-split/deferred-split.ts";
import { cli, tiny, cpu } from "../helpers.ts";
import { bool } from "../../src/index.ts";

const schema = JSON.parse(readFileSync("docs/itf.schema.json", "utf8")) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validItf = ajv.compile(schema);

const tmp = mkdtempSync(join(tmpdir(), "interleave-exports-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function storedCx(path: string) {
  return JSON.parse(readFileSync(path, "utf8")) as {
    variant: string;
    params: Record<string, number | string>;
    property: string;
    kind: string;
    message: string;
    schedule: string;
  };
}

const raceFile = "counterexamples/deferred-split/private-list-no-prev/data-race.json";
const raceCx = storedCx(raceFile);
const raceModel = compileModel(deferredSplit, raceCx.variant, raceCx.params);
const raceDoc = traceDoc(raceModel, parseSchedule(raceCx.schedule), raceCx);

describe("trace documents", () => {
  it("a data race names its two pending accesses, from the message", () => {
    expect(raceDoc.race).toBeDefined();
    expect(raceDoc.race!.field).toBe("F1._deferred_list.prev");
    expect([raceDoc.race!.a.cpu, raceDoc.race!.b.cpu]).toEqual([0, 2]);
    expect(raceDoc.race!.a.write).toBe(false);
    expect(raceDoc.race!.b.write).toBe(true);
    expect(raceDoc.race!.a.label).toContain("list_del_init");
  });

  it("lock holds follow the lock word: taken by the step that sets it, released by the one that clears it", () => {
    const holds = raceDoc.locks;
    expect(holds.length).toBeGreaterThan(0);
    for (const h of holds) {
      // the state after step `from` has the lock held by h.cpu; before it, not
      if (h.from >= 0) {
        expect(raceDoc.states[h.from + 1]![raceModel.layout.locks[h.index]!.off]).toBe(h.cpu);
        expect(raceDoc.states[h.from]![raceModel.layout.locks[h.index]!.off]).not.toBe(h.cpu);
        expect(raceDoc.steps[h.from]!.cpu).toBe(h.cpu);
      }
      if (h.released)
        expect(raceDoc.states[h.to + 1]![raceModel.layout.locks[h.index]!.off]).toBe(-1);
    }
    expect(lockHolds(raceModel, [raceModel.init])).toEqual([]);
  });

  it("states: one before the first step and one after each", () => {
    expect(raceDoc.states).toHaveLength(raceDoc.steps.length + 1);
  });

  it("rejects a cycleStart outside the trace", () => {
    const m = compileModel(flagLock, "test-then-set");
    const cx = storedCx("counterexamples/flag-lock/test-then-set/mutual-exclusion.json");
    expect(() => traceDoc(m, parseSchedule(cx.schedule), cx, { cycleStart: 6 })).toThrow(
      /cycleStart/,
    );
  });
});

// a hand-made lasso: flag-lock's trace with its last two steps declared the repeating part
const flagModel = compileModel(flagLock, "test-then-set");
const flagCx = storedCx("counterexamples/flag-lock/test-then-set/mutual-exclusion.json");
const lasso = traceDoc(flagModel, parseSchedule(flagCx.schedule), flagCx, { cycleStart: 4 });

describe("Mermaid", () => {
  it("escapes what Mermaid reads as syntax", () => {
    expect(mermaidText("a;b#c%%d<e>f&g")).toBe("a#59;b#35;c#37;#37;d#60;e#62;f#38;g");
    expect(mermaidText("line\nbreak")).toBe("line break");
  });

  it("one participant per lane, one note per step, activations balanced", () => {
    const text = mermaidSequence(raceDoc);
    const lines = text.split("\n");
    expect(lines[0]).toBe("sequenceDiagram");
    expect(lines.filter((l) => l.startsWith("  participant "))).toHaveLength(raceDoc.lanes.length);
    const notes = lines.filter((l) => /^ {2}Note over CPU\d+: /.test(l));
    // each step, plus the two pending accesses of the race
    expect(notes).toHaveLength(raceDoc.steps.length + 2);
    const act = lines.filter((l) => l.startsWith("  activate ")).length;
    const deact = lines.filter((l) => l.startsWith("  deactivate ")).length;
    expect(act).toBe(deact);
    expect(act).toBe(raceDoc.locks.length);
    expect(text).toMatch(/CPU0--xCPU2: data race on F1\._deferred_list\.prev/);
  });

  it("a lasso's repeating part is a loop block", () => {
    const lines = mermaidSequence(lasso).split("\n");
    const start = lines.findIndex((l) => l.startsWith("  loop "));
    const end = lines.indexOf("  end");
    expect(start).toBeGreaterThan(0);
    expect(lines.slice(start, end).filter((l) => l.includes("Note over"))).toHaveLength(2);
  });

  it("a Markdown block for a comment", () => {
    expect(mermaidMarkdown(raceDoc)).toMatch(
      /^\*\*deferred-split \/ private-list-no-prev: data-race\*\*.*\n\n```mermaid\nsequenceDiagram\n[\s\S]*\n```$/,
    );
  });
});

describe("ITF", () => {
  it("integers outside the exact JSON range are #bigint", () => {
    expect(itfInt(5)).toBe(5);
    expect(itfInt(2 ** 60)).toEqual({ "#bigint": "1152921504606846976" });
    expect(itfInt(-(2n ** 70n))).toEqual({ "#bigint": "-1180591620717411303424" });
    expect(validItf({ vars: ["x"], states: [{ x: itfInt(2n ** 70n) }] })).toBe(true);
  });

  it("the schema rejects what the format does not allow", () => {
    expect(validItf({ vars: ["x"], states: [{ x: null }] })).toBe(false);
    expect(validItf({ vars: ["x"], states: [{ x: 1.5 }] })).toBe(false);
    expect(validItf({ vars: ["x"], states: [{ x: { "#bigint": "12a" } }] })).toBe(false);
    expect(validItf({ states: [] })).toBe(false);
    expect(validItf({ vars: [], states: [], loop: -1 })).toBe(false);
  });

  const files = readdirSync("counterexamples", { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".json"))
    .map((f) => join("counterexamples", f))
    .sort()
    // every lasso, and the first 40 others
    .filter((f, i) => i < 40 || /termination|eventually|leads/.test(f));

  it.each(files)("%s: valid ITF, a value for every var in every state", async (file) => {
    const r = await cli("replay", file, "--format", "itf");
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const itf = JSON.parse(lines[0]!) as {
      vars: string[];
      states: Record<string, unknown>[];
      "#meta": Record<string, unknown>;
    };
    expect(validItf(itf), JSON.stringify(validItf.errors)).toBe(true);
    const cx = storedCx(file);
    const n = parseSchedule(cx.schedule).length;
    // a lasso that closes lists its states up to the one before it comes back (ITF's loop)
    expect(itf.states).toHaveLength((itf as { loop?: number }).loop === undefined ? n + 1 : n);
    for (const s of itf.states) for (const v of itf.vars) expect(s).toHaveProperty([v]);
    expect(itf["#meta"].property).toBe(cx.property);
    expect(itf["#meta"].originalSchedule).toBe(cx.schedule);
  });

  it("a lasso's loop index", () => {
    const itf = toItf(flagModel, lasso);
    expect(itf.loop).toBe(4);
    expect(validItf(itf)).toBe(true);
    expect(
      toItf(flagModel, traceDoc(flagModel, parseSchedule(flagCx.schedule), flagCx)).loop,
    ).toBeUndefined();
  });

  it("shared fields as nested records, locals under their CPU", () => {
    const itf = toItf(raceModel, raceDoc);
    const s0 = itf.states[0]! as Record<string, any>;
    expect(typeof s0.F1._refcount).toBe("number");
    expect(typeof s0.F1.freed).toBe("boolean");
    // a flags word: the set of its bits that are set
    expect(s0.F1.flags).toEqual({ "#set": ["PG_head"] });
    expect(s0.F1._deferred_list.next).toMatch(/_deferred_list|ds_queue/);
    expect(s0.CPU0.function).toBe("deferred_split_scan");
    expect(s0.CPU0.locals).toBeDefined();
  });
});

describe("dot", () => {
  const edges = [
    { from: "A.lock", to: "B.lock", where: 'CPU0 f: spin_lock(&B) "x"' },
    { from: "B.lock", to: "A.lock", where: "CPU1 g: spin_lock(&A)" },
    { from: "B.lock", to: "C.lock" },
  ];
  it("marks exactly the edges on a cycle", () => {
    const c = cycleEdges(edges);
    expect([...c].sort()).toEqual(["A.lock\0B.lock", "B.lock\0A.lock"]);
    const dot = lockOrderDot(edges, "m / v");
    expect(dot).toContain('digraph "m / v" {');
    expect(dot).toContain(
      '"A.lock" -> "B.lock" [label="CPU0 f: spin_lock(&B) \\"x\\"", color=red, penwidth=2];',
    );
    expect(dot).toContain('"B.lock" -> "C.lock";');
    expect(dot.match(/color=red/g)).toHaveLength(2);
  });
  it("escapes quotes and backslashes", () => {
    expect(dotString('a"b\\c\nd')).toBe('"a\\"b\\\\c\\nd"');
  });
  it("the CLI's helper takes the results that carry a graph, and none without", () => {
    expect(exportLockOrders([{ model: "m", variant: "v" }])).toBeUndefined();
    expect(exportLockOrders([{ model: "m", variant: "v", lockOrder: edges }])).toContain("digraph");
  });
});

describe("HTML", () => {
  it("escapes every text a model gives it", () => {
    const evil = '<script>alert("x")</script>&';
    const m = tiny({ flag: bool() }, (b) => {
      cpu(b, `fn<img src=x onerror=alert(1)>`, ({ step }) => [
        step(evil, ({ s }) => {
          s.flag = true;
        }),
      ]);
      b.invariant("never-set", ({ s }) => !s.flag || `flag set by ${evil}`);
    });
    const doc = traceDoc(m, [{ cpu: 0, choice: 0 }], {
      property: "never-set",
      kind: "invariant",
      message: `flag set by ${evil}`,
    });
    const html = reportHtml({
      title: "t",
      generated: "now",
      command: "c",
      models: [
        {
          name: "m<b>",
          doc: evil,
          file: "f",
          properties: [{ name: "never-set", declared: true }],
          variants: [],
          traces: [{ id: "t1", shown: doc, original: undefined, file: undefined, replay: evil }],
        },
      ],
    });
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>");
    expect(html).toContain(esc(evil));
    // the only scripts: the page's own and the JSON data blocks
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it("draws the lasso's repeating part when cycleStart is set, and not otherwise", () => {
    expect(swimlaneSvg(lasso, "x")).toMatch(/<g class="cycle" data-cycle-start="4">/);
    const plain = traceDoc(flagModel, parseSchedule(flagCx.schedule), flagCx);
    expect(swimlaneSvg(plain, "x")).not.toContain('class="cycle"');
  });

  it("report: every cell of a violated property links to a trace in the page", async () => {
    const out = join(tmp, "r.html");
    const r = await cli(
      "report",
      "models/classic",
      "--out",
      out,
      "--no-save",
      "--expect",
      "--quiet",
    );
    expect(r.code).toBe(0);
    const html = readFileSync(out, "utf8");
    const links = [...html.matchAll(/<a href="#([^"]+)">violated/g)].map((m) => m[1]!);
    const j = await cli("check", "models/classic", "--no-save", "--json");
    const n = (JSON.parse(j.stdout) as { results: { violations: unknown[] }[] }).results.reduce(
      (k, x) => k + x.violations.length,
      0,
    );
    expect(n).toBeGreaterThanOrEqual(3);
    expect(links.length).toBe(n);
    for (const id of links) expect(html).toContain(`<section class="trace" id="${id}"`);
    expect(html).toContain("<th>states</th>");
  });

  it("check --html writes the page too", async () => {
    const out = join(tmp, "c.html");
    const r = await cli("check", "models/classic/flag-lock.ts", "--no-save", "--html", out);
    expect(r.code).toBe(1);
    expect(readFileSync(out, "utf8")).toContain('data-property="mutual-exclusion"');
  });
});
