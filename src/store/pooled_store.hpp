#pragma once
// A Store that many threads share over a small, fixed number of database connections
// (KILLREPORT_DB_CONNECTIONS): every call leases one of the pool's stores for its duration.
// Each call is one transaction on the leased connection, so nothing spans two leases.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace kr::store {

class StorePool {
public:
    /// `clock` (which must outlive the pool) is its stores' (OpenStore).
    StorePool(std::string database_url, int size, const Clock& clock = SystemClock::Instance(),
              StoreOptions options = {});
    int Size() const { return size_; }

    class Lease {
    public:
        Lease(StorePool& pool, std::unique_ptr<Store> store) : pool_(pool), store_(std::move(store)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { pool_.Return(std::move(store_)); }
        Store* operator->() { return store_.get(); }

    private:
        StorePool& pool_;
        std::unique_ptr<Store> store_;
    };
    /// Blocks until a connection is free (opens one lazily while fewer than `size` exist).
    Lease Acquire();

private:
    void Return(std::unique_ptr<Store> store);
    std::string url_;
    int size_;
    const Clock& clock_;
    const StoreOptions options_;
    int opened_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Store>> idle_;
};

class PooledStore final : public Store {
public:
    explicit PooledStore(std::shared_ptr<StorePool> pool) : pool_(std::move(pool)) {}

    EntityBatchResult ApplyEntityBatch(const EntityBatch& b) override { return pool_->Acquire()->ApplyEntityBatch(b); }
    std::unordered_set<Id> ExistingIds(EntityKind k, const std::vector<Id>& ids) override {
        return pool_->Acquire()->ExistingIds(k, ids);
    }
    std::vector<Id> ListIds(EntityKind k, Id after, std::size_t limit) override {
        return pool_->Acquire()->ListIds(k, after, limit);
    }
    std::unordered_map<std::string, CacheEntry> LoadHttpCache(const std::vector<std::string>& paths) override {
        return pool_->Acquire()->LoadHttpCache(paths);
    }
    Freshness LookupFreshness(EntityKind k, const std::vector<Id>& ids,
                              const std::vector<std::string>& paths) override {
        return pool_->Acquire()->LookupFreshness(k, ids, paths);
    }
    void SaveHttpCache(const std::vector<CacheEntry>& e) override { pool_->Acquire()->SaveHttpCache(e); }
    StoreKillmailsResult StoreKillmailPage(std::span<const Killmail> k, const PerKind<std::vector<Id>>& enrich,
                                           const ZkbChainStep* step) override {
        return pool_->Acquire()->StoreKillmailPage(k, enrich, step);
    }
    std::optional<ZkbChainAt> LoadZkbChain(Id character_id) override {
        return pool_->Acquire()->LoadZkbChain(character_id);
    }
    std::vector<Id> ListEntityOutbox(EntityKind k, Id after, std::size_t limit) override {
        return pool_->Acquire()->ListEntityOutbox(k, after, limit);
    }
    std::vector<ZkbNextPage> UnpublishedZkbPages(Id after, std::size_t limit) override {
        return pool_->Acquire()->UnpublishedZkbPages(after, limit);
    }
    void ClearPublished(const PerKind<std::vector<Id>>& ids, const ZkbChainAt* next_of) override {
        pool_->Acquire()->ClearPublished(ids, next_of);
    }
    DerivedCounts RebuildDerived(const std::optional<std::string>& from_date) override {
        return pool_->Acquire()->RebuildDerived(from_date);
    }
    std::unordered_set<Id> ExistingKillmailIds(const std::vector<Id>& ids) override {
        return pool_->Acquire()->ExistingKillmailIds(ids);
    }
    bool ClaimRefresh(const std::string& sweep, std::int64_t due_before_ms, bool first_is_due) override {
        return pool_->Acquire()->ClaimRefresh(sweep, due_before_ms, first_is_due);
    }
    std::optional<LiveCursor> LoadLiveCursor(const std::string& feed) override {
        return pool_->Acquire()->LoadLiveCursor(feed);
    }
    LiveCursor HoldLiveCursor(const std::string& feed, const std::string& holder, std::int64_t hold_ms) override {
        return pool_->Acquire()->HoldLiveCursor(feed, holder, hold_ms);
    }
    bool SetLiveCursor(const std::string& feed, const std::string& holder, std::int64_t sequence) override {
        return pool_->Acquire()->SetLiveCursor(feed, holder, sequence);
    }
    void NoteLiveCursor(const std::string& feed, const std::string& note) override {
        pool_->Acquire()->NoteLiveCursor(feed, note);
    }
    void ReleaseLiveCursor(const std::string& feed, const std::string& holder) override {
        pool_->Acquire()->ReleaseLiveCursor(feed, holder);
    }
    StoreKillmailsResult StoreLivePage(std::span<const Killmail> k, const PerKind<std::vector<Id>>& enrich,
                                       const LiveCursorStep& step) override {
        return pool_->Acquire()->StoreLivePage(k, enrich, step);
    }
    std::unordered_map<std::string, ListSweep> LoadListSweeps(const std::vector<std::string>& paths) override {
        return pool_->Acquire()->LoadListSweeps(paths);
    }
    void SaveListSweep(const ListSweep& sweep, const std::optional<CacheEntry>& list_cache) override {
        pool_->Acquire()->SaveListSweep(sweep, list_cache);
    }
    AllianceMembers LoadAllianceMembers(Id alliance_id) override {
        return pool_->Acquire()->LoadAllianceMembers(alliance_id);
    }
    void SaveAllianceList(const AllianceList& list, const std::optional<CacheEntry>& list_cache) override {
        pool_->Acquire()->SaveAllianceList(list, list_cache);
    }
    void ExpireHttpCache(const std::vector<std::string>& paths) override { pool_->Acquire()->ExpireHttpCache(paths); }
    std::vector<Id> ListExpired(EntityKind k, std::size_t limit) override {
        return pool_->Acquire()->ListExpired(k, limit);
    }
    std::vector<Id> ApplyAffiliations(const std::vector<CharacterAffiliation>& a) override {
        return pool_->Acquire()->ApplyAffiliations(a);
    }
    std::vector<Id> CorporationsWithOtherAlliance(const std::vector<std::pair<Id, std::optional<Id>>>& c) override {
        return pool_->Acquire()->CorporationsWithOtherAlliance(c);
    }
    std::vector<Id> CorporationsWithNewerOtherAlliance(std::size_t limit) override {
        return pool_->Acquire()->CorporationsWithNewerOtherAlliance(limit);
    }
    std::int64_t AddUser(Id id, const std::string& name) override { return pool_->Acquire()->AddUser(id, name); }
    std::vector<std::pair<Id, std::string>> ListUserCharacters() override {
        return pool_->Acquire()->ListUserCharacters();
    }
    std::vector<Id> MissingReferencedIds(EntityKind k, Id after, std::size_t limit, const ScanOptions& o) override {
        return pool_->Acquire()->MissingReferencedIds(k, after, limit, o);
    }
    std::vector<Id> FilterMissing(EntityKind k, const std::vector<Id>& ids, const ScanOptions& o) override {
        return pool_->Acquire()->FilterMissing(k, ids, o);
    }
    void MarkPending(EntityKind k, const std::vector<Id>& ids) override { pool_->Acquire()->MarkPending(k, ids); }
    bool RemoveUser(Id id) override { return pool_->Acquire()->RemoveUser(id); }
    TableCounts Counts() override { return pool_->Acquire()->Counts(); }

private:
    std::shared_ptr<StorePool> pool_;
};

}  // namespace kr::store
