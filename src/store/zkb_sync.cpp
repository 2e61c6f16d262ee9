// SqlStore, part 4: worker:zkillboard's durable bookkeeping, written in the transaction of the
// page's killmails — the ids to enrich (kr_entity_outbox) and the character's page chain
// (kr_zkb_sync) with the next page's message — and cleared once published.
#include <algorithm>

#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

namespace {

/// Takes a step of a chain: inserts the character's row, or moves it to this page when the same
/// chain holds it at an earlier page, or ($7 = 1, a new sync) when another chain holds it. No
/// row changes otherwise (a duplicate or stale delivery of the page).
constexpr const char* kTakeZkbStep =
    "INSERT INTO kr_zkb_sync (character_id, chain, page, next_job, next_priority, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (character_id) DO UPDATE SET chain = excluded.chain,"
    " page = excluded.page, next_job = excluded.next_job, next_priority = excluded.next_priority,"
    " updated_at = excluded.updated_at"
    " WHERE (kr_zkb_sync.chain = excluded.chain AND kr_zkb_sync.page < excluded.page)"
    " OR ($7 = 1 AND kr_zkb_sync.chain <> excluded.chain)";

constexpr const char* kLoadZkbChain = "SELECT chain, page FROM kr_zkb_sync WHERE character_id = $1";

constexpr const char* kUnpublishedZkbPages =
    "SELECT character_id, chain, page, next_job, next_priority FROM kr_zkb_sync"
    " WHERE next_job IS NOT NULL AND character_id > $1 ORDER BY character_id LIMIT $2";

/// Only the step that recorded it: if the chain moved on, the row's next job is another page's.
constexpr const char* kZkbPagePublished =
    "UPDATE kr_zkb_sync SET next_job = NULL WHERE character_id = $1 AND chain = $2 AND page = $3";

constexpr const char* kListEntityOutbox =
    "SELECT id FROM kr_entity_outbox WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3";

}  // namespace

bool SqlStore::WritePageBookkeeping(const PerKind<std::vector<Id>>& enrich, const ZkbChainStep* step,
                                    const std::string& now) {
    const auto& outbox = tables::EntityOutbox();
    Rows rows;
    for (const auto& k : EntityKinds()) {
        for (Id id : enrich[k.kind]) rows.push_back(outbox.RowOf({k.kind, id}));
    }
    WriteRows(outbox.Def(), rows, now);  // PostgreSQL: one statement for every kind
    if (!step) return false;
    std::vector<Param> params{step->at.character_id,
                              step->at.chain,
                              std::int64_t{step->at.page},
                              step->next_job ? Param(*step->next_job) : Param(std::monostate{}),
                              std::int64_t{step->next_priority},
                              clock_.NowMs(),
                              std::int64_t{step->takeover ? 1 : 0}};
    return conn_->Exec(kTakeZkbStep, params).Affected() > 0;
}

std::optional<ZkbChainAt> SqlStore::LoadZkbChain(Id character_id) {
    auto r = conn_->Exec(kLoadZkbChain, {character_id});
    if (r.Rows() == 0) return std::nullopt;
    return ZkbChainAt{character_id, r.Text(0, 0), static_cast<int>(r.Int(0, 1))};
}

std::vector<Id> SqlStore::ListEntityOutbox(EntityKind kind, Id after, std::size_t limit) {
    auto r =
        conn_->Exec(kListEntityOutbox, {std::string(KindInfo(kind).name), after, static_cast<std::int64_t>(limit)});
    std::vector<Id> ids;
    ids.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) ids.push_back(r.Int(i, 0));
    return ids;
}

std::vector<ZkbNextPage> SqlStore::UnpublishedZkbPages(Id after, std::size_t limit) {
    auto r = conn_->Exec(kUnpublishedZkbPages, {after, static_cast<std::int64_t>(limit)});
    std::vector<ZkbNextPage> out;
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        out.push_back({{r.Int(i, 0), r.Text(i, 1), static_cast<int>(r.Int(i, 2))},
                       r.Text(i, 3),
                       static_cast<std::uint8_t>(std::clamp<std::int64_t>(r.Int(i, 4), 0, 255))});
    }
    return out;
}

void SqlStore::ClearPublished(const PerKind<std::vector<Id>>& ids, const ZkbChainAt* next_of) {
    const bool any_ids = std::any_of(ids.values.begin(), ids.values.end(), [](const auto& v) { return !v.empty(); });
    if (!any_ids && !next_of) return;
    db::Transaction tx(*conn_);
    for (const auto& k : EntityKinds()) {
        if (ids[k.kind].empty()) continue;
        conn_->Exec(std::string("DELETE FROM kr_entity_outbox WHERE kind = $1 AND id") + IdSetSql(2),
                    {std::string(k.name), IdSetParam(ids[k.kind])});
    }
    if (next_of) {
        conn_->Exec(kZkbPagePublished, {next_of->character_id, next_of->chain, std::int64_t{next_of->page}});
    }
    tx.Commit();
}

}  // namespace kr::store::detail
