#include "worker/process_metrics.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "esi/client_metrics.hpp"
#include "log/log.hpp"
#include "metrics/process_stats.hpp"

namespace kr::worker {

ProcessMetrics::ProcessMetrics(ProcessShared& shared, std::vector<std::string> queues, metrics::Registry& registry)
    : shared_(shared), queues_(std::move(queues)), registry_(registry) {
    collector_ = registry_.AddCollector([this](metrics::Exposition& out) { Collect(out); });
}

ProcessMetrics::~ProcessMetrics() {
    server_.reset();  // no scrape starts
    collector_ = {};  // waits for one running
}

void ProcessMetrics::Serve(const std::string& default_addr) {
    if (server_) return;
    const auto& cfg = shared_.Cfg();
    if (cfg.metrics_addr_given) {
        if (!cfg.metrics_addr.empty())
            server_ =
                std::make_unique<metrics::MetricsServer>(metrics::ParseListenAddress(cfg.metrics_addr), registry_);
        return;
    }
    if (default_addr.empty()) return;
    try {
        server_ = std::make_unique<metrics::MetricsServer>(metrics::ParseListenAddress(default_addr), registry_);
    } catch (const FatalError& e) {
        spdlog::warn("{}; running on without /metrics (KILLREPORT_METRICS_ADDR= turns it off)", e.what());
    }
}

void ProcessMetrics::Collect(metrics::Exposition& out) {
    metrics::CollectProcess(out);
    CollectBudget(out);
    CollectQueues(out);
}

std::vector<queue::QueueStats> ProcessMetrics::CountQueues() {
    std::vector<queue::QueueStats> stats;
    try {
        if (!probe_) {
            queue::QueueOptions qo;
            qo.clock = &shared_.Clock();
            probe_ = queue::OpenQueue(shared_.Cfg().rabbitmq_url, shared_.Cfg().database_url, qo);
            for (const auto& q : queues_) probe_->Declare(q);
        }
        for (const auto& q : queues_) stats.push_back(probe_->Stats(q));
    } catch (const std::exception& e) {
        probe_.reset();  // a new connection on the next count
        spdlog::debug("metrics: queue depth unavailable: {}", e.what());
        return {};
    }
    return stats;
}

void ProcessMetrics::CollectQueues(metrics::Exposition& out) {
    if (queues_.empty()) return;  // worker:redisq consumes none
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (queue_stats_at_ == std::chrono::steady_clock::time_point{} || now - queue_stats_at_ >= kQueueSampleEvery ||
        queue_stats_.empty()) {
        queue_stats_ = CountQueues();
        queue_stats_at_ = now;
    }
    const char* help =
        "Messages in a queue by state: ready, unacked (delivered or leased), retrying, dead (counted at most every "
        "5 s).";
    for (const auto& s : queue_stats_) {
        auto add = [&](const char* state, std::int64_t v) {
            if (v >= 0) {
                out.Add(metric::kQueueMessages, metrics::Type::kGauge, help, {{"queue", s.queue}, {"state", state}},
                        static_cast<double>(v));
            }
        };
        add("ready", s.ready);
        add("unacked", s.unacked);
        add("retrying", s.retrying);
        add("dead", s.dead);
        if (s.consumers >= 0) {
            out.Add(metric::kQueueConsumers, metrics::Type::kGauge, "Consumers of a queue as the broker reports them.",
                    {{"queue", s.queue}}, static_cast<double>(s.consumers));
        }
    }
}

void ProcessMetrics::CollectBudget(metrics::Exposition& out) {
    const auto& cfg = shared_.Cfg();
    const char* limit_help = "The configured request budget of the deployment (0 = off).";
    out.Add(metric::kBudgetLimit, metrics::Type::kGauge, limit_help, {{"budget", "esi"}}, cfg.esi_rate_limit);
    out.Add(metric::kBudgetLimit, metrics::Type::kGauge, limit_help, {{"budget", "zkb"}}, cfg.zkillboard_rate_limit);
    const std::int64_t now = shared_.Clock().NowUs();
    // The shared store's state (every process of the deployment writes it).
    esi::RateState esi_state;
    try {
        esi_state = shared_.Budget().Load("esi");
    } catch (const std::exception& e) {
        spdlog::debug("metrics: budget state unavailable: {}", e.what());
        return;
    }
    const bool window = esi_state.remaining && esi_state.reset_at_us > now;
    // No error in the current window: ESI's full allowance is what remains (100 by ESI's rules).
    out.Add(metric::kErrorLimitRemaining, metrics::Type::kGauge,
            "ESI error-limit remain in the current window (as last reported; 100 when no window is open).", {},
            window ? static_cast<double>(*esi_state.remaining) : 100.0);
    out.Add(metric::kErrorLimitReset, metrics::Type::kGauge, "Seconds until ESI's error-limit window resets.", {},
            window ? static_cast<double>(esi_state.reset_at_us - now) / 1e6 : 0.0);
    // Pauses: every budget's own key ("all") and each route group seen paused or known.
    std::vector<std::pair<std::string, std::string>> keys = {
        {"esi", "all"}, {"zkb", "all"}, {"r2z2", "all"}, {"esi", "killmail"}};  // seeded by the clients
    for (const auto& g : registry_.LabelValues(esi::metric::kPauses, "group")) {
        if (g != "all" && g != "none" &&
            std::find(keys.begin(), keys.end(), std::pair<std::string, std::string>{"esi", g}) == keys.end())
            keys.emplace_back("esi", g);
    }
    for (const auto& [budget, group] : keys) {
        esi::RateState st;
        try {
            st = group == "all" ? (budget == "esi" ? esi_state : shared_.Budget().Load(budget))
                                : shared_.Budget().Load(budget + ":group:" + group);
        } catch (const std::exception&) {
            continue;
        }
        out.Add(metric::kPauseRemaining, metrics::Type::kGauge,
                "Seconds a route group stays paused (all = every request of the budget), from the shared store.",
                {{"budget", budget}, {"group", group}},
                static_cast<double>(std::max<std::int64_t>(0, st.paused_until_us - now)) / 1e6);
    }
}

metrics::Registry::CollectorHandle ExportCounters(const std::string& queue, const WorkerCounters& c,
                                                  metrics::Registry& registry) {
    return registry.AddCollector([queue, &c](metrics::Exposition& out) {
        const char* help = "Messages settled by the workers, by queue and outcome.";
        auto add = [&](const char* outcome, const std::atomic<std::int64_t>& v) {
            out.Add(metric::kSettled, metrics::Type::kCounter, help, {{"queue", queue}, {"outcome", outcome}},
                    static_cast<double>(v.load(std::memory_order_relaxed)));
        };
        add("created", c.created);
        add("updated", c.updated);
        add("unchanged", c.unchanged);
        add("skipped", c.skipped);
        add("not_found", c.not_found);
        add("retried", c.retried);
        add("dead", c.dead);
    });
}

metrics::Registry::CollectorHandle ExportLive(const LiveWorker& w, metrics::Registry& registry) {
    return registry.AddCollector([&w](metrics::Exposition& out) {
        out.Add(metric::kLiveStored, metrics::Type::kCounter,
                "Killmails from R2Z2 (zKillboard's live feed) new to the database.", {},
                static_cast<double>(w.KillmailsStored()));
        out.Add(metric::kLiveCursor, metrics::Type::kGauge,
                "The next R2Z2 sequence the live feed fetches (0 until it holds the feed).", {},
                static_cast<double>(w.Cursor()));
    });
}

}  // namespace kr::worker
