// Flags words with named bits and the bitops of include/asm-generic/bitops: the atomic ones are
// one marked step, __set_bit/__clear_bit a plain load and a plain store (two steps), so that a
// non-atomic update of one bit loses a concurrent update of another bit of the same word.
import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, bitOf, bool, flags, record, SchemaError } from "../../src/model/schema.ts";
import { if_, step } from "../../src/model/dsl.ts";
import { explore } from "../../src/explore/explorer.ts";
import { explain } from "../../src/check.ts";
import { stepAccesses } from "../../src/trace/replay.ts";
import { ACC_MARKED, ACC_WRITE } from "../../src/rt/mem.ts";
import {
  __clear_bit,
  __set_bit,
  clear_bit,
  set_bit,
  test_and_clear_bit,
  test_and_set_bit,
  test_bit,
} from "../../src/kernel/bitops.ts";
import {
  __folio_set_partially_mapped,
  folio,
  folio_set_partially_mapped,
  folio_trylock,
  folio_unlock,
} from "../../src/kernel/folio.ts";
import { compile, messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };

/**
 * CPU0 sets PG_partially_mapped (atomic or not); CPU1 sets another bit of `_flags_1`
 * (SetPageAnonExclusive of the first tail page: set_bit(PG_anon_exclusive)). At the end both bits
 * must be set.
 */
function partiallyMappedVsAnonExclusive(atomic: boolean) {
  return () => {
    const m = new ModelBuilder({ folio: array(1, folio(), label) }, { races: false });
    const F = m.s.folio[0]!;
    m.thread("deferred_split_folio", {}, () => [
      atomic ? folio_set_partially_mapped(F) : __folio_set_partially_mapped(F),
    ]);
    m.thread("SetPageAnonExclusive", {}, () => [set_bit(F._flags_1.PG_anon_exclusive)]);
    m.endState("flags-kept", ({ s }) => {
      const f = s.folio[0]!;
      if (!f._flags_1.PG_anon_exclusive) return "PG_anon_exclusive of F0 was lost";
      if (!f.partially_mapped) return "PG_partially_mapped of F0 was lost";
      return true;
    });
    return m;
  };
}

describe("a lost flag update", () => {
  it("__folio_set_partially_mapped racing with set_bit of another bit of _flags_1 loses it", async () => {
    const model = compile(partiallyMappedVsAnonExclusive(false));
    const r = await explore(model);
    expect(violated(r)).toEqual(["flags-kept"]);
    expect(messageOf(r, "flags-kept")).toBe("PG_anon_exclusive of F0 was lost");
    // load, set_bit, store: the shortest lost update
    expect(r.violations[0]!.length).toBe(3);
    const text = explain(model, r.violations[0]!);
    expect(text).toContain("__set_bit(PG_partially_mapped, &F0._flags_1) [1/2: load F0._flags_1]");
    expect(text).toContain("set_bit(PG_anon_exclusive, &F0._flags_1)");
    // the bits are shown by name, not as a number
    expect(text).toContain(
      "F0._flags_1 PG_large_rmappable -> PG_large_rmappable|PG_anon_exclusive",
    );
    expect(text).toContain(
      "F0._flags_1 PG_large_rmappable|PG_anon_exclusive -> PG_large_rmappable|PG_partially_mapped",
    );
  });

  it("the atomic folio_set_partially_mapped keeps both bits", async () => {
    const r = await run(partiallyMappedVsAnonExclusive(true));
    expect(r.verdict).toBe("holds");
  });

  it("look-alike: folio_trylock touches folio->flags, not _flags_1, so __folio_set_partially_mapped loses nothing", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) }, { races: false });
      const F = m.s.folio[0]!;
      m.thread("deferred_split_folio", {}, () => [__folio_set_partially_mapped(F)]);
      m.thread("trylock", {}, () => [folio_trylock(F)]);
      m.endState("flags-kept", ({ s }) => s.folio[0]!.locked && s.folio[0]!.partially_mapped);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("__set_bit of another bit of folio->flags racing with folio_trylock loses PG_locked", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) }, { races: false });
      const F = m.s.folio[0]!;
      m.thread("__folio_set_swapbacked", {}, () => [__set_bit(F.flags.PG_swapbacked)]);
      m.thread("trylock", {}, () => [if_(folio_trylock(F), [folio_unlock(F)])]);
      return m;
    });
    // the store writes back the word loaded before the trylock: the unlock finds it clear
    expect(violated(r)).toEqual(["bad-folio-unlock"]);
    expect(messageOf(r, "bad-folio-unlock")).toBe("folio_unlock(F0): the folio is not locked");
  });
});

describe("bitops", () => {
  const Word = () => ({
    w: flags({ A: 0, B: 3, C: 7 }, ["C"]),
    b: bitOf("w", "B"),
  });

  it("test_and_set_bit / test_and_clear_bit return the old bit; test_bit reads it", async () => {
    const seen: string[] = [];
    const r = await run(() => {
      const m = new ModelBuilder({ o: record(Word()), ok: bool() });
      m.thread("t", {}, ({ s, step }) => [
        if_(test_and_set_bit(s.o.w.A), [step("A was set", () => void seen.push("A1"))]),
        if_(test_and_set_bit(s.o.w.A), [step("A was set", () => void seen.push("A2"))]),
        if_(test_bit(s.o.b), [step("B set", () => void seen.push("B"))]),
        set_bit(s.o.b),
        if_(test_and_clear_bit(s.o.b), [step("B was set", () => void seen.push("B2"))]),
        clear_bit(s.o.w.C),
        __clear_bit(s.o.w.A),
        step("check", ({ s }) => {
          s.ok = s.o.w.word === 0 && !s.o.b;
        }),
      ]);
      m.endState("ok", ({ s }) => s.ok);
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(seen).toEqual(["A2", "B2"]);
  });

  it("records the atomic ops as marked and __set_bit as a plain load and a plain store", () => {
    const model = compile(() => {
      const m = new ModelBuilder({ o: record(Word()) });
      m.thread("plain", {}, ({ s }) => [__set_bit(s.o.w.A)]);
      m.thread("atomic", {}, ({ s }) => [test_and_set_bit(s.o.w.B)]);
      return m;
    });
    const off = model.layout.fieldByName.get("o.w")!.off;
    const b = model.init.slice();
    const load = stepAccesses(model, 0, 0, b)!.list;
    expect([...load]).toEqual([off * 4]); // a plain read
    const atomic = stepAccesses(model, 1, 0, b)!.list;
    expect([...atomic]).toEqual([off * 4 + ACC_MARKED, off * 4 + ACC_MARKED + ACC_WRITE]);
    // after the load, the store is a plain write of the whole word
    const after = b.slice();
    model.mem.b = after;
    const th = model.threads[0]!;
    th.nodes[after[th.pcOff]!]!.run(th.ctx, 0);
    after[th.pcOff] = th.nodes[after[th.pcOff]!]!.next;
    const store = stepAccesses(model, 0, 0, after)!.list;
    expect([...store]).toEqual([off * 4 + ACC_WRITE]);
  });

  it("two CPUs doing __set_bit of different bits of one word race (both plain)", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ o: record(Word()) });
      m.thread("a", {}, ({ s }) => [__set_bit(s.o.w.A)]);
      m.thread("b", {}, ({ s }) => [__set_bit(s.o.w.B)]);
      return m;
    });
    expect(violated(r)).toEqual(["data-race"]);
    expect(messageOf(r, "data-race")).toContain("data race on o.w");
  });

  it("a plain __set_bit against an atomic test_and_set_bit of the same word is a data race (LKMM: one plain access)", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ o: record(Word()) });
      m.thread("plain", {}, ({ s }) => [__set_bit(s.o.w.A)]);
      m.thread("atomic", {}, ({ s }) => [test_and_set_bit(s.o.w.B)]);
      return m;
    });
    expect(violated(r)).toEqual(["data-race"]);
    expect(messageOf(r, "data-race")).toContain("__set_bit(A, &o.w)");
  });

  it("two CPUs doing set_bit of different bits of one word: no race, no lost update", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ o: record(Word()) });
      m.thread("a", {}, ({ s }) => [set_bit(s.o.w.A)]);
      m.thread("b", {}, ({ s }) => [set_bit(s.o.w.B)]);
      m.endState("both", ({ s }) => s.o.w.A && s.o.b && s.o.w.C);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("allocates the __bits register only in models that run a non-atomic bitop", () => {
    const build = (plain: boolean) =>
      compile(() => {
        const m = new ModelBuilder({ o: record(Word()) });
        m.thread("t", {}, ({ s }) => [plain ? __set_bit(s.o.w.A) : set_bit(s.o.w.A)]);
        return m;
      });
    const atomicOnly = build(false);
    const plain = build(true);
    expect(atomicOnly.layout.bitsReg).toEqual([]);
    expect(plain.layout.bitsReg[0]).toBe(plain.layout.fieldByName.get("CPU0.__bits")!.off);
    expect(plain.layout.words).toBe(atomicOnly.layout.words + 1);
  });

  it("shows a flags word by its bit names", () => {
    const model = compile(() => {
      const m = new ModelBuilder({ o: record(Word()) });
      m.thread("t", {}, ({ s }) => [set_bit(s.o.w.A)]);
      return m;
    });
    const off = model.layout.fieldByName.get("o.w")!.off;
    expect(model.layout.format(off, 0)).toBe("0");
    expect(model.layout.format(off, 0b101)).toBe("A|C");
    expect(model.init[off]).toBe(0b100);
  });
});

describe("flags() declarations", () => {
  it("rejects two bits with one number, an unknown initial bit, and a bitOf() to nothing", () => {
    expect(() => flags({ A: 1, B: 1 })).toThrow(/bits A and B both have number 1/);
    expect(() => flags({ A: 1 }, ["Z" as "A"])).toThrow(/initial bit "Z" is not declared/);
    expect(() => flags({ A: 64 })).toThrow(SchemaError);
    expect(() =>
      compile(() => {
        const m = new ModelBuilder({ o: record({ w: flags({ A: 0 }), x: bitOf("w", "B") }) });
        m.thread("t", {}, () => [step("nothing", () => undefined)]);
        return m;
      }),
    ).toThrow(/o\.x: bitOf\("w", "B"\): w has no bit B \(its bits: A\)/);
  });
});
