// Tests of list.ts and spinlock.ts (written by the list/spinlock owners' users: the ops the
// kernel models rely on).
import { describe, it, expect } from "vitest";
import { ModelBuilder, type World } from "../../src/model/model.ts";
import { array, int, listHead, nodeptr, ptr, spinlock } from "../../src/model/schema.ts";
import {
  list_add_tail,
  list_del,
  list_del_init,
  list_first_entry,
  list_for_each_entry_safe,
  list_move,
  list_move_tail,
  list_splice_tail,
  list_splice_tail_init,
} from "../../src/kernel/list.ts";
import { spin_lock, spin_trylock, spin_unlock } from "../../src/kernel/spinlock.ts";
import { folio, folio_get } from "../../src/kernel/folio.ts";
import { listIntegrity } from "../../src/kernel/catalogue.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };

function names(w: World, headName: string): string[] {
  const lay = w.m.layout;
  const h = lay.nodes.find((n) => n.name === headName)!;
  const out: string[] = [];
  let x = w.m.b[h.nextOff]!;
  while (x !== h.id && out.length < 10) {
    out.push(lay.nodeName(x).replace(/\._deferred_list$/, ""));
    const n = lay.nodes[x];
    if (!n) return [...out, "<corrupt>"];
    x = w.m.b[n.nextOff]!;
  }
  return out;
}

describe("list_head ops", () => {
  it("list_first_entry on an empty list yields the head: using it as a folio is bogus-entry", async () => {
    const Folio = folio();
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, Folio, label),
        lock: spinlock(),
        queue: listHead({ lock: "lock" }),
      });
      m.thread("t", { folio: ptr(Folio) }, ({ l }) => [
        list_first_entry(l.folio, m.s.queue),
        folio_get(l.folio),
      ]);
      return m;
    });
    expect(violated(r)).toEqual(["bogus-entry"]);
    expect(messageOf(r, "bogus-entry")).toMatch(/container_of\(\) of a list head/);
  });

  it("safe iteration may delete the current entry; move, move_tail and splice_tail_init keep order", async () => {
    const Folio = folio();
    const seen: string[][] = [];
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(4, Folio, label),
        lock: spinlock(),
        queue: listHead({ lock: "lock" }),
        visits: int(0, 4),
      });
      const f = (i: number) => m.s.folio[i]!._deferred_list;
      m.thread("t", { folio: ptr(Folio), next: nodeptr(), priv: listHead() }, ({ l, step }) => [
        spin_lock(m.s.lock),
        ...[0, 1, 2, 3].map((i) => list_add_tail(f(i), m.s.queue)), // queue: F0 F1 F2 F3
        list_move(f(2), m.s.queue), // F2 F0 F1 F3
        list_move_tail(f(0), m.s.queue), // F2 F1 F3 F0
        list_for_each_entry_safe(l.folio, l.next, m.s.queue, [
          step("visit", ({ s }) => void s.visits++),
          list_move_tail(l.folio._deferred_list, l.priv), // to the private list, in order
        ]),
        list_splice_tail_init(l.priv, m.s.queue),
        spin_unlock(m.s.lock),
      ]);
      m.endState("order", (w) => {
        seen.push(names(w, "queue"), names(w, "CPU0.priv"));
        return true;
      });
      listIntegrity(m, [m.s.queue]);
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(seen).toEqual([["F2", "F1", "F3", "F0"], []]);
  });

  it("list_splice_tail without _init leaves the private head pointing into the queue", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio(), label),
        lock: spinlock(),
        queue: listHead({ lock: "lock" }),
      });
      m.thread("t", { priv: listHead() }, ({ l }) => [
        list_add_tail(m.s.folio[0]!._deferred_list, l.priv),
        spin_lock(m.s.lock),
        list_splice_tail(l.priv, m.s.queue),
        spin_unlock(m.s.lock),
        list_add_tail(m.s.folio[0]!._deferred_list, l.priv),
      ]);
      return m;
    });
    // the stale private head makes the re-add fail the DEBUG_LIST checks
    expect(violated(r)).toEqual(["list-corruption"]);
  });

  it("list_del twice trips the poison check; list_add_tail twice is a double add", async () => {
    const del = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio(), label),
        lock: spinlock(),
        queue: listHead({ lock: "lock" }),
      });
      const e = m.s.folio[0]!._deferred_list;
      m.thread("t", {}, () => [
        spin_lock(m.s.lock),
        list_add_tail(e, m.s.queue),
        list_del(e),
        list_del(e),
        spin_unlock(m.s.lock),
      ]);
      return m;
    });
    expect(messageOf(del, "list-corruption")).toMatch(/F0\._deferred_list->next is LIST_POISON1/);
    const add = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio(), label),
        lock: spinlock(),
        queue: listHead({ lock: "lock" }),
      });
      const e = m.s.folio[0]!._deferred_list;
      m.thread("t", {}, () => [
        spin_lock(m.s.lock),
        list_add_tail(e, m.s.queue),
        list_add_tail(e, m.s.queue),
        spin_unlock(m.s.lock),
      ]);
      return m;
    });
    expect(messageOf(add, "list-corruption")).toMatch(/double add: F0\._deferred_list/);
  });

  it("unlocked list_del_init of neighbours on a private list: a data race, and torn pointers without the race check", async () => {
    const build = () => {
      const m = new ModelBuilder({ folio: array(2, folio(), label), priv: listHead() });
      m.init((s) => {
        const h = s.priv;
        const a = s.folio[0]!._deferred_list;
        const b = s.folio[1]!._deferred_list;
        h.next = a.id;
        a.next = b.id;
        b.next = h.id;
        h.prev = b.id;
        b.prev = a.id;
        a.prev = h.id;
      });
      m.thread("scan", {}, () => [list_del_init(m.s.folio[0]!._deferred_list)]);
      m.thread("free", {}, () => [list_del_init(m.s.folio[1]!._deferred_list)]);
      listIntegrity(m, [m.s.priv]);
      return m;
    };
    const raced = await run(build);
    expect(violated(raced)).toContain("data-race");
    const torn = await run(build, { races: false });
    expect(violated(torn).some((p) => p === "list-integrity" || p === "list-corruption")).toBe(
      true,
    );
  });
});

describe("spinlock", () => {
  it("spin_unlock of a lock not held is bad-unlock; spin_trylock fails while held", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ lock: spinlock() });
      m.thread("t", {}, () => [spin_unlock(m.s.lock)]);
      return m;
    });
    expect(messageOf(r, "bad-unlock")).toMatch(
      /spin_unlock\(&lock\) by CPU0, but the lock is unlocked/,
    );
    const t = await run(() => {
      const m = new ModelBuilder({ lock: spinlock(), got: int(0, 2) });
      m.thread("holder", {}, () => [spin_lock(m.s.lock)]);
      m.thread("try", {}, ({ if_, step }) => [
        if_(spin_trylock(m.s.lock), [step("got", ({ s }) => void s.got++), spin_unlock(m.s.lock)]),
      ]);
      m.endState("lock", ({ s }) => s.lock === 0 || `lock ${s.lock}`);
      return m;
    });
    expect(t.verdict).toBe("holds");
  });
});
