// not(), for_(), ghost(), READ_ONCE/WRITE_ONCE/data_race on views, initList(), and the errors for
// undeclared fields: each against a look-alike that must behave differently.
import { describe, expect, it } from "vitest";
import {
  bool,
  data_race,
  ghost,
  initList,
  int,
  listHead,
  listNode,
  ModelBuilder,
  READ_ONCE,
  record,
  WRITE_ONCE,
  continue_,
  array,
  type Stmt,
} from "../../src/index.ts";
import { run, violated } from "../kernel/helpers.ts";
import { replay } from "../../src/trace/replay.ts";
import { compile } from "../kernel/helpers.ts";

describe("not()", () => {
  it("negates a condition step and shows the inner result in the trace", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ x: int(0, 2), took: bool() });
      m.thread("t", {}, ({ step, if_, when, not }) => [
        if_(not(when("x == 1", ({ s }) => s.x === 1)), [
          step("took = true", ({ s }) => {
            s.took = true;
          }),
        ]),
      ]);
      m.endState("not-taken", ({ s }) => !s.took || "took the branch");
      return m;
    });
    // x is 0, so !(x == 1) is true and the branch is taken
    expect(violated(r)).toEqual(["not-taken"]);
    const model = compile(() => {
      const m = new ModelBuilder({ x: int(0, 2) });
      m.thread("t", {}, ({ if_, when, not }) => [
        if_(not(when("x == 1", ({ s }) => s.x === 1)), []),
      ]);
      return m;
    });
    const rep = replay(model, [{ cpu: 0, choice: 0 }]);
    expect(rep.steps[0]!.label).toBe("!(x == 1 -> false)");
  });

  it("the same condition without not() takes the other branch", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ x: int(0, 2), took: bool() });
      m.thread("t", {}, ({ step, if_, when }) => [
        if_(
          when("x == 1", ({ s }) => s.x === 1),
          [
            step("took = true", ({ s }) => {
              s.took = true;
            }),
          ],
        ),
      ]);
      m.endState("not-taken", ({ s }) => !s.took || "took the branch");
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

describe("for_()", () => {
  // for (i = 0; i < 3; i++) { if (i == 1) continue; sum += 10; } -> sum == 20, i == 3
  const body = (useFor: boolean) => () => {
    const m = new ModelBuilder({ i: int(0, 5), sum: int(0, 40), rounds: int(0, 9) });
    m.thread("t", {}, ({ step, if_, when, for_ }) => {
      const inc = step("i++", ({ s }) => {
        s.i++;
      });
      const inner: Stmt[] = [
        step("rounds++", ({ s }) => {
          s.rounds++;
        }),
        if_(
          when("i == 1", ({ s }) => s.i === 1),
          [continue_()],
        ),
        step("sum += 10", ({ s }) => {
          s.sum += 10;
        }),
      ];
      return useFor
        ? [
            for_(
              step("i = 0", ({ s }) => {
                s.i = 0;
              }),
              ({ s }) => s.i < 3,
              inc,
              inner,
            ),
          ]
        : [];
    });
    m.endState(
      "counts",
      ({ s }) =>
        (s.i === 3 && s.sum === 20 && s.rounds === 3) || `i=${s.i} sum=${s.sum} rounds=${s.rounds}`,
    );
    return m;
  };
  it("continue_() runs the increment (C semantics): it terminates with i == 3", async () => {
    const r = await run(body(true));
    expect(r.verdict).toBe("holds");
  });
  it("break_ and an empty init/inc compile", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ n: int(0, 3) });
      m.thread("t", {}, ({ step, for_ }) => [
        for_(
          [],
          ({ s }) => s.n < 3,
          [],
          [
            step("n++", ({ s }) => {
              s.n++;
            }),
          ],
        ),
      ]);
      m.endState("n is 3", ({ s }) => s.n === 3);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

describe("ghost()", () => {
  const twoWriters = (g: boolean) => () => {
    const m = new ModelBuilder({ seen: g ? ghost(int(0, 2)) : int(0, 2) }, { races: true });
    for (let k = 0; k < 2; k++)
      m.thread("t", {}, ({ step }) => [
        step("seen++", ({ s }) => {
          s.seen++;
        }),
      ]);
    return m;
  };
  it("a ghost field written by two CPUs is no data race", async () => {
    expect(violated(await run(twoWriters(true)))).toEqual([]);
  });
  it("the same field, not ghost, is a data race", async () => {
    expect(violated(await run(twoWriters(false)))).toEqual(["data-race"]);
  });
  it("keeps its range check", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ g: ghost(bool()), x: ghost(int(0, 1)) });
      m.thread("t", {}, ({ step }) => [
        step("x = 5", ({ s }) => {
          s.x = 5;
        }),
      ]);
      return m;
    });
    expect(r.verdict).toBe("error");
    expect(r.error?.code).toBe("E_RANGE");
  });
});

describe("READ_ONCE / WRITE_ONCE / data_race on views", () => {
  const racy = (mode: "plain" | "once" | "data_race") => () => {
    const m = new ModelBuilder(
      { F1: record({ flag: int(0, 1), other: int(0, 1) }) },
      { races: true },
    );
    m.thread("writer", {}, ({ step }) => [
      step("WRITE_ONCE(F1->flag, 1)", ({ s }) => {
        if (mode === "plain") s.F1.flag = 1;
        else WRITE_ONCE(s.F1, "flag", 1);
      }),
    ]);
    m.thread("reader", {}, ({ step }) => [
      step("read F1->flag", ({ s }) => {
        if (mode === "plain") return s.F1.flag;
        if (mode === "once") return READ_ONCE(s.F1, "flag");
        return data_race(s, () => s.F1.flag);
      }),
    ]);
    return m;
  };
  it("plain accesses race", async () => {
    expect(violated(await run(racy("plain")))).toEqual(["data-race"]);
  });
  it("READ_ONCE/WRITE_ONCE do not", async () => {
    expect(violated(await run(racy("once")))).toEqual([]);
  });
  it("data_race() marks the read", async () => {
    // the writer's WRITE_ONCE is marked too in this mode
    expect(violated(await run(racy("data_race")))).toEqual([]);
  });
  it("READ_ONCE of something that is not a view is an error", () => {
    expect(() => READ_ONCE({ a: 1 } as { a: number }, "a")).toThrow(/not a view of the model/);
  });
});

describe("initList()", () => {
  it("links head and entries in order both ways", () => {
    const model = compile(() => {
      const m = new ModelBuilder({
        q: listHead(),
        f: array(3, record({ node: listNode() }), { label: (i) => `F${i + 1}` }),
      });
      m.thread("t", {}, ({ step }) => [step("nop", () => undefined)]);
      m.init((s) => initList(s.q, [s.f[1]!.node, s.f[0]!.node]));
      return m;
    });
    const lay = model.layout;
    const b = model.init;
    const id = (n: string): number => lay.nodes.find((x) => x.name === n)!.id;
    const nx = (n: string): string => lay.nodeName(b[lay.nodes[id(n)]!.nextOff]!);
    const pv = (n: string): string => lay.nodeName(b[lay.nodes[id(n)]!.prevOff]!);
    expect([nx("q"), nx("F2.node"), nx("F1.node")]).toEqual(["F2.node", "F1.node", "q"]);
    expect([pv("q"), pv("F2.node"), pv("F1.node")]).toEqual(["F1.node", "q", "F2.node"]);
    expect(nx("F3.node")).toBe("F3.node");
  });
  it("an entry given twice is an error", () => {
    expect(() =>
      compile(() => {
        const m = new ModelBuilder({ q: listHead(), a: record({ node: listNode() }) });
        m.thread("t", {}, ({ step }) => [step("nop", () => undefined)]);
        m.init((s) => initList(s.q, [s.a.node, s.a.node]));
        return m;
      }),
    ).toThrow(/given twice/);
  });
});

describe("undeclared fields are errors naming the field and the step", () => {
  const misspelt = (write: boolean) => () => {
    const m = new ModelBuilder({ F1: record({ _refcount: int(0, 2, 1) }) });
    m.thread("folio_put", {}, ({ step }) => [
      step("F1->_refcount--", ({ s }) => {
        const f = s.F1 as unknown as Record<string, number>;
        if (write) f["_refcnt"] = 0;
        else return f["_refcnt"]! - 1;
        return undefined;
      }),
    ]);
    m.endState("freed", ({ s }) => s.F1._refcount === 0);
    return m;
  };
  it("a read of s.F1._refcnt", async () => {
    const r = await run(misspelt(false));
    expect(r.verdict).toBe("error");
    expect(r.error?.code).toBe("E_FIELD");
    expect(r.error?.message).toContain('read of F1._refcnt: F1 has no field "_refcnt"');
    expect(r.error?.hint).toContain('did you mean "_refcount"?');
    expect(r.error?.where).toContain("F1->_refcount--");
  });
  it("a write to s.F1._refcnt", async () => {
    const r = await run(misspelt(true));
    expect(r.verdict).toBe("error");
    expect(r.error?.message).toContain("write to F1._refcnt");
    expect(r.error?.hint).toContain("its declared fields are: _refcount");
  });
  it("a local that is not declared", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ x: int(0, 1) });
      m.thread("t", { old: int(0, 1) }, ({ step }) => [
        step("olt = x", ({ l }) => {
          (l as unknown as Record<string, number>)["olt"] = 1;
        }),
      ]);
      return m;
    });
    expect(r.error?.message).toContain('CPU0 has no field "olt"');
    expect(r.error?.hint).toContain('did you mean "old"?');
  });
  it("an index past an array's end", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(2, int(0, 1)) });
      m.thread("t", {}, ({ step }) => [
        step("folio[2] = 1", ({ s }) => {
          s.folio[2] = 1;
        }),
      ]);
      return m;
    });
    expect(r.error?.code).toBe("E_FIELD");
    expect(r.error?.message).toContain("folio[2]: the array has 2 element(s)");
  });
  it("the declared field itself works (look-alike)", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ F1: record({ _refcount: int(0, 2, 1) }) });
      m.thread("folio_put", {}, ({ step }) => [
        step("F1->_refcount--", ({ s }) => {
          s.F1._refcount--;
        }),
      ]);
      m.endState("freed", ({ s }) => s.F1._refcount === 0);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});
