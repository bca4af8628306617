import { describe, it, expect } from "vitest";
import { ModelBuilder, type World } from "../../src/model/model.ts";
import { array, bool, int, listHead, ptr } from "../../src/model/schema.ts";
import { listLength } from "../../src/kernel/list.ts";
import { folio } from "../../src/kernel/folio.ts";
import { memcgTree } from "../../src/kernel/memcg.ts";
import {
  __list_lru_add,
  list_lru_add,
  list_lru_add_folio,
  list_lru_del,
  list_lru_lock,
  list_lru_shrink_walk,
  list_lru_unlock,
  listLru,
  lruCountConsistent,
  lruKey,
  lruSubLocal,
  lruWalkLocals,
  memcg_reparent_list_lrus,
  type LruStatus,
} from "../../src/kernel/list_lru.ts";
import { compile, messageOf, run, violated } from "./helpers.ts";
import { data_race } from "../../src/kernel/lockdep.ts";
import { explore } from "../../src/explore/explorer.ts";

const label = { label: (i: number) => `F${i}` };

/** Node ids of a list, head first excluded, following next. */
function order(w: World, head: number): number[] {
  const lay = w.m.layout;
  const out: number[] = [];
  let x = w.m.b[lay.nodes[head]!.nextOff]!;
  while (x !== head && out.length < 10) {
    out.push(x);
    x = w.m.b[lay.nodes[x]!.nextOff]!;
  }
  return out;
}

describe("list_lru_add / list_lru_del", () => {
  it("add twice returns true then false with nr_items 1; del returns true then false", async () => {
    const results: string[] = [];
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio(), label),
        lru: listLru(),
        res: array(4, int(0, 2)),
        nr: array(4, int(0, 2)),
        node: array(4, int(0, 2)),
      });
      const item = m.s.folio[0]!._deferred_list;
      const k = lruKey(0);
      m.thread("t", {}, ({ if_, step }) =>
        [list_lru_add, list_lru_add, list_lru_del, list_lru_del].map((op, i) =>
          if_(
            op(m.s.lru, item, k),
            [
              step("true", (c) =>
                // an observer: data_race() reads the counts without their locks
                data_race(c, () => {
                  const s = c.s;
                  s.res[i] = 1;
                  s.nr[i] = s.lru.sub[0]!.nr_items;
                  s.node[i] = s.lru.nr_items[0]!;
                }),
              ),
            ],
            [
              step("false", (c) =>
                // an observer: data_race() reads the counts without their locks
                data_race(c, () => {
                  const s = c.s;
                  s.res[i] = 2;
                  s.nr[i] = s.lru.sub[0]!.nr_items;
                  s.node[i] = s.lru.nr_items[0]!;
                }),
              ),
            ],
          ),
        ),
      );
      m.endState("results", ({ s }) => {
        const row = (a: number[]): string => [0, 1, 2, 3].map((i) => a[i]).join(",");
        results.push(`${row(s.res)} ${row(s.nr)} ${row(s.node)}`);
        return true;
      });
      lruCountConsistent(m, m.s.lru);
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(results).toEqual(["1,2,1,2 1,1,0,0 1,1,0,0"]);
    expect(r.states).toBe(9);
  });

  it("blocks on a sublist lock held by the same CPU: deadlock naming the sublist", async () => {
    const r = await run(() => {
      const S = listLru();
      const m = new ModelBuilder({ folio: array(1, folio(), label), lru: S });
      m.thread("t", { l: lruSubLocal(S) }, ({ l }) => [
        list_lru_lock(m.s.lru, lruKey(0), l.l),
        list_lru_add(m.s.lru, m.s.folio[0]!._deferred_list, lruKey(0)),
      ]);
      return m;
    });
    expect(violated(r)).toEqual(["deadlock"]);
    expect(messageOf(r, "deadlock")).toMatch(/lru\.node\[0\]\.lru\.lock, held by CPU0 itself/);
  });

  it("__list_lru_add under list_lru_lock; without the lock it is list-lru-unlocked", async () => {
    const ok = await run(() => {
      const S = listLru();
      const m = new ModelBuilder({ folio: array(2, folio(), label), lru: S });
      for (const i of [0, 1]) {
        m.thread(`t${i}`, { l: lruSubLocal(S) }, ({ l }) => [
          list_lru_lock(m.s.lru, lruKey(0), l.l),
          __list_lru_add(m.s.lru, l.l, m.s.folio[i]!._deferred_list),
          list_lru_unlock(m.s.lru, l.l),
        ]);
      }
      lruCountConsistent(m, m.s.lru);
      m.endState("two", ({ s }) => s.lru.sub[0]!.nr_items === 2);
      return m;
    });
    expect(ok.verdict).toBe("holds");
    const bad = await run(() => {
      const S = listLru();
      const m = new ModelBuilder({ folio: array(1, folio(), label), lru: S });
      m.thread("t", { l: lruSubLocal(S) }, ({ l, step }) => [
        step("l = node 0", ({ l }) => void (l.l = 0)),
        __list_lru_add(m.s.lru, l.l, m.s.folio[0]!._deferred_list),
      ]);
      return m;
    });
    expect(messageOf(bad, "list-lru-unlocked")).toMatch(
      /__list_lru_add: CPU0 does not hold lru\.node\[0\]\.lru\.lock/,
    );
  });
});

describe("list_lru walk", () => {
  /** Two folios on the lru, a walk whose callback returns `status` (and isolates for REMOVED). */
  async function walk(status: LruStatus, nrToWalk = 4) {
    let final:
      { order: number[]; nr: number; node: number; visits: number; locked: number } | undefined;
    let ids: number[] = [];
    const r = await run(() => {
      const S = listLru();
      const Folio = folio();
      const m = new ModelBuilder({
        folio: array(2, Folio, label),
        lru: S,
        visits: int(0, 6),
        retried: bool(),
      });
      m.init((s) => {
        ids = [s.folio[0]!._deferred_list.id, s.folio[1]!._deferred_list.id];
      });
      m.thread("add", {}, () =>
        [0, 1].map((i) => list_lru_add(m.s.lru, m.s.folio[i]!._deferred_list, lruKey(0))),
      );
      m.thread(
        "walk",
        { ...lruWalkLocals(S, 4), folio: ptr(Folio), dispose: listHead() },
        ({ l, step, if_, wait_until }) => [
          wait_until("both added", ({ s }) => s.lru.nr_items[0] === 2),
          list_lru_shrink_walk(
            m.s.lru,
            lruKey(0),
            (w) => [
              step("visit", ({ s }) => void s.visits++),
              ...(status === "LRU_REMOVED"
                ? [w.isolate("LRU_REMOVED")]
                : status === "LRU_RETRY"
                  ? [
                      if_(
                        ({ s }) => !s.retried,
                        [
                          step("retried = true", ({ s }) => void (s.retried = true)),
                          w.unlock(),
                          w.ret("LRU_RETRY"),
                        ],
                        [w.isolateMove(l.dispose, "LRU_REMOVED")],
                      ),
                    ]
                  : status === "LRU_STOP"
                    ? [w.unlock(), w.ret("LRU_STOP")]
                    : [w.ret(status)]),
            ],
            { locals: l, pos: l.folio, nrToWalk },
          ),
        ],
      );
      m.endState("record", (w) => {
        const s = w.s as unknown as {
          lru: {
            sub: { list: { id: number }; nr_items: number; lock: number }[];
            nr_items: number[];
          };
          visits: number;
        };
        final = {
          order: order(w, s.lru.sub[0]!.list.id),
          nr: s.lru.sub[0]!.nr_items,
          node: s.lru.nr_items[0]!,
          visits: s.visits,
          locked: s.lru.sub[0]!.lock,
        };
        return true;
      });
      lruCountConsistent(m, m.s.lru);
      return m;
    });
    return { r, final: final!, ids };
  }

  it("LRU_REMOVED with list_lru_isolate empties the sublist and both counts", async () => {
    const { r, final } = await walk("LRU_REMOVED");
    expect(r.verdict).toBe("holds");
    expect(final).toEqual({ order: [], nr: 0, node: 0, visits: 2, locked: -1 });
  });

  it("LRU_SKIP leaves everything in place", async () => {
    const { r, final, ids } = await walk("LRU_SKIP");
    expect(r.verdict).toBe("holds");
    expect(final).toEqual({ order: ids, nr: 2, node: 2, visits: 2, locked: -1 });
  });

  it("LRU_ROTATE moves each visited item to the tail; nr_to_walk bounds the revisits", async () => {
    const two = await walk("LRU_ROTATE", 2);
    expect(two.final).toEqual({ order: two.ids, nr: 2, node: 2, visits: 2, locked: -1 });
    const three = await walk("LRU_ROTATE", 3);
    expect(three.final).toEqual({
      order: [three.ids[1], three.ids[0]],
      nr: 2,
      node: 2,
      visits: 3,
      locked: -1,
    });
  });

  it("LRU_RETRY (lock dropped) restarts from the head; then isolate_move to a private list", async () => {
    const { r, final } = await walk("LRU_RETRY");
    expect(r.verdict).toBe("holds");
    // first visit retries, then both are moved: 3 visits
    expect(final).toEqual({ order: [], nr: 0, node: 0, visits: 3, locked: -1 });
  });

  it("LRU_STOP (lock dropped) ends the walk after one item", async () => {
    const { r, final, ids } = await walk("LRU_STOP");
    expect(r.verdict).toBe("holds");
    expect(final).toEqual({ order: ids, nr: 2, node: 2, visits: 1, locked: -1 });
  });

  it("a callback that returns no status is a model error naming it", async () => {
    const r = await run(() => {
      const S = listLru();
      const m = new ModelBuilder({ folio: array(1, folio(), label), lru: S });
      m.thread("walk", { ...lruWalkLocals(S) }, ({ l, step }) => [
        list_lru_add(m.s.lru, m.s.folio[0]!._deferred_list, lruKey(0)),
        list_lru_shrink_walk(m.s.lru, lruKey(0), () => [step("nothing", () => undefined)], {
          locals: l,
        }),
      ]);
      return m;
    });
    expect(r.verdict).toBe("error");
    expect(r.error!.code).toBe("E_LRU_STATUS");
    expect(r.error!.message).toMatch(/returned no lru_status/);
  });

  it("a walk that reaches another list's head reports list-corruption naming the sublist", async () => {
    const r = await run(() => {
      const S = listLru();
      const m = new ModelBuilder({ folio: array(1, folio(), label), lru: S, other: listHead() });
      m.init((s) => {
        const h = s.lru.sub[0]!.list;
        const f = s.folio[0]!._deferred_list;
        h.next = f.id;
        h.prev = f.id;
        f.prev = h.id;
        f.next = s.other.id; // torn: F0 points into another list
        s.lru.sub[0]!.nr_items = 1;
      });
      m.thread("walk", { ...lruWalkLocals(S) }, ({ l }) => [
        list_lru_shrink_walk(m.s.lru, lruKey(0), (w) => [w.ret("LRU_SKIP")], { locals: l }),
      ]);
      return m;
    });
    expect(messageOf(r, "list-corruption")).toMatch(
      /walking lru\.node\[0\]\.lru reached other \(another list's head\)/,
    );
  });

  it("LRU_SKIP after the callback dropped the lock is list-lru-unlocked", async () => {
    const r = await run(() => {
      const S = listLru();
      const m = new ModelBuilder({ folio: array(1, folio(), label), lru: S });
      m.thread("walk", { ...lruWalkLocals(S) }, ({ l }) => [
        list_lru_add(m.s.lru, m.s.folio[0]!._deferred_list, lruKey(0)),
        list_lru_shrink_walk(m.s.lru, lruKey(0), (w) => [w.unlock(), w.ret("LRU_SKIP")], {
          locals: l,
        }),
      ]);
      return m;
    });
    expect(messageOf(r, "list-lru-unlocked")).toMatch(
      /after LRU_SKIP: CPU0 does not hold lru\.node\[0\]\.lru\.lock/,
    );
  });

  it("list_lru_del of an item the walk moved to its private list: !list_empty, so the lru's count underflows", async () => {
    const model = compile(() => {
      const S = listLru();
      const Folio = folio();
      const m = new ModelBuilder({ folio: array(2, Folio, label), lru: S });
      m.init((s, w) => {
        void s;
        // both folios start on the sublist
        const lay = w.m.layout;
        const b = w.m.b;
        const h = lay.nodes.find((n) => n.name === "lru.node[0].lru.list")!;
        const f0 = lay.nodes.find((n) => n.name === "F0._deferred_list")!;
        const f1 = lay.nodes.find((n) => n.name === "F1._deferred_list")!;
        b[h.nextOff] = f0.id;
        b[f0.nextOff] = f1.id;
        b[f1.nextOff] = h.id;
        b[h.prevOff] = f1.id;
        b[f1.prevOff] = f0.id;
        b[f0.prevOff] = h.id;
        b[lay.fieldByName.get("lru.node[0].lru.nr_items")!.off] = 2;
        b[lay.fieldByName.get("lru.node[0].nr_items")!.off] = 2;
      });
      m.thread(
        "walk",
        { ...lruWalkLocals(S, 2), folio: ptr(Folio), dispose: listHead() },
        ({ l }) => [
          list_lru_shrink_walk(
            m.s.lru,
            lruKey(0),
            (w) => [w.isolateMove(l.dispose, "LRU_REMOVED")],
            { locals: l, pos: l.folio },
          ),
        ],
      );
      m.thread("del", {}, () => [list_lru_del(m.s.lru, m.s.folio[1]!._deferred_list, lruKey(0))]);
      lruCountConsistent(m, m.s.lru);
      return m;
    });
    const r = await explore(model);
    expect(violated(r)).toEqual(["counter-underflow"]);
    expect(messageOf(r, "counter-underflow")).toMatch(
      /list_lru_del: lru\.node\[0\]\.lru\.nr_items is already 0/,
    );
    // walk: lock + item F0, move F0, item F1, move F1, end + unlock; then the del
    expect(r.violations[0]!.length).toBe(6);
  });
});

describe("memcg-aware list_lru", () => {
  it("a dying memcg's reparented (dead) sublist sends list_lru_add to the parent's", async () => {
    let where = "";
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio({ memcgs: 2, memcg: 1 }), label),
        memcgs: memcgTree({ count: 2 }),
        lru: listLru({ memcgs: 2 }),
      });
      m.thread("t", {}, ({ step }) => [
        step("rmdir memcg1", ({ s }) => void (s.memcgs.memcg[1]!.dying = true)),
        memcg_reparent_list_lrus(m.s.lru, m.s.memcgs, 1),
        list_lru_add_folio(m.s.lru, m.s.folio[0]!, { mc: m.s.memcgs }),
      ]);
      m.endState("where", (w) => {
        const lay = w.m.layout;
        for (const n of lay.nodes)
          if (n.role === "head" && listLength(w.m, n.id) === 1) where = n.name;
        return true;
      });
      lruCountConsistent(m, m.s.lru);
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(where).toBe("lru.memcg0.node[0].list");
  });
});
