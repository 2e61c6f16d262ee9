#include "store/reconnecting_store.hpp"

#include "core/errors.hpp"
#include "log/log.hpp"

namespace kr::store {

template <typename F>
auto ReconnectingStore::Once(F&& op, bool* again) -> decltype(op()) {
    for (int run = 1;; ++run) {
        const bool connected = !lost_();
        try {
            return op();
        } catch (const TransientError& e) {
            // The first run: only a connection that was up and dropped under this op (a failed
            // reconnect stays failed). A new connection dropped again at once (a server ending every
            // connection in a burst) gets one more run.
            if (run >= kRuns || (run == 1 && !connected) || !lost_()) throw;
            spdlog::warn("store: database connection lost ({}); trying again on a new connection", e.what());
            if (again) *again = true;
        }
    }
}

EntityBatchResult ReconnectingStore::ApplyEntityBatch(const EntityBatch& b) {
    return Once([&] { return inner_->ApplyEntityBatch(b); });
}

std::unordered_set<Id> ReconnectingStore::ExistingIds(EntityKind k, const std::vector<Id>& ids) {
    return Once([&] { return inner_->ExistingIds(k, ids); });
}

std::vector<Id> ReconnectingStore::ListIds(EntityKind k, Id after, std::size_t limit) {
    return Once([&] { return inner_->ListIds(k, after, limit); });
}

Store::Freshness ReconnectingStore::LookupFreshness(EntityKind k, const std::vector<Id>& ids,
                                                    const std::vector<std::string>& paths) {
    return Once([&] { return inner_->LookupFreshness(k, ids, paths); });
}

std::unordered_map<std::string, CacheEntry> ReconnectingStore::LoadHttpCache(const std::vector<std::string>& paths) {
    return Once([&] { return inner_->LoadHttpCache(paths); });
}

void ReconnectingStore::SaveHttpCache(const std::vector<CacheEntry>& e) {
    Once([&] { inner_->SaveHttpCache(e); });
}

DerivedCounts ReconnectingStore::RebuildDerived(const std::optional<std::string>& from_date) {
    return Once([&] { return inner_->RebuildDerived(from_date); });
}

std::unordered_set<Id> ReconnectingStore::ExistingKillmailIds(const std::vector<Id>& ids) {
    return Once([&] { return inner_->ExistingKillmailIds(ids); });
}

StoreKillmailsResult ReconnectingStore::StoreKillmailPage(std::span<const Killmail> k,
                                                          const PerKind<std::vector<Id>>& enrich,
                                                          const ZkbChainStep* step) {
    bool again = false;
    auto result = Once([&] { return inner_->StoreKillmailPage(k, enrich, step); }, &again);
    if (again && step && !result.step_taken) {
        // The first run's commit may have been written before its answer was lost: then the chain
        // stands at this very step, taken by that run.
        const auto at = Once([&] { return inner_->LoadZkbChain(step->at.character_id); });
        result.step_taken = at && at->chain == step->at.chain && at->page == step->at.page;
    }
    return result;
}

bool ReconnectingStore::ClaimRefresh(const std::string& sweep, std::int64_t due_before_ms, bool first_is_due) {
    // Not run again after a lost connection: a claim whose COMMIT went through would then be
    // refused, and the sweep skipped until its next time (the failure is transient instead).
    return inner_->ClaimRefresh(sweep, due_before_ms, first_is_due);
}

std::optional<LiveCursor> ReconnectingStore::LoadLiveCursor(const std::string& feed) {
    return Once([&] { return inner_->LoadLiveCursor(feed); });
}

LiveCursor ReconnectingStore::HoldLiveCursor(const std::string& feed, const std::string& holder, std::int64_t hold_ms) {
    return Once([&] { return inner_->HoldLiveCursor(feed, holder, hold_ms); });  // a renewal: idempotent
}

bool ReconnectingStore::SetLiveCursor(const std::string& feed, const std::string& holder, std::int64_t sequence) {
    return Once([&] { return inner_->SetLiveCursor(feed, holder, sequence); });
}

void ReconnectingStore::NoteLiveCursor(const std::string& feed, const std::string& note) {
    Once([&] { inner_->NoteLiveCursor(feed, note); });
}

void ReconnectingStore::ReleaseLiveCursor(const std::string& feed, const std::string& holder) {
    Once([&] { inner_->ReleaseLiveCursor(feed, holder); });
}

StoreKillmailsResult ReconnectingStore::StoreLivePage(std::span<const Killmail> k,
                                                      const PerKind<std::vector<Id>>& enrich,
                                                      const LiveCursorStep& step) {
    bool again = false;
    try {
        return Once([&] { return inner_->StoreLivePage(k, enrich, step); }, &again);
    } catch (const LiveCursorLost&) {
        if (!again) throw;
        // The first run's commit may have been written before its answer was lost: then the
        // cursor stands at this very step, still held by us.
        const auto at = Once([&] { return inner_->LoadLiveCursor(step.feed); });
        if (!at || at->holder != step.holder || at->sequence != step.to) throw;
        StoreKillmailsResult result;
        result.already_present = k.size();
        return result;
    }
}

std::optional<ZkbChainAt> ReconnectingStore::LoadZkbChain(Id character_id) {
    return Once([&] { return inner_->LoadZkbChain(character_id); });
}

std::vector<Id> ReconnectingStore::ListEntityOutbox(EntityKind k, Id after, std::size_t limit) {
    return Once([&] { return inner_->ListEntityOutbox(k, after, limit); });
}

std::vector<ZkbNextPage> ReconnectingStore::UnpublishedZkbPages(Id after, std::size_t limit) {
    return Once([&] { return inner_->UnpublishedZkbPages(after, limit); });
}

void ReconnectingStore::ClearPublished(const PerKind<std::vector<Id>>& ids, const ZkbChainAt* next_of) {
    Once([&] { inner_->ClearPublished(ids, next_of); });
}

std::unordered_map<std::string, ListSweep> ReconnectingStore::LoadListSweeps(const std::vector<std::string>& paths) {
    return Once([&] { return inner_->LoadListSweeps(paths); });
}

void ReconnectingStore::SaveListSweep(const ListSweep& sweep, const std::optional<CacheEntry>& list_cache) {
    Once([&] { inner_->SaveListSweep(sweep, list_cache); });
}

AllianceMembers ReconnectingStore::LoadAllianceMembers(Id alliance_id) {
    return Once([&] { return inner_->LoadAllianceMembers(alliance_id); });
}

void ReconnectingStore::SaveAllianceList(const AllianceList& list, const std::optional<CacheEntry>& list_cache) {
    Once([&] { inner_->SaveAllianceList(list, list_cache); });
}

void ReconnectingStore::ExpireHttpCache(const std::vector<std::string>& paths) {
    Once([&] { inner_->ExpireHttpCache(paths); });
}

std::vector<Id> ReconnectingStore::ListExpired(EntityKind k, std::size_t limit) {
    return Once([&] { return inner_->ListExpired(k, limit); });
}

std::vector<Id> ReconnectingStore::ApplyAffiliations(const std::vector<CharacterAffiliation>& a) {
    // Idempotent; a run whose commit was lost with its answer reports nothing changed the second time
    // (those characters' full fetches wait for the next sweep or KILLREPORT_MAX_AGE).
    return Once([&] { return inner_->ApplyAffiliations(a); });
}

std::vector<Id> ReconnectingStore::CorporationsWithOtherAlliance(
    const std::vector<std::pair<Id, std::optional<Id>>>& c) {
    return Once([&] { return inner_->CorporationsWithOtherAlliance(c); });
}

std::vector<Id> ReconnectingStore::CorporationsWithNewerOtherAlliance(std::size_t limit) {
    return Once([&] { return inner_->CorporationsWithNewerOtherAlliance(limit); });
}

std::int64_t ReconnectingStore::AddUser(Id id, const std::string& name) {
    return Once([&] { return inner_->AddUser(id, name); });
}

std::vector<std::pair<Id, std::string>> ReconnectingStore::ListUserCharacters() {
    return Once([&] { return inner_->ListUserCharacters(); });
}

std::vector<Id> ReconnectingStore::MissingReferencedIds(EntityKind k, Id after, std::size_t limit,
                                                        const ScanOptions& o) {
    return Once([&] { return inner_->MissingReferencedIds(k, after, limit, o); });
}

std::vector<Id> ReconnectingStore::FilterMissing(EntityKind k, const std::vector<Id>& ids, const ScanOptions& o) {
    return Once([&] { return inner_->FilterMissing(k, ids, o); });
}

void ReconnectingStore::MarkPending(EntityKind k, const std::vector<Id>& ids) {
    Once([&] { inner_->MarkPending(k, ids); });
}

bool ReconnectingStore::RemoveUser(Id id) {
    return Once([&] { return inner_->RemoveUser(id); });
}

TableCounts ReconnectingStore::Counts() {
    return Once([&] { return inner_->Counts(); });
}

}  // namespace kr::store
