// SqlStore, part 5: alliance membership — each alliance's corporation list as ESI gave it last
// (kr_alliance_corporations) beside the corporations stored with the alliance's id, and making
// cache rows stale so that a corporation whose membership is in doubt is asked again.
#include <algorithm>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/time_format.hpp"
#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

namespace {

constexpr const char* kLoadAllianceList = "SELECT corporation_ids FROM kr_alliance_corporations WHERE alliance_id = $1";

/// Uses corporations_alliance_id_idx (on a KillReport database without it: one scan per alliance).
constexpr const char* kCorporationsOfAlliance = "SELECT id FROM corporations WHERE alliance_id = $1 ORDER BY id";

/// Only moves expiries earlier: a row that is stale already keeps its time.
constexpr const char* kExpireHttpCache = "UPDATE kr_http_cache SET expires_at = $1 WHERE expires_at > $1 AND path";

}  // namespace

AllianceMembers SqlStore::LoadAllianceMembers(Id alliance_id) {
    AllianceMembers out;
    auto listed = conn_->Exec(kLoadAllianceList, {alliance_id});
    if (listed.Rows() > 0) {
        try {
            out.listed = esi_json::ParseIdList(listed.Text(0, 0));
        } catch (const esi_json::ParseError&) {
            // Only we write the column; a row we cannot read is as good as none (the list is asked again).
            out.listed.reset();
        }
    }
    auto stored = conn_->Exec(kCorporationsOfAlliance, {alliance_id});
    out.stored.reserve(stored.Rows());
    for (std::size_t i = 0; i < stored.Rows(); ++i) out.stored.push_back(stored.Int(i, 0));
    return out;
}

void SqlStore::SaveAllianceList(const AllianceList& list, const std::optional<CacheEntry>& list_cache) {
    const std::int64_t now_ms = clock_.NowMs();
    const std::string now = IsoUtc(now_ms);
    AllianceList sorted = list;
    std::sort(sorted.corporations.begin(), sorted.corporations.end());
    sorted.corporations.erase(std::unique(sorted.corporations.begin(), sorted.corporations.end()),
                              sorted.corporations.end());
    db::Transaction tx(*conn_);
    WriteRows(tables::AllianceCorporations().Def(), {tables::AllianceCorporations().RowOf(sorted)}, now);
    if (list_cache) {
        CacheEntry e = *list_cache;
        if (!e.checked_at_ms) e.checked_at_ms = now_ms;
        WriteRows(tables::HttpCache().Def(), {tables::HttpCache().RowOf(e)}, now);
    }
    tx.Commit();
}

void SqlStore::ExpireHttpCache(const std::vector<std::string>& paths) {
    if (paths.empty()) return;
    conn_->ExecPlannedPerCall(std::string(kExpireHttpCache) + TextSetSql(2), {clock_.NowMs(), TextSetParam(paths)});
}

}  // namespace kr::store::detail
