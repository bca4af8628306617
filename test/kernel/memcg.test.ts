import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, int } from "../../src/model/schema.ts";
import { SchemaError } from "../../src/model/schema.ts";
import { folio } from "../../src/kernel/folio.ts";
import {
  css_is_dying,
  folio_memcg,
  folio_nid,
  mem_cgroup_disabled,
  memcg_deref,
  memcg_offline,
  memcgTree,
  parentMemcg,
} from "../../src/kernel/memcg.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };

describe("memcg", () => {
  it("folio_memcg is the folio's memcg, or NULL when memory cgroups are disabled; dereferencing NULL is null-memcg-deref", async () => {
    for (const disabled of [false, true]) {
      const r = await run(() => {
        const m = new ModelBuilder({
          folio: array(1, folio({ memcgs: 2, memcg: 1, nodes: 2, nid: 1 }), label),
          memcgs: memcgTree({ count: 2, disabled }),
        });
        m.thread("t", { memcg: int(-1, 1), nid: int(0, 1) }, ({ l }) => [
          folio_memcg(l.memcg, m.s.memcgs, m.s.folio[0]!),
          folio_nid(l.nid, m.s.folio[0]!),
          memcg_deref(m.s.memcgs, l.memcg, "memcg->kmemcg_id"),
        ]);
        m.endState("ids", (w) => {
          const l = w.cpus[0]!.l as { memcg: number; nid: number };
          return (l.memcg === 1 && l.nid === 1) || `memcg ${l.memcg} nid ${l.nid}`;
        });
        return m;
      });
      if (disabled) {
        expect(violated(r)).toEqual(["null-memcg-deref"]);
        expect(messageOf(r, "null-memcg-deref")).toBe(
          "NULL memcg dereference: memcg->kmemcg_id (memory cgroups are disabled at boot)",
        );
      } else expect(r.verdict).toBe("holds");
    }
  });

  it("mem_cgroup_disabled() and css_is_dying() as conditions; memcg_offline makes a memcg dying", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        memcgs: memcgTree({ count: 3, parents: [-1, 0, 1] }),
        seen: int(0, 3),
      });
      m.thread("t", { id: int(-1, 2, 2) }, ({ l, if_, step }) => [
        if_(mem_cgroup_disabled(m.s.memcgs), [step("disabled?!", ({ s }) => void (s.seen = 3))]),
        if_(css_is_dying(m.s.memcgs, l.id), [step("dying early?!", ({ s }) => void (s.seen = 3))]),
        memcg_offline(m.s.memcgs, 2),
        if_(css_is_dying(m.s.memcgs, l.id), [step("dying", ({ s }) => void (s.seen = 1))]),
        step("memcg = parent", (c) => {
          c.l.id = parentMemcg(c, m.s.memcgs, c.l.id);
        }),
      ]);
      m.endState("seen", (w) => {
        const l = w.cpus[0]!.l as { id: number };
        const s = w.s as { seen: number };
        return (s.seen === 1 && l.id === 1) || `seen ${s.seen}, id ${l.id}`;
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("a bad hierarchy is a schema error naming the memcg", () => {
    expect(() => memcgTree({ count: 2, parents: [-1, 1] })).toThrow(SchemaError);
    expect(() => memcgTree({ count: 2, parents: [-1, 1] })).toThrow(/parent 1 of memcg1/);
    expect(() => memcgTree({ count: 2, parents: [-1] })).toThrow(/1 parents given for 2 memcgs/);
  });
});
