// The page-level primitives of seed 001's model: the PTE table (pgtable.ts), the rw_semaphore
// (rwsem.ts), try_to_migrate_one / remove_migration_pte(s) / migration_entry_wait (rmap.ts,
// migrate.ts) and the split of huge_memory.ts's last section. Each claim with a run that must
// raise and a look-alike that must not.
import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, int } from "../../src/model/schema.ts";
import { check } from "../../src/model/dsl.ts";
import type { ThreadRefs } from "../../src/model/model.ts";
import type { IntS } from "../../src/model/schema.ts";
import { folio, folio_put, folio_ref_freeze, folio_unlock } from "../../src/kernel/folio.ts";
import {
  pageFolioFields,
  ptes,
  ptesMapLiveFolios,
  noMigrationEntries,
  PTE_MIGRATION,
  PTE_PRESENT,
  zap_pte,
} from "../../src/kernel/pgtable.ts";
import { down_read, down_write, rwsem, up_read, up_write } from "../../src/kernel/rwsem.ts";
import { anonVma, foliosReleased, mapcountConsistent, unmap_folio } from "../../src/kernel/rmap.ts";
import { migration_entry_wait, remove_migration_ptes } from "../../src/kernel/migrate.ts";
import {
  __split_huge_page_to_list_to_order,
  __split_unmapped_folio,
  EBUSY,
  folio_split_unmapped,
} from "../../src/kernel/huge_memory.ts";
import { messageOf, run, violated } from "./helpers.ts";

const Folio = folio({ maxRef: 4, ref: 0, order: 1, extra: pageFolioFields(2) });

/** F (page 0) of order 1 with its tail page 1; mapped by pte0/pte1 or migration entries. */
function shared() {
  return {
    folio: array(2, Folio, { label: (i: number) => (i === 0 ? "F" : "F1") }),
    pte: ptes(2),
    anon_vma: anonVma({ maxReaders: 1 }),
  };
}
function setup(m: ModelBuilder<ReturnType<typeof shared>>, mapped: boolean, callerRef = 1): void {
  m.init((s) => {
    s.folio[1]!.is_tail = true;
    s.folio[1]!.order = 0;
    s.folio[0]!.locked = true;
    s.folio[0]!._refcount = (mapped ? 2 : 0) + callerRef;
    s.folio[0]!.mapcount = mapped ? 2 : 0;
    for (const p of s.pte) p.state = mapped ? PTE_PRESENT : PTE_MIGRATION;
  });
}

describe("rwsem", () => {
  it("readers share it, a writer excludes them; a writer's critical section never sees a reader", async () => {
    const r = await run(() => {
      // the readers' count of who is inside is itself racy: the race check is off
      const m = new ModelBuilder(
        { sem: rwsem({ maxReaders: 2 }), inside: int(0, 3) },
        { races: false },
      );
      const reader = ({ step }: ThreadRefs<{ inside: IntS }, Record<never, never>>) => [
        down_read(m.s.sem),
        step("in", ({ s }) => void s.inside++),
        step("out", ({ s }) => void s.inside--),
        up_read(m.s.sem),
      ];
      m.thread("r0", {}, reader);
      m.thread("r1", {}, reader);
      m.thread("w", {}, ({ step }) => [
        down_write(m.s.sem),
        step("write", ({ s }) => {
          if (s.inside !== 0) s.inside = 3;
        }),
        up_write(m.s.sem),
      ]);
      m.invariant("exclusion", ({ s }) => s.inside !== 3 || "a writer ran while a reader held it");
      m.invariant("not shared", ({ s }) => s.inside !== 2 || "both readers are inside at once");
      return m;
    });
    // readers can be inside together ("not shared" breaks); the writer never overlaps them
    expect(violated(r)).toEqual(["not shared"]);
  });

  it("up_read without a reader is bad-unlock", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ sem: rwsem() });
      m.thread("t", {}, () => [up_read(m.s.sem)]);
      return m;
    });
    expect(violated(r)).toEqual(["bad-unlock"]);
  });
});

describe("try_to_migrate_one / remove_migration_ptes", () => {
  const build = (restore: boolean) =>
    run(() => {
      const m = new ModelBuilder(shared());
      const { folio: pages, pte: pt } = m.s;
      setup(m, true);
      m.thread("t", {}, ({ step }) => [
        unmap_folio(pt, pages, 0),
        step("after unmap", ({ s }) => {
          const f = s.folio[0]!;
          check(f._refcount === 1 && f.mapcount === 0, "unmap-counts", "unmap left a count");
        }),
        ...(restore ? [remove_migration_ptes(pt, pages, 0)] : []),
        folio_unlock(pages[0]!),
        folio_put(pages[0]!),
      ]);
      mapcountConsistent(m, pt, pages);
      noMigrationEntries(m, pt, pages);
      foliosReleased(m, pages);
      return m;
    });

  it("unmap turns each present PTE into a migration entry (a reference and a mapcount each); restoring brings them back", async () => {
    const r = await build(true);
    expect(r.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
  });

  it("entries nobody restores are stale-migration-entry, and the freed folio they name is use-after-free", async () => {
    const r = await run(() => {
      const m = new ModelBuilder(shared());
      const { folio: pages, pte: pt } = m.s;
      setup(m, true);
      m.thread("t", {}, () => [
        unmap_folio(pt, pages, 0),
        folio_unlock(pages[0]!),
        folio_put(pages[0]!),
      ]);
      noMigrationEntries(m, pt, pages);
      ptesMapLiveFolios(m, pt, pages);
      return m;
    });
    expect(violated(r)).toEqual(["stale-migration-entry", "use-after-free"]);
    expect(messageOf(r, "use-after-free")).toBe(
      "pte0 (migration entry) maps page 0 of F, which was freed",
    );
  });
});

describe("zap_pte / migration_entry_wait", () => {
  it("zap of a present PTE drops the mapcount and the reference; a mapcount already 0 is bad-mapcount", async () => {
    for (const broken of [false, true]) {
      const r = await run(() => {
        const m = new ModelBuilder(shared());
        const { folio: pages, pte: pt } = m.s;
        setup(m, true);
        if (broken) m.init((s) => void (s.folio[0]!.mapcount = 0));
        m.thread("t", {}, () => [zap_pte(pt, pages, 0), zap_pte(pt, pages, 1)]);
        m.endState("counts", ({ s }) => s.folio[0]!._refcount === 1 || "refcount");
        return m;
      });
      if (broken) {
        expect(violated(r)).toEqual(["bad-mapcount"]);
        expect(messageOf(r, "bad-mapcount")).toBe(
          "Bad page map: F mapcount goes below 0 (zap of pte0)",
        );
      } else expect(r.verdict).toBe("holds");
    }
  });

  it("a fault on a migration entry waits for the folio lock: a deadlock if nobody unlocks it", async () => {
    for (const unlock of [false, true]) {
      const r = await run(() => {
        const m = new ModelBuilder(shared());
        const { folio: pages, pte: pt } = m.s;
        setup(m, false);
        m.thread("fault", {}, () => [migration_entry_wait(pt, pages, 1)]);
        m.thread("owner", {}, () =>
          unlock ? [remove_migration_ptes(pt, pages, 0), folio_unlock(pages[0]!)] : [],
        );
        return m;
      });
      expect(violated(r), `unlock ${unlock}`).toEqual(unlock ? [] : ["deadlock"]);
    }
  });
});

describe("the split", () => {
  it("__split_unmapped_folio while a PTE maps the folio is split-of-mapped-folio; with migration entries it splits", async () => {
    for (const mapped of [true, false]) {
      const r = await run(() => {
        const m = new ModelBuilder(shared());
        const { folio: pages, pte: pt } = m.s;
        setup(m, mapped, 1);
        m.thread("t", {}, ({ if_ }) => [
          if_(folio_ref_freeze(pages[0]!, mapped ? 3 : 1), __split_unmapped_folio(pt, pages, 0)),
        ]);
        m.endState("split", ({ s }) => {
          const [f, t] = [s.folio[0]!, s.folio[1]!];
          return (
            (!t.is_tail && t.locked && t._refcount === 1 && f.order === 0 && f._refcount === 1) ||
            "not split as __split_unmapped_folio() does"
          );
        });
        return m;
      });
      expect(violated(r), `mapped ${mapped}`).toEqual(mapped ? ["split-of-mapped-folio"] : []);
    }
  });

  it("without the flag a mapped folio is unmapped, split and remapped: each page's PTE maps its new folio", async () => {
    const r = await run(() => {
      const m = new ModelBuilder(shared());
      const { folio: pages, pte: pt, anon_vma: av } = m.s;
      setup(m, true);
      m.thread("t", { ret: int(-EBUSY, 0, -1) }, ({ l }) => [
        __split_huge_page_to_list_to_order(pt, pages, av, 0, l.ret, { unmapped: false }),
        folio_unlock(pages[0]!),
        folio_put(pages[0]!),
      ]);
      mapcountConsistent(m, pt, pages);
      foliosReleased(m, pages);
      m.endState("split", ({ s, cpus }) => {
        const ret = (cpus[0]!.l as { ret: number }).ret;
        const [f, t] = [s.folio[0]!, s.folio[1]!];
        return (ret === 0 && !t.is_tail && t.mapcount === 1 && f.mapcount === 1) || `ret ${ret}`;
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("with the flag the new folio stays locked with the split's reference (leaked-folio for a caller that expects a normal split)", async () => {
    const r = await run(() => {
      const m = new ModelBuilder(shared());
      const { folio: pages, pte: pt, anon_vma: av } = m.s;
      setup(m, false);
      m.thread("t", { ret: int(-EBUSY, 0, -1) }, ({ l }) => [
        __split_huge_page_to_list_to_order(pt, pages, av, 0, l.ret, { unmapped: true }),
        remove_migration_ptes(pt, pages, 0),
        folio_unlock(pages[0]!),
        folio_put(pages[0]!),
      ]);
      foliosReleased(m, pages);
      return m;
    });
    expect(violated(r)).toEqual(["leaked-folio"]);
    expect(messageOf(r, "leaked-folio")).toBe(
      "F1 is still locked when every CPU has finished: nobody unlocks it",
    );
  });

  it("folio_split_unmapped warns on a mapped folio (and its freeze fails); an unmapped one splits without a warning", async () => {
    for (const mapped of [true, false]) {
      const r = await run(() => {
        const m = new ModelBuilder(shared());
        const { folio: pages, pte: pt } = m.s;
        setup(m, mapped);
        m.thread("t", { ret: int(-EBUSY, 0, -1) }, ({ l }) => [
          folio_split_unmapped(pt, pages, 0, l.ret),
        ]);
        m.endState("ret", ({ cpus }) => {
          const ret = (cpus[0]!.l as { ret: number }).ret;
          return ret === (mapped ? -11 : 0) || `ret ${ret}`;
        });
        return m;
      });
      expect(violated(r), `mapped ${mapped}`).toEqual(mapped ? ["vm-warn-folio-mapped"] : []);
      if (mapped) expect(r.violations[0]!.severity).toBe("warn");
    }
  });
});
