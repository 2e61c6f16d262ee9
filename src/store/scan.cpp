// SqlStore, part 3: the scan over referenced ids (scan:entities, queue:corporations) and the
// pending marks that keep queued ids from being queued again.
#include <algorithm>
#include <limits>

#include "core/errors.hpp"
#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

// The scan over referenced ids is done in rounds, each bounded in memory and planner-proof:
//  1. every reference column yields its next distinct ids after the cursor, in id order, from its
//     index: character columns (many distinct values) as a streaming DISTINCT over the index
//     (Index Only Scan -> Unique -> Limit); low-cardinality columns (corporations, alliances,
//     types) as a recursive skip scan, one index probe per distinct value;
//  2. the streams are merged up to the horizon = the smallest last id of the streams that are not
//     exhausted (below it every stream is complete);
//  3. one statement anti-joins the merged candidates against the entity table, the pending marks
//     and the unexpired 404 records.
// A single UNION-ALL/DISTINCT statement was not usable: PostgreSQL 15 plans it as a full scan +
// hash aggregate (or sort) per page, i.e. O(pages x table size) — the original's defect 19 again.
const std::string& SqlStore::RefStreamSql(EntityKind kind, const std::string& table, const std::string& column) {
    std::string key = "ref|" + table + "|" + column;
    auto it = scan_sql_.find(key);
    if (it != scan_sql_.end()) return it->second;
    const std::string& t = table;
    const std::string& c = column;
    std::string sql;
    // Ids never fetched (NPC characters) are left out, from the kind's ranges.
    std::string npc;
    for (const auto& r : KindInfo(kind).never_fetched) {
        npc += r.first == std::numeric_limits<Id>::min()
                   ? " AND " + c + " > " + std::to_string(r.last)
                   : " AND NOT (" + c + " BETWEEN " + std::to_string(r.first) + " AND " + std::to_string(r.last) + ")";
    }
    if (KindInfo(kind).many_distinct_references || !HasLeadingIndex(table, column)) {
        // Without an index (a KillReport database we did not create) this is one scan per round.
        sql = "SELECT DISTINCT " + c + " FROM " + t + " WHERE " + c + " > $1" + npc + " ORDER BY " + c + " LIMIT $2";
    } else {
        sql = "WITH RECURSIVE s(id, n) AS (SELECT (SELECT " + c + " FROM " + t + " WHERE " + c + " > $1 ORDER BY " + c +
              " LIMIT 1), 1 UNION ALL SELECT (SELECT " + c + " FROM " + t + " WHERE " + c + " > s.id ORDER BY " + c +
              " LIMIT 1), s.n + 1 FROM s WHERE s.id IS NOT NULL AND s.n < $2) SELECT id FROM s WHERE id IS NOT NULL";
    }
    return scan_sql_.emplace(std::move(key), std::move(sql)).first->second;
}

const std::string& SqlStore::MissingFilterSql(EntityKind kind) {
    std::string key = std::string("filter|") + KindInfo(kind).name;
    auto it = scan_sql_.find(key);
    if (it != scan_sql_.end()) return it->second;
    // $5/$6 bound every probe to the round's id window: whatever join the planner picks (index
    // probes, hash or merge anti join) only touches that window, not the whole pending table.
    const std::string e_key = "e." + tables::EntityKey(kind);
    std::string sql = "SELECT u.id FROM " + IdListFrom(1) + " WHERE NOT EXISTS (SELECT 1 FROM " +
                      tables::EntityTable(kind).name + " e WHERE " + e_key + " = u.id AND " + e_key +
                      " BETWEEN CAST($5 AS BIGINT) AND CAST($6 AS BIGINT))"
                      " AND NOT EXISTS (SELECT 1 FROM kr_pending_entities p WHERE p.kind = $2 AND p.id = u.id"
                      " AND p.id BETWEEN CAST($5 AS BIGINT) AND CAST($6 AS BIGINT) AND p.queued_at > $3)"
                      " AND NOT EXISTS (SELECT 1 FROM kr_http_cache h WHERE h.entity_kind = $2 AND h.entity_id = u.id"
                      " AND h.entity_id BETWEEN CAST($5 AS BIGINT) AND CAST($6 AS BIGINT) AND h.status = 404"
                      " AND h.expires_at > $4)"
                      " ORDER BY u.id";
    return scan_sql_.emplace(std::move(key), std::move(sql)).first->second;
}

std::vector<Id> SqlStore::MissingReferencedIds(EntityKind kind, Id after, std::size_t limit,
                                               const ScanOptions& options) {
    std::vector<Id> out;
    if (limit == 0) return out;
    std::vector<tables::RefColumn> refs;
    for (const auto& ref : tables::RefColumns(kind)) {
        if (ref.source & options.sources) refs.push_back(ref);
    }
    if (refs.empty()) return out;
    const std::int64_t now = clock_.NowMs();
    const std::int64_t pending_since = now - options.pending_ttl.count();
    const std::string kind_name = KindInfo(kind).name;
    const std::int64_t chunk = static_cast<std::int64_t>(std::clamp<std::size_t>(limit, 10000, 50000));
    Id cursor = after;
    std::vector<Id> candidates;
    for (;;) {
        candidates.clear();
        std::optional<Id> horizon;  // nullopt: every stream is exhausted after this round
        for (const auto& ref : refs) {
            auto r = conn_->Exec(RefStreamSql(kind, ref.table, ref.column), {cursor, chunk});
            for (std::size_t i = 0; i < r.Rows(); ++i) candidates.push_back(r.Int(i, 0));
            if (static_cast<std::int64_t>(r.Rows()) == chunk) {
                Id last = r.Int(r.Rows() - 1, 0);
                if (!horizon || last < *horizon) horizon = last;
            }
        }
        std::sort(candidates.begin(), candidates.end());
        candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
        if (horizon) {
            candidates.erase(std::upper_bound(candidates.begin(), candidates.end(), *horizon), candidates.end());
        }
        if (!candidates.empty()) {
            // Planned per call: the plan must see how many candidates there are (see Connection).
            auto r = conn_->ExecPlannedPerCall(
                MissingFilterSql(kind),
                {IdSetParam(candidates), kind_name, pending_since, now, candidates.front(), candidates.back()});
            for (std::size_t i = 0; i < r.Rows() && out.size() < limit; ++i) out.push_back(r.Int(i, 0));
        }
        if (!horizon || out.size() >= limit) break;
        cursor = *horizon;
    }
    return out;
}

std::vector<Id> SqlStore::FilterMissing(EntityKind kind, const std::vector<Id>& ids, const ScanOptions& options) {
    std::vector<Id> out;
    std::vector<Id> candidates = ids;
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    candidates.erase(
        std::remove_if(candidates.begin(), candidates.end(), [kind](Id id) { return !ShouldFetch(kind, id); }),
        candidates.end());
    if (candidates.empty()) return out;
    const std::int64_t now = clock_.NowMs();
    auto r = conn_->ExecPlannedPerCall(MissingFilterSql(kind),
                                       {IdSetParam(candidates), std::string(KindInfo(kind).name),
                                        now - options.pending_ttl.count(), now, candidates.front(), candidates.back()});
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Int(i, 0));
    return out;
}

void SqlStore::MarkPending(EntityKind kind, const std::vector<Id>& ids) {
    if (ids.empty()) return;
    const std::int64_t now = clock_.NowMs();
    std::vector<Id> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    // One set-valued statement: the kind bound once, nothing returned (10,000 ids per scan page).
    // A scan page's ids are normally not marked yet (the scan skipped those queued recently), and a
    // plain INSERT costs PostgreSQL a third of an upsert: large sets try it first, and a conflict
    // (an expired mark, or another process marking the same id) rolls back and takes the upsert.
    // Small sets (a zKillboard page's references, often raced by other pages) upsert directly.
    // "WHERE true": SQLite needs it to parse an upsert after INSERT … SELECT.
    constexpr std::size_t kPlainInsertFrom = 1000;
    const std::string insert =
        "INSERT INTO kr_pending_entities (kind, id, queued_at) SELECT $1, u.id, $3 FROM " + IdListFrom(2);
    const std::vector<db::Param> params{std::string(KindInfo(kind).name), IdSetParam(sorted), now};
    if (sorted.size() >= kPlainInsertFrom) {
        try {
            db::Transaction tx(*conn_);
            conn_->Exec(insert, params);
            tx.Commit();
            return;
        } catch (const PermanentError& e) {
            if (e.Reason() != "db_constraint") throw;
        }
    }
    db::Transaction tx(*conn_);
    conn_->Exec(insert + " WHERE true ON CONFLICT (kind, id) DO UPDATE SET queued_at = excluded.queued_at", params);
    tx.Commit();
}

}  // namespace kr::store::detail
