// listHead({ onStack: true }): a LIST_HEAD on a CPU's stack. The owning CPU's list operations are
// one step each; the declaration is checked (locals only, no lock); and a CPU that touches an
// entry while it is on the owner's list is not hidden: its plain writes race with the owner's.
import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, listHead, listNode, record, SchemaError } from "../../src/model/schema.ts";
import { list_add, list_del, list_del_init } from "../../src/kernel/list.ts";
import { explore } from "../../src/explore/explorer.ts";
import { compile, run, violated } from "./helpers.ts";

const Obj = record({ lru: listNode() }, "obj");

describe("listHead({ onStack: true })", () => {
  it("the owner's list_add and list_del are one step each (a plain head splits them into their writes)", async () => {
    for (const onStack of [true, false]) {
      const cm = compile(() => {
        const m = new ModelBuilder({ obj: array(1, Obj) });
        m.thread("t", { list: onStack ? listHead({ onStack: true }) : listHead() }, ({ l }) => [
          list_add(m.s.obj[0]!.lru, l.list),
          list_del(m.s.obj[0]!.lru),
        ]);
        return m;
      });
      const r = await explore(cm);
      expect(r.verdict).toBe("holds");
      // one CPU: the states are the steps taken plus the initial one
      expect(r.states, `onStack ${onStack}`).toBe(onStack ? 3 : 1 + 4 + 4);
    }
  });

  it("belongs in a thread's locals and takes no lock", () => {
    expect(() => compile(() => new ModelBuilder({ list: listHead({ onStack: true }) }))).toThrow(
      /belongs in a thread's locals/,
    );
    expect(() => listHead({ onStack: true, lock: "l" })).toThrow(SchemaError);
  });

  it("another CPU unlinking an entry while it is on the owner's list is a data race, not hidden", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ obj: array(1, Obj) });
      m.thread("owner", { list: listHead({ onStack: true }) }, ({ l }) => [
        list_add(m.s.obj[0]!.lru, l.list),
        list_del_init(m.s.obj[0]!.lru),
      ]);
      m.thread("other", {}, () => [list_del_init(m.s.obj[0]!.lru)]);
      return m;
    });
    expect(violated(r)).toContain("data-race");
  });
});
