// The operator console: health tiles kept live by the event stream, calls and sessions,
// a call's record with its proof checked here, approvals and feedback. Everything shown
// from the gateway is set as text (never as HTML).
"use strict";
(function () {
  const GROUPS = ["tool", "backend", "legacy", "agent"];
  const WINDOW_MIN = 60;
  const state = { csrf: null, me: null, tiles: {}, alerts: new Map(), cursor: null, query: {} };
  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const pre = (value) => el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2));
  const fmt = (v, unit) => (v === null || v === undefined ? "–" : `${v}${unit || ""}`);
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");

  class ApiError extends Error {
    constructor(status, error) { super(error.message || `HTTP ${status}`); this.status = status; this.code = error.code; }
  }
  async function api(method, path, body) {
    const headers = { accept: "application/json" };
    if (method !== "GET") {
      headers["content-type"] = "application/json";
      if (state.csrf) headers["x-csrf-token"] = state.csrf;
    }
    const response = await fetch(path, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data.error || {});
    return data;
  }

  // ------------------------------------------------------------------ sign-in

  async function boot() {
    state.me = await api("GET", "/console/me");
    if (!state.me.signed_in) return showSignIn();
    state.csrf = state.me.csrf;
    $("signin").hidden = true;
    if (state.started) {  // signed in from open mode: the same page, acting as a person now
      $("who").textContent = `${state.me.principal} · ${state.me.scopes.join(", ")}`;
      $("open-sign-in").hidden = true;
      $("sign-out").hidden = false;
      return loadApprovals();
    }
    state.started = true;
    $("app").hidden = false;
    $("who").textContent = `${state.me.principal} · ${state.me.scopes.join(", ")}`;
    $("open-banner").hidden = state.me.mode !== "open";
    $("sign-out").hidden = !state.csrf;
    // Open mode: anyone acts as anonymous; a key still names a person (who may approve).
    $("open-sign-in").hidden = state.me.mode !== "open" || Boolean(state.csrf);
    await loadStats();
    openStream();
    loadCalls(true);
    loadApprovals();
  }

  function showSignIn() {
    $("signin").hidden = false;
    $("app").hidden = true;
    $("stream-state").hidden = true;
  }

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const who = await api("POST", "/console/session", { key: $("signin-key").value });
      $("signin-key").value = "";
      state.csrf = who.csrf;
      $("signin-error").textContent = "";
      $("stream-state").hidden = false;
      await boot();
    } catch (e) {
      $("signin-error").textContent = e.message;
    }
  });
  $("open-sign-in").addEventListener("click", () => { $("signin").hidden = false; });
  $("sign-out").addEventListener("click", async () => {
    await api("DELETE", "/console/session");
    location.reload();
  });

  for (const button of document.querySelectorAll("header nav button")) {
    button.addEventListener("click", () => show(button.dataset.view));
  }
  function show(view) {
    for (const b of document.querySelectorAll("header nav button")) b.classList.toggle("active", b.dataset.view === view);
    for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== `view-${view}`;
    if (view === "approvals") loadApprovals();
    if (view === "calls") loadCalls(true);
    if (view === "flow") loadFlow();
    if (view === "audit") loadAudit();
    if (view === "experiments") loadExperiments();
  }
  const showing = (view) => !$(`view-${view}`).hidden;

  // ------------------------------------------------------------------ health tiles

  async function loadStats() {
    const stats = await api("GET", `/v1/stats?minutes=${WINDOW_MIN}`);
    for (const group of GROUPS) {
      for (const [name, summary] of Object.entries(stats[group] || {})) tile(group, name, summary);
    }
    for (const alert of stats.alerts || []) onAlert(alert);
    feedbackTiles(stats.feedback || {});
  }

  // Percentiles cannot be added up from single events: the server's aggregates (a few
  // numbers per series, not the calls) are fetched again, at most every few seconds.
  let refreshing = null;
  function refreshSoon() {
    if (refreshing) return;
    refreshing = setTimeout(async () => {
      refreshing = null;
      const stats = await api("GET", `/v1/stats?minutes=${WINDOW_MIN}&sparkline=false`);
      for (const group of GROUPS) {
        for (const [name, summary] of Object.entries(stats[group] || {})) {
          const t = tile(group, name, null);
          Object.assign(t.summary, summary);
          render(t);
        }
      }
      feedbackTiles(stats.feedback || {});
      if (showing("flow")) drawFlow(stats.flows || []);
    }, 3000);
  }

  function emptySummary() {
    const now = Math.floor(Date.now() / 60000);
    const points = [];
    for (let m = now - WINDOW_MIN + 1; m <= now; m++) points.push([m * 60, 0, 0, null]);
    return { calls: 0, errors: 0, errors_by_code: {}, error_rate: null, calls_per_s: 0,
             p50_ms: null, p95_ms: null, p99_ms: null, per_minute: points };
  }

  function tile(group, name, summary) {
    const key = `${group}:${name}`;
    let t = state.tiles[key];
    if (!t) {
      const nums = el("div", { class: "nums" });
      const codes = el("div", { class: "codes" });
      const chart = el("div", { class: "spark" });
      const signals = group === "tool" || group === "backend" ? el("div", { class: "signals" }) : null;
      const node = el("div", { class: "tile", dataset: { group, name } }, el("h3", { title: name }, name), nums, codes, signals, chart);
      $(`tiles-${group}`).append(node);
      const points = (summary || emptySummary()).per_minute;
      const data = [points.map((p) => p[0]), points.map((p) => p[1]), points.map((p) => p[2])];
      const plot = new uPlot({ width: 280, height: 60, legend: { show: false }, cursor: { show: false },
        axes: [{ show: false }, { show: false }], scales: { x: { time: true } },
        series: [{}, { stroke: "#3b7dd8", fill: "rgba(59,125,216,.15)" }, { stroke: "#d9534f" }] }, data, chart);
      t = state.tiles[key] = { node, nums, codes, signals, plot, data, summary: summary || emptySummary(), last: null };
    }
    if (summary) t.summary = summary;
    render(t);
    return t;
  }

  function render(t) {
    const s = t.summary;
    const cell = (label, value) => el("span", {}, label, el("b", {}, value));
    t.nums.replaceChildren(
      cell("calls/min", (s.calls / WINDOW_MIN).toFixed(2)), cell("calls", s.calls),
      cell("error rate", s.error_rate === null ? "–" : `${(s.error_rate * 100).toFixed(1)}%`),
      cell("p50", fmt(s.p50_ms, " ms")), cell("p95", fmt(s.p95_ms, " ms")), cell("p99", fmt(s.p99_ms, " ms")),
      cell("in flight", fmt(s.in_flight)), cell("last", fmt(t.last, " ms")), cell("errors", s.errors));
    t.codes.textContent = Object.entries(s.errors_by_code || {}).map(([c, n]) => `${c}: ${n}`).join("  ");
    if (t.signals) {
      const breaker = s.breaker ? s.breaker.state : null;
      t.signals.replaceChildren(
        `rate-limited ${s.rate_limited || 0} · circuit-open ${s.circuit_open || 0} · truncated ${s.truncated || 0}`,
        breaker ? el("span", { class: breaker === "open" ? "breaker-open" : "" }, ` · breaker ${breaker}`) : "");
      t.node.dataset.rateLimited = String(s.rate_limited || 0);
      t.node.dataset.truncated = String(s.truncated || 0);
      t.node.dataset.circuitOpen = String(s.circuit_open || 0);
      if (breaker) t.node.dataset.breaker = breaker;
    }
    t.node.dataset.calls = String(s.calls);
    t.node.dataset.p95 = s.p95_ms === null || s.p95_ms === undefined ? "" : String(s.p95_ms);
  }

  function count(group, name, event) {
    if (!name) return;
    const t = tile(group, name, null);
    const s = t.summary;
    const minute = Math.floor(Date.parse(event.at) / 60000) * 60;
    const xs = t.data[0];
    if (minute > xs[xs.length - 1]) {
      for (let m = xs[xs.length - 1] + 60; m <= minute; m += 60) {
        for (const series of t.data) series.shift();
        xs.push(m); t.data[1].push(0); t.data[2].push(0);
      }
    }
    const at = xs.indexOf(minute);
    if (at >= 0) {
      t.data[1][at] += 1;
      if (event.error) t.data[2][at] += 1;
    }
    s.calls += 1;
    if (event.error) {
      s.errors += 1;
      s.errors_by_code[event.error] = (s.errors_by_code[event.error] || 0) + 1;
    }
    s.error_rate = s.errors / s.calls;
    if (event.duration_ms !== null && event.duration_ms !== undefined) t.last = event.duration_ms;
    t.plot.setData(t.data);
    render(t);
  }

  function onCall(event) {
    if (event.status === "pending") return;  // counted when it ends
    count("tool", event.tool, event);
    count("backend", event.backend, event);
    count("agent", event.principal, event);
    refreshSoon();
    const line = el("li", { class: `status-${event.status}`, onclick: () => { show("calls"); openCall(event.call_id); } },
      `${time(event.at)}  ${event.tool}  ${event.status}${event.error ? " " + event.error : ""}  ${fmt(event.duration_ms, " ms")}  ${event.principal || ""}`);
    $("live").prepend(line);
    while ($("live").children.length > 50) $("live").lastChild.remove();
  }

  function onAlert(alert) {
    const key = `${alert.group}:${alert.name}:${alert.kind}`;
    if (alert.state === "resolved") state.alerts.delete(key); else state.alerts.set(key, alert);
    $("alerts").replaceChildren(...[...state.alerts.values()].map((a) =>
      el("div", { class: "alert", dataset: { group: a.group, name: a.name } }, `Alert since ${new Date(a.since * 1000).toLocaleTimeString()}: ${a.message}`)));
    for (const t of Object.values(state.tiles)) {
      const bad = [...state.alerts.values()].some((a) => a.group === t.node.dataset.group && a.name === t.node.dataset.name);
      t.node.classList.toggle("bad", bad);
    }
  }

  function openStream() {
    const source = new EventSource("/v1/events");
    const banner = $("stream-state");
    source.addEventListener("open", () => { banner.hidden = true; });
    source.addEventListener("error", () => {
      banner.hidden = false; banner.className = "banner down";
      banner.textContent = "The live stream is interrupted; reconnecting…";
    });
    source.addEventListener("hello", (m) => { for (const a of JSON.parse(m.data).alerts || []) onAlert(a); });
    source.addEventListener("call", (m) => onCall(JSON.parse(m.data)));
    source.addEventListener("alert", (m) => onAlert(JSON.parse(m.data)));
    source.addEventListener("approval", () => loadApprovals());
    source.addEventListener("feedback", () => refreshSoon());
    source.addEventListener("dropped", () => loadStats());
  }

  // ------------------------------------------------------------------ feedback trends

  function feedbackTiles(feedback) {
    for (const [tool, trend] of Object.entries(feedback)) {
      const key = `feedback:${tool}`;
      const xs = trend.per_minute.map((p) => p[0]);
      const ys = trend.per_minute.map((p) => p[1]);
      let t = state.tiles[key];
      if (!t) {
        const nums = el("div", { class: "nums" });
        const chart = el("div", { class: "spark" });
        const node = el("div", { class: "tile", dataset: { group: "feedback", name: tool } }, el("h3", { title: tool }, tool), nums, chart);
        $("tiles-feedback").append(node);
        const plot = new uPlot({ width: 280, height: 60, legend: { show: false }, cursor: { show: false },
          axes: [{ show: false }, { show: false }], scales: { x: { time: true } },
          series: [{}, { stroke: "#2a7a2a", spanGaps: true, points: { show: true, size: 4 } }] }, [xs, ys], chart);
        t = state.tiles[key] = { node, nums, plot };
      } else {
        t.plot.setData([xs, ys]);
      }
      const cell = (label, value) => el("span", {}, label, el("b", {}, value));
      t.nums.replaceChildren(cell("mean score", fmt(trend.mean_score)), cell("scores", trend.scores));
      t.node.dataset.mean = String(trend.mean_score);
      t.node.dataset.scores = String(trend.scores);
    }
  }

  // ------------------------------------------------------------------ data flow (Sankey)

  async function loadFlow() {
    try {
      const stats = await api("GET", `/v1/stats?minutes=${WINDOW_MIN}&sparkline=false`);
      drawFlow(stats.flows || []);
    } catch (e) {
      $("flow-note").textContent = e.message;
    }
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function drawFlow(flows) {
    $("flows").tBodies[0].replaceChildren(...flows.map((f) => el("tr", { dataset: { agent: f.agent, tool: f.tool, backend: f.backend } },
      el("td", {}, f.agent), el("td", {}, f.tool), el("td", {}, f.backend), el("td", {}, f.calls),
      el("td", {}, `${(f.error_share * 100).toFixed(1)}%`))));
    $("flow-note").textContent = flows.length ? "" : "No calls in the last hour.";
    const box = $("flow-chart");
    if (!flows.length) return box.replaceChildren();
    // Three columns: agents, tools, backends. A link's value is its calls; its errors colour it.
    const index = new Map();
    const nodes = [];
    const node = (kind, name) => {
      const id = `${kind}:${name}`;
      if (!index.has(id)) { index.set(id, nodes.length); nodes.push({ id, kind, name }); }
      return index.get(id);
    };
    const sums = new Map();
    const link = (source, target, f) => {
      const key = `${source}>${target}`;
      const l = sums.get(key) || { source, target, value: 0, errors: 0 };
      l.value += f.calls; l.errors += f.errors;
      sums.set(key, l);
    };
    for (const f of flows) {
      const a = node("agent", f.agent), t = node("tool", f.tool), b = node("backend", f.backend);
      link(a, t, f); link(t, b, f);
    }
    const width = Math.max(600, box.clientWidth || 900), height = Math.max(220, nodes.length * 28);
    const layout = d3.sankey().nodeWidth(12).nodePadding(12).extent([[1, 1], [width - 1, height - 6]]);
    const graph = layout({ nodes: nodes.map((n) => ({ ...n })), links: [...sums.values()].map((l) => ({ ...l })) });
    const path = d3.sankeyLinkHorizontal();
    const links = graph.links.map((l) => {
      const share = l.value ? l.errors / l.value : 0;
      const colour = `rgb(${Math.round(90 + 160 * share)}, ${Math.round(140 - 90 * share)}, ${Math.round(210 - 160 * share)})`;
      return svg("path", { class: "link", d: path(l), stroke: colour, "stroke-width": String(Math.max(1, l.width)),
        "data-source": l.source.id, "data-target": l.target.id, "data-calls": String(l.value), "data-errors": String(l.errors) },
        svg("title", {}, `${l.source.name} → ${l.target.name}: ${l.value} calls, ${(share * 100).toFixed(1)}% errors`));
    });
    const boxes = graph.nodes.map((n) => svg("g", { class: "node", "data-id": n.id },
      svg("rect", { x: String(n.x0), y: String(n.y0), width: String(n.x1 - n.x0), height: String(Math.max(1, n.y1 - n.y0)) },
        svg("title", {}, `${n.kind} ${n.name}: ${n.value} calls`)),
      svg("text", { x: String(n.x0 < width / 2 ? n.x1 + 6 : n.x0 - 6), y: String((n.y0 + n.y1) / 2), dy: "0.35em",
        "text-anchor": n.x0 < width / 2 ? "start" : "end" }, n.name)));
    box.replaceChildren(svg("svg", { width: String(width), height: String(height), viewBox: `0 0 ${width} ${height}`, id: "flow-svg" },
      svg("g", {}, ...links), svg("g", {}, ...boxes)));
  }

  // ------------------------------------------------------------------ audit and config

  async function loadAudit() {
    let o;
    try {
      o = await api("GET", "/v1/audit/overview");
    } catch (e) {
      $("audit-note").textContent = e.status === 403 ? "The audit panel needs a key with the audit scope." : e.message;
      return;
    }
    $("audit-note").textContent = "";
    const ago = (s) => (s === null || s === undefined ? "–" : s < 120 ? `${Math.round(s)} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`);
    const card = (id, title, ...lines) => el("div", { class: "tile", id }, el("h3", {}, title), ...lines.map((l) => el("div", {}, l)));
    const c = o.checkpoint, v = o.last_verification, p = o.last_prune;
    const verification = card("audit-verification", "Last verification", ...(v ? verificationLines(v, ago)
      : ["none on the record: run legacy-gateway audit verify"]));
    verification.dataset.result = v ? v.result : "none";
    if (v && v.result !== "ok") verification.classList.add("bad");
    $("audit-tiles").replaceChildren(
      card("audit-checkpoint", "Latest signed checkpoint",
        c ? `${c.size} records` : "none yet", c ? `signed ${ago(c.age_s)} (${c.signed_at})` : ""),
      card("audit-log", "The log", `${o.log.records} records`, o.log.first_index ? `pruned before record ${o.log.first_index}` : "nothing pruned",
        p ? `last prune ${ago(p.age_s)}: records ${p.from_index} to ${p.to_index}, exported and verified` : ""),
      verification);
    $("config-versions").replaceChildren(...o.config.map((entry) => {
      const head = entry.kind === "loaded"
        ? `${time(entry.at)} · ${entry.version.slice(0, 19)}… · ${entry.tools} tools, ${entry.backends} backends from ${entry.directory}${entry.by ? ` · by ${entry.by}` : ""}`
        : `${time(entry.at)} · refused a change to ${entry.directory}; kept ${String(entry.running_version).slice(0, 19)}…`;
      const body = entry.kind === "loaded"
        ? (entry.changes === null ? el("p", { class: "quiet" }, "the first configuration on the record")
          : entry.changes.length ? el("div", { class: "change" }, entry.changes.join("\n") + (entry.changes_total > entry.changes.length ? `\n… ${entry.changes_total - entry.changes.length} more` : ""))
          : el("p", { class: "quiet" }, "no change (served again)"))
        : pre(entry.issues);
      return el("div", { class: `card config-${entry.kind}`, dataset: { version: entry.version || "" } }, el("h3", {}, head), body);
    }));
  }

  // What the last `audit verify` of the store found; a failure first, with its record.
  function verificationLines(v, ago) {
    const span = v.end_index > v.first_index ? `records ${v.first_index} to ${v.end_index - 1}` : "no records";
    const lines = v.result === "ok" ? [el("strong", {}, "ok"), `${ago(v.age_s)}: ${span}, signed up to ${v.checkpoint_size}`]
      : v.result === "failed" ? [el("strong", { class: "error" }, `FAILED${v.first_bad_index === null ? "" : ` at record ${v.first_bad_index}`}`),
        `${ago(v.age_s)}: ${v.problem}`]
      : [el("strong", { class: "error" }, "untrusted"), `${ago(v.age_s)}: ${span} consistent, but checked without a trusted key`];
    return [...lines, `by ${v.checked_by} (${v.at})`];
  }

  // ------------------------------------------------------------------ experiments

  const pct = (v) => `${(v * 100).toFixed(1)}%`;
  const signedPct = (v) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;
  // A rate as the report gives it: count of total, the rate and its 95 % interval.
  const rateText = (r) => (!r || r.rate === null ? "–" : `${pct(r.rate)} [${pct(r.ci95[0])}, ${pct(r.ci95[1])}] (${r.count}/${r.of})`);
  const meanText = (m) => (!m || !m.n ? "–" : `${m.mean}${m.ci95 ? ` [${m.ci95[0]}, ${m.ci95[1]}]` : ""} (n ${m.n})`);

  async function loadExperiments() {
    let answer;
    try {
      answer = await api("GET", "/v1/experiments");
    } catch (e) {
      $("experiments-note").textContent = e.status === 403
        ? "The experiments report needs a key with the review or audit scope." : e.message;
      $("decision-rule").textContent = "";
      return $("experiments").replaceChildren();
    }
    $("experiments-note").textContent = answer.tools.length ? "" : "No calls of any tool in the report's window yet.";
    $("decision-rule").textContent = `Decision rule: ${answer.decision_rule}`;
    $("experiments").replaceChildren(...answer.tools.map(experimentCard));
  }

  function experimentCard(t) {
    const head = el("tr", {}, ...["variant", "calls", "error rate [95 %]", "invalid arguments", "latency p50 / p95 / mean",
      "feedback score", "shadow disagreements", "fields that disagree", "error rate vs baseline", "verdict"].map((h) => el("th", {}, h)));
    const rows = t.groups.map((g) => {
      const l = g.latency_ms || {};
      const s = g.shadow || { runs: 0, fields: {} };
      const v = g.error_rate_versus_baseline;
      const versus = !v ? (g.name === t.baseline ? "the baseline" : "–")
        : v.difference === null ? "–" : `${signedPct(v.difference)}${v.ci95 ? ` [${signedPct(v.ci95[0])}, ${signedPct(v.ci95[1])}]` : ""}`;
      return el("tr", { class: "variant", dataset: { variant: g.name, calls: String(g.calls), verdict: v ? v.verdict : "" } },
        el("td", {}, g.name === t.baseline && g.name !== "baseline" ? `${g.name} (baseline)` : g.name),
        el("td", { class: "calls" }, g.calls),
        el("td", {}, rateText(g.error_rate)),
        el("td", {}, rateText(g.invalid_argument_rate)),
        el("td", {}, `${fmt(l.p50, " ms")} / ${fmt(l.p95, " ms")} / ${fmt(l.mean, " ms")}`),
        el("td", {}, meanText(g.feedback_score)),
        el("td", {}, s.runs ? `${rateText(s.disagreement_rate)} of ${s.runs} runs` : "–"),
        el("td", {}, Object.entries(s.fields || {}).map(([f, n]) => `${f} (${n})`).join(", ") || "–"),
        el("td", {}, versus),
        el("td", { class: v ? `verdict-${v.verdict}` : "" }, v ? v.verdict : ""));
    });
    const stops = (t.stopped || []).map((s) => el("p", { class: "error" },
      `stopped ${s.variant} at ${time(s.at)}: error rate ${pct(s.error_rate)} over ${s.calls} calls`));
    return el("div", { class: "card experiment", dataset: { tool: t.tool } },
      el("h3", {}, t.tool),
      el("p", { class: "quiet" }, `by ${t.by} · baseline: ${t.baseline}${t.window ? ` · window: ${t.window}` : ""}`),
      el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)), ...stops);
  }

  // ------------------------------------------------------------------ calls and sessions

  $("call-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const call = String(form.get("call") || "").trim();
    // A W3C trace id (32 hex digits) lists the calls of that trace; anything else is a call id.
    const trace = /^[0-9a-fA-F]{32}$/.test(call) ? call : "";
    if (call && !trace) return openCall(call);
    state.query = {};
    for (const [k, v] of form.entries()) if (v && k !== "call") state.query[k] = String(v);
    if (trace) state.query.trace = trace;
    loadCalls(true);
  });
  $("more").addEventListener("click", () => loadCalls(false));

  async function loadCalls(reset) {
    const params = new URLSearchParams({ ...state.query, limit: "50" });
    if (!reset && state.cursor) params.set("cursor", state.cursor);
    const body = $("calls").tBodies[0];
    if (reset) body.replaceChildren();
    try {
      const page = await api("GET", `/v1/calls?${params}`);
      for (const c of page.calls) {
        const session = c.session_id ? el("a", { href: "#", onclick: (e) => { e.preventDefault(); e.stopPropagation(); openSession(c.session_id); } }, c.session_id) : "";
        body.append(el("tr", { dataset: { call: c.call_id }, onclick: () => openCall(c.call_id) },
          el("td", {}, time(c.started_at)), el("td", {}, c.tool), el("td", {}, c.principal || ""),
          el("td", {}, session), el("td", { class: `status-${c.status}` }, c.status + (c.error ? ` (${c.error})` : "")),
          el("td", {}, fmt(c.duration_ms))));
      }
      state.cursor = page.next_cursor;
      $("more").hidden = !page.next_cursor;
    } catch (e) {
      $("detail").replaceChildren(el("p", { class: "error" }, e.message));
    }
  }

  async function openCall(callId) {
    const detail = $("detail");
    let call;
    try {
      call = await api("GET", `/v1/calls/${encodeURIComponent(callId)}`);
    } catch (e) {
      return detail.replaceChildren(el("p", { class: "error" }, e.message));
    }
    const proof = el("div", { class: "proof" }, "Checking the inclusion proof…");
    const card = el("div", { class: "card", id: "call-card", dataset: { call: callId } },
      el("h2", {}, `Call ${callId}`),
      el("p", {}, `${call.tool} on ${call.backend || "–"} by ${call.principal || "–"} · `,
        el("span", { class: `status-${call.status}` }, call.status), ` · ${fmt(call.duration_ms, " ms")} · trace ${call.trace_id || "–"}`),
      call.context && call.context.session_id ? el("p", {}, "Session: ", el("a", { href: "#", onclick: (e) => { e.preventDefault(); openSession(call.context.session_id); } }, call.context.session_id)) : null,
      call.context && call.context.reasoning ? el("p", { class: "reasoning" }, call.context.reasoning) : null,
      el("h3", {}, "Arguments"), pre(call.arguments),
      ...(call.interactions || []).map((i, n) => [el("h3", {}, `Legacy interaction ${n + 1}: ${i.adapter} ${i.operation} · ${fmt(i.duration_ms, " ms")}`),
        pre(i.request), pre(i.response === undefined ? null : i.response)]),
      call.error ? [el("h3", {}, "Error"), pre(call.error)] : [el("h3", {}, "Result"), pre(call.result)],
      call.approval ? [el("h3", {}, "Approval"), pre(call.approval)] : null,
      el("h3", {}, "Feedback"), ...(call.feedback || []).map((f) => pre(f)), feedbackForm(callId),
      el("h3", {}, "Inclusion proof"), proof);
    detail.replaceChildren(card);
    card.scrollIntoView();
    checkProof(callId, proof);
  }

  async function checkProof(callId, box) {
    try {
      const [answer, latest] = await Promise.all([
        api("GET", `/v1/audit/proof/${encodeURIComponent(callId)}`), api("GET", "/v1/audit/checkpoint")]);
      const checks = await Proof.check(answer);
      const age = Math.round((Date.now() - Date.parse(latest.signed_at)) / 1000);
      box.replaceChildren(
        el("p", { class: "quiet" }, `Latest signed checkpoint: ${latest.size} records, signed ${age} s ago; verifier key ${latest.verifier_key}`),
        el("ul", { id: "proof-checks" }, ...checks.map((c) =>
          el("li", { class: c.ok ? "check-ok" : "check-bad", dataset: { ok: String(c.ok) } }, `${c.ok ? "✓" : "✗"} ${c.what}: ${c.detail}`))));
    } catch (e) {
      box.replaceChildren(el("p", { class: "check-bad" }, `The proof could not be checked: ${e.message}`));
    }
  }

  function feedbackForm(callId) {
    const score = el("input", { name: "score", type: "number", step: "any", placeholder: "score" });
    const label = el("input", { name: "label", placeholder: "label, e.g. correct" });
    const correction = el("textarea", { name: "correction", placeholder: "correction (JSON)", rows: "2" });
    const comment = el("input", { name: "comment", placeholder: "comment" });
    const said = el("span", { class: "quiet" });
    const form = el("form", { id: "feedback-form", class: "filters" }, score, label, correction, comment,
      el("button", { type: "submit" }, "Send feedback"), said);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      if (score.value !== "") body.score = Number(score.value);
      if (label.value) body.label = label.value;
      if (comment.value) body.comment = comment.value;
      try {
        if (correction.value) body.correction = JSON.parse(correction.value);
        const answer = await api("POST", `/v1/calls/${encodeURIComponent(callId)}/feedback`, body);
        said.textContent = `recorded as record ${answer.record}`;
        openCall(callId);
      } catch (e) {
        said.textContent = e.message;
      }
    });
    return form;
  }

  async function openSession(sessionId) {
    show("calls");
    const detail = $("detail");
    try {
      const session = await api("GET", `/v1/sessions/${encodeURIComponent(sessionId)}`);
      detail.replaceChildren(el("div", { class: "card", id: "session-card" }, el("h2", {}, `Session ${sessionId}`),
        ...session.steps.map((s, n) => el("div", { class: "step", dataset: { call: s.call_id } },
          el("h3", {}, `${n + 1}. ${time(s.started_at)} ${s.tool} · `, el("span", { class: `status-${s.status}` }, s.status), ` · ${fmt(s.duration_ms, " ms")}`),
          s.reasoning ? el("p", { class: "reasoning" }, s.reasoning) : null,
          el("details", {}, el("summary", {}, "arguments, legacy interactions, result"),
            pre(s.arguments), ...(s.interactions || []).map((i) => pre(i.request)), pre(s.error || s.result)),
          (s.feedback || []).length ? el("p", {}, `Feedback: ${s.feedback.map((f) => f.label || f.score).join(", ")}`) : null,
          el("a", { href: "#", onclick: (e) => { e.preventDefault(); openCall(s.call_id); } }, "the call's record")))));
    } catch (e) {
      detail.replaceChildren(el("p", { class: "error" }, e.message));
    }
  }

  // ------------------------------------------------------------------ approvals

  async function loadApprovals() {
    const box = $("approvals");
    let listed;
    try {
      listed = await api("GET", "/v1/approvals");
    } catch (e) {
      $("approvals-note").textContent = e.status === 403 ? "Deciding approvals needs a key with the approve scope." : e.message;
      return box.replaceChildren();
    }
    $("approvals-note").textContent = listed.approvals.length ? "" : "Nothing is waiting.";
    // A card still waiting is kept as it is (with a reason being typed); new ones are added.
    const shown = new Map([...box.querySelectorAll(".approval")].map((n) => [n.dataset.approval, n]));
    box.replaceChildren(...listed.approvals.map((a) => {
      if (shown.has(a.approval_id)) return shown.get(a.approval_id);
      const reason = el("input", { placeholder: "reason (on the record)", class: "reason" });
      const said = el("p", { class: "quiet" });
      const decide = async (decision) => {
        try {
          const answer = await api("POST", `/v1/approvals/${encodeURIComponent(a.approval_id)}`, { decision, comment: reason.value || null });
          said.textContent = `${decision === "approve" ? "approved" : "rejected"}: ${answer.status}`;
          loadApprovals();
        } catch (e) {
          said.textContent = e.message;
        }
      };
      return el("div", { class: "card approval", dataset: { approval: a.approval_id } },
        el("h3", {}, `${a.tool} for ${a.principal}`),
        el("p", { class: "quiet" }, `requested ${time(a.requested_at)}, expires ${time(a.expires_at)} · call ${a.call_id}`),
        pre(a.preview), reason,
        el("button", { type: "button", class: "approve", onclick: () => decide("approve") }, "Approve"),
        el("button", { type: "button", class: "reject", onclick: () => decide("reject") }, "Reject"), said);
    }));
  }

  boot().catch((e) => { $("stream-state").textContent = `The console cannot start: ${e.message}`; });
})();
