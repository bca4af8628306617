import { describe, it, expect } from "vitest";
import {
  array,
  bool,
  compileModel,
  defineModel,
  enumOf,
  explore,
  int,
  listHead,
  listNode,
  ModelBuilder,
  ptr,
  record,
  spinlock,
  SchemaError,
  LIST_POISON1,
  LIST_POISON2,
  NULL,
} from "../../src/index.ts";
import { sizeOf } from "../../src/model/layout.ts";
import { list_add_tail, list_del } from "../../src/kernel/list.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import { tiny, cpu } from "../helpers.ts";

const Folio = record(
  { _refcount: int(0, 3, 1), _deferred_list: listNode(), mapped: bool() },
  "folio",
);

const def = defineModel({
  name: "layout",
  doc: "every kind of field",
  params: {},
  variants: { v: { options: {}, expect: "holds" } },
  build: () => {
    const m = new ModelBuilder({
      folio: array(2, Folio, { label: (i) => `F${i + 1}` }),
      ds_queue: record({
        split_queue_lock: spinlock(),
        split_queue: listHead({ lock: "split_queue_lock" }),
        split_queue_len: int(0, 2),
      }),
      state: enumOf(["idle", "scanning", "done"] as const, "scanning"),
      victim: ptr(Folio),
    });
    m.thread("deferred_split_scan", { pos: int(-1, 5), it: ptr(Folio) }, ({ step }) => [
      step("nothing", () => undefined),
    ]);
    m.thread("folio_put", {}, ({ step }) => [step("nothing", () => undefined)]);
    return m;
  },
});

describe("layout", () => {
  const cm = compileModel(def, "v");
  const lay = cm.layout;
  const f = (name: string) => {
    const x = lay.fieldByName.get(name);
    if (!x) throw new Error(`no field ${name}`);
    return x;
  };

  it("gives every scalar one word, in declaration order", () => {
    expect(lay.fields.map((x) => x.off)).toEqual(lay.fields.map((_, i) => i));
    expect(f("F1._refcount").off).toBe(0);
    expect(f("F1._deferred_list.next").off).toBe(1);
    expect(f("F1._deferred_list.prev").off).toBe(2);
    expect(f("F1.mapped").off).toBe(3);
    // the second folio starts one record stride later
    expect(f("F2._refcount").off).toBe(sizeOf(Folio));
    expect(sizeOf(Folio)).toBe(4);
    expect(f("ds_queue.split_queue_lock").off).toBe(8);
    expect(f("ds_queue.split_queue.next").off).toBe(9);
    expect(f("ds_queue.split_queue_len").off).toBe(11);
    expect(f("state").off).toBe(12);
    expect(f("victim").off).toBe(13);
    // then each CPU: its pc, its locals, its three scratch registers
    expect(f("CPU0.pc").off).toBe(14);
    expect(f("CPU0.pos").off).toBe(15);
    expect(f("CPU0.pos").short).toBe("pos");
    expect(f("CPU1.pc").off).toBe(20);
    expect(lay.words).toBe(lay.fields.length);
    expect(cm.init.length).toBe(lay.words);
  });

  it("derives each field's range from its declaration and the model", () => {
    expect([f("F1._refcount").min, f("F1._refcount").max]).toEqual([0, 3]);
    expect([f("F1.mapped").min, f("F1.mapped").max]).toEqual([0, 1]);
    expect([f("state").min, f("state").max]).toEqual([0, 2]);
    expect([f("CPU0.pos").min, f("CPU0.pos").max]).toEqual([-1, 5]);
    // a lock holds -1 or a CPU number
    expect([f("ds_queue.split_queue_lock").min, f("ds_queue.split_queue_lock").max]).toEqual([
      -1, 1,
    ]);
    // a pointer to a folio: NULL, container_of() garbage, or a folio index
    expect(f("victim").max).toBe(1);
    expect(f("victim").min).toBeLessThanOrEqual(NULL);
    // list words: NULL, the poison values, or a node id (3 nodes: F1, F2, the queue)
    const next = f("F1._deferred_list.next");
    expect(next.max).toBe(2);
    expect(next.min).toBeLessThanOrEqual(LIST_POISON2);
    expect(next.min).toBeLessThanOrEqual(LIST_POISON1);
    // the pc of a CPU ranges over its program (here: one step, then the end)
    expect([f("CPU0.pc").min, f("CPU0.pc").max]).toEqual([0, 1]);
    expect(Array.from(lay.min)).toEqual(lay.fields.map((x) => x.min));
    expect(Array.from(lay.max)).toEqual(lay.fields.map((x) => x.max));
  });

  it("starts from the declared initial values; empty lists point at themselves", () => {
    const at = (n: string) => cm.init[f(n).off];
    expect(at("F1._refcount")).toBe(1);
    expect(at("state")).toBe(1);
    expect(at("victim")).toBe(NULL);
    expect(at("ds_queue.split_queue_lock")).toBe(-1);
    const q = lay.nodes.find((n) => n.name === "ds_queue.split_queue")!;
    expect(at("ds_queue.split_queue.next")).toBe(q.id);
    expect(at("ds_queue.split_queue.prev")).toBe(q.id);
    expect(q.lockOff).toBe(f("ds_queue.split_queue_lock").off);
  });

  it("formats values as a person reads them", () => {
    expect(lay.format(f("F1.mapped").off, 1)).toBe("true");
    expect(lay.format(f("state").off, 2)).toBe("done");
    expect(lay.format(f("victim").off, 1)).toBe("F2");
    expect(lay.format(f("victim").off, NULL)).toBe("NULL");
    expect(lay.format(f("ds_queue.split_queue_lock").off, 1)).toBe("held by CPU1");
    expect(lay.format(f("F1._deferred_list.next").off, LIST_POISON1)).toBe("LIST_POISON1");
    expect(lay.format(f("F1._deferred_list.next").off, 0)).toBe("F1._deferred_list");
  });

  it("rejects bad declarations with a SchemaError", () => {
    expect(() => int(3, 1)).toThrow(SchemaError);
    expect(() => int(0, 3, 7)).toThrow(/outside the range/);
    expect(() => enumOf([])).toThrow(SchemaError);
    expect(() => enumOf(["a", "b"], "c" as "a")).toThrow(/not one of its names/);
    expect(() => array(-1, bool())).toThrow(SchemaError);
    expect(() => record({ $x: bool() })).toThrow(/reserved/);
  });

  it("names a list head's lock that does not exist", () => {
    expect(() =>
      tiny({ q: listHead({ lock: "nope" }) }, (m) => {
        cpu(m, "t", ({ step }) => [step("x", () => undefined)]);
      }),
    ).toThrow(/lock "nope" is not a spinlock/);
  });
});

describe("writing outside a field's range", () => {
  it("is a model error naming the field, the value, the range and the step", async () => {
    const model = tiny({ refcount: int(0, 2, 1) }, (m) => {
      cpu(m, "folio_get_twice", ({ step }) => [
        step("folio_get(F1)", ({ s }) => {
          s.refcount++;
        }),
        step("folio_get(F1) again", ({ s }) => {
          s.refcount++;
        }),
      ]);
    });
    const r = await explore(model);
    expect(r.verdict).toBe("error");
    expect(r.error!.code).toBe("E_RANGE");
    expect(r.error!.message).toContain("refcount = 3");
    expect(r.error!.message).toContain("0..2");
    expect(r.error!.where).toContain("folio_get(F1) again");
    expect(r.error!.where).toContain("CPU0 (folio_get_twice)");
    expect(r.error!.where).toMatch(/test\/model\/layout\.test\.ts:\d+/);
    expect(r.error!.hint).toContain("int(0, 2)");
    // the trace that led to it: the first folio_get, then the failing one
    expect(r.error!.schedule).toEqual([
      { cpu: 0, choice: 0 },
      { cpu: 0, choice: 0 },
    ]);
  });

  it("covers negative values, booleans written as numbers and non-integers", async () => {
    for (const bad of [-1, 1.5, 9]) {
      const model = tiny({ x: int(0, 3) }, (m) => {
        cpu(m, "t", ({ step }) => [
          step(`x = ${bad}`, ({ s }) => {
            s.x = bad;
          }),
        ]);
      });
      const r = await explore(model);
      expect(r.verdict).toBe("error");
      expect(r.error!.message).toMatch(/^x = .* is outside its declared range 0\.\.3/);
    }
  });

  it("applies to CPU-local variables, named by CPU", async () => {
    const def2 = defineModel({
      name: "locals",
      doc: "",
      params: {},
      variants: { v: { options: {}, expect: "holds" } },
      build: () => {
        const m = new ModelBuilder({}, { races: false });
        m.thread("t", { removed: int(0, 1) }, ({ step }) => [
          step("removed += 2", ({ l }) => {
            l.removed += 2;
          }),
        ]);
        return m;
      },
    });
    const r = await explore(compileModel(def2, "v"));
    expect(r.error!.message).toContain("CPU0.removed = 2");
  });

  it("lets a list entry be poisoned by list_del() (LIST_POISON1/2 are in range)", async () => {
    const F = record({ _deferred_list: listNode() }, "folio");
    const model = tiny(
      {
        folio: array(1, F, { label: () => "F1" }),
        lock: spinlock(),
        q: listHead({ lock: "lock" }),
      },
      (m) => {
        cpu(m, "t", ({ s }) => [
          spin_lock(s.lock),
          list_add_tail(s.folio[0]!._deferred_list, s.q),
          list_del(s.folio[0]!._deferred_list),
          spin_unlock(s.lock),
        ]);
      },
    );
    const r = await explore(model);
    expect(r.error).toBeUndefined();
    expect(r.verdict).toBe("holds");
  });
});
