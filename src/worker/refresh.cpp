#include "worker/refresh.hpp"

#include <exception>
#include <functional>

#include "core/entity_kind.hpp"
#include "core/errors.hpp"
#include "log/log.hpp"
#include "worker/publisher.hpp"
#include "worker/scripts.hpp"

namespace kr::worker {

namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::int64_t kCycleEveryMs = 60LL * 1000;  ///< `run`: how often the schedule is looked at
constexpr std::size_t kPage = 10000;
constexpr const char* kSource = "refresh";

/// Every stored type revalidated: its cache row made stale (ETag kept) and its id queued.
std::size_t RevalidateTypes(Runtime& rt) {
    std::size_t n = 0;
    for (Id after = 0;;) {
        auto ids = rt.Store().ListIds(EntityKind::kType, after, kPage);
        if (ids.empty()) break;
        after = ids.back();
        std::vector<std::string> paths;
        paths.reserve(ids.size());
        for (Id id : ids) paths.push_back(EntityPath(EntityKind::kType, id));
        rt.Store().ExpireHttpCache(paths);
        n += PublishEntities(rt.Queue(), rt.Store(), rt.Clock(), EntityKind::kType, ids, 0, kSource);
    }
    return n;
}

}  // namespace

std::int64_t LatestTypesWindowMs(std::int64_t now_ms, const RefreshOptions& o) {
    const std::int64_t today = now_ms - now_ms % kDayMs;
    std::int64_t at = today + o.downtime_at_ms + o.types_after_downtime_ms;
    if (at > now_ms) at -= kDayMs;
    return at;
}

RefreshReport RefreshCycle(Runtime& rt, const RefreshOptions& o) {
    RefreshReport report;
    // What the sweeps ask ESI is refresh traffic: at most KILLREPORT_REFRESH_SHARE of the budget
    // while new work waits (their queued messages are, by their priority: queue::kNewWorkPriority).
    rt.Esi().SetRefreshTraffic(true);
    const std::int64_t now = rt.Clock().NowMs();
    struct Sweep {
        const char* name;
        std::int64_t due_before_ms;
        std::function<std::size_t()> run;
    };
    const Sweep sweeps[] = {
        {"affiliations", now - o.affiliations_every_ms + 1,
         [&] { return SweepAffiliations(rt, {}, o.affiliations).Published(); }},
        {"alliances", now - o.expired_every_ms + 1, [&] { return QueueAlliances(rt) + QueueAllianceCorporations(rt); }},
        {"corporations", now - o.expired_every_ms + 1, [&] { return QueueCorporations(rt, 0); }},
        {"types", LatestTypesWindowMs(now, o) + 1, [&] { return RevalidateTypes(rt); }},
    };
    for (const auto& s : sweeps) {
        if (!rt.Store().ClaimRefresh(s.name, s.due_before_ms, o.first_is_due)) continue;
        try {
            const std::size_t n = s.run();
            report.published += n;
            report.ran.emplace_back(s.name);
            spdlog::info("refresh: {}: {} message(s) queued", s.name, n);
        } catch (const FatalError&) {
            throw;
        } catch (const StoppedError&) {
            throw;
        } catch (const std::exception& e) {
            report.failed.emplace_back(s.name);
            spdlog::warn("refresh: {} failed: {}; run again when next due", s.name, e.what());
        }
    }
    return report;
}

RefreshScheduler::RefreshScheduler(ProcessShared& shared, std::stop_token stop, RefreshOptions options)
    : shared_(shared), stop_(std::move(stop)), options_(std::move(options)) {}

RefreshScheduler::~RefreshScheduler() = default;

bool RefreshScheduler::Enabled() const { return shared_.Cfg().refresh; }

bool RefreshScheduler::Due() const { return Enabled() && shared_.Clock().NowMs() >= next_ms_; }

void RefreshScheduler::Run() {
    if (!Enabled()) return;
    next_ms_ = shared_.Clock().NowMs() + kCycleEveryMs;
    try {
        if (!rt_) {
            rt_ = std::make_unique<Runtime>(shared_, 8);
            rt_->SetStopToken(stop_);  // SIGTERM ends an ESI pause here too
        }
        RefreshCycle(*rt_, options_);
    } catch (const FatalError&) {
        throw;
    } catch (const StoppedError&) {
        return;  // stopping: the next run looks again
    } catch (const std::exception& e) {
        spdlog::warn("run: the refresh schedule was not looked at: {}", e.what());
        rt_.reset();  // a new connection next time
    }
}

}  // namespace kr::worker
