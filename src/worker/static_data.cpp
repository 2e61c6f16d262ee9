#include "worker/static_data.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "core/time_format.hpp"
#include "log/log.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

namespace {

constexpr std::size_t kPage = 10000;

/// ESI's server version (GET /status/), or nullopt when ESI does not say (downtime, errors). The
/// answer is kept (kr_list_sweeps' row of /status/, its Expires in kr_http_cache) and used until it
/// expires: queue scripts run one after the other ask ESI once.
std::optional<std::string> ServerVersion(Runtime& rt) {
    const std::string path = esi_paths::Status();
    auto& store = rt.Store();
    const auto kept = store.LoadListSweeps({path});
    const auto cache = store.LoadHttpCache({path});
    if (kept.count(path) && kept.at(path).server_version && cache.count(path) &&
        cache.at(path).FreshAt(rt.Clock().NowMs())) {
        return kept.at(path).server_version;
    }
    esi::EsiRequest req;
    req.path = path;
    auto r = rt.Esi().Fetch(std::move(req));
    if (r.outcome != esi::Outcome::kOk) {
        spdlog::warn("ESI {}: {} ({}); the server version is unknown this time", path, esi::ToString(r.outcome),
                     r.error);
        return std::nullopt;
    }
    try {
        store::ListSweep version;
        version.path = path;
        version.server_version = esi_json::ParseServerVersion(r.body);
        version.checked_at_ms = rt.Clock().NowMs();
        store.SaveListSweep(version, r.cache);
        return version.server_version;
    } catch (const esi_json::ParseError& e) {
        spdlog::warn("ESI {}: {}", path, e.what());
        return std::nullopt;
    }
}

/// The ids of a list's answer; throws TransientError on an unusable body.
std::vector<Id> ListIds(const std::string& path, const esi::EsiResult& r) {
    try {
        return esi_json::ParseIdList(r.body);
    } catch (const esi_json::ParseError& e) {
        throw TransientError("ESI " + path + ": unusable body: " + e.what());
    }
}

/// Every id of the kind the store holds, ascending.
std::vector<Id> StoredIds(store::Store& store, EntityKind kind) {
    std::vector<Id> out;
    for (Id after = 0;;) {
        auto page = store.ListIds(kind, after, kPage);
        if (page.empty()) break;
        after = page.back();
        out.insert(out.end(), page.begin(), page.end());
    }
    return out;
}

/// GET of the list: with `known` (If-None-Match; kFresh while it has not expired) or without.
esi::EsiResult GetList(Runtime& rt, const std::string& path, const std::optional<CacheEntry>& known) {
    esi::EsiRequest req;
    req.path = path;
    if (known) req.cache = *known;
    auto r = rt.Esi().Fetch(std::move(req));
    if (r.outcome == esi::Outcome::kNotFound) throw TransientError("ESI " + path + ": 404");
    r.ThrowIfError("ESI " + path);  // kFailed: transient; another 4xx: permanent
    return r;
}

/// The list's ids: the answer's, or — unchanged since the last sweep (304 / still fresh) — the
/// stored ones; nothing stored (a database emptied since): the list again, unconditionally.
std::vector<Id> IdsOf(Runtime& rt, EntityKind kind, const std::string& path, esi::EsiResult& r) {
    if (r.outcome == esi::Outcome::kOk) return ListIds(path, r);
    auto stored = StoredIds(rt.Store(), kind);
    if (!stored.empty()) return stored;
    r = GetList(rt, path, std::nullopt);
    return ListIds(path, r);
}

/// Publishes the ids onto the kind's queue (marked pending) and records the sweep with the list's
/// cache row, in that order.
std::size_t Sweep(Runtime& rt, EntityKind kind, const std::vector<Id>& ids, store::ListSweep sweep,
                  const std::optional<CacheEntry>& list_cache) {
    const auto& info = KindInfo(kind);
    const std::string source = std::string("sweep-") + info.table;
    auto n = PublishEntities(rt.Queue(), rt.Store(), rt.Clock(), kind, ids, 0, source);
    sweep.swept_at_ms = rt.Clock().NowMs();
    rt.Store().SaveListSweep(sweep, list_cache);
    return n;
}

/// A cache row worth sending back: a 200 of the list.
std::optional<CacheEntry> Known(const std::unordered_map<std::string, CacheEntry>& cache, const std::string& path) {
    auto it = cache.find(path);
    if (it == cache.end() || it->second.status != 200) return std::nullopt;
    return it->second;
}

}  // namespace

std::size_t QueueListed(Runtime& rt, EntityKind kind, const std::vector<Id>& ids) {
    const auto& info = KindInfo(kind);
    if (!ids.empty()) {
        if (auto* p = rt.PublishProgress()) p->Expect(static_cast<std::int64_t>(ids.size()));
        return PublishEntities(rt.Queue(), rt.Store(), rt.Clock(), kind, ids, 0, info.queue_command);
    }
    const std::string path = info.list_path;
    auto& store = rt.Store();
    const auto prev = store.LoadListSweeps({path});
    auto r = GetList(rt, path, Known(store.LoadHttpCache({path}), path));
    auto list = IdsOf(rt, kind, path, r);
    if (auto* p = rt.PublishProgress()) p->Expect(static_cast<std::int64_t>(list.size()));
    store::ListSweep sweep;
    sweep.path = path;
    sweep.server_version = ServerVersion(rt);
    if (!sweep.server_version && prev.count(path)) sweep.server_version = prev.at(path).server_version;
    sweep.checked_at_ms = rt.Clock().NowMs();
    auto n = Sweep(rt, kind, list, sweep, r.cache);
    spdlog::info("{}: {} ids from ESI {} ({})", info.queue_command, n, path,
                 r.outcome == esi::Outcome::kOk ? "the list" : "unchanged since the last sweep: the stored ids");
    return n;
}

SweepReport SyncStaticData(Runtime& rt, const StaticSyncOptions& options) {
    SweepReport report;
    const auto kinds = StaticDataKinds();
    if (kinds.empty()) return report;
    std::vector<std::string> paths;
    for (EntityKind k : kinds) paths.emplace_back(KindInfo(k).list_path);
    auto& store = rt.Store();
    const std::int64_t now = rt.Clock().NowMs();
    const std::int64_t interval_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(options.check_interval).count();
    const auto sweeps = store.LoadListSweeps(paths);
    const auto due = [&](const std::string& path) {
        auto it = sweeps.find(path);
        return it == sweeps.end() || now - it->second.checked_at_ms >= interval_ms;
    };
    if (std::none_of(paths.begin(), paths.end(), due)) return report;
    report.checked = true;
    const auto version = ServerVersion(rt);
    const auto cache = store.LoadHttpCache(paths);
    for (EntityKind kind : kinds) {
        const auto& info = KindInfo(kind);
        const std::string path = info.list_path;
        if (!due(path)) continue;
        const auto prev_it = sweeps.find(path);
        const std::optional<store::ListSweep> prev =
            prev_it == sweeps.end() ? std::nullopt : std::optional(prev_it->second);
        try {
            auto r = GetList(rt, path, Known(cache, path));
            store::ListSweep sweep;
            sweep.path = path;
            sweep.server_version = version ? version : prev ? prev->server_version : std::nullopt;
            sweep.swept_at_ms = prev ? prev->swept_at_ms : std::nullopt;
            sweep.checked_at_ms = now;
            std::string why;
            if (!prev || !prev->swept_at_ms) {
                why = "first sweep";
            } else if (r.outcome == esi::Outcome::kOk) {
                why = "the list changed";
            } else if (version && prev->server_version != version) {
                if (r.outcome == esi::Outcome::kFresh) {
                    // ESI still serves what it had before the patch: nothing recorded, so the next
                    // call looks again, until that cache has turned over.
                    spdlog::info("universe: ESI's server version changed; {} is still cached until {}", path,
                                 r.cache ? IsoUtc(r.cache->expires_at_ms) : std::string("?"));
                    continue;
                }
                why = "ESI's server version changed (" + prev->server_version.value_or("unknown") + " → " + *version +
                      ")";
            }
            if (why.empty()) {  // unchanged: looked at, nothing to sweep
                store.SaveListSweep(sweep, r.outcome == esi::Outcome::kNotModified ? r.cache : std::nullopt);
                continue;
            }
            auto ids = IdsOf(rt, kind, path, r);
            report.queued[kind] = Sweep(rt, kind, ids, sweep, r.cache);
            report.why[kind] = why;
            spdlog::info("universe: {} {} queued from ESI {} ({})", report.queued[kind], info.plural, path, why);
        } catch (const FatalError&) {
            throw;
        } catch (const StoppedError&) {
            throw;  // stopping: no other list is asked for
        } catch (const std::exception& e) {
            spdlog::warn("universe: ESI {} not checked: {}; looked at again later", path, e.what());
        }
    }
    return report;
}

}  // namespace kr::worker
