#pragma once
// A Store whose operations survive the connection being dropped under them (PostgreSQL: a
// terminated backend, a restart, a failover). Every Store operation is one statement or one
// transaction and idempotent (reads, upserts, deletes, the page's check-and-advance step), so an
// operation that fails because the connection it started on was lost under it is run again on a
// new connection (up to three runs: a server ending connections in a burst can drop the new one too) — the connection
// reconnects on its next use. The worker's messages then neither spend an attempt nor throw away what was fetched for
// them (a zKillboard page's killmails) for what a reconnect fixes. A connection that was already lost before the
// operation (its reconnect failed: the database is down), or a third loss in a row, fails as before
// (kr::TransientError: the caller's retry with backoff).
//
// A commit whose answer was lost may have been written: the second run then finds its own rows.
// That changes nothing for the entities, the cache, the outbox or the killmails (upserts and
// "already present"); a zKillboard page's chain step is taken by the first run, so the second
// run reports it taken when the chain stands exactly at that step (its next page is then
// published and cleared as usual; a duplicate of that page's delivery, the only other writer of
// that very step, is stale by then).
#include <functional>
#include <memory>

#include "store/store.hpp"

namespace kr::store {

class ReconnectingStore final : public Store {
public:
    /// `lost`: whether `inner`'s connection is lost right now (no connection, or a dropped one).
    ReconnectingStore(std::unique_ptr<Store> inner, std::function<bool()> lost)
        : inner_(std::move(inner)), lost_(std::move(lost)) {}

    EntityBatchResult ApplyEntityBatch(const EntityBatch& b) override;
    std::unordered_set<Id> ExistingIds(EntityKind k, const std::vector<Id>& ids) override;
    std::vector<Id> ListIds(EntityKind k, Id after, std::size_t limit) override;
    Freshness LookupFreshness(EntityKind k, const std::vector<Id>& ids, const std::vector<std::string>& paths) override;
    std::unordered_map<std::string, CacheEntry> LoadHttpCache(const std::vector<std::string>& paths) override;
    void SaveHttpCache(const std::vector<CacheEntry>& e) override;
    std::unordered_set<Id> ExistingKillmailIds(const std::vector<Id>& ids) override;
    DerivedCounts RebuildDerived(const std::optional<std::string>& from_date) override;
    StoreKillmailsResult StoreKillmailPage(std::span<const Killmail> k, const PerKind<std::vector<Id>>& enrich,
                                           const ZkbChainStep* step) override;
    std::optional<ZkbChainAt> LoadZkbChain(Id character_id) override;
    std::vector<Id> ListEntityOutbox(EntityKind k, Id after, std::size_t limit) override;
    std::vector<ZkbNextPage> UnpublishedZkbPages(Id after, std::size_t limit) override;
    void ClearPublished(const PerKind<std::vector<Id>>& ids, const ZkbChainAt* next_of) override;
    bool ClaimRefresh(const std::string& sweep, std::int64_t due_before_ms, bool first_is_due) override;
    std::optional<LiveCursor> LoadLiveCursor(const std::string& feed) override;
    LiveCursor HoldLiveCursor(const std::string& feed, const std::string& holder, std::int64_t hold_ms) override;
    bool SetLiveCursor(const std::string& feed, const std::string& holder, std::int64_t sequence) override;
    void NoteLiveCursor(const std::string& feed, const std::string& note) override;
    void ReleaseLiveCursor(const std::string& feed, const std::string& holder) override;
    StoreKillmailsResult StoreLivePage(std::span<const Killmail> k, const PerKind<std::vector<Id>>& enrich,
                                       const LiveCursorStep& step) override;
    std::unordered_map<std::string, ListSweep> LoadListSweeps(const std::vector<std::string>& paths) override;
    void SaveListSweep(const ListSweep& sweep, const std::optional<CacheEntry>& list_cache) override;
    AllianceMembers LoadAllianceMembers(Id alliance_id) override;
    void SaveAllianceList(const AllianceList& list, const std::optional<CacheEntry>& list_cache) override;
    void ExpireHttpCache(const std::vector<std::string>& paths) override;
    std::vector<Id> ListExpired(EntityKind k, std::size_t limit) override;
    std::vector<Id> ApplyAffiliations(const std::vector<CharacterAffiliation>& a) override;
    std::vector<Id> CorporationsWithOtherAlliance(const std::vector<std::pair<Id, std::optional<Id>>>& c) override;
    std::vector<Id> CorporationsWithNewerOtherAlliance(std::size_t limit) override;
    std::int64_t AddUser(Id id, const std::string& name) override;
    std::vector<std::pair<Id, std::string>> ListUserCharacters() override;
    bool RemoveUser(Id id) override;
    std::vector<Id> MissingReferencedIds(EntityKind k, Id after, std::size_t limit, const ScanOptions& o) override;
    std::vector<Id> FilterMissing(EntityKind k, const std::vector<Id>& ids, const ScanOptions& o) override;
    void MarkPending(EntityKind k, const std::vector<Id>& ids) override;
    TableCounts Counts() override;

private:
    /// Runs `op`; again (up to kRuns in all) when it failed because the connection it ran on was
    /// lost. `again` is set for the runs after the first.
    template <typename F>
    auto Once(F&& op, bool* again = nullptr) -> decltype(op());

    static constexpr int kRuns = 3;
    std::unique_ptr<Store> inner_;
    std::function<bool()> lost_;
};

}  // namespace kr::store
