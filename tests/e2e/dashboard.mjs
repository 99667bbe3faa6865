// Drives the admin dashboard in Debian's headless Chromium with playwright-core (no browser download).
// Run by the Rust test `dashboard::the_dashboard_drives_a_sync_and_browses_the_catalog_in_chromium`, which
// starts the simulator and a real `serve` and passes:
//   BASE_URL, SIM_URL, ADMIN_TOKEN, USER_TOKEN, REPO_IDS (comma-separated repos the sync will mirror; the
//   first that the simulated Hub change leaves alone is searched), SCREENSHOT_DIR, CHROMIUM.
// Prints one JSON line of findings; exits non-zero on the first failed expectation.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env("BASE_URL");
const SIM = env("SIM_URL");
const ADMIN = env("ADMIN_TOKEN");
const USER = env("USER_TOKEN");
const CANDIDATES = env("REPO_IDS").split(",");
let REPO;
const SHOTS = env("SCREENSHOT_DIR");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const external = [];
const consoleErrors = [];
const findings = {};

async function newPage(viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("request", (r) => { if (!r.url().startsWith(BASE)) external.push(r.url()); });
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  return page;
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

/** Signs in with the keyboard only: the token field has the focus, Enter submits. */
async function signIn(page, token) {
  await page.goto(`${BASE}/admin`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "token");
  // Before signing in: no navigation, and a hint that works as written.
  assert.equal(await page.locator("#nav").isVisible(), false, "the navigation shows before sign-in");
  await page.getByText("pocket-catalog token create --username ops --admin").waitFor();
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
}

let page;
try {
  page = await newPage({ width: 1280, height: 860 });

  // A wrong token and a non-admin token are refused with a message; nothing is stored.
  await signIn(page, "pcat_not-a-real-token");
  await page.getByText("This token is not valid.").waitFor();
  await page.fill("#token", USER);
  await page.keyboard.press("Enter");
  await page.getByText("is not an admin").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await shot(page, "01-sign-in");

  await page.fill("#token", ADMIN);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Sync", exact: true }).waitFor();
  findings.storage = await page.evaluate(() => ({
    session: Object.keys(sessionStorage), local: localStorage.length, cookies: document.cookie,
  }));
  assert.deepEqual(findings.storage, { session: ["pocket-catalog-admin-token"], local: 0, cookies: "" });
  await page.locator("#last-run").getByText("no run yet").waitFor();

  // Run a sync now: confirmation, then the run shows as active with the buttons disabled, then finishes.
  await page.click("#run-now");
  await page.getByRole("dialog").getByText("Start a full sync").waitFor();
  await page.click("#confirm-ok");
  await page.locator("#active-run").waitFor({ timeout: 10000 });
  assert.equal(await page.isDisabled("#run-now"), true, "Run now is disabled while a run is active");
  assert.equal(await page.isDisabled("#pause"), true, "Pause is disabled while a run is active");
  await shot(page, "02-sync-running");
  await page.locator("#last-run .badge.success").waitFor({ timeout: 60000 });
  await page.locator("#active-run").waitFor({ state: "detached" });
  assert.equal(await page.isDisabled("#run-now"), false);
  await page.locator("#runs-chart").waitFor();
  await page.locator("#last-success").getByText("ago").waitFor();

  // The Hub changes (updates, removals, renames, additions); a second run shows them in the chart.
  const mutation = await (await fetch(`${SIM}/_sim/mutate`, { method: "POST" })).json();
  findings.mutation = { committed: mutation.committed.length, removed: mutation.removed.length };
  const changed = new Set([...mutation.removed, ...mutation.privatised, ...mutation.renamed.map(([from]) => from)]);
  REPO = CANDIDATES.find((id) => !changed.has(id));
  assert.ok(REPO, "a candidate repo is untouched by the change");
  await page.click("#run-now");
  await page.click("#confirm-ok");
  await page.locator("#runs-chart g").nth(1).waitFor({ timeout: 60000 });
  await page.locator("#active-run").waitFor({ state: "detached" });
  assert.equal(await page.locator("#runs-chart circle").count(), 2, "the catalog size of both runs");
  findings.catalog_card = await page.locator("#catalog-size .value").innerText();
  await shot(page, "03-sync-overview");

  // Pause and resume, each confirmed.
  await page.click("#pause");
  await page.click("#confirm-ok");
  await page.locator("#next-run").getByText("paused").waitFor();
  assert.equal(await page.isDisabled("#pause"), true);
  await page.click("#resume");
  await page.click("#confirm-ok");
  await page.locator("#next-run .value").getByText("UTC").waitFor();

  // Run history and a run's detail.
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  await page.getByRole("heading", { name: "Runs" }).waitFor();
  // The heading renders before the runs arrive: wait for a row, then count.
  await page.locator("tbody tr").first().waitFor();
  const rows = await page.locator("tbody tr").count();
  assert.ok(rows >= 1, "the run is listed");
  await page.locator("tbody tr").first().getByRole("link").click();
  await page.getByRole("heading", { name: /Skipped records/ }).waitFor();
  findings.run_detail = await page.locator("#run-counts").innerText();
  await shot(page, "04-run-detail");

  // Search the catalog, open a model and its versions.
  await page.getByRole("link", { name: "Models", exact: true }).click();
  await page.getByRole("search").waitFor();
  await page.fill("input[name=q]", REPO.split("/")[1]);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator("tbody tr").filter({ has: page.getByText(REPO, { exact: true }) });
  await row.waitFor();
  findings.model_count = await page.locator("#model-count").innerText();
  await shot(page, "05-models");
  await row.getByRole("link").first().click();
  await page.getByRole("heading", { name: /Versions \(1\)/ }).waitFor();
  // How the app sees the version, and its device runs (none reported yet).
  await page.locator(".version .client-view").getByText(/In the app:/).waitFor();
  await page.locator(".version .client-view").getByText("No runs reported by the app yet.").waitFor();
  // What inspecting its model file found: the tensors in model order (a .tflite), or the bundle.
  await page.locator(".version .inspection").waitFor();
  findings.inspection = await page.locator(".version .inspection p").first().innerText();
  findings.tensors = await page.locator(".version tr.tensor").count();
  assert.ok(/^Inspected/.test(findings.inspection), findings.inspection);
  const assets = await page.locator(".version tbody tr").count();
  assert.ok(assets >= 1, "the version lists its files");
  findings.assets = assets;
  await shot(page, "06-model");

  // A person's spec the app would get wrong (its broken per-channel normalize, R1) is kept, and the
  // version's app warnings say so on the model page.
  const auth = { "Content-Type": "application/json", Authorization: `Bearer ${USER}` };
  const made = await fetch(`${BASE}/api/v1/models`, {
    method: "POST", headers: auth, body: JSON.stringify({ name: "Hand made classifier", description: "d" }),
  });
  assert.equal(made.status, 201);
  const handMade = await made.json();
  const spec = {
    metadata: [{ model_name: "M", model_version: "1", model_task: "image_classification" }],
    inputs: [{ name: "image", shape: [1, 8, 8, 3], dtype: "float32" }],
    outputs: [{ name: "scores", shape: [1, 2], dtype: "float32" }],
    preprocessing: [{ input_name: "image", steps: [
      { step: "normalize", params: { method: "mean_stddev", mean: [0.5, 0.5, 0.5], stddev: [0.5, 0.5, 0.5] } },
      { step: "format", params: { target_dtype: "float32" } }] }],
    postprocessing: [{ output_name: "scores", interpretation: "classification_scores", source_tensors: ["scores"], steps: [] }],
  };
  const published = await fetch(`${BASE}/api/v1/models/${handMade.id}/versions`, {
    method: "POST", headers: auth, body: JSON.stringify({
      version_name: "1", commit_sha: "abc", pipeline_spec: spec,
      assets: { tflite: "https://huggingface.co/o/r/resolve/abc/model.tflite" },
    }),
  });
  assert.equal(published.status, 201, await published.clone().text());
  // Rated once: the model page shows the model's Bayesian average and the version's mean.
  const version = await published.json();
  const rated = await fetch(`${BASE}/api/v1/versions/${version.id}/rating`, {
    method: "PUT", headers: auth, body: JSON.stringify({ stars: 4 }),
  });
  assert.equal(rated.status, 200, await rated.clone().text());
  await page.evaluate((id) => { location.hash = `#/models/${id}`; }, handMade.id);
  await page.locator(".version .app-warnings").getByText(/R1/).waitFor();
  findings.app_warnings = await page.locator(".version .app-warnings li").count();
  findings.rating = await page.locator("dd").getByText(/from 1 rating$/).innerText();
  assert.equal(findings.rating, "3.17 of 5 (Bayesian) from 1 rating");
  assert.equal(await page.locator(".version p.rating").innerText(), "Rated 4.0 of 5 by 1 user");

  // The upstream-status filter (its values come from the OpenAPI document) shows the removed repos.
  await page.getByRole("link", { name: "Models", exact: true }).click();
  await page.selectOption("select[name=upstream_status]", "removed");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/upstream_status=removed/);
  await page.locator("#model-count").getByText(/^[1-9]/).waitFor();
  // The filtered list replaces the previous one: wait for its rows, not the old ones.
  await page.waitForFunction(() => {
    const shown = [...document.querySelectorAll("tbody .badge")].map((b) => b.innerText);
    return shown.length > 0 && shown.every((b) => b === "removed");
  });
  const badges = await page.locator("tbody .badge").allInnerTexts();
  assert.ok(badges.length > 0 && badges.every((b) => b === "removed"), `only removed models: ${badges}`);
  findings.removed_listed = badges.length;

  // 320 px wide: same pages, nothing wider than the screen.
  const phone = await newPage({ width: 320, height: 700 });
  await signIn(phone, ADMIN);
  await phone.getByRole("heading", { name: "Sync", exact: true }).waitFor();
  await phone.locator("#runs-chart").waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 320, `the page is ${overflow}px wide at 320px`);
  // The chart's labels keep a readable size on a phone, and its two dates do not overlap.
  const labels = await phone.evaluate(() => [...document.querySelectorAll("#runs-chart text")]
    .map((t) => { const r = t.getBoundingClientRect(); return { h: r.height, left: r.left, right: r.right }; }));
  const smallest = Math.min(...labels.map((l) => l.h));
  assert.ok(smallest >= 9, `chart labels ${smallest}px high at 320px`);
  const [first, last] = labels.slice(-2);
  assert.ok(first.right <= last.left, `the chart's dates overlap: ${JSON.stringify(labels.slice(-2))}`);
  // A run's start time takes two lines at most (its date, its time), not one per word.
  const stampLines = await phone.evaluate(() => {
    const cell = document.querySelector("tbody td time.stamp");
    const line = parseFloat(getComputedStyle(cell).lineHeight) || 1.2 * parseFloat(getComputedStyle(cell).fontSize);
    return cell.getBoundingClientRect().height / line;
  });
  assert.ok(stampLines <= 2.2, `a run's start time takes ${stampLines.toFixed(1)} lines at 320px`);
  await shot(phone, "07-sync-320px");
  await phone.goto(`${BASE}/admin#/models?q=${encodeURIComponent(REPO.split("/")[1])}`);
  await phone.locator("tbody tr").first().waitFor();
  const overflowModels = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflowModels <= 320, `the models page is ${overflowModels}px wide at 320px`);
  await shot(phone, "08-models-320px");

  // Signing out forgets the token.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  assert.deepEqual(external, [], "no request left the origin");
  assert.deepEqual(consoleErrors.filter((e) => !e.includes("401")), [], "no script error");
  console.log(JSON.stringify({ ok: true, ...findings }));
} catch (err) {
  if (page) await shot(page, "failure").catch(() => {});
  throw err;
} finally {
  await browser.close();
}
