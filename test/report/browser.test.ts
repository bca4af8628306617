// The report as a person sees it, in headless Chromium: the page of a bundled model is opened
// from disk with every network request refused; its lanes, boxes, lock holds, race line and
// table links are checked against the traces replayed here; clicking a step shows its fields;
// no console error; a screenshot is saved. The Mermaid export is parsed and rendered by mermaid
// itself in the same browser.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import type { Browser, Page } from "puppeteer-core";
import { compileModel } from "../../src/index.ts";
import { replay } from "../../src/trace/replay.ts";
import { parseSchedule } from "../../src/trace/schedule.ts";
import deferredSplit from "../../models/deferred-split/deferred-split.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import { writeFileSync } from "node:fs";
import { traceDoc } from "../../src/trace/document.ts";
import { reportHtml } from "../../src/report/html.ts";
import { cli } from "../helpers.ts";
import { browserAvailable, launch } from "./browser.ts";

const have = browserAvailable();
const tmp = mkdtempSync(join(tmpdir(), "interleave-browser-"));
let browser: Browser;

beforeAll(async () => {
  if (have) browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A page that refuses every request off the local disk, collecting errors and refusals. */
async function offlinePage(): Promise<{ page: Page; errors: string[]; refused: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  const errors: string[] = [];
  const refused: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setRequestInterception(true);
  page.on("request", (req) => {
    const url = req.url();
    if (url.startsWith("file:") || url.startsWith("data:") || url === "about:blank")
      void req.continue();
    else {
      refused.push(url);
      void req.abort();
    }
  });
  return { page, errors, refused };
}

const VARIANT = "private-list-no-prev";

/** What getBBox() returns (the test's TypeScript has no DOM library). */
interface DOMRectLike {
  readonly y: number;
  readonly height: number;
}

describe.skipIf(!have)("the HTML report in Chromium", () => {
  let html: string;
  let file: string;
  /** The properties check finds violated in the variant, in its order. */
  let violated: string[];
  beforeAll(async () => {
    const j = await cli(
      "check",
      "models/deferred-split/deferred-split.ts",
      "--variant",
      VARIANT,
      "--no-save",
      "--json",
    );
    violated = (
      JSON.parse(j.stdout) as { results: { violations: { property: string }[] }[] }
    ).results[0]!.violations.map((v) => v.property);
    expect(violated).toContain("data-race");
    file = join(tmp, "report.html");
    const r = await cli(
      "report",
      "models/deferred-split/deferred-split.ts",
      "--variant",
      VARIANT,
      "--out",
      file,
      "--no-save",
      "--quiet",
    );
    expect(r.code).toBe(1);
    html = readFileSync(file, "utf8");
  });

  it("lanes, boxes, lock holds and the race line match the traces; a click shows the fields", async () => {
    const { page, errors, refused } = await offlinePage();
    await page.goto(`file://${resolve(file)}`, { waitUntil: "load" });
    const sections = await page.$$eval("section.trace", (els) =>
      els.map((e) => ({
        id: e.id,
        property: e.getAttribute("data-property")!,
        schedule: e.querySelector(".replay code:last-of-type")!.textContent!,
        lanes: [...e.querySelectorAll(".diagram svg .lane")].map((l) => ({
          cpu: Number(l.getAttribute("data-cpu")),
          name: l.getAttribute("data-name"),
        })),
        boxes: [...e.querySelectorAll(".diagram svg .step")].map((g) => ({
          cpu: Number(g.getAttribute("data-cpu")),
          label: g.getAttribute("data-label"),
        })),
        holds: [...e.querySelectorAll(".diagram svg .lock-hold")].map((r) => ({
          cpu: Number(r.getAttribute("data-cpu")),
          from: Number(r.getAttribute("data-from")),
        })),
        race: [...e.querySelectorAll(".diagram svg .race-access")].map((g) =>
          Number(g.getAttribute("data-cpu")),
        ),
        raceLine: e.querySelector(".diagram svg .race-line")?.getAttribute("data-field") ?? null,
      })),
    );
    expect(sections.map((s) => s.property)).toEqual(violated);
    const model = compileModel(deferredSplit, VARIANT);
    for (const s of sections) {
      const moves = parseSchedule(s.schedule);
      const rep = replay(model, moves);
      expect(rep.infeasible).toBeUndefined();
      expect(rep.outcomes.map((o) => o.property)).toContain(s.property);
      // one box per step, in its CPU's lane, with its label
      expect(s.boxes).toEqual(rep.steps.map((st) => ({ cpu: st.cpu, label: st.label })));
      const cpus = new Set(rep.steps.map((st) => st.cpu));
      for (const c of s.race) cpus.add(c);
      expect(s.lanes).toEqual(
        [...cpus].sort((a, b) => a - b).map((c) => ({ cpu: c, name: model.threads[c]!.name })),
      );
      // every lock hold starts at a step of its CPU that took a lock
      for (const h of s.holds)
        if (h.from >= 0) {
          expect(rep.steps[h.from]!.cpu).toBe(h.cpu);
          expect(rep.steps[h.from]!.label).toMatch(/lock/);
        }
      if (s.property === "data-race") {
        expect(s.raceLine).toBe("F1._deferred_list.prev");
        expect(s.race).toEqual([0, 2]);
      } else expect(s.raceLine).toBeNull();
    }
    expect(sections.some((s) => s.holds.length > 0)).toBe(true);

    // every table cell of a violation links to a trace section of the page
    const links = await page.$$eval("td.cell a", (as) => as.map((a) => a.getAttribute("href")!));
    expect(links).toHaveLength(violated.length);
    for (const l of links) expect(await page.$(l)).not.toBeNull();

    // click the first step that changed fields: the details panel lists exactly those
    const first = sections[0]!;
    const rep = replay(model, parseSchedule(first.schedule));
    const k = rep.steps.findIndex((st) => st.changes.length > 0);
    await page.click(`#${first.id}-svg-s${k}`);
    const shown = await page.$$eval(`#${first.id}-details li.field`, (lis) =>
      lis.map((li) => li.textContent),
    );
    expect(shown).toEqual(rep.steps[k]!.changes.map((c) => `${c.name}: ${c.from} → ${c.to}`));
    const title = await page.$eval(`#${first.id}-details .step-title`, (p) => p.textContent);
    expect(title).toBe(`${k + 1}. CPU${rep.steps[k]!.cpu}: ${rep.steps[k]!.label}`);
    expect(
      await page.$eval(`#${first.id}-svg-s${k}`, (g) => g.classList.contains("selected")),
    ).toBe(true);

    // a screenshot of the first diagram
    const png = join(tmp, "swimlane.png");
    const el = await page.$(`#${first.id}`);
    await el!.screenshot({ path: png });
    expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    expect(statSync(png).size).toBeGreaterThan(5000);

    expect(errors).toEqual([]);
    expect(refused).toEqual([]);
    await page.close();
  });

  it("a lasso (hand-made: cycleStart on a finite trace) shows its repeating part", async () => {
    const model = compileModel(flagLock, "test-then-set");
    const outcome = { property: "progress", kind: "liveness", message: "CPU1 never gets in" };
    const doc = traceDoc(model, parseSchedule("0 1 0 0 1 1"), outcome, { cycleStart: 2 });
    const page = join(tmp, "lasso.html");
    writeFileSync(
      page,
      reportHtml({
        title: "lasso",
        generated: "test",
        command: "test",
        models: [
          {
            name: "flag-lock",
            doc: "",
            file: "",
            properties: [],
            variants: [],
            traces: [{ id: "lasso", shown: doc, original: undefined, file: undefined, replay: "" }],
          },
        ],
      }),
    );
    const { page: tab, errors } = await offlinePage();
    await tab.goto(`file://${page}`, { waitUntil: "load" });
    const band = await tab.$eval("svg .cycle", (g) => ({
      start: g.getAttribute("data-cycle-start"),
      text: g.querySelector(".cycle-text")!.textContent,
      box: ((b) => ({ y: b.y, height: b.height }))(
        (g.querySelector(".cycle-band") as unknown as { getBBox(): DOMRectLike }).getBBox(),
      ),
    }));
    expect(band.start).toBe("2");
    expect(band.text).toBe("repeats");
    // the band covers the boxes of steps 3..6 and not those of steps 1..2
    const boxes = await tab.$$eval("svg .step rect.box", (rs) =>
      rs
        .map((r) => (r as unknown as { getBBox(): DOMRectLike }).getBBox())
        .map((b) => ({ y: b.y, h: b.height })),
    );
    for (const [i, b] of boxes.entries()) {
      const inside = b.y >= band.box.y && b.y + b.h <= band.box.y + band.box.height;
      expect(inside, `step ${i + 1}: ${JSON.stringify(b)} in ${JSON.stringify(band.box)}`).toBe(
        i >= 2,
      );
    }
    expect(errors).toEqual([]);
    await tab.close();
  });

  it("a real lasso (mutex-starvation's termination) is banded from its cycle start", async () => {
    const { checkVariant } = await import("../../src/check.ts");
    const { default: starvation } = await import("../../models/classic/mutex-starvation.ts");
    const c = await checkVariant(starvation, "trylock-spin");
    const v = c.result.violations.find((x) => x.kind === "liveness");
    expect(v?.cycle).toBeDefined();
    const out = join(tmp, "starvation.html");
    const r = await cli(
      "report",
      "models/classic/mutex-starvation.ts",
      "--variant",
      "trylock-spin",
      "--out",
      out,
      "--no-save",
      "--quiet",
    );
    expect(r.code).toBe(1);
    const { page: tab, errors } = await offlinePage();
    await tab.goto(`file://${out}`, { waitUntil: "load" });
    const got = await tab.$eval(`section.trace[data-property="${v!.property}"]`, (sec) => ({
      start: sec.querySelector(".diagram svg .cycle")?.getAttribute("data-cycle-start"),
      boxes: sec.querySelectorAll(".diagram svg .step").length,
      lanes: sec.querySelectorAll(".diagram svg .lane").length,
    }));
    expect(got.start).toBe(String(v!.cycle));
    expect(got.boxes).toBe(v!.schedule.length);
    // the CPU that never finishes has its lane, though it may not move
    expect(got.lanes).toBe(c.model.threads.length);
    expect(errors).toEqual([]);
    await tab.close();
  });

  it("the page holds nothing to fetch: no external script, style or image", () => {
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/);
  });

  it("mermaid parses and renders the --format mermaid output", async () => {
    const r = await cli(
      "check",
      "models/deferred-split/deferred-split.ts",
      "--variant",
      VARIANT,
      "--no-save",
      "--format",
      "mermaid",
    );
    const blocks = [...r.stdout.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
    expect(blocks).toHaveLength(violated.length);
    const { page, errors } = await offlinePage();
    await page.goto("about:blank");
    await page.addScriptTag({ path: resolve("node_modules/mermaid/dist/mermaid.min.js") });
    const results = await page.evaluate(async (texts: string[]) => {
      const m = (globalThis as unknown as { mermaid: any }).mermaid;
      m.initialize({ startOnLoad: false, securityLevel: "strict" });
      const out: { ok: boolean; error?: string; svg?: string }[] = [];
      for (const [i, t] of texts.entries()) {
        try {
          await m.parse(t);
          const { svg } = await m.render(`d${i}`, t);
          out.push({ ok: true, svg });
        } catch (e) {
          out.push({ ok: false, error: String(e) });
        }
      }
      return out;
    }, blocks);
    for (const [i, res] of results.entries()) {
      expect(res.error, blocks[i]).toBeUndefined();
      expect(res.ok).toBe(true);
      // the participants are drawn with their kernel functions
      expect(res.svg).toContain("deferred_split_scan");
    }
    // a text Mermaid rejects is rejected here too (the check above can fail)
    const bad = await page.evaluate(async () => {
      const m = (globalThis as unknown as { mermaid: any }).mermaid;
      try {
        await m.parse("sequenceDiagram\n  Note over : x;; -->>");
        return "parsed";
      } catch {
        return "rejected";
      }
    });
    expect(bad).toBe("rejected");
    expect(errors.filter((e) => !/Syntax error|Parse error/i.test(e))).toEqual([]);
    await page.close();
  });
});
