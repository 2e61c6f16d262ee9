#include "app/status_snapshot.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "app/worker_commands.hpp"
#include "core/clock.hpp"
#include "core/entity_kind.hpp"
#include "core/time_format.hpp"
#include "worker/static_data.hpp"
#include "worker/status_beat.hpp"

namespace kr::app {

namespace {

using nlohmann::json;

/// "3 h 12 min", "45 s" (not positive: "0 s").
std::string Ago(std::int64_t ms) {
    if (ms <= 0) return "0 s";
    const std::int64_t s = ms / 1000;
    if (s < 120) return std::to_string(s) + " s";
    if (s < 7200) return std::to_string(s / 60) + " min";
    return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
}

json Count(std::int64_t v) { return v < 0 ? json() : json(v); }

/// "running", "stopped" or "down"; nullptr for a row that is history (replaced by a newer process of
/// the same worker on the same host, or a day old).
const char* WorkerState(const std::vector<worker::WorkerStatusRow>& rows, const worker::WorkerStatusRow& w,
                        std::int64_t now_ms) {
    bool superseded = false;
    for (const auto& o : rows) {
        superseded = superseded || (o.worker == w.worker && o.host == w.host && o.started_at_ms > w.started_at_ms);
    }
    const std::int64_t age = now_ms - w.heartbeat_at_ms;
    if (superseded || age > 24 * 3600 * 1000LL) return nullptr;
    if (w.stopped_at_ms) return "stopped";
    return age > std::chrono::duration_cast<std::chrono::milliseconds>(worker::StatusBeat::kDownAfter).count()
               ? "down"
               : "running";
}

}  // namespace

StatusSnapshot::StatusSnapshot(const config::Config& cfg)
    : cfg_(cfg),
      store_(store::OpenStore(cfg.database_url)),
      queue_(queue::OpenQueue(cfg.rabbitmq_url, cfg.database_url)),
      // The shared state itself, whatever this process's own ESI_RATE_LIMIT says.
      budget_(cfg.database_url),
      conn_(db::Open(cfg.database_url)) {
    for (const auto& name : KnownQueues()) queue_->Declare(name);
}

json StatusSnapshot::Snapshot() {
    Clock& clock = SystemClock::Instance();
    json out;
    // Queues first: an unreachable broker is one error line, no table.
    out["queue_backend"] = cfg_.UsesRabbitMq() ? "rabbitmq" : "database";
    std::int64_t dead = 0;
    out["queues"] = json::array();
    out["dead"] = json::array();  // the newest dead letters of each queue that has some, with their reasons
    for (const auto& name : KnownQueues()) {
        const auto s = queue_->Stats(name);
        out["queues"].push_back({{"queue", s.queue},
                                 {"ready", Count(s.ready)},
                                 {"unacked", Count(s.unacked)},
                                 {"consumers", Count(s.consumers)},
                                 {"retrying", Count(s.retrying)},
                                 {"dead", Count(s.dead)}});
        dead += std::max<std::int64_t>(0, s.dead);
        if (s.dead <= 0) continue;
        for (const auto& d : queue_->ListDead(name, kDeadListed)) {
            out["dead"].push_back({{"queue", name},
                                   {"reason", d.reason},
                                   {"attempts", d.attempts},
                                   {"last_error", d.last_error},
                                   {"dead_at", d.dead_at},
                                   {"body", d.body}});
        }
    }
    out["dead_letters"] = dead;

    // The workers, as their processes recorded them (kr_worker_status): a row replaced by a
    // newer process of the same worker on the same host is history; a day-old one is gone.
    const std::int64_t now_ms = clock.NowMs();
    const auto rows = worker::StatusBeat::Load(*conn_);
    std::map<std::string, double> per_queue;  // settled in the last minute by running workers
    std::set<double> limits;
    std::int64_t down = 0;
    out["workers"] = json::array();
    for (const auto& w : rows) {
        const std::int64_t age = now_ms - w.heartbeat_at_ms;
        const char* state = WorkerState(rows, w, now_ms);
        if (!state) continue;
        if (std::string(state) == "down") ++down;
        if (std::string(state) == "running") {
            per_queue[w.queue] += static_cast<double>(w.settled_last_minute);
            limits.insert(w.esi_rate_limit);
        }
        out["workers"].push_back({{"worker", w.worker},
                                  {"queue", w.queue},
                                  {"host", w.host},
                                  {"pid", w.pid},
                                  {"state", state},
                                  {"heartbeat_age_seconds", age / 1e3},
                                  {"settled", w.settled},
                                  {"settled_last_minute", w.settled_last_minute},
                                  {"last_error", w.last_error ? json(*w.last_error) : json()},
                                  {"last_error_at", w.last_error_at_ms ? json(IsoUtc(*w.last_error_at_ms)) : json()}});
    }
    out["workers_down"] = down;
    for (auto& q : out["queues"]) {
        auto it = per_queue.find(q["queue"].get<std::string>());
        q["rate_per_second"] = it == per_queue.end() ? 0.0 : it->second / 60.0;
    }

    const std::int64_t now_us = clock.NowUs();
    const auto esi_state = budget_.Load("esi");
    json esi;
    // The limit the running processes use (each records its own), not this process's.
    esi["limits_in_force"] = json::array();
    for (double l : limits) esi["limits_in_force"].push_back(l);
    // Every request of every process (one-shot commands too) as the shared budget counted it.
    esi["tokens_last_minute"] = budget_.Spent("esi", 60);
    const bool window = esi_state.remaining && esi_state.reset_at_us > now_us;
    esi["error_limit"] = {{"remaining", window ? json(*esi_state.remaining) : json()},
                          {"resets_in_seconds", window ? json((esi_state.reset_at_us - now_us) / 1e6) : json()}};
    // The downtime gate (deployment-wide): up, suspect (a 5xx seen, /status/ not asked yet) or down.
    {
        const auto outage = budget_.LoadOutage("esi");
        const char* names[] = {"up", "suspect", "down"};
        const bool up = outage.state == esi::Availability::kUp;
        esi["availability"] = {
            {"state", names[static_cast<int>(outage.state)]},
            {"since", up || outage.since_us == 0 ? json() : json(IsoUtc(outage.since_us / 1000))},
            {"reason", up ? json() : json(outage.reason)},
            {"failed_probes", outage.failed_probes},
            {"next_probe_in_seconds",
             up || outage.next_probe_us <= now_us ? json() : json((outage.next_probe_us - now_us) / 1e6)}};
    }
    out["esi"] = esi;
    out["paused"] = json::array();
    for (const auto& key : budget_.Keys()) {
        const auto st = key == "esi" ? esi_state : budget_.Load(key);
        if (st.paused_until_us <= now_us) continue;
        const auto colon = key.find(":group:");
        out["paused"].push_back({{"key", key},
                                 {"budget", key.substr(0, key.find(':'))},
                                 {"group", colon == std::string::npos ? "all" : key.substr(colon + 7)},
                                 {"until", IsoUtc(st.paused_until_us / 1000)},
                                 {"seconds", (st.paused_until_us - now_us) / 1e6}});
    }

    // The live feed (worker:redisq): where its cursor stands, who holds it, a pause or a ban.
    {
        const auto cursor = store_->LoadLiveCursor("r2z2");
        const auto r2z2 = budget_.Load("r2z2");
        json live = {{"in_run", cfg_.live},        {"next_sequence", json()},  {"holder", json()}, {"held", false},
                     {"last_step_ago_ms", json()}, {"paused_seconds", json()}, {"note", json()}};
        if (cursor && cursor->sequence) {
            live["next_sequence"] = *cursor->sequence;
            live["held"] = cursor->holder && cursor->held_until_ms > now_ms;
            if (cursor->holder) live["holder"] = *cursor->holder;
            live["last_step_ago_ms"] = now_ms - cursor->updated_at_ms;
        }
        if (cursor && cursor->note) live["note"] = *cursor->note;
        if (r2z2.paused_until_us > now_us) live["paused_seconds"] = (r2z2.paused_until_us - now_us) / 1e6;
        out["live"] = live;
    }

    out["rows"] = json::object();
    for (const auto& [table, n] : store_->Counts()) out["rows"][table] = n;

    std::vector<std::string> lists;
    for (EntityKind k : StaticDataKinds()) lists.emplace_back(KindInfo(k).list_path);
    const auto sweeps = store_->LoadListSweeps(lists);
    out["universe"] = json::array();
    for (const auto& path : lists) {
        auto it = sweeps.find(path);
        json u = {{"list", path}, {"swept_at", json()}, {"checked_at", json()}, {"server_version", json()}};
        if (it != sweeps.end() && it->second.swept_at_ms) {
            const std::int64_t now_ms = clock.NowMs();
            u["swept_at"] = IsoUtc(*it->second.swept_at_ms);
            u["swept_ago_ms"] = now_ms - *it->second.swept_at_ms;
            u["checked_at"] = IsoUtc(it->second.checked_at_ms);
            u["checked_ago_ms"] = now_ms - it->second.checked_at_ms;
            if (it->second.server_version) u["server_version"] = *it->second.server_version;
        }
        out["universe"].push_back(u);
    }
    out["at"] = IsoUtc(clock.NowMs());
    return out;
}

std::string StatusSnapshot::Text(const json& s) const {
    std::string out;
    char line[512];
    auto num = [](const json& v) { return v.is_null() ? std::string("-") : std::to_string(v.get<std::int64_t>()); };
    std::snprintf(line, sizeof line, "queues (%s)\n",
                  s["queue_backend"] == "rabbitmq" ? "RabbitMQ" : "in the database; consumers = live leases");
    out += line;
    std::snprintf(line, sizeof line, "  %-34s %10s %10s %10s %10s %8s %8s\n", "queue", "ready", "unacked", "consumers",
                  "retrying", "dead", "rate/s");
    out += line;
    for (const auto& q : s["queues"]) {
        std::snprintf(line, sizeof line, "  %-34s %10s %10s %10s %10s %8s %8.1f\n",
                      q["queue"].get<std::string>().c_str(), num(q["ready"]).c_str(), num(q["unacked"]).c_str(),
                      num(q["consumers"]).c_str(), num(q["retrying"]).c_str(), num(q["dead"]).c_str(),
                      q["rate_per_second"].get<double>());
        out += line;
    }
    out += "workers\n";
    if (s["workers"].empty()) out += "  none has run against this database yet\n";
    for (const auto& w : s["workers"]) {
        std::snprintf(line, sizeof line, "  %-32s %-8s %s/%lld  %.1f/s  heartbeat %.0f s ago\n",
                      w["worker"].get<std::string>().c_str(), w["state"].get<std::string>().c_str(),
                      w["host"].get<std::string>().c_str(), static_cast<long long>(w["pid"].get<std::int64_t>()),
                      w["settled_last_minute"].get<double>() / 60.0, w["heartbeat_age_seconds"].get<double>());
        out += line;
        if (!w["last_error"].is_null()) {
            out += "    last error (" + w["last_error_at"].get<std::string>() +
                   "): " + w["last_error"].get<std::string>() + "\n";
        }
    }
    std::string limits;
    for (const auto& l : s["esi"]["limits_in_force"]) {
        limits += (limits.empty() ? "" : ", ") + std::to_string(static_cast<long long>(l.get<double>()));
    }
    std::snprintf(line, sizeof line, "ESI budget in force: %s; %lld token(s) spent in the last minute\n",
                  limits.empty() ? "no running worker" : (limits + " req/s").c_str(),
                  static_cast<long long>(s["esi"]["tokens_last_minute"].get<std::int64_t>()));
    out += line;
    if (const auto& av = s["esi"]["availability"]; av["state"] != "up") {
        out += "ESI " + std::string(av["state"] == "down" ? "DOWN" : "SUSPECT (a 5xx seen, /status/ being asked)") +
               " since " + av["since"].get<std::string>() + " (" + av["reason"].get<std::string>() +
               "): every request of the deployment waits for /status/\n";
    }
    const auto& el = s["esi"]["error_limit"];
    if (el["remaining"].is_null()) {
        out += "ESI error limit: no errors in the current window\n";
    } else {
        std::snprintf(line, sizeof line, "ESI error limit: remain %lld (window resets in %.0f s)\n",
                      static_cast<long long>(el["remaining"].get<std::int64_t>()),
                      el["resets_in_seconds"].get<double>());
        out += line;
    }
    if (s["paused"].empty()) {
        out += "paused: nothing (shared budget: every route group sending)\n";
    } else {
        out += "PAUSED (shared budget)\n";
        for (const auto& p : s["paused"]) {
            std::snprintf(line, sizeof line, "  %-6s %-24s until %s (%.0f s)\n", p["budget"].get<std::string>().c_str(),
                          p["group"].get<std::string>().c_str(), p["until"].get<std::string>().c_str(),
                          p["seconds"].get<double>());
            out += line;
        }
    }
    {
        const auto& live = s["live"];
        out += std::string("live feed (R2Z2, ") +
               (live["in_run"].get<bool>() ? "part of `run`" : "off in `run`: KILLREPORT_LIVE=0") + "): ";
        if (live["next_sequence"].is_null()) {
            out += "not started";
        } else {
            out += "next sequence " + std::to_string(live["next_sequence"].get<std::int64_t>()) + ", ";
            out += live["held"].get<bool>()
                       ? "held by " + live["holder"].get<std::string>()
                       : "not held (last step " + Ago(live["last_step_ago_ms"].get<std::int64_t>()) + " ago)";
        }
        if (!live["paused_seconds"].is_null()) {
            std::snprintf(line, sizeof line, ", PAUSED for %.0f s", live["paused_seconds"].get<double>());
            out += line;
        }
        if (!live["note"].is_null()) out += "; " + live["note"].get<std::string>();
        out += "\n";
    }
    out += "rows\n";
    for (const auto& [table, n] : s["rows"].items()) {
        std::snprintf(line, sizeof line, "  %-28s %12lld\n", table.c_str(),
                      static_cast<long long>(n.get<std::int64_t>()));
        out += line;
    }
    std::snprintf(line, sizeof line, "universe (ESI's lists; `run` checks them every %lld s%s)\n",
                  static_cast<long long>(cfg_.universe_check_seconds), cfg_.universe_check_seconds == 0 ? ": off" : "");
    out += line;
    for (const auto& u : s["universe"]) {
        if (u["swept_at"].is_null()) {
            std::snprintf(line, sizeof line, "  %-28s never swept\n", u["list"].get<std::string>().c_str());
        } else {
            std::snprintf(line, sizeof line, "  %-28s swept %s ago (server version %s), checked %s ago\n",
                          u["list"].get<std::string>().c_str(), Ago(u["swept_ago_ms"].get<std::int64_t>()).c_str(),
                          u["server_version"].is_null() ? "?" : u["server_version"].get<std::string>().c_str(),
                          Ago(u["checked_ago_ms"].get<std::int64_t>()).c_str());
        }
        out += line;
    }
    if (s["workers_down"].get<std::int64_t>() > 0) {
        std::snprintf(line, sizeof line, "%lld worker(s) down (no heartbeat for %lld s; exit code 1)\n",
                      static_cast<long long>(s["workers_down"].get<std::int64_t>()),
                      static_cast<long long>(worker::StatusBeat::kDownAfter.count()));
        out += line;
    }
    const std::int64_t dead = s["dead_letters"].get<std::int64_t>();
    if (dead > 0) {
        std::snprintf(line, sizeof line, "%lld dead letter(s): `killreport dead:list` (exit code 1)\n",
                      static_cast<long long>(dead));
        out += line;
    }
    return out;
}

std::map<std::string, double> StatusSnapshot::Rates() {
    const std::int64_t now_ms = SystemClock::Instance().NowMs();
    const auto rows = worker::StatusBeat::Load(*conn_);
    std::map<std::string, double> out;
    for (const auto& name : KnownQueues()) out[name] = 0;
    for (const auto& w : rows) {
        const char* state = WorkerState(rows, w, now_ms);
        if (state && std::string(state) == "running") out[w.queue] += static_cast<double>(w.settled_last_minute) / 60.0;
    }
    return out;
}

int StatusSnapshot::ExitCode(const json& snapshot) {
    return snapshot["dead_letters"].get<std::int64_t>() > 0 || snapshot["workers_down"].get<std::int64_t>() > 0 ? 1 : 0;
}

}  // namespace kr::app
