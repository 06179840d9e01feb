// Drives the verification page in Debian's Chromium (headless) for cli/tests/verify_page.rs:
// reads a plan (JSON) naming the page, the cases and the files of each, and prints what a
// person would see for each case as one JSON line. Assertions live in the Rust test.
//
//   node verify_page.mjs plan.json
//
// Plan: { "chromium": "/usr/bin/chromium", "screenshots": "dir",
//         "cases": [{ "name", "url", "files": [paths], "locale"?, "switch_to"?, "time_runs"? }] }
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: plan.chromium,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function runCase(c) {
  const context = await browser.newContext({ locale: c.locale || "en-US", viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.blockedURI + " " + e.violatedDirective));
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(c.url);
  await page.waitForFunction(() => document.body.dataset.ready === "true" || document.body.dataset.ready === "failed", null, { timeout: 60000 });
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (c.files.length > 0) {
    await page.setInputFiles("#input", c.files);
    await page.waitForFunction(() => document.getElementById("verdict").dataset.verdict !== "waiting", null, { timeout: 60000 });
  }
  if (c.switch_to) {
    await page.click(`#lang-${c.switch_to}`);
  }
  let verify_ms = null;
  if (c.time_runs) {
    // The verifier's own call (what the page hands it: the files' names and bytes), not
    // the page's rendering.
    verify_ms = await page.evaluate((runs) => {
      const names = JSON.stringify(given.map((f) => f.name));
      const lengths = new Uint32Array(given.map((f) => f.bytes.length));
      const all = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
      let at = 0;
      for (const f of given) { all.set(f.bytes, at); at += f.bytes.length; }
      wasm_bindgen.check(names, all, lengths); // warm
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) wasm_bindgen.check(names, all, lengths);
      return (performance.now() - t0) / runs;
    }, c.time_runs);
  }
  const seen = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    verdict: document.getElementById("verdict").dataset.verdict,
    word: document.getElementById("word").textContent,
    headline: document.getElementById("headline").textContent,
    why: document.getElementById("why").hidden ? null : document.getElementById("why").textContent,
    facts: [...document.querySelectorAll("#facts tr")].map((tr) => [tr.querySelector("th").textContent, tr.querySelector("td").textContent]),
    kinds: [...document.querySelectorAll("#files tr[data-kind]")].map((tr) => tr.dataset.kind),
    node: document.getElementById("node") ? document.getElementById("node").dataset.genesis : null,
    title: document.querySelector("h1").textContent,
    violations: window.__violations,
  }));
  const screenshot = `${plan.screenshots}/${c.name}.png`;
  await page.screenshot({ path: screenshot, fullPage: true });
  await context.close();
  const own = new URL(c.url).href;
  return { name: c.name, ready, ...seen, requests: requests.filter((u) => u !== own), errors, screenshot, verify_ms };
}

try {
  for (const c of plan.cases) {
    console.log(JSON.stringify(await runCase(c)));
  }
} finally {
  await browser.close();
}
