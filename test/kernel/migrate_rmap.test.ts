// rmap.ts, migrate.ts, pagevec.ts and the folio_batch deferred_split_scan against the kernel
// behaviour they claim (counts, the queue, the free path), each with a look-alike.
import { describe, expect, it } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, bool, ghost, ptr } from "../../src/model/schema.ts";
import { folio, mthpStat } from "../../src/kernel/folio.ts";
import { initList } from "../../src/kernel/list.ts";
import {
  deferred_split_scan_folio_batch,
  splitQueues,
  type DeferredSplit,
} from "../../src/kernel/huge_memory.ts";
import { rmapFolioFields, zap_folio, zap_folio_partially } from "../../src/kernel/rmap.ts";
import { isolate_and_migrate, migrate_folio } from "../../src/kernel/migrate.ts";
import {
  folioBatch,
  folio_batch_add,
  folios_put,
  type FolioBatchRef,
} from "../../src/kernel/pagevec.ts";
import { useAfterFree, queueLenConsistent } from "../../src/kernel/catalogue.ts";
import { run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i + 1}` };
const Folio = () => folio({ maxRef: 4, memcgs: 2, extra: rmapFolioFields });

describe("rmap: zap_folio_partially / zap_folio", () => {
  it("a partial unmap queues the folio once, sets the flag and the statistic; the zapped PTEs' reference is dropped", async () => {
    const r = await run(() => {
      const F = Folio();
      const m = new ModelBuilder({
        queues: splitQueues(),
        folio: array(1, F, label),
        stat: mthpStat(9, 1),
      });
      m.init((s) => {
        s.folio[0]!._refcount = 3; // mapping + two zaps' PTE references
        s.folio[0]!.mapped = true;
      });
      const d: DeferredSplit = { queue: m.s.queues, stat: m.s.stat };
      for (let i = 0; i < 2; i++)
        m.thread("zap", {}, () => [zap_folio_partially(m.s.folio[0]!, d)]);
      m.endState("queued once", ({ s }) => {
        const f = s.folio[0]!;
        return (
          (s.queues.node[0]!.split_queue_len === 1 &&
            f.partially_mapped &&
            s.stat[9] === 1 &&
            f._refcount === 1) ||
          `len ${s.queues.node[0]!.split_queue_len}, stat ${s.stat[9]}, ref ${f._refcount}`
        );
      });
      queueLenConsistent(m, m.s.queues.node[0]!);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("zap_folio drops the last reference: the free path unqueues, then frees", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ queues: splitQueues(), folio: array(1, Folio(), label) });
      m.init((s) => {
        s.folio[0]!.mapped = true;
        s.folio[0]!.partially_mapped = true;
        initList(s.queues.node[0]!.split_queue, [s.folio[0]!._deferred_list]);
        s.queues.node[0]!.split_queue_len = 1;
      });
      const d: DeferredSplit = { queue: m.s.queues };
      m.thread("zap", {}, () => [zap_folio(m.s.folio[0]!, d)]);
      m.endState(
        "freed, off the queue",
        ({ s }) =>
          (s.folio[0]!.freed && s.queues.node[0]!.split_queue_len === 0) || "not freed cleanly",
      );
      useAfterFree(m, m.s.folio);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

describe("migrate_folio", () => {
  const migrate = (extraRef: boolean) => () => {
    const m = new ModelBuilder({
      queues: splitQueues(),
      folio: array(2, Folio(), label),
      done: ghost(bool()),
    });
    m.init((s) => {
      const [src, dst] = [s.folio[0]!, s.folio[1]!];
      src._refcount = extraRef ? 3 : 2; // the mapping and the isolation pin (+ someone else's)
      src.mapped = true;
      src.isolated = true;
      src.memcg = 1;
      dst.memcg = -1;
      initList(s.queues.node[0]!.split_queue, [src._deferred_list]);
      s.queues.node[0]!.split_queue_len = 1;
    });
    const d: DeferredSplit = { queue: m.s.queues };
    m.thread("migrate_pages", {}, () => migrate_folio(m.s.folio[0]!, d, { dst: m.s.folio[1]! }));
    return m;
  };
  it("unqueues src under the freeze, moves the charge and the mapping to dst, frees src", async () => {
    const r = await run(() => {
      const m = migrate(false)();
      m.endState("migrated", ({ s }) => {
        const [src, dst] = [s.folio[0]!, s.folio[1]!];
        return (
          (src.freed &&
            dst.mapped &&
            dst.memcg === 1 &&
            dst._refcount === 2 &&
            s.queues.node[0]!.split_queue_len === 0) ||
          `src freed ${src.freed}, dst mapped ${dst.mapped} memcg ${dst.memcg} ref ${dst._refcount}`
        );
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
  it("a reference it does not expect: -EAGAIN, src is remapped and stays queued", async () => {
    const r = await run(() => {
      const m = migrate(true)();
      m.endState("not migrated", ({ s }) => {
        const [src, dst] = [s.folio[0]!, s.folio[1]!];
        return (
          (!src.freed &&
            src.mapped &&
            !dst.mapped &&
            src._refcount === 2 &&
            s.queues.node[0]!.split_queue_len === 1) ||
          `src ref ${src._refcount} mapped ${src.mapped}, dst mapped ${dst.mapped}`
        );
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
  it("isolate_and_migrate: a second migration cannot isolate the folio and drops its pin", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ queues: splitQueues(), folio: array(1, Folio(), label) });
      m.init((s) => {
        s.folio[0]!._refcount = 3; // the mapping and two callers' pins
        s.folio[0]!.mapped = true;
      });
      const d: DeferredSplit = { queue: m.s.queues };
      for (let i = 0; i < 2; i++)
        m.thread("migrate_pages", {}, () => [isolate_and_migrate(m.s.folio[0]!, d)]);
      // the first isolation wins; its migration fails while the other caller still holds its
      // pin (-EAGAIN: remapped), and succeeds once that pin is dropped (the folio is freed)
      m.endState(
        "one migration",
        ({ s }) =>
          s.folio[0]!.freed ||
          (s.folio[0]!.mapped && s.folio[0]!._refcount === 1) ||
          `ref ${s.folio[0]!._refcount}`,
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

describe("folio_batch", () => {
  it("folios_put drops one reference of each folio added", async () => {
    const r = await run(() => {
      const F = Folio();
      const m = new ModelBuilder({ queues: splitQueues(), folio: array(2, F, label) });
      m.init((s) => {
        s.folio[0]!._refcount = 2;
        s.folio[1]!._refcount = 1;
      });
      const d: DeferredSplit = { queue: m.s.queues };
      m.thread("t", { f: ptr(F), fb: folioBatch(F, 2) }, ({ l, step }) => {
        const fb = l.fb as unknown as FolioBatchRef;
        return [
          step("f = F1", ({ l }) => void (l.f = 0)),
          folio_batch_add(fb, l.f),
          step("f = F2", ({ l }) => void (l.f = 1)),
          folio_batch_add(fb, l.f),
          folios_put(fb, (f) => folio_put_d(f, d)),
        ];
      });
      m.endState(
        "puts",
        ({ s }) => (s.folio[0]!._refcount === 1 && s.folio[1]!.freed) || "refcounts wrong",
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
  it("adding to a full batch is a model error", async () => {
    const r = await run(() => {
      const F = Folio();
      const m = new ModelBuilder({ folio: array(1, F, label) });
      m.thread("t", { f: ptr(F), fb: folioBatch(F, 1) }, ({ l, step }) => {
        const fb = l.fb as unknown as FolioBatchRef;
        return [
          step("f = F1", ({ l }) => void (l.f = 0)),
          folio_batch_add(fb, l.f),
          folio_batch_add(fb, l.f),
        ];
      });
      return m;
    });
    expect(r.error?.code).toBe("E_BATCH");
  });
});

describe("deferred_split_scan_folio_batch", () => {
  // F1 partially mapped (split by the scan), F2 fully mapped and not underused (dropped from the
  // queue, not split); optionally a CPU drops F2's last reference meanwhile.
  const scan = (putF2: boolean) => () => {
    const F = Folio();
    const m = new ModelBuilder({
      queues: splitQueues({ maxLen: 2 }),
      folio: array(2, F, label),
      stat: mthpStat(9, 2),
    });
    m.init((s) => {
      for (const f of [s.folio[0]!, s.folio[1]!]) f.mapped = true;
      s.folio[0]!.partially_mapped = true;
      s.folio[0]!.pte_partial = true;
      s.stat[9] = 1;
      initList(s.queues.node[0]!.split_queue, [
        s.folio[0]!._deferred_list,
        s.folio[1]!._deferred_list,
      ]);
      s.queues.node[0]!.split_queue_len = 2;
    });
    const d: DeferredSplit = { queue: m.s.queues, stat: m.s.stat };
    m.thread("deferred_split_scan", {}, () => [
      deferred_split_scan_folio_batch(m.s.queues.node[0]!, d, F, { underused: false, nrToScan: 2 }),
    ]);
    if (putF2) m.thread("zap", {}, () => [zap_folio(m.s.folio[1]!, d)]);
    queueLenConsistent(m, m.s.queues.node[0]!);
    useAfterFree(m, m.s.folio);
    m.endState("scanned", ({ s }) => {
      const [f1, f2] = [s.folio[0]!, s.folio[1]!];
      return (
        (f1.order === 0 &&
          !f1.partially_mapped &&
          s.queues.node[0]!.split_queue_len === 0 &&
          s.stat[9] === 0 &&
          (putF2 ? f2.freed : f2.order === 9 && f2._refcount === 1)) ||
        `F1 order ${f1.order}, len ${s.queues.node[0]!.split_queue_len}, F2 ref ${f2._refcount} freed ${f2.freed}`
      );
    });
    return m;
  };
  it("splits the partially mapped folio, drops the other from the queue: every count consistent", async () => {
    const r = await run(scan(false));
    expect(violated(r)).toEqual([]);
  });
  it("with F2's last reference dropped concurrently (lost race with folio_put): still clean", async () => {
    expect(violated(await run(scan(true)))).toEqual([]);
  });
});

import { folio_put } from "../../src/kernel/folio.ts";
import type { Ref } from "../../src/model/ref.ts";
import type { PtrS } from "../../src/model/schema.ts";
import type { FolioRef } from "../../src/kernel/folio.ts";
function folio_put_d(f: Ref<PtrS> & FolioRef, d: DeferredSplit) {
  return folio_put(f, d);
}
