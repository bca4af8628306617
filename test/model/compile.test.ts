// The compiler: control statements cost no step, and each thread's program is what its code
// says. Checked through the traces of one-CPU models (one path, so the trace is the program run).
import { describe, it, expect } from "vitest";
import {
  array,
  break_,
  continue_,
  defineModel,
  explore,
  func,
  goto_,
  int,
  label,
  loop,
  ModelBuilder,
  ptr,
  record,
  return_,
  step,
  compileModel,
  listHead,
  listNode,
  list_add,
  list_del,
  spin_lock,
  spin_unlock,
  spinlock,
  type Stmt,
} from "../../src/index.ts";
import { compileThread, CompileError } from "../../src/model/compile.ts";
import { enabledCpus, execute, labelOf, nextNode } from "../../src/rt/machine.ts";
import type { CompiledModel } from "../../src/model/model.ts";
import { tiny, cpu } from "../helpers.ts";

/** Runs a one-CPU model to its end and returns the labels of the steps taken. */
function run(model: CompiledModel): string[] {
  const b = model.init.slice();
  const out: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const en = enabledCpus(model, b);
    if (en.length === 0) return out;
    const th = model.threads[en[0]!]!;
    const node = nextNode(th, b)!;
    const pre = b.slice();
    const r = execute(model, en[0]!, 0, b);
    out.push(labelOf(model, en[0]!, node, pre, r, 0));
  }
  throw new Error("does not end");
}

const noop = (name: string): Stmt => step(name, () => undefined);

describe("control flow", () => {
  it("while_ with continue_ and break_", () => {
    const model = tiny({ n: int(0, 9) }, (m) => {
      cpu(m, "t", ({ step, while_, if_, when }) => [
        while_(
          when("n < 9", ({ s }) => s.n < 9),
          [
            step("n++", ({ s }) => void s.n++),
            if_(
              when("n == 1", ({ s }) => s.n === 1),
              [continue_()],
            ),
            if_(
              when("n == 2", ({ s }) => s.n === 2),
              [break_()],
            ),
            noop("unreachable"),
          ],
        ),
        noop("after"),
      ]);
    });
    expect(run(model)).toEqual([
      "n < 9 -> true",
      "n++",
      "n == 1 -> true",
      "n < 9 -> true",
      "n++",
      "n == 1 -> false",
      "n == 2 -> true",
      "after",
    ]);
  });

  it("func and return_: return leaves the function, not the thread", () => {
    const model = tiny({ x: int(0, 3) }, (m) => {
      cpu(m, "t", ({ if_, when }) => [
        func("folio_put", [
          noop("put 1"),
          if_(
            when("always", () => true),
            [return_()],
          ),
          noop("never"),
        ]),
        noop("back in caller"),
        return_(),
        noop("after the thread's return"),
      ]);
    });
    expect(run(model)).toEqual(["put 1", "always -> true", "back in caller"]);
    expect(model.threads[0]!.nodes[0]!.funcs).toBe("t > folio_put");
  });

  it("goto_ and label", () => {
    const model = tiny({ tries: int(0, 3) }, (m) => {
      cpu(m, "t", ({ step, if_, when }) => [
        label("retry"),
        step("tries++", ({ s }) => void s.tries++),
        if_(
          when("tries < 3", ({ s }) => s.tries < 3),
          [goto_("retry")],
        ),
        noop("done"),
      ]);
    });
    expect(run(model)).toEqual([
      "tries++",
      "tries < 3 -> true",
      "tries++",
      "tries < 3 -> true",
      "tries++",
      "tries < 3 -> false",
      "done",
    ]);
  });

  it("loop: an entry test, then a test after each round", () => {
    const model = tiny({ i: int(0, 3) }, (m) => {
      cpu(m, "t", ({ step }) => [
        loop(
          step("i = 0; i < 2", () => true),
          step(
            (_c, r) => `i++ < 2 -> ${String(r)}`,
            ({ s }) => ++s.i < 2,
          ),
          [noop("body")],
        ),
      ]);
    });
    expect(run(model)).toEqual([
      "i = 0; i < 2",
      "body",
      "i++ < 2 -> true",
      "body",
      "i++ < 2 -> false",
    ]);
  });

  it("statements nest as arrays; an empty thread compiles to no step", () => {
    expect(compileThread([[noop("a"), [noop("b")]], noop("c")], "t").map((n) => n.label)).toEqual([
      "a",
      "b",
      "c",
    ]);
    expect(compileThread([], "t")).toEqual([]);
  });

  it("records where each step was written", () => {
    const nodes = compileThread([noop("here")], "t");
    expect(nodes[0]!.site).toMatch(/^test\/model\/compile\.test\.ts:\d+$/);
  });
});

describe("compile errors name the statement", () => {
  it("break_ or continue_ outside a loop", () => {
    expect(() => compileThread([break_()], "t")).toThrow(CompileError);
    expect(() => compileThread([break_()], "t")).toThrow(
      /compile\.test\.ts:\d+: break_\(\) outside a loop/,
    );
    expect(() => compileThread([continue_()], "t")).toThrow(/continue_\(\) outside a loop/);
  });

  it("goto_ to a missing label, a label defined twice, a goto to itself", () => {
    expect(() => compileThread([goto_("nowhere")], "t")).toThrow(
      /goto_\("nowhere"\) to a label that does not exist/,
    );
    expect(() => compileThread([label("x"), noop("a"), label("x")], "t")).toThrow(
      /label "x" is defined twice/,
    );
    expect(() => compileThread([label("x"), goto_("x")], "t")).toThrow(/jumps to itself forever/);
  });

  it("a model without threads", () => {
    const def = defineModel({
      name: "empty",
      doc: "",
      params: {},
      variants: { v: { options: {}, expect: "holds" } },
      build: () => new ModelBuilder({}),
    });
    expect(() => compileModel(def, "v")).toThrow(/model empty \(v\) declares no thread/);
  });
});

describe("refs: run-time indexing and pointers", () => {
  const Folio = record({ _refcount: int(0, 3, 1) }, "folio");

  it("at() with an index out of bounds is an out-of-bounds violation", async () => {
    const model = tiny({ folio: array(2, Folio), idx: int(0, 3, 2) }, (m) => {
      cpu(m, "t", ({ s, step }) => [
        step("folio[idx]->_refcount++", (c) => {
          const off = s.folio.at(s.idx)._refcount.$off(c.m.b);
          c.m.set(off, c.m.get(off) + 1);
        }),
      ]);
    });
    const r = await explore(model);
    expect(r.violations.map((v) => [v.property, v.message])).toEqual([
      ["out-of-bounds", "s.folio[s.idx]: index 2 is outside 0..1"],
    ]);
  });

  it("following a NULL pointer is a null-deref violation naming the pointer", async () => {
    const def = defineModel({
      name: "nullptr",
      doc: "",
      params: {},
      variants: { v: { options: {}, expect: "holds" } },
      build: () => {
        const m = new ModelBuilder({ folio: array(1, Folio) }, { races: false });
        m.thread("t", { folio: ptr(Folio) }, ({ l, step }) => [
          step("folio->_refcount", (c) => l.folio._refcount.$off(c.m.b)),
        ]);
        return m;
      },
    });
    const r = await explore(compileModel(def, "v"));
    expect(r.violations.map((v) => [v.property, v.message])).toEqual([
      ["null-deref", "NULL pointer dereference: l.folio->_refcount"],
    ]);
  });
});

describe("CompiledModel.properties", () => {
  it("lists invariants, end states, declared and raised assertions, deadlock, data-race", () => {
    const m = tiny(
      { x: int(0, 3), lock: spinlock() },
      (b) => {
        cpu(b, "a", ({ s, step, assert_ }) => [
          spin_lock(s.lock),
          spin_unlock(s.lock),
          step(
            "x++",
            ({ s }) => {
              s.x++;
            },
            { raises: ["x-bound", "bad-unlock"] },
          ),
          assert_("x-le-3", "x <= 3", ({ s }) => s.x <= 3),
          return_(),
          // unreachable: what it raises is not the model's
          step("dead", () => undefined, { raises: ["never-reached"] }),
        ]);
        b.invariant("inv", () => true)
          .endState("end", () => true)
          .property("declared", "a doc")
          .property("inv");
      },
      { races: true },
    );
    // severities: invariants warn by default; a bare raised name takes the catalogue's
    // (bad-unlock: warn) or else bug; assert_() is BUG_ON-style; data races are KCSAN reports
    expect(m.properties).toEqual([
      { name: "inv", kind: "invariant", severity: "warn" },
      { name: "end", kind: "end-state" },
      { name: "declared", kind: "assertion", doc: "a doc", severity: "bug" },
      { name: "bad-unlock", kind: "assertion", severity: "warn" },
      { name: "x-bound", kind: "assertion", severity: "bug" },
      { name: "x-le-3", kind: "assertion", severity: "bug" },
      { name: "deadlock", kind: "deadlock" },
      { name: "data-race", kind: "data-race", severity: "warn" },
      { name: "termination", kind: "liveness" },
    ]);
  });

  it("severities: declared by invariant(), property() and raises; the model's declaration wins", () => {
    const m = tiny({ x: int(0, 3) }, (b) => {
      cpu(b, "a", ({ step, assert_ }) => [
        step("s", () => undefined, {
          raises: [
            { name: "w", severity: "warn" },
            "plain",
            { name: "overridden", severity: "warn" },
          ],
        }),
        assert_("warned", "x <= 3", () => true, { severity: "warn" }),
      ]);
      b.invariant("fatal", () => true, { severity: "bug" })
        .property("overridden", { severity: "bug" })
        .property("list-corruption", { doc: "CONFIG_BUG_ON_DATA_CORRUPTION=y", severity: "bug" });
    });
    const sev = Object.fromEntries(m.properties.map((p) => [p.name, p.severity]));
    expect(sev).toEqual({
      fatal: "bug",
      overridden: "bug",
      "list-corruption": "bug",
      w: "warn",
      plain: "bug",
      warned: "warn",
      deadlock: undefined,
    });
    // what the run-time checks (c.m.report / c.m.check) follow
    expect(m.mem.severityOf("overridden")).toBe("bug");
    expect(m.mem.severityOf("w")).toBe("warn");
    expect(m.mem.severityOf("list-corruption")).toBe("bug");
    expect(m.mem.severityOf("bad-page-state")).toBe("warn"); // the catalogue's
    expect(m.mem.severityOf("never-declared")).toBe("bug");
    expect(() =>
      tiny({ x: int(0, 3) }, (b) => b.property("p", { severity: "fatal" as "bug" })),
    ).toThrow(/severity "fatal" is not "warn"/);
  });

  it("has no data-race without the race check; kernel primitives declare what they raise", () => {
    const m = tiny({ a: listHead(), n: listNode() }, (b) => {
      cpu(b, "t", ({ s }) => [list_add(s.n, s.a), list_del(s.n)]);
    });
    expect(m.properties.map((p) => p.name)).toEqual(["list-corruption", "deadlock", "termination"]);
  });

  it("property() needs a name", () => {
    expect(() => tiny({ x: int(0, 1) }, (b) => void b.property(" "))).toThrow(
      /property\(\): the property needs a non-empty name/,
    );
  });
});

describe("step sites", () => {
  it("every step of every bundled model knows the file:line it was written at", async () => {
    const { loadModels } = await import("../../src/cli/load.ts");
    const { compileModel } = await import("../../src/model/model.ts");
    let steps = 0;
    for (const { def } of await loadModels(["models"])) {
      for (const v of Object.keys(def.variants)) {
        for (const t of compileModel(def, v).threads) {
          for (const n of t.nodes) {
            steps++;
            expect(n.site, `${def.name}/${v} ${t.name} step ${n.pc}`).toMatch(
              /^(models|src)\/[\w/.-]+\.ts:\d+$/,
            );
          }
        }
      }
    }
    expect(steps).toBeGreaterThan(2000);
  });
});
