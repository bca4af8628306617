// The memcg sublists allocated on demand (list_lru.ts, last section): __list_lru_init with both
// boot switches, folio_memcg_list_lru_alloc() through lru->xa, lock_list_lru_of_memcg()'s
// VM_WARN_ON for a memcg without lists; and memcg.ts's mem_cgroup_charge() and
// get_mem_cgroup_from_folio().
import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, int } from "../../src/model/schema.ts";
import { folio } from "../../src/kernel/folio.ts";
import {
  cssRefsBalanced,
  get_mem_cgroup_from_folio,
  mem_cgroup_charge,
  mem_cgroup_put,
  memcg_offline,
  memcgTree,
} from "../../src/kernel/memcg.ts";
import {
  __list_lru_add,
  folio_memcg_list_lru_alloc,
  list_lru_init_memcg,
  list_lru_unlock,
  listLru,
  listLruXa,
  lock_list_lru_of_memcg,
  lruCountConsistent,
  lruKeyOfFolio,
  lruSubLocal,
} from "../../src/kernel/list_lru.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };

describe("list_lru_init_memcg (__list_lru_init with memcg_aware = true)", () => {
  it("memcg aware unless nokmem; with the fix, also unless memory cgroups are disabled", async () => {
    for (const fixed of [false, true])
      for (const disabled of [false, true])
        for (const kmemDisabled of [false, true]) {
          const want = !(kmemDisabled || (fixed && disabled));
          const r = await run(() => {
            const m = new ModelBuilder({
              memcgs: memcgTree({ count: 2, disabled, kmemDisabled }),
              lru: listLru({ memcgs: 2, memcgAware: !want }),
            });
            m.thread("t", {}, () => [list_lru_init_memcg(m.s.lru, m.s.memcgs, { fixed })]);
            m.endState("aware", ({ s }) => s.lru.memcg_aware === want || "memcg_aware wrong");
            return m;
          });
          expect(r.verdict, `fixed ${fixed} disabled ${disabled} nokmem ${kmemDisabled}`).toBe(
            "holds",
          );
        }
  });
});

describe("folio_memcg_list_lru_alloc", () => {
  /** root <- memcg1 <- memcg2; `cpus` folios charged to memcg2 by as many CPUs. */
  const build = (opts: { disabled?: boolean; cpus?: number; dying?: number; aware?: boolean }) =>
    run(() => {
      const n = opts.cpus ?? 1;
      const m = new ModelBuilder({
        memcgs: memcgTree({ count: 3, parents: [-1, 0, 1], disabled: opts.disabled ?? false }),
        lru: listLru({ memcgs: 3, maxItems: n, memcgAware: opts.aware ?? true }),
        xa: listLruXa({ memcgs: 3 }),
        folio: array(n, folio({ memcgs: 3, memcg: -1 }), label),
        got: array(n, int(-1, 2, -1)),
      });
      const { memcgs: mc, lru, xa } = m.s;
      if (opts.dying !== undefined) {
        const d = opts.dying;
        m.init((s) => {
          s.memcgs.memcg[d]!.dying = true;
        });
      }
      for (let i = 0; i < n; i++) {
        const f = m.s.folio[i]!;
        m.thread(`alloc${i}`, { l: lruSubLocal(lru.$schema as never), cg: int(-1, 2, -1) }, (t) => [
          mem_cgroup_charge(f, mc, 2),
          get_mem_cgroup_from_folio(t.l.cg, mc, f),
          t.step("got = memcg", ({ s, l }) => {
            s.got[i] = l.cg;
          }),
          mem_cgroup_put(mc, t.l.cg),
          folio_memcg_list_lru_alloc(f, lru, xa, mc),
          lock_list_lru_of_memcg(lru, xa, lruKeyOfFolio(f, mc), t.l.l, { mc }),
          __list_lru_add(lru, t.l.l, f._deferred_list),
          list_lru_unlock(lru, t.l.l),
        ]);
      }
      lruCountConsistent(m, lru);
      cssRefsBalanced(m, mc);
      m.endState("lists", ({ s }) => {
        if (opts.disabled) return true;
        for (let i = 0; i < n; i++) if (s.got[i] !== 2) return `got ${s.got[i]}`;
        if (!s.lru.memcg_aware) return true;
        // memcg2 dying: its lists are never stored and the items go to memcg1's sublist
        const want = opts.dying === 2 ? [false, true, false] : [false, true, true];
        for (let k = 1; k < 3; k++)
          if (s.xa.memcg[k] !== want[k]) return `xa entry of memcg${k}: ${s.xa.memcg[k]}`;
        const on = opts.dying === 2 ? 1 : 2;
        const sub = s.lru.sub[on + 1]!;
        return sub.nr_items === n || `memcg${on}'s sublist has ${sub.nr_items} items`;
      });
      return m;
    });

  it("stores the memcg's and every missing ancestor's lists; two CPUs racing both find them (the loser frees its copy)", async () => {
    for (const cpus of [1, 2]) {
      const r = await build({ cpus });
      expect(
        r.violations.map((v) => v.message),
        `${cpus} CPUs`,
      ).toEqual([]);
      expect(r.verdict, `${cpus} CPUs`).toBe("holds");
      expect(r.complete).toBe(true);
    }
  });

  it("a NULL memcg (memory cgroups disabled) on a memcg-aware list_lru is null-memcg-deref in the fast path", async () => {
    const r = await build({ disabled: true });
    expect(violated(r)).toEqual(["null-memcg-deref"]);
    expect(messageOf(r, "null-memcg-deref")).toBe(
      "NULL memcg dereference: folio_memcg_list_lru_alloc fast path: memcg_list_lru_allocated(folio_memcg(folio), lru): memcg->kmemcg_id (memory cgroups are disabled at boot)",
    );
    // the look-alike: a list_lru that is not memcg aware returns at once
    const ok = await build({ disabled: true, aware: false });
    expect(ok.verdict).toBe("holds");
  });

  it("a dying memcg gets no lists: the lookup walks to the parent without a warning", async () => {
    const r = await build({ dying: 2 });
    expect(r.verdict).toBe("holds");
  });
});

describe("lock_list_lru_of_memcg with lru->xa", () => {
  const build = (opts: { allocate: boolean; dying: boolean }) =>
    run(() => {
      const m = new ModelBuilder({
        memcgs: memcgTree({ count: 2 }),
        lru: listLru({ memcgs: 2 }),
        xa: listLruXa({ memcgs: 2 }),
        folio: array(1, folio({ memcgs: 2, memcg: 1 }), label),
      });
      const { memcgs: mc, lru, xa } = m.s;
      const f = m.s.folio[0]!;
      m.thread("t", { l: lruSubLocal(lru.$schema as never) }, ({ l }) => [
        ...(opts.allocate ? [folio_memcg_list_lru_alloc(f, lru, xa, mc)] : []),
        ...(opts.dying ? [memcg_offline(mc, 1)] : []),
        lock_list_lru_of_memcg(lru, xa, lruKeyOfFolio(f, mc), l.l, { mc }),
        __list_lru_add(lru, l.l, f._deferred_list),
        list_lru_unlock(lru, l.l),
      ]);
      m.endState("where", ({ s }) => {
        const on = opts.allocate ? 2 : 1; // sub index: memcg1's, or the root's
        return s.lru.sub[on]!.nr_items === 1 || `not on sublist ${on}`;
      });
      return m;
    });

  it("a live memcg without lists: VM_WARN_ON(!css_is_dying()) and the item goes to the parent's sublist", async () => {
    const r = await build({ allocate: false, dying: false });
    expect(violated(r)).toEqual(["list-lru-sublist"]);
    expect(messageOf(r, "list-lru-sublist")).toMatch(
      /VM_WARN_ON\(!css_is_dying\(&memcg->css\)\): memcg1 has no list_lru_memcg in lru/,
    );
    // a warning: the CPU goes on, and the item lands on the root's lists
    expect(r.violations[0]!.severity).toBe("warn");
  });

  it("look-alikes that must not warn: lists allocated first, or the memcg dying", async () => {
    expect((await build({ allocate: true, dying: false })).verdict).toBe("holds");
    expect((await build({ allocate: false, dying: true })).verdict).toBe("holds");
  });
});
