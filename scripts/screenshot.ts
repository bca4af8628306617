// `npm run screenshot`: the README's picture of a swimlane diagram, taken by headless Chromium
// from the HTML report (Debian's chromium: apt-get install chromium; CHROMIUM_PATH overrides
// /usr/bin/chromium). Writes docs/swimlane.png.
//
//   npm run screenshot -- [--model FILE] [--variant V] [--property P] [--step N] [--out PNG]

import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import puppeteer from "puppeteer-core";
import { main } from "../src/cli/main.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/deferred-split/deferred-split.ts" },
    variant: { type: "string", default: "private-list-no-prev" },
    property: { type: "string", default: "data-race" },
    step: { type: "string", default: "4" },
    out: { type: "string", default: "docs/swimlane.png" },
  },
});

const tmp = mkdtempSync(join(tmpdir(), "interleave-shot-"));
try {
  const page = join(tmp, "report.html");
  const code = await main([
    "report",
    values.model!,
    "--variant",
    values.variant!,
    "--out",
    page,
    "--no-save",
    "--quiet",
  ]);
  if (code !== 0 && code !== 1) throw new Error(`interleave report exited with ${code}`);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const tab = await browser.newPage();
    await tab.setViewport({ width: 1500, height: 1000, deviceScaleFactor: 1 });
    await tab.goto(`file://${resolve(page)}`, { waitUntil: "load" });
    const id = await tab.$eval(`section.trace[data-property="${values.property}"]`, (s) => s.id);
    // a step selected, so the picture shows the fields panel too
    await tab.click(`#${id}-svg-s${Number(values.step) - 1}`);
    await tab.mouse.move(0, 0);
    const el = await tab.$(`#${id}`);
    if (!el) throw new Error(`no trace of ${values.property} in the report`);
    const tmpPng = join(tmp, "shot.png");
    await el.screenshot({ path: tmpPng as `${string}.png` });
    renameSync(tmpPng, values.out!);
    console.log(`screenshot of ${values.variant} / ${values.property} written to ${values.out}`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
