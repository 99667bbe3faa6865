// The admin dashboard: a small client of the catalog's own API. The admin token lives in this tab's
// sessionStorage only and every request carries it, so the API's auth decides everything. Pages are built
// with DOM calls (never innerHTML with data: model names and skip reasons come from upstream).
"use strict";

const TOKEN_KEY = "pocket-catalog-admin-token";
const view = document.getElementById("view");
const flashBox = document.getElementById("flash");
let generation = 0; // bumps on every navigation; stale renders and timers check it
let refreshTimer = null;

// ---------- DOM and formatting helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function badge(text) {
  return h("span", { class: `badge ${text || ""}` }, text || "—");
}

function fmtTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

// A time in a table cell: the date and the time each kept on one line, so a narrow column shows two
// lines at most (a bare string wraps at every space: four lines at 320 px).
function stamp(iso) {
  if (!iso) return "—";
  const [date, time] = fmtTime(iso).split(" ");
  return h("time", { class: "stamp", datetime: iso }, h("span", {}, date), " ", h("span", {}, `${time} UTC`));
}

function relTime(iso, pastOnly = false) {
  if (!iso) return "never";
  let secs = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  // Something that has happened (a run that started) is never "in 0 s", whatever the clocks say.
  if (pastOnly) secs = Math.min(secs, 0);
  const abs = Math.abs(secs);
  const [n, unit] =
    abs < 60 ? [abs, "s"] : abs < 3600 ? [Math.round(abs / 60), "min"]
    : abs < 172800 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "days"];
  return secs > 0 || (secs === 0 && !pastOnly) ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const fmtInt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en"));

let flashTimer = null;
/** A message in the live region, cleared after 10 s. */
function flash(message, bad) {
  flashBox.textContent = message || "";
  flashBox.className = bad ? "bad" : "";
  clearTimeout(flashTimer);
  if (message) flashTimer = setTimeout(() => { flashBox.textContent = ""; }, 10000);
}

function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty || "Nothing here.");
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, headers.map(([label, cls]) => h("th", { class: cls, scope: "col" }, label)))),
      h("tbody", {}, rows)));
}

function meta(pairs) {
  return h("dl", { class: "meta" },
    pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

// ---------- the API ----------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

/** Calls the API with the session's token. A 401 signs out (the token expired or was revoked), except
 * while signing in, where the form says what went wrong. */
async function api(path, { method = "GET", body, signingIn = false } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (res.status === 401 && !signingIn) {
    signOut("The token was refused. Sign in again.");
    throw new ApiError(401, "unauthorized");
  }
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || res.statusText);
  return { data, headers: res.headers, status: res.status };
}

/** The `cursor` of the next page, from a `Link: <…>; rel="next"` header. */
function nextCursor(headers) {
  const m = /<([^>]+)>;\s*rel="next"/.exec(headers.get("link") || "");
  return m ? new URL(m[1], location.origin).searchParams.get("cursor") : null;
}

let enumsPromise = null;
/** Enum values documented in the served OpenAPI document (so the filters follow the API). */
function enums() {
  enumsPromise ??= fetch("/openapi.json").then((r) => r.json()).then((doc) => {
    const schemas = doc.components?.schemas || {};
    const values = (name) => schemas[name]?.enum || [];
    return { license: values("LicenseType"), source: values("Source"), upstream: values("UpstreamStatus") };
  });
  return enumsPromise;
}

// ---------- sign-in ----------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("nav").hidden = true;
  location.hash = "#/signin";
  if (message) flash(message, true);
}

function signIn() {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    spellcheck: "false", placeholder: "pcat_…" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "signin", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      const { data: me } = await api("/users/me", { signingIn: true });
      if (!me.is_admin) {
        sessionStorage.removeItem(TOKEN_KEY);
        error.textContent = `${me.username} is not an admin: the dashboard needs an admin token.`;
        return;
      }
      flash(`Signed in as ${me.username}.`);
      location.hash = "#/";
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      error.textContent = err.status === 401 ? "This token is not valid." : `Sign-in failed: ${err.message}`;
    }
  } },
  h("label", { for: "token" }, "Admin API token", input),
  h("button", { type: "submit", class: "primary" }, "Sign in"),
  error,
  h("p", { class: "muted" }, "Create one with ", h("code", {}, "pocket-catalog token create --username ops --admin"),
    ". It is kept in this browser tab only."));
  return [h("h1", {}, "Sign in"), form];
}

// ---------- confirmation ----------

function confirmAction(text, okLabel) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  });
}

// ---------- sync overview ----------

async function overview(gen) {
  const [{ data: status }, { data: runs }] = await Promise.all([
    api("/admin/scheduler/status"), api("/sync/runs?limit=60"),
  ]);
  const sized = runs.find((r) => r.catalog_size !== null && r.catalog_size !== undefined);
  const job = status.jobs[0];
  const last = job.last_run;
  const active = job.active_run_id;
  const act = (label, text, okLabel, run, disabled, primary) => h("button", {
    type: "button", class: primary ? "primary" : null, disabled,
    onclick: async () => {
      if (!(await confirmAction(text, okLabel))) return;
      try {
        flash(await run());
      } catch (err) {
        flash(err.message, true);
      }
      if (gen === generation) route();
    },
  }, label);
  const runNow = act("Run sync now", "Start a full sync of the Hugging Face LiteRT models now?", "Run sync",
    async () => {
      const { data } = await api("/sync/huggingface/litert?wait=false", { method: "POST" });
      return `Sync started (run ${data.run_id}).`;
    }, Boolean(active), true);
  const pause = act("Pause schedule", "Pause the daily schedule on every replica? Manual runs still work.",
    "Pause", async () => { await api("/admin/scheduler/pause", { method: "POST" }); return "Schedule paused."; },
    Boolean(active) || job.paused);
  const resume = act("Resume schedule", "Resume the daily schedule?", "Resume",
    async () => { await api("/admin/scheduler/resume", { method: "POST" }); return "Schedule resumed."; },
    Boolean(active) || !job.paused);
  runNow.id = "run-now";
  pause.id = "pause";
  resume.id = "resume";

  const card = (label, value, sub, id) => h("div", { class: "card", id },
    h("div", { class: "label" }, label), h("div", { class: "value" }, value), sub && h("div", { class: "sub" }, sub));
  const lastRunValue = last
    ? [badge(last.status), " ", h("a", { href: `#/runs/${last.id}` }, last.trigger)]
    : "no run yet";
  const lastRunSub = last && (last.status === "running"
    ? `started ${relTime(last.started_at, true)}` : `${fmtTime(last.started_at)} · ${fmtDuration(last.duration_ms)}`);
  const next = !job.enabled ? "not scheduled here" : job.paused ? "paused" : fmtTime(job.next_run_time);
  const nextSub = job.enabled && !job.paused && job.next_run_time
    ? `${relTime(job.next_run_time)} · ${job.schedule} (${job.timezone})` : `${job.schedule} (${job.timezone})`;

  if (active && gen === generation) schedule(gen, 2000);
  else if (gen === generation) schedule(gen, 15000);
  return [
    h("h1", {}, "Sync"),
    h("div", { class: "cards" },
      card("Last run", lastRunValue, lastRunSub, "last-run"),
      card("Last success", relTime(job.last_success_at, true), job.last_success_at && fmtTime(job.last_success_at),
        "last-success"),
      card("Next scheduled run", next, nextSub, "next-run"),
      card("Mirrored models", sized ? fmtInt(sized.catalog_size) : "—",
        sized ? `active upstream, after the run of ${fmtTime(sized.finished_at)}` : "after the first run",
        "catalog-size")),
    h("div", { class: "actions" }, runNow, pause, resume),
    active && h("p", { id: "active-run" }, badge("running"), " A run is in progress: ",
      h("a", { href: `#/runs/${active}` }, "follow it"), ". The buttons are enabled again when it ends."),
    h("h2", {}, "Catalog and changes per run"),
    chart(runs),
    h("h2", {}, "Recent runs"),
    runsTable(runs.slice(0, 10)),
    h("p", {}, h("a", { href: "#/runs" }, "All runs →")),
  ];
}

/** Catalog size (line) and created / updated / removed (stacked bars) of the finished runs, oldest first. */
function chart(runs) {
  const done = runs.filter((r) => r.status !== "running").reverse();
  if (!done.length) return h("p", { class: "muted" }, "The chart appears after the first run.");
  // Drawn at about the width it is shown at, so that its labels keep their size on a phone (a 720-wide
  // drawing shrunk to 280 px made them 4 px high).
  const W = Math.round(Math.min(720, Math.max(260, document.documentElement.clientWidth - 48)));
  const H = 220, L = 48, R = 56, T = 12, B = 26;
  const narrow = W < 480;
  const when = (iso) => (narrow ? fmtTime(iso).slice(0, 10) : fmtTime(iso));
  const step = (W - L - R) / done.length;
  const changes = (r) => r.counts.created + r.counts.updated + r.counts.removed;
  const maxChange = Math.max(1, ...done.map(changes));
  const sizes = done.map((r) => r.catalog_size).filter((v) => v !== null && v !== undefined);
  const maxSize = Math.max(1, ...sizes);
  const y = (v, max) => T + (H - T - B) * (1 - v / max);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", id: "runs-chart",
    "aria-label": `Catalog size and changes over the last ${done.length} runs` });
  svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#aab2bd" }));
  svg.append(s("text", { x: L - 6, y: T + 10, "text-anchor": "end", "font-size": 11, fill: "#5b6470" },
    fmtInt(maxChange)));
  svg.append(s("text", { x: L - 6, y: H - B, "text-anchor": "end", "font-size": 11, fill: "#5b6470" }, "0"));
  svg.append(s("text", { x: W - R + 6, y: T + 10, "font-size": 11, fill: "#0f1b2d" }, fmtInt(maxSize)));
  done.forEach((r, i) => {
    const w = Math.max(1, Math.min(36, step * 0.7));
    const x = L + i * step + (step - w) / 2;
    let base = H - B;
    const g = s("g", {}, s("title", {},
      `${fmtTime(r.started_at)} ${r.trigger} ${r.status}: +${r.counts.created} created, ${r.counts.updated} updated, ` +
      `${r.counts.removed} removed; catalog ${r.catalog_size ?? "?"}`));
    for (const [key, color] of [["created", "#18794e"], ["updated", "#1f5fbf"], ["removed", "#b42318"]]) {
      const v = r.counts[key];
      if (!v) continue;
      const top = y(v, maxChange) - (H - B);
      g.append(s("rect", { x, y: base + top, width: w, height: -top, fill: color }));
      base += top;
    }
    g.append(s("rect", { x: L + i * step, y: T, width: step, height: H - T - B, fill: "transparent" }));
    svg.append(g);
  });
  const points = done.map((r, i) => [r.catalog_size, L + i * step + step / 2])
    .filter(([v]) => v !== null && v !== undefined)
    .map(([v, x]) => `${x.toFixed(1)},${y(v, maxSize).toFixed(1)}`);
  if (points.length) {
    svg.append(s("polyline", { points: points.join(" "), fill: "none", stroke: "#0f1b2d", "stroke-width": 2 }));
    for (const p of points) {
      const [cx, cy] = p.split(",");
      svg.append(s("circle", { cx, cy, r: 3, fill: "#0f1b2d" }));
    }
  }
  svg.append(s("text", { x: L, y: H - 6, "font-size": 11, fill: "#5b6470" }, when(done[0].started_at)));
  svg.append(s("text", { x: W - R, y: H - 6, "font-size": 11, fill: "#5b6470", "text-anchor": "end" },
    when(done[done.length - 1].started_at)));
  const key = (cls, label) => h("span", { class: `key ${cls}` }, h("span", {}, label));
  return h("figure", { class: "chart" }, svg, h("figcaption", {},
    key("size", "catalog size (right scale)"), key("created", "created"), key("updated", "updated"),
    key("removed", "removed")));
}

// ---------- runs ----------

function runsTable(runs) {
  return table(
    [["Started"], ["Trigger"], ["Status"], ["Duration", "num"], ["Created", "num"], ["Updated", "num"],
      ["Removed", "num"], ["Skipped", "num"], ["Catalog", "num hide-narrow"]],
    runs.map((r) => h("tr", {},
      h("td", {}, h("a", { href: `#/runs/${r.id}` }, stamp(r.started_at))),
      h("td", {}, r.trigger, r.repo_id ? h("div", { class: "mono" }, r.repo_id) : null),
      h("td", {}, badge(r.status)),
      h("td", { class: "num" }, r.status === "running" ? "…" : fmtDuration(r.duration_ms)),
      h("td", { class: "num" }, fmtInt(r.counts.created)),
      h("td", { class: "num" }, fmtInt(r.counts.updated)),
      h("td", { class: "num" }, fmtInt(r.counts.removed)),
      h("td", { class: "num" }, fmtInt(r.counts.skipped)),
      h("td", { class: "num hide-narrow" }, fmtInt(r.catalog_size)))),
    "No run yet.");
}

async function runsPage(gen, params) {
  const query = new URLSearchParams({ limit: "25" });
  if (params.get("cursor")) query.set("cursor", params.get("cursor"));
  const { data, headers } = await api(`/sync/runs?${query}`);
  const next = nextCursor(headers);
  if (data.some((r) => r.status === "running")) schedule(gen, 3000);
  return [
    h("h1", {}, "Runs"),
    runsTable(data),
    h("div", { class: "pager" },
      params.get("cursor") ? h("a", { href: "#/runs" }, "← Newest") : h("span"),
      next ? h("a", { href: `#/runs?cursor=${encodeURIComponent(next)}`, rel: "next" }, "Older runs →") : null),
  ];
}

async function runDetail(gen, id) {
  const { data: r } = await api(`/sync/runs/${encodeURIComponent(id)}`);
  if (r.status === "running") schedule(gen, 2000);
  const counts = Object.entries(r.counts);
  return [
    h("h1", {}, "Run ", badge(r.status)),
    meta([
      ["Run id", h("span", { class: "mono" }, r.id)],
      ["Trigger", r.trigger],
      ["Repo", r.repo_id ?? undefined],
      ["Started", fmtTime(r.started_at)],
      ["Finished", r.finished_at ? fmtTime(r.finished_at) : "still running"],
      ["Duration", fmtDuration(r.duration_ms)],
      ["Scheduled slot", r.scheduled_for ? fmtTime(r.scheduled_for) : undefined],
      ["Replica", h("span", { class: "mono" }, r.owner)],
      ["Listing complete", r.listing_complete ? "yes" : "no"],
      ["Removals", r.removals_held_back ? "held back (nothing was removed)" : "applied"],
      ["Warnings", r.warnings && r.warnings.length
        ? h("ul", { id: "run-warnings" }, r.warnings.map((w) => h("li", {}, w))) : undefined],
      ["Catalog after", fmtInt(r.catalog_size)],
      ["Message", r.message || "—"],
      ["Error", r.error ? h("span", { class: "error" }, r.error) : undefined],
    ]),
    h("h2", {}, "Counts"),
    h("div", { class: "cards", id: "run-counts" }, counts.map(([k, v]) =>
      h("div", { class: "card" }, h("div", { class: "label" }, k.replaceAll("_", " ")),
        h("div", { class: "value" }, fmtInt(v))))),
    h("h2", {}, `Skipped records (${r.skipped_records.length})`),
    table([["Repo"], ["Object id", "hide-narrow"], ["Reason"]],
      r.skipped_records.map((k) => h("tr", {},
        h("td", { class: "mono" }, k.hf_model_id ?? "—"),
        h("td", { class: "mono hide-narrow" }, k.object_id ?? "—"),
        h("td", {}, k.reason))),
      "No record was skipped."),
    h("p", {}, h("a", { href: "#/runs" }, "← All runs")),
  ];
}

// ---------- models ----------

async function modelsPage(gen, params) {
  const { license, source, upstream } = await enums();
  const keys = ["q", "task", "license_type", "source", "upstream_status", "sort"];
  const query = new URLSearchParams({ limit: "25" });
  for (const k of [...keys, "cursor"]) if (params.get(k)) query.set(k, params.get(k));
  const { data, headers } = await api(`/models?${query}`);
  const next = nextCursor(headers);
  const select = (name, label, values) => h("label", {}, label, h("select", { name },
    h("option", { value: "" }, "any"),
    values.map((v) => h("option", { value: v, selected: params.get(name) === v }, v))));
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const out = new URLSearchParams();
    for (const [k, v] of new FormData(e.target)) if (v) out.set(k, v);
    location.hash = `#/models?${out}`;
  } },
  h("label", {}, "Search", h("input", { name: "q", type: "search", value: params.get("q") || "",
    placeholder: "name, description, tag" })),
  h("label", {}, "Task", h("input", { name: "task", value: params.get("task") || "",
    placeholder: "image-classification" })),
  select("license_type", "Licence", license),
  select("source", "Source", source),
  select("upstream_status", "Upstream status", upstream),
  select("sort", "Sort", ["created_at", "updated_at", "name", "downloads"]),
  h("button", { type: "submit", class: "primary" }, "Search"));
  const filters = new URLSearchParams();
  for (const k of keys) if (params.get(k)) filters.set(k, params.get(k));
  return [
    h("h1", {}, "Models"),
    form,
    h("p", { class: "muted", id: "model-count" }, `${fmtInt(Number(headers.get("x-total-count")))} models match.`),
    table([["Name"], ["Hub repo", "hide-narrow"], ["Task"], ["Licence"], ["Status"], ["Downloads", "num hide-narrow"],
      ["Size", "num hide-narrow"]],
    data.map((m) => h("tr", {},
      h("td", {}, h("a", { href: `#/models/${m.id}` }, m.name)),
      h("td", { class: "mono hide-narrow" }, m.hf_model_id ?? "—"),
      h("td", {}, m.task ?? "—"),
      h("td", {}, m.license_type),
      h("td", {}, m.source === "user" ? "user" : badge(m.upstream_status)),
      h("td", { class: "num hide-narrow" }, fmtInt(m.hf_downloads ?? m.total_download_count)),
      h("td", { class: "num hide-narrow" }, fmtBytes(m.latest_version_size_bytes)))),
    "No model matches these filters."),
    h("div", { class: "pager" },
      params.get("cursor") ? h("a", { href: `#/models?${filters}` }, "← First page") : h("span"),
      next ? h("a", { href: `#/models?${new URLSearchParams([...filters, ["cursor", next]])}`, rel: "next" },
        "Next page →") : null),
  ];
}

async function modelPage(gen, id) {
  const [{ data: m }, { data: versions }] = await Promise.all([
    api(`/models/${encodeURIComponent(id)}`), api(`/models/${encodeURIComponent(id)}/versions`),
  ]);
  // What the Pocket AI app sees of each version (status, spec) and how it runs on devices (telemetry).
  const [{ data: client }, stats] = await Promise.all([
    api(`/api/v1/models/${encodeURIComponent(m.id)}/versions`),
    Promise.all(versions.map((v) => api(`/api/v1/versions/${v.id}/stats`).then((r) => r.data))),
  ]);
  const app = new Map(client.map((c) => [c.id, c]));
  const upstream = m.origin_repo_url && /^https?:\/\//.test(m.origin_repo_url)
    ? h("a", { href: m.origin_repo_url, rel: "noopener noreferrer", target: "_blank" }, m.hf_model_id || m.origin_repo_url)
    : m.hf_model_id ?? undefined;
  return [
    h("h1", {}, m.name),
    m.description ? h("p", {}, m.description) : null,
    meta([
      ["Upstream", upstream],
      ["Upstream status", m.upstream_status ? badge(m.upstream_status) : undefined],
      ["Source", m.source],
      ["Task", m.task ? `${m.task}${m.task_inferred ? " (inferred)" : ""}` : "—"],
      ["Licence", `${m.license_type} · ${m.license_class}${m.commercial_use === true ? " · commercial use"
        : m.commercial_use === false ? " · no commercial use" : ""}`],
      ["Category", m.category],
      ["Rating", m.total_ratings
        ? `${m.rating_weighted_avg.toFixed(2)} of 5 (Bayesian) from ${fmtInt(m.total_ratings)} rating${m.total_ratings === 1 ? "" : "s"}`
        : "No ratings yet"],
      ["Library", m.library_name ?? undefined],
      ["Head commit", m.hf_sha ? h("span", { class: "mono" }, m.hf_sha) : undefined],
      ["Last modified", m.hf_last_modified ? fmtTime(m.hf_last_modified) : undefined],
      ["Hub downloads · likes", m.hf_downloads !== null && m.hf_downloads !== undefined
        ? `${fmtInt(m.hf_downloads)} · ${fmtInt(m.hf_likes)}` : undefined],
      ["Gated", m.hf_gated ?? undefined],
      ["Tags", m.tags.length ? m.tags.join(", ") : "—"],
      ["Slug", h("span", { class: "mono" }, m.slug)],
      ["Synced", m.synced_at ? fmtTime(m.synced_at) : undefined],
      ["Created · updated", `${fmtTime(m.created_at)} · ${fmtTime(m.updated_at)}`],
    ]),
    h("h2", {}, `Versions (${versions.length})`),
    versions.length ? versions.map((v, i) => versionBlock(v, app.get(v.id), stats[i]))
      : h("p", { class: "muted" }, "No version yet."),
    h("p", {}, h("a", { href: "#/models" }, "← Models")),
  ];
}

const pct = (x) => `${(100 * x).toFixed(1)} %`;
const ms = (x) => (x === null || x === undefined ? "—" : `${fmtInt(x)} ms`);

// How the app sees a version and how it ran on people's devices (from /api/v1).
function clientBlock(c, stats) {
  if (!c) return null;
  const runs = stats && stats.runs
    ? [h("p", {}, `${fmtInt(stats.runs)} runs reported · ${pct(stats.success_rate)} succeeded · `
        + `p50 ${ms(stats.p50_ms)} · p95 ${ms(stats.p95_ms)}`),
      table([["Platform"], ["Device"], ["Runs", "num"], ["Success", "num"], ["p50", "num"], ["p95", "num"]],
        stats.by_device.map((d) => h("tr", {},
          h("td", {}, d.platform), h("td", {}, d.device_model), h("td", { class: "num" }, fmtInt(d.runs)),
          h("td", { class: "num" }, pct(d.success_rate)), h("td", { class: "num" }, ms(d.p50_ms)),
          h("td", { class: "num" }, ms(d.p95_ms)))), "No device.")]
    : [h("p", { class: "muted" }, "No runs reported by the app yet.")];
  return h("div", { class: "client-view" },
    h("p", {}, "In the app: ", badge(c.status), c.unsupported_reason ? ` — ${c.unsupported_reason}` : "",
      c.pipeline_spec ? " · pipeline spec present" : " · no pipeline spec"),
    h("p", { class: "rating" }, c.num_ratings
      ? `Rated ${c.rating_avg.toFixed(1)} of 5 by ${fmtInt(c.num_ratings)} user${c.num_ratings === 1 ? "" : "s"}`
      : "Not rated yet"),
    c.app_warnings && c.app_warnings.length
      ? h("div", { class: "app-warnings", role: "note" },
        h("p", {}, "What the app (at f7ae2c9) would do with this spec:"),
        h("ul", {}, c.app_warnings.map((w) => h("li", {}, w))))
      : null,
    inspectionBlock(c),
    ...runs);
}

// What inspecting the model file found: its tensors in model order, and the spec derived or written.
function inspectionBlock(c) {
  const i = c.inspection;
  if (!i) return h("p", { class: "muted" }, "The model file has not been inspected.");
  const tensors = c.signature
    ? table([["Tensor"], ["Name"], ["Shape"], ["Type"], ["Quantization"]],
      [...c.signature.inputs.map((t, n) => ["input " + n, t]), ...c.signature.outputs.map((t, n) => ["output " + n, t])]
        .map(([role, t]) => h("tr", { class: "tensor" },
          h("td", {}, role), h("td", { class: "mono" }, t.name), h("td", { class: "mono" }, `[${t.shape.join(", ")}]`),
          h("td", {}, t.dtype),
          h("td", { class: "mono" }, t.quantization ? `scale ${t.quantization.scale} · zero ${t.quantization.zero_point}` : "—"))),
      "No tensor.")
    : null;
  const ops = (i.operators || []).map((o) => `${o.name}${o.custom ? " (custom)" : ""} ×${o.count}`).join(", ");
  return h("div", { class: "inspection" },
    h("p", { class: "muted" }, i.error ? `Inspection: ${i.error}` :
      `Inspected: ${i.quantization || i.format}${i.size ? " · " + fmtBytes(i.size) : ""} · read ${fmtBytes(i.bytes_read || 0)} in ${i.requests || 0} request${i.requests === 1 ? "" : "s"}`
      + (i.defaults && i.defaults.length ? ` · defaults: ${i.defaults.join("; ")}` : "")),
    tensors,
    ops ? h("p", { class: "muted mono" }, ops) : null,
    c.pipeline_spec ? h("details", {}, h("summary", {}, "Pipeline spec"),
      h("pre", { class: "mono spec" }, JSON.stringify(c.pipeline_spec, null, 2))) : null);
}

function versionBlock(v, client, stats) {
  return h("section", { class: "version", "aria-label": `Version ${v.version_string}` },
    h("h3", {}, v.version_string),
    clientBlock(client, stats),
    h("p", { class: "muted" }, `published ${fmtTime(v.published_at)} · ${fmtBytes(v.total_size_bytes)}`,
      v.hf_commit_sha ? [" · commit ", h("span", { class: "mono" }, v.hf_commit_sha)] : null),
    v.changed_files
      ? h("p", { class: "changed-files" }, v.changed_files.length
        ? "Changed since the previous version: " + v.changed_files.map((c) => `${c.path} (${c.change})`).join(", ")
        : "No model or companion file changed since the previous version.")
      : null,
    table([["File"], ["Type"], ["Size", "num"], ["Hash"], ["Pinned URL", "hide-narrow"]],
      v.assets.map((a) => h("tr", {},
        h("td", { class: "mono" }, a.asset_key, a.is_primary ? h("strong", { title: "primary file" }, " ★") : null),
        h("td", {}, a.asset_type),
        h("td", { class: "num" }, fmtBytes(a.file_size_bytes)),
        h("td", { class: "mono", title: a.hash_kind || "" },
          a.file_hash ? `${a.hash_kind ? a.hash_kind + ":" : ""}${a.file_hash}` : "—"),
        h("td", { class: "mono hide-narrow" }, h("a", { href: a.source_url, rel: "noopener noreferrer" }, a.source_url)))),
      "No file."));
}

// ---------- routing ----------

function schedule(gen, ms) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { if (gen === generation && !document.hidden) route(true); }, ms);
}

const ROUTES = [
  [/^\/?$/, (gen) => overview(gen), "#/"],
  [/^\/runs$/, (gen, p) => runsPage(gen, p), "#/runs"],
  [/^\/runs\/([0-9a-fA-F-]{36})$/, (gen, p, id) => runDetail(gen, id), "#/runs"],
  [/^\/models$/, (gen, p) => modelsPage(gen, p), "#/models"],
  [/^\/models\/([0-9a-fA-F-]{36})$/, (gen, p, id) => modelPage(gen, id), "#/models"],
];

async function route(refresh) {
  const gen = ++generation;
  clearTimeout(refreshTimer);
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search] = hash.split("?");
  const params = new URLSearchParams(search || "");
  if (!token()) {
    document.getElementById("nav").hidden = true;
    view.replaceChildren(...signIn());
    document.getElementById("token").focus();
    return;
  }
  document.getElementById("nav").hidden = false;
  if (path === "/signin") { location.hash = "#/"; return; }
  const found = ROUTES.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", Boolean(found) && a.getAttribute("href") === found[2]);
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  if (!found) {
    view.replaceChildren(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the sync")));
    return;
  }
  if (!refresh) view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const content = await found[1](gen, params, path.match(found[0])[1]);
    if (gen !== generation) return;
    view.replaceChildren(...content.flat().filter(Boolean));
    if (!refresh) view.focus();
  } catch (err) {
    if (gen !== generation || err.status === 401) return;
    view.replaceChildren(h("h1", {}, "Something went wrong"), h("p", { class: "error" }, err.message),
      h("p", {}, h("a", { href: "#/" }, "Back to the sync")));
  }
}

document.getElementById("sign-out").addEventListener("click", () => { signOut(); flash("Signed out."); });
window.addEventListener("hashchange", () => route());
document.addEventListener("visibilitychange", () => { if (!document.hidden) route(true); });
route();
