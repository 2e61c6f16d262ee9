#include "app/status_page.hpp"

#include "core/clock.hpp"
#include "log/log.hpp"

namespace kr::app {

namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kHtml = "text/html; charset=utf-8";
/// Where the page's first data go (the page draws at once, then refreshes from /status.json).
constexpr const char* kInitialMarker = "/*KR_INITIAL*/null";

// The page. Elements the tests compare carry stable ids and data attributes: #queues tr[data-queue]
// td[data-field], #dead-total, #dead tr[data-queue][data-reason], #workers tr[data-worker], #rows
// tr[data-table] td[data-field="rows"], #esi-limits, #esi-tokens, #error-remaining, #paused
// tr[data-key], #live, #throughput (the plot), #updated.
constexpr const char* kPage = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>killreport status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#11151c;color:#d8dee9}
header{display:flex;gap:1.5em;align-items:baseline;padding:.6em 1.2em;background:#1b2230;border-bottom:1px solid #2c3545}
header h1{font-size:1.15em;margin:0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(430px,1fr));gap:1em;padding:1em 1.2em}
section{background:#1b2230;border:1px solid #2c3545;border-radius:6px;padding:.6em .9em;overflow:auto}
section.wide{grid-column:1/-1}
h2{font-size:.95em;margin:.1em 0 .5em;color:#88c0d0;text-transform:uppercase;letter-spacing:.05em}
table{border-collapse:collapse;width:100%}
th,td{padding:.15em .5em;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{color:#8f9bb3;font-weight:normal;border-bottom:1px solid #2c3545}
td.text{text-align:left;white-space:normal;word-break:break-word}
.bad{color:#bf616a;font-weight:bold}.warn{color:#ebcb8b}.ok{color:#a3be8c}.dim{color:#6b7587}
#badge{padding:.1em .6em;border-radius:4px;background:#2e3b2e}
#badge.bad{background:#4a2328;color:#ffd7db}
svg text{fill:#8f9bb3;font-size:11px}
</style></head><body>
<header><h1>killreport</h1><span id="badge">…</span><span>queue: <b id="backend">-</b></span>
<span class="dim">updated <span id="updated">-</span></span><span class="dim" id="fetch-error"></span></header>
<main>
<section class="wide"><h2>Queues</h2><table id="queues"><thead><tr><th>queue</th><th>ready</th><th>unacked</th>
<th>consumers</th><th>retrying</th><th>dead</th><th>rate/s</th></tr></thead><tbody></tbody></table></section>
<section class="wide"><h2>Throughput, last 15 minutes (messages settled/s)</h2>
<svg id="throughput" viewBox="0 0 900 180" width="100%" height="180" preserveAspectRatio="none"></svg></section>
<section><h2>ESI budget</h2><table><tbody>
<tr><td>limit in force</td><td id="esi-limits">-</td></tr>
<tr><td>tokens spent, last minute</td><td id="esi-tokens">-</td></tr>
<tr><td>error limit remaining</td><td id="error-remaining">-</td></tr>
<tr><td>error window resets in</td><td id="error-reset">-</td></tr></tbody></table>
<h2 style="margin-top:.8em">Paused route groups</h2><table id="paused"><thead><tr><th>budget</th><th>group</th>
<th>until</th><th>seconds</th></tr></thead><tbody></tbody></table><p id="paused-none" class="ok">none: every route group sending</p>
<h2 style="margin-top:.8em">Live feed</h2><p id="live">-</p></section>
<section><h2>Workers and their last errors</h2><table id="workers"><thead><tr><th>worker</th><th>state</th>
<th>rate/s</th><th>settled</th><th>heartbeat</th></tr></thead><tbody></tbody></table></section>
<section class="wide"><h2>Dead letters: <span id="dead-total">-</span></h2><table id="dead"><thead><tr><th>queue</th>
<th>reason</th><th>count</th><th>last error</th><th>newest</th></tr></thead><tbody></tbody></table></section>
<section><h2>Rows</h2><table id="rows"><tbody></tbody></table></section>
</main>
<script>
"use strict";
const initial = /*KR_INITIAL*/null;
const $ = (id) => document.getElementById(id);
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function num(v) { return v === null || v === undefined ? "-" : String(v); }
function row(tbody, cells, attrs) {
  const tr = el("tr", null, attrs);
  for (const c of cells) tr.appendChild(c);
  tbody.appendChild(tr);
  return tr;
}
function fill(id, rows) { const tb = $(id).tBodies[0]; tb.replaceChildren(); rows(tb); }
function draw(s) {
  $("backend").textContent = s.queue_backend;
  $("updated").textContent = s.at;
  const bad = s.dead_letters > 0 || s.workers_down > 0;
  $("badge").textContent = bad ? (s.dead_letters + " dead letter(s), " + s.workers_down + " worker(s) down") : "healthy";
  $("badge").className = bad ? "bad" : "";
  fill("queues", (tb) => {
    for (const q of s.queues) {
      const c = (f, v, cls) => el("td", v, Object.assign({"data-field": f}, cls ? {class: cls} : {}));
      row(tb, [c("queue", q.queue), c("ready", num(q.ready)), c("unacked", num(q.unacked)),
               c("consumers", num(q.consumers)), c("retrying", num(q.retrying)),
               c("dead", num(q.dead), q.dead > 0 ? "bad" : ""), c("rate", q.rate_per_second.toFixed(1))],
          {"data-queue": q.queue});
    }
  });
  $("esi-limits").textContent = s.esi.limits_in_force.length ? s.esi.limits_in_force.join(", ") + " req/s" : "no running worker";
  $("esi-limits").setAttribute("data-value", s.esi.limits_in_force.join(","));
  $("esi-tokens").textContent = s.esi.tokens_last_minute;
  const el_ = s.esi.error_limit;
  $("error-remaining").textContent = el_.remaining === null ? "no errors this window" : el_.remaining;
  $("error-reset").textContent = el_.resets_in_seconds === null ? "-" : Math.round(el_.resets_in_seconds) + " s";
  fill("paused", (tb) => {
    for (const p of s.paused) {
      row(tb, [el("td", p.budget), el("td", p.group, {class: "warn"}), el("td", p.until), el("td", Math.round(p.seconds))],
          {"data-key": p.key});
    }
  });
  $("paused-none").style.display = s.paused.length ? "none" : "";
  const l = s.live;
  let live = "live feed (R2Z2) " + (l.in_run ? "part of run" : "off in run") + ": ";
  live += l.next_sequence === null ? "not started" : "next sequence " + l.next_sequence + ", " + (l.held ? "held by " + l.holder : "not held");
  if (l.paused_seconds !== null) live += ", PAUSED for " + Math.round(l.paused_seconds) + " s";
  if (l.note !== null) live += "; " + l.note;
  $("live").textContent = live;
  fill("workers", (tb) => {
    for (const w of s.workers) {
      const cls = w.state === "running" ? "ok" : w.state === "down" ? "bad" : "dim";
      row(tb, [el("td", w.worker), el("td", w.state, {class: cls, "data-field": "state"}),
               el("td", (w.settled_last_minute / 60).toFixed(1)), el("td", w.settled, {"data-field": "settled"}),
               el("td", Math.round(w.heartbeat_age_seconds) + " s ago")], {"data-worker": w.worker});
      if (w.last_error !== null) {
        const td = el("td", w.last_error_at + ": " + w.last_error, {class: "text bad", colspan: "5", "data-field": "last-error"});
        row(tb, [td], {"data-worker-error": w.worker});
      }
    }
  });
  $("dead-total").textContent = s.dead_letters;
  $("dead-total").className = s.dead_letters > 0 ? "bad" : "ok";
  fill("dead", (tb) => {
    const groups = new Map();
    for (const d of s.dead) {
      const k = d.queue + "\u0000" + d.reason;
      const g = groups.get(k) || {queue: d.queue, reason: d.reason, count: 0, error: d.last_error, at: d.dead_at};
      g.count += 1;
      if (d.dead_at > g.at) { g.at = d.dead_at; g.error = d.last_error; }
      groups.set(k, g);
    }
    for (const g of groups.values()) {
      row(tb, [el("td", g.queue), el("td", g.reason, {class: "bad"}), el("td", g.count, {"data-field": "count"}),
               el("td", g.error, {class: "text"}), el("td", g.at)], {"data-queue": g.queue, "data-reason": g.reason});
    }
  });
  fill("rows", (tb) => {
    for (const [t, n] of Object.entries(s.rows)) row(tb, [el("td", t), el("td", n, {"data-field": "rows"})], {"data-table": t});
  });
}
function plot(h, s) {
  const svg = $("throughput"), W = 900, H = 180, L = 40, B = 18;
  const ns = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  svg.replaceChildren();
  const now = h.now_ms, from = now - h.window_seconds * 1000;
  const pts = h.samples.map((p) => [p.at_ms, Object.values(p.queues).reduce((a, b) => a + b, 0)]);
  // The line ends at the rate of the snapshot shown.
  pts.push([now, s.queues.reduce((a, q) => a + q.rate_per_second, 0)]);
  const max = Math.max(1, ...pts.map((p) => p[1]));
  const x = (t) => L + (W - L - 5) * (t - from) / (now - from), y = (v) => (H - B) - (H - B - 8) * v / max;
  mk("line", {x1: L, y1: H - B, x2: W - 5, y2: H - B, stroke: "#2c3545"});
  mk("text", {x: 2, y: 12}, max.toFixed(1));
  mk("text", {x: 2, y: H - B}, "0");
  mk("text", {x: L, y: H - 3}, "-15 min");
  mk("text", {x: W - 30, y: H - 3}, "now");
  svg.setAttribute("data-samples", String(h.samples.length));
  {
    mk("polyline", {points: pts.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" "),
                    fill: "none", stroke: "#88c0d0", "stroke-width": 2});
    for (const p of pts) mk("circle", {cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 3, fill: "#88c0d0"});
  }
}
async function refresh() {
  try {
    const [s, h] = await Promise.all([fetch("/status.json").then((r) => r.json()),
                                      fetch("/status/history.json").then((r) => r.json())]);
    draw(s); plot(h, s);
    $("fetch-error").textContent = "";
  } catch (e) {
    $("fetch-error").textContent = "refresh failed: " + e;
  }
}
if (initial) { draw(initial.status); plot(initial.history, initial.status); }
setInterval(refresh, 3000);
</script></body></html>
)HTML";

}  // namespace

StatusPage::StatusPage(metrics::MetricsServer& server, const config::Config& cfg,
                       std::chrono::milliseconds sample_every)
    : server_(server), cfg_(cfg), sample_every_(sample_every) {
    auto html = [this] {
        std::lock_guard lock(mu_);
        return metrics::MetricsServer::Page{Html(), kHtml};
    };
    server_.Route("/", html);
    server_.Route("/status", html);
    server_.Route("/status.json", [this] {
        std::lock_guard lock(mu_);
        return metrics::MetricsServer::Page{
            Source().Snapshot().dump(2, ' ', false, json::error_handler_t::replace) + "\n", kJson};
    });
    server_.Route("/status/history.json", [this] {
        std::lock_guard lock(mu_);
        return metrics::MetricsServer::Page{History().dump(), kJson};
    });
    sampler_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!stopping_) {
            TakeSample();
            cv_.wait_for(lock, sample_every_, [this] { return stopping_; });
        }
    });
}

StatusPage::~StatusPage() {
    for (const char* path : {"/", "/status", "/status.json", "/status/history.json"}) server_.Unroute(path);
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    sampler_.join();
}

StatusSnapshot& StatusPage::Source() {
    if (!source_) source_ = std::make_unique<StatusSnapshot>(cfg_);
    return *source_;
}

void StatusPage::TakeSample() {
    const std::int64_t now = SystemClock::Instance().NowMs();
    try {
        history_.push_back({now, Source().Rates()});
    } catch (const std::exception& e) {
        source_.reset();  // new connections next time
        spdlog::debug("status page: no sample: {}", e.what());
    }
    const std::int64_t window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(kWindow).count();
    while (!history_.empty() && history_.front().at_ms < now - window_ms) history_.pop_front();
}

json StatusPage::History() const {
    json samples = json::array();
    for (const auto& s : history_) {
        json queues = json::object();
        for (const auto& [q, r] : s.rates) {
            if (r > 0) queues[q] = r;
        }
        samples.push_back({{"at_ms", s.at_ms}, {"queues", queues}});
    }
    return {{"now_ms", SystemClock::Instance().NowMs()},
            {"window_seconds", std::chrono::duration_cast<std::chrono::seconds>(kWindow).count()},
            {"samples", samples}};
}

std::string StatusPage::Html() {
    json initial = nullptr;
    try {
        initial = {{"status", Source().Snapshot()}, {"history", History()}};
    } catch (const std::exception& e) {
        source_.reset();
        spdlog::debug("status page: no snapshot: {}", e.what());  // the page's own fetch tries again
    }
    std::string data = initial.dump(-1, ' ', false, json::error_handler_t::replace);
    // Inside <script>: "</" would end it.
    for (std::size_t at = 0; (at = data.find("</", at)) != std::string::npos; at += 3) data.replace(at, 2, "<\\/");
    std::string page = kPage;
    page.replace(page.find(kInitialMarker), std::string(kInitialMarker).size(), data);
    return page;
}

}  // namespace kr::app
