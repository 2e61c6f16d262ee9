// SqlStore, part 1: entities and their kr_http_cache rows, one transaction per batch.
#include <algorithm>

#include "core/time_format.hpp"
#include "store/rows_written.hpp"
#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

UpsertCounts SqlStore::UpsertEntities(EntityKind kind, const std::vector<const Entity*>& entities,
                                      const std::string& now) {
    if (entities.empty()) return {};
    // Last one wins for duplicate ids (one statement cannot update a row twice on PostgreSQL).
    std::unordered_map<Id, const Entity*> last;
    for (const Entity* e : entities) last[IdOf(*e)] = e;
    std::vector<std::pair<Id, const Entity*>> order(last.begin(), last.end());
    // Sorted by id: concurrent writers lock rows in the same order (no deadlocks).
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    Rows rows;
    rows.reserve(order.size());
    std::vector<Id> ids;
    ids.reserve(order.size());
    for (const auto& [id, e] : order) {
        rows.push_back(tables::EntityRow(*e));
        ids.push_back(id);
    }
    UpsertCounts counts = WriteRows(tables::EntityTable(kind), rows, now);
    counts.unchanged += entities.size() - order.size();  // duplicates inside the batch
    ClearPending(kind, ids);
    return counts;
}

EntityBatchResult SqlStore::ApplyEntityBatch(const EntityBatch& batch) {
    const std::int64_t now_ms = clock_.NowMs();
    const std::string now = IsoUtc(now_ms);
    EntityBatchResult result;
    PerKind<std::vector<const Entity*>> by_kind;
    for (const auto& e : batch.entities) by_kind[KindOf(e)].push_back(&e);
    db::Transaction tx(*conn_);
    for (const auto& k : EntityKinds()) result.counts[k.kind] = UpsertEntities(k.kind, by_kind[k.kind], now);
    // Filters written before their solar system (or its constellation) was known get its location.
    const auto ids_of = [&](EntityKind kind) {
        std::vector<Id> ids;
        for (const Entity* e : by_kind[kind]) ids.push_back(IdOf(*e));
        return ids;
    };
    RefreshFilterLocations(ids_of(EntityKind::kSolarSystem), ids_of(EntityKind::kConstellation));
    if (!batch.cache.empty()) {
        // Last one wins per path.
        std::unordered_map<std::string, std::size_t> last;
        for (std::size_t i = 0; i < batch.cache.size(); ++i) last[batch.cache[i].path] = i;
        std::vector<std::size_t> order;
        for (const auto& [path, index] : last) order.push_back(index);
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return batch.cache[a].path < batch.cache[b].path; });
        Rows rows;
        PerKind<std::vector<Id>> not_found;
        for (std::size_t index : order) {
            CacheEntry e = batch.cache[index];
            if (!e.checked_at_ms) e.checked_at_ms = now_ms;
            rows.push_back(tables::HttpCache().RowOf(e));
            if (e.entity_kind && e.status == 404) not_found[*e.entity_kind].push_back(e.entity_id);
        }
        WriteRows(tables::HttpCache().Def(), rows, now);
        result.cache_saved = rows.size();
        // A 404 resolves the pending mark too (the 404 record now keeps it out of scans).
        for (const auto& k : EntityKinds()) {
            if (!not_found[k.kind].empty()) ClearPending(k.kind, not_found[k.kind]);
        }
    }
    tx.Commit();
    for (const auto& k : EntityKinds()) {
        CountRowsWritten(k.table, result.counts[k.kind].created + result.counts[k.kind].updated);
    }
    CountRowsWritten(tables::HttpCache().Def().name, result.cache_saved);
    return result;
}

void SqlStore::SaveHttpCache(const std::vector<CacheEntry>& entries) {
    EntityBatch batch;
    batch.cache = entries;
    ApplyEntityBatch(batch);
}

}  // namespace kr::store::detail
