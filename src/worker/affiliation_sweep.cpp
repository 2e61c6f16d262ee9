#include "worker/affiliation_sweep.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <unordered_set>

#include "core/cache_entry.hpp"
#include "core/entity_kind.hpp"
#include "esi/esi_client.hpp"
#include "log/log.hpp"
#include "log/progress.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

namespace {

constexpr const char* kSource = "queue-characters";

std::vector<std::string> PathsOf(EntityKind kind, const std::vector<Id>& ids) {
    std::vector<std::string> paths;
    paths.reserve(ids.size());
    for (Id id : ids) paths.push_back(EntityPath(kind, id));
    return paths;
}

/// Stale first (the info worker would skip a row within its Expires), then published.
std::size_t Refetch(Runtime& rt, EntityKind kind, const std::vector<Id>& ids, std::uint8_t priority) {
    if (ids.empty()) return 0;
    rt.Store().ExpireHttpCache(PathsOf(kind, ids));
    return PublishEntities(rt.Queue(), rt.Store(), rt.Clock(), kind, ids, priority, kSource);
}

void SweepPage(Runtime& rt, std::vector<Id> page, bool given, const AffiliationSweepOptions& o,
               AffiliationSweepReport& report) {
    auto& store = rt.Store();
    std::sort(page.begin(), page.end());
    page.erase(std::unique(page.begin(), page.end()), page.end());
    page.erase(std::remove_if(page.begin(), page.end(), [](Id id) { return !ShouldFetch(EntityKind::kCharacter, id); }),
               page.end());
    if (page.empty()) return;
    report.characters += page.size();
    const std::int64_t now = rt.Clock().NowMs();
    auto cache = store.LoadHttpCache(PathsOf(EntityKind::kCharacter, page));
    std::vector<Id> ask;
    for (Id id : page) {
        auto it = cache.find(EntityPath(EntityKind::kCharacter, id));
        if (it != cache.end() && it->second.status == 404 && it->second.FreshAt(now)) {
            ++report.known_bad;
        } else {
            ask.push_back(id);
        }
    }
    auto answers = esi::ResolveAffiliations(rt.Esi(), ask, 1000);
    report.answered += answers.items.size();
    report.failed += answers.failed_ids.size();

    // Rejected ids: recorded, not asked again (nor fetched) until the record expires.
    if (!answers.bad_ids.empty()) {
        std::vector<CacheEntry> rows;
        for (Id id : answers.bad_ids) {
            CacheEntry e = EntityCacheEntry(EntityKind::kCharacter, id);
            e.status = 404;
            e.checked_at_ms = rt.Clock().NowMs();
            e.expires_at_ms = e.checked_at_ms + o.rejected_ttl_ms;
            rows.push_back(std::move(e));
        }
        store.SaveHttpCache(rows);
        report.rejected += answers.bad_ids.size();
        spdlog::warn("queue:characters: ESI rejected {} character id(s) (first {}); not asked again for {} h",
                     answers.bad_ids.size(), answers.bad_ids.front(), o.rejected_ttl_ms / 3'600'000);
    }

    const auto changed = store.ApplyAffiliations(answers.items);
    report.changed += changed.size();

    // Characters to fetch in full: changed, too old, or (given ids) not stored at all.
    std::set<Id> refetch(changed.begin(), changed.end());
    std::vector<Id> answered;
    answered.reserve(answers.items.size());
    for (const auto& a : answers.items) answered.push_back(a.character_id);
    const auto stored = given ? store.ExistingIds(EntityKind::kCharacter, answered)
                              : std::unordered_set<Id>(answered.begin(), answered.end());
    for (Id id : answered) {
        if (!stored.count(id)) {
            refetch.insert(id);
            continue;
        }
        if (o.max_age_ms <= 0) continue;
        auto it = cache.find(EntityPath(EntityKind::kCharacter, id));
        if (it == cache.end() || it->second.checked_at_ms < now - o.max_age_ms) refetch.insert(id);
    }
    report.characters_queued +=
        Refetch(rt, EntityKind::kCharacter, std::vector<Id>(refetch.begin(), refetch.end()), o.priority);

    // Corporations and alliances the answers name: the ones not stored, and stored corporations
    // whose alliance changed.
    std::vector<Id> corporations;
    std::vector<Id> alliances;
    std::vector<std::pair<Id, std::optional<Id>>> corporation_alliances;
    for (const auto& a : answers.items) {
        if (ShouldFetch(EntityKind::kCorporation, a.corporation_id)) corporations.push_back(a.corporation_id);
        if (a.alliance_id && ShouldFetch(EntityKind::kAlliance, *a.alliance_id)) alliances.push_back(*a.alliance_id);
        corporation_alliances.emplace_back(a.corporation_id, a.alliance_id);
    }
    auto moved = store.CorporationsWithOtherAlliance(corporation_alliances);
    report.corporations_queued += Refetch(rt, EntityKind::kCorporation, moved, o.priority);
    auto missing_corporations = store.FilterMissing(EntityKind::kCorporation, corporations);
    report.corporations_queued += PublishEntities(rt.Queue(), store, rt.Clock(), EntityKind::kCorporation,
                                                  missing_corporations, o.priority, kSource);
    auto missing_alliances = store.FilterMissing(EntityKind::kAlliance, alliances);
    report.alliances_queued +=
        PublishEntities(rt.Queue(), store, rt.Clock(), EntityKind::kAlliance, missing_alliances, o.priority, kSource);
}

}  // namespace

AffiliationSweepReport SweepAffiliations(Runtime& rt, const std::vector<Id>& ids,
                                         const AffiliationSweepOptions& options) {
    AffiliationSweepReport report;
    const std::size_t page = std::max<std::size_t>(options.page, 1);
    // The stored characters' count is not asked for (a count over a big table): no ETA then.
    auto po = log::Progress::ForStderr(rt.Shared().Cfg().progress_every_seconds);
    po.clock = &rt.Clock();
    log::Progress progress("queue:characters", ids.empty() ? -1 : static_cast<std::int64_t>(ids.size()),
                           "characters swept", po);
    if (!ids.empty()) {
        for (std::size_t i = 0; i < ids.size(); i += page) {
            SweepPage(rt,
                      std::vector<Id>(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                      ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + page))),
                      true, options, report);
            progress.Set(static_cast<std::int64_t>(report.characters));
        }
    } else {
        for (Id after = 0;;) {
            auto stored = rt.Store().ListIds(EntityKind::kCharacter, after, page);
            if (stored.empty()) break;
            after = stored.back();
            SweepPage(rt, std::move(stored), false, options, report);
            progress.Set(static_cast<std::int64_t>(report.characters));
        }
    }
    progress.Finish();
    spdlog::info(
        "queue:characters: {} characters swept ({} answered, {} changed, {} rejected, {} known bad, {} failed); "
        "queued {} characters, {} corporations, {} alliances",
        report.characters, report.answered, report.changed, report.rejected, report.known_bad, report.failed,
        report.characters_queued, report.corporations_queued, report.alliances_queued);
    if (report.failed > 0) {
        spdlog::warn(
            "queue:characters: {} character id(s) could not be asked now (ESI failed); the next sweep asks them",
            report.failed);
    }
    return report;
}

}  // namespace kr::worker
