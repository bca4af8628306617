// The headless browser of the report tests: Debian's chromium (apt-get install chromium), driven
// through puppeteer-core. Where it is absent the tests say so and skip, unless
// CI_REQUIRE_BROWSER=1 (set by .ci/run), where a missing browser is a failure.

import { existsSync } from "node:fs";
import puppeteer, { type Browser } from "puppeteer-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const REQUIRED = process.env.CI_REQUIRE_BROWSER === "1";

/** Whether a browser is there; says why not on stderr when it is not. */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const msg = `browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (REQUIRED) throw new Error(`${msg}; CI_REQUIRE_BROWSER=1 makes this a failure`);
  console.warn(`${msg}: skipped`);
  return false;
}

export async function launch(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // root in CI containers: Chromium's sandbox needs user namespaces it may not have
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}
