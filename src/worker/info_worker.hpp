#pragma once
// worker:info:{alliances,corporations,characters,types}: entity ids from the queue → ESI →
// database → ack, batched.
//
// Per batch of deliveries: one query for which ids exist and one for their cache rows; skip what
// is fresh (ESI's Expires, or KILLREPORT_MAX_AGE) or known missing (404 recorded, not expired) and
// NPC characters — no request at all; revalidate stale rows with If-None-Match (304 = unchanged);
// fetch the rest concurrently; then upsert entities and cache rows in ONE transaction and ack.
// A 404 is recorded as "not found" for `not_found_ttl` and acked.
//
// Foreign-key parents (a constellation's region, a solar system's constellation; from the table
// definitions, store::tables::Parents): an entity whose parent is not stored cannot be written.
// It waits, fetched, until the parent is: stored by now (checked in one query per kind), fetched
// in this batch (written first: a batch is written parents first), or being fetched by another
// worker — the parent is "pending" (kr_pending_entities: a sweep queued it, or another worker
// claimed it), so it waits for that instead of asking ESI twice, at most `parent_wait`. A parent
// that is not pending (or waited for too long) is claimed (marked pending) and fetched here, its
// own parents likewise, and stored in the same transaction as the entity. A parent ESI does not
// answer fails the deliveries that need it (a retry).
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/entity_kind.hpp"
#include "esi/esi_client.hpp"
#include "esi/request_group.hpp"
#include "store/store.hpp"
#include "worker/executor.hpp"
#include "worker/worker_loop.hpp"

namespace kr::worker {

struct InfoWorkerOptions {
    kr::EntityKind kind = kr::EntityKind::kAlliance;
    int concurrency = 0;          ///< 0 = the spec's default for the kind
    std::int64_t max_age_ms = 0;  ///< refresh rows checked longer ago than this; 0 = off
    std::int64_t not_found_ttl_ms = 3LL * 24 * 3600 * 1000;
    std::chrono::milliseconds flush_interval{5};
    std::size_t flush_max = 1000;
    /// How long an entity waits for a pending parent (queued or claimed elsewhere) before this
    /// worker fetches the parent itself.
    std::chrono::milliseconds parent_wait{std::chrono::seconds(30)};
    /// How often waiting entities look at the store for their parents.
    std::chrono::milliseconds parent_check{200};
};

class InfoWorker final : public Worker {
public:
    /// committer (optional): commits run on its thread and connection while this one keeps
    /// fetching; without it each batch commits on `store`, in Pump. `clock` decides freshness,
    /// 404 expiry and when answered messages are due for a commit.
    InfoWorker(InfoWorkerOptions options, store::Store& store, esi::EsiClient& esi, Settler& settler,
               const Clock& clock, Executor<store::Store>* committer = nullptr);

    std::string Name() const override { return KindInfo(options_.kind).command; }
    std::vector<std::string> Queues() const override { return {KindInfo(options_.kind).queue}; }
    int Concurrency() const override { return options_.concurrency; }
    void Admit(std::vector<queue::Delivery> deliveries) override;
    void Pump(std::chrono::milliseconds wait) override;
    std::size_t Held() const override {
        return in_flight_ + done_.size() + committing_.size() + waiting_.size() + parent_in_flight_ + riders_;
    }
    void ReleaseAll() override;

private:
    using Ref = std::pair<EntityKind, Id>;
    struct Done {
        std::optional<queue::Delivery> d;  ///< none for a parent this worker fetched itself
        store::EntityBatch batch;          ///< this delivery's entity (0 or 1) and cache row
        enum { kFetched, kNotModified, kNotFound } what = kFetched;
        std::vector<Ref> needs;  ///< foreign-key parents not known to be stored yet
        std::int64_t waiting_since_ms = 0;
        long status = 0;  ///< HTTP status of the answer (0: none asked, e.g. fresh)
    };
    void OnResult(const queue::Delivery& d, Id id, esi::EsiResult r);
    void OnParentResult(Ref parent, esi::EsiResult r);
    /// Done with an entity: to done_, or to waiting_ when it has foreign-key parents.
    void Finish(Done done);
    /// Moves waiting entities whose parents are there to done_; claims and fetches parents nobody
    /// is fetching; fails entities whose parent could not be fetched.
    void ResolveParents();
    void Flush();
    static store::EntityBatch Merge(const std::vector<Done>& items);
    void Commit(std::vector<Done>& items);
    void StartCommit();
    void CollectCommit(std::chrono::milliseconds wait);
    /// Acks (or splits, fails, releases) a batch once its commit finished.
    void Settle(std::vector<Done>& items, const store::EntityBatchResult& result, std::exception_ptr error);
    /// Settle an admitted delivery, and the duplicates that rode along with it, the same way;
    /// returns how many duplicates there were.
    template <typename SettleFn>
    std::size_t SettleHeld(const queue::Delivery& d, SettleFn settle);
    void AckHeld(const queue::Delivery& d, std::string_view outcome, long http_status);
    void FailHeld(const queue::Delivery& d, std::exception_ptr error);
    void ReleaseHeld(const queue::Delivery& d);

    InfoWorkerOptions options_;
    store::Store& store_;
    esi::EsiClient& esi_;
    Settler& settler_;
    const Clock& clock_;
    Executor<store::Store>* committer_;
    /// The ESI requests in flight: cancelled by ReleaseAll and with the worker, so that no
    /// callback reaches a delivery handed back or a worker destroyed.
    esi::RequestGroup requests_;
    std::vector<Done> committing_;  ///< the batch the committer works on
    std::shared_ptr<store::EntityBatchResult> commit_result_;
    std::size_t in_flight_ = 0;
    std::vector<queue::Delivery> flights_;  ///< deliveries waiting for ESI (for ReleaseAll)
    std::vector<Done> done_;
    /// The id of each admitted delivery until it is settled, and per id the delivery that holds
    /// it with the duplicates that arrived meanwhile (acked, failed or released with it).
    struct Holder {
        std::uint64_t tag = 0;
        std::vector<queue::Delivery> riders;
    };
    std::unordered_map<Id, Holder> holders_;
    std::unordered_map<std::uint64_t, Id> held_ids_;
    std::size_t riders_ = 0;
    std::int64_t first_done_us_ = 0;  ///< when done_ got its first item
    // ---- foreign-key parents --------------------------------------------------------------------
    std::vector<Done> waiting_;                                    ///< fetched, waiting for a parent
    std::size_t parent_in_flight_ = 0;                             ///< parents this worker is fetching
    std::set<Ref> parent_flights_;                                 ///< … which ones
    std::map<Ref, std::exception_ptr> parent_errors_;              ///< parents ESI did not give us
    std::map<EntityKind, std::unordered_set<Id>> stored_parents_;  ///< known to be stored
    bool parents_dirty_ = false;                                   ///< something to look at again
    std::int64_t next_parent_check_ms_ = 0;
};

}  // namespace kr::worker
