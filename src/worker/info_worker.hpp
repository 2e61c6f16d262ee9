#pragma once
// worker:info:{alliances,corporations,characters,types}: entity ids from the queue → ESI →
// database → ack, batched.
//
// Per batch of deliveries: one query for which ids exist and one for their cache rows; skip what
// is fresh (ESI's Expires, or KILLREPORT_MAX_AGE) or known missing (404 recorded, not expired) and
// NPC characters — no request at all; revalidate stale rows with If-None-Match (304 = unchanged);
// fetch the rest concurrently; then upsert entities and cache rows in ONE transaction and ack.
// A 404 is recorded as "not found" for `not_found_ttl` and acked.
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
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
    std::size_t Held() const override { return in_flight_ + done_.size() + committing_.size(); }
    void ReleaseAll() override;

private:
    struct Done {
        queue::Delivery d;
        store::EntityBatch batch;  ///< this delivery's entity (0 or 1) and cache row
        enum { kFetched, kNotModified, kNotFound } what = kFetched;
    };
    struct Flight {
        queue::Delivery d;
        Id id = 0;
    };
    void OnResult(const queue::Delivery& d, Id id, esi::EsiResult r);
    void Flush();
    static store::EntityBatch Merge(const std::vector<Done>& items);
    void Commit(std::vector<Done>& items);
    void StartCommit();
    void CollectCommit(std::chrono::milliseconds wait);
    /// Acks (or splits, fails, releases) a batch once its commit finished.
    void Settle(std::vector<Done>& items, const store::EntityBatchResult& result, std::exception_ptr error);

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
    std::int64_t first_done_us_ = 0;  ///< when done_ got its first item
};

}  // namespace kr::worker
