// Batched migration off a list (migrate.ts, last section) and the memcg css references and
// events (memcg.ts): what each primitive claims of the kernel, and look-alikes that must not raise.
import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, int, listHead } from "../../src/model/schema.ts";
import { folio, folio_put } from "../../src/kernel/folio.ts";
import { list_add } from "../../src/kernel/list.ts";
import {
  count_memcg_events,
  cssRefsBalanced,
  get_mem_cgroup_from_folio,
  mem_cgroup_put,
  memcgTree,
} from "../../src/kernel/memcg.ts";
import {
  lruFolioFields,
  migrate_misplaced_folio_prepare,
  migrate_pages,
  putback_movable_pages,
} from "../../src/kernel/migrate.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };

describe("migrate_misplaced_folio_prepare / migrate_pages / putback_movable_pages", () => {
  /** Two mapped folios on node 1, isolated onto an on-stack list and migrated to node 0. */
  const build = (opts: { putback: boolean; unmap: boolean }) =>
    run(() => {
      const Folio = folio({ maxRef: 3, nodes: 2, nid: 1, order: 0, extra: lruFolioFields });
      const m = new ModelBuilder({
        folio: array(2, Folio, label),
        seen: array(2, int(0, 2)),
      });
      const F = (i: number) => m.s.folio[i]!;
      m.thread(
        "kmigrated",
        { list: listHead(), ok: int(0, 2), left: int(0, 2) },
        ({ l, step, if_, when }) => [
          ...[0, 1].map((i) =>
            if_(migrate_misplaced_folio_prepare(F(i), 0), [list_add(F(i).lru, l.list)]),
          ),
          migrate_pages(l.list, Folio, { node: 0, nr_succeeded: l.ok, nr_remaining: l.left }),
          step("record", ({ s, l }) => {
            s.seen[0] = l.ok;
            s.seen[1] = l.left;
          }),
          ...(opts.putback
            ? [
                if_(
                  when("nr_remaining", ({ l }) => l.left > 0),
                  [putback_movable_pages(l.list, Folio)],
                ),
              ]
            : []),
        ],
      );
      if (opts.unmap) m.thread("munmap", {}, () => [folio_put(F(0))]);
      m.endState("counts", ({ s, cpus }) => {
        const list = (cpus[0]!.l as { list: { next: number; id: number } }).list;
        let migrated = 0;
        let isolated = 0;
        for (const f of s.folio) {
          if (f.migrated) migrated++;
          if (f.isolated) isolated++;
          // a migrated folio that was not freed is on the target node
          if (f.migrated && !f.freed && f.nid !== 0) return "a migrated folio is not on node 0";
        }
        if (s.seen[0] !== migrated) return `nr_succeeded ${s.seen[0]}, migrated ${migrated}`;
        if (opts.putback) {
          if (isolated !== 0) return `${isolated} folio(s) left isolated`;
          if (list.next !== list.id) return "the list is not empty after putback";
          // every reference the isolation took was put: mapping references only
          for (const f of s.folio)
            if (!f.freed && f._refcount !== 1) return `refcount ${f._refcount}`;
        } else if (s.seen[1] !== isolated) return `nr_remaining ${s.seen[1]}, isolated ${isolated}`;
        return true;
      });
      return m;
    });

  it("counts every migrated folio (a freed-from-under-us one too) in nr_succeeded, the rest in nr_remaining", async () => {
    for (const unmap of [false, true]) {
      const r = await build({ putback: false, unmap });
      expect(violated(r), `unmap ${unmap}`).toEqual([]);
      expect(r.complete).toBe(true);
    }
  });

  it("putback_movable_pages puts each -EAGAIN folio back with its isolation reference dropped", async () => {
    const r = await build({ putback: true, unmap: true });
    expect(violated(r)).toEqual([]);
  });

  it("a folio being freed (refcount 0) is not isolated; a freed one is not touched", async () => {
    const r = await run(() => {
      const Folio = folio({ ref: 0, order: 0, extra: lruFolioFields });
      const m = new ModelBuilder({ folio: array(1, Folio, label), got: int(0, 2) });
      m.thread("t", {}, ({ if_, step }) => [
        if_(migrate_misplaced_folio_prepare(m.s.folio[0]!, 0), [
          step("isolated", ({ s }) => void (s.got = 1)),
        ]),
      ]);
      m.endState("never", ({ s }) => s.got === 0 || "a folio with refcount 0 was isolated");
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

describe("memcg css references and events", () => {
  const build = (opts: { put: boolean; memcg: number; disabled?: boolean; nullMemcg?: boolean }) =>
    run(() => {
      const m = new ModelBuilder({
        memcgs: memcgTree({ count: 2, events: ["NUMA_PAGE_MIGRATE"], disabled: opts.disabled }),
        folio: array(1, folio({ memcgs: 2, memcg: opts.memcg }), label),
      });
      const mc = m.s.memcgs;
      m.thread("t", { memcg: int(-1, 1, -1), nr: int(0, 3, 2) }, ({ l, step }) => [
        ...(opts.nullMemcg ? [] : [get_mem_cgroup_from_folio(l.memcg, mc, m.s.folio[0]!)]),
        count_memcg_events(mc, l.memcg, "NUMA_PAGE_MIGRATE", l.nr),
        ...(opts.put ? [mem_cgroup_put(mc, l.memcg)] : []),
        step("done", () => undefined),
      ]);
      cssRefsBalanced(m, mc);
      m.endState("events", ({ s }) => {
        const want = opts.disabled ? [0, 0] : opts.memcg === 1 ? [0, 2] : [2, 0];
        const got = [0, 1].map((k) => s.memcgs.memcg[k]!.events.NUMA_PAGE_MIGRATE!);
        return (got[0] === want[0] && got[1] === want[1]) || `events ${got.join(",")}`;
      });
      return m;
    });

  it("get_mem_cgroup_from_folio takes a css reference that mem_cgroup_put drops; count_memcg_events adds to that memcg", async () => {
    expect((await build({ put: true, memcg: 1 })).verdict).toBe("holds");
  });

  it("a get without its put is memcg-css-leak", async () => {
    const r = await build({ put: false, memcg: 1 });
    expect(violated(r)).toEqual(["memcg-css-leak"]);
    expect(messageOf(r, "memcg-css-leak")).toBe(
      "memcg1's css reference count is 2 at the end, not 1",
    );
  });

  it("the root's css is not counted (CSS_NO_REF): no leak without the put; an uncharged folio gives the root", async () => {
    expect((await build({ put: false, memcg: 0 })).verdict).toBe("holds");
    expect((await build({ put: false, memcg: -1 })).verdict).toBe("holds");
  });

  it("count_memcg_events on a NULL memcg: null-memcg-deref, unless memory cgroups are disabled", async () => {
    const r = await build({ put: false, memcg: 1, nullMemcg: true });
    expect(violated(r)).toEqual(["null-memcg-deref"]);
    expect((await build({ put: true, memcg: 1, disabled: true })).verdict).toBe("holds");
  });
});
