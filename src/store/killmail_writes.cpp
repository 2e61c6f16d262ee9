// SqlStore, part 2: killmails with their victim, attackers, items and nested items.
#include <algorithm>

#include "core/time_format.hpp"
#include "store/rows_written.hpp"
#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

namespace {

/// The nested items of a container, depth first (positions count over the whole killmail).
void AppendChildren(const std::vector<KillmailItem>& items, Id killmail_id, std::int64_t top_position,
                    const KillmailItem& parent, std::optional<std::int64_t> parent_child_position, std::int64_t depth,
                    std::int64_t& next_position, Rows& children) {
    for (const auto& item : items) {
        tables::ChildRow row{killmail_id, next_position++, top_position, parent, parent_child_position, depth, item};
        children.push_back(tables::Children().RowOf(row));
        if (!item.items.empty()) {
            AppendChildren(item.items, killmail_id, top_position, item, row.position, depth + 1, next_position,
                           children);
        }
    }
}

}  // namespace

void SqlStore::DependentRows::Clear() {
    victims.clear();
    attackers.clear();
    items.clear();
    children.clear();
}

void SqlStore::AppendDependentRows(const Killmail& km, DependentRows& rows) {
    rows.victims.push_back(tables::Victims().RowOf(km));
    for (const auto& a : km.attackers) rows.attackers.push_back(tables::Attackers().RowOf({km.killmail_id, a}));
    std::int64_t next_child = 0;
    const auto& items = km.victim.items;
    for (std::size_t i = 0; i < items.size(); ++i) {
        rows.items.push_back(tables::Items().RowOf({km.killmail_id, items[i]}));
        if (!items[i].items.empty()) {
            AppendChildren(items[i].items, km.killmail_id, static_cast<std::int64_t>(i), items[i], std::nullopt, 1,
                           next_child, rows.children);
        }
    }
}

StoreKillmailsResult SqlStore::StoreKillmailPage(std::span<const Killmail> killmails,
                                                 const PerKind<std::vector<Id>>& enrich, const ZkbChainStep* step) {
    return WritePage(killmails, enrich, step, nullptr);
}

StoreKillmailsResult SqlStore::StoreLivePage(std::span<const Killmail> killmails,
                                             const PerKind<std::vector<Id>>& enrich, const LiveCursorStep& step) {
    return WritePage(killmails, enrich, nullptr, &step);
}

StoreKillmailsResult SqlStore::WritePage(std::span<const Killmail> killmails, const PerKind<std::vector<Id>>& enrich,
                                         const ZkbChainStep* step, const LiveCursorStep* live) {
    StoreKillmailsResult result;
    std::vector<const Killmail*> todo;
    todo.reserve(killmails.size());
    std::unordered_set<Id> seen;
    for (const auto& km : killmails) {
        if (!km.victim.corporation_id) {
            result.rejected.emplace_back(km.killmail_id, "victim without corporation_id");
            continue;
        }
        if (km.killmail_hash.empty()) {
            result.rejected.emplace_back(km.killmail_id, "killmail_hash missing");
            continue;
        }
        if (km.killmail_time.empty()) {
            result.rejected.emplace_back(km.killmail_id, "killmail_time missing");
            continue;
        }
        if (!seen.insert(km.killmail_id).second) {
            ++result.already_present;  // a duplicate inside the batch
            continue;
        }
        todo.push_back(&km);
    }
    const bool bookkeeping =
        step || std::any_of(enrich.values.begin(), enrich.values.end(), [](const auto& ids) { return !ids.empty(); });
    if (todo.empty() && !bookkeeping && !live) return result;
    std::sort(todo.begin(), todo.end(),
              [](const Killmail* a, const Killmail* b) { return a->killmail_id < b->killmail_id; });
    const std::string now = IsoUtc(clock_.NowMs());
    db::Transaction tx(*conn_);
    if (!todo.empty()) {
        // Only the killmails new in this transaction derive: a redelivery counts nothing twice.
        std::vector<Id> inserted = WriteKillmails(todo, now, result);
        if (!inserted.empty()) {
            if (options_.derive) Derive(DeriveScopeOf(inserted), false);
            NotifyNew(inserted);
        }
        result.new_ids = std::move(inserted);
    }
    if (bookkeeping) result.step_taken = WritePageBookkeeping(enrich, step, now);
    if (live) TakeLiveStep(*live);
    tx.Commit();
    CountRowsWritten(tables::Killmails().Def().name, result.inserted);
    return result;
}

std::unordered_set<Id> SqlStore::ExistingKillmailIds(const std::vector<Id>& ids) {
    std::unordered_set<Id> found;
    if (ids.empty()) return found;
    auto r = conn_->ExecPlannedPerCall(std::string("SELECT killmail_id FROM killmails WHERE killmail_id") + IdSetSql(1),
                                       {IdSetParam(ids)});
    for (std::size_t i = 0; i < r.Rows(); ++i) found.insert(r.Int(i, 0));
    return found;
}

}  // namespace kr::store::detail
