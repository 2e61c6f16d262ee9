#pragma once
// worker:zkillboard: zkillboard_character_queue. One message = one zKillboard page of one
// character (our optional "page" field; the original's messages start at page 1). Per page:
//   1. GET /characterID/{id}/page/{p}/ (shared zKillboard budget). An HTTP error is an error
//      (retried with backoff), never a silent end of history; an empty page is the end.
//   2. Killmails already stored are skipped before any ESI call. The 2026 list format carries the
//      full killmail (no ESI call at all); the classic one needs GET /killmails/{id}/{hash}/,
//      run concurrently under the shared ESI budget.
//   3. Each killmail is stored atomically (one transaction for the page's new killmails).
//   4. The entities they reference that the database lacks are queued for the info workers.
//   5. The next page is published (checkpoint), then this page is acked: no delivery is held for
//      long (RabbitMQ's consumer_timeout is 30 min) and a restart resumes at the page it was on.
// A killmail ESI cannot serve (404/422) dead-letters the page message after the rest is stored
// (dead:retry replays it); a transient failure retries the page (stored killmails are skipped).
#include <unordered_set>

#include "esi/esi_client.hpp"
#include "esi/zkb_client.hpp"
#include "store/store.hpp"
#include "worker/worker_loop.hpp"

namespace kr::worker {

struct ZkillboardWorkerOptions {
    int concurrency = 1;
    int max_pages = 100;  ///< as the original: at most 100 pages (20,000 killmails) per character
};

class ZkillboardWorker final : public Worker {
public:
    ZkillboardWorker(ZkillboardWorkerOptions options, store::Store& store, esi::EsiClient& esi, esi::ZkbClient& zkb,
                     Settler& settler);
    std::string Name() const override { return "worker:zkillboard"; }
    std::vector<std::string> Queues() const override;
    int Concurrency() const override { return options_.concurrency; }
    void Admit(std::vector<queue::Delivery> deliveries) override;
    void Pump(std::chrono::milliseconds) override {}
    std::size_t Held() const override { return 0; }
    void ReleaseAll() override {}

    /// Killmails stored by this worker so far.
    std::int64_t KillmailsStored() const { return stored_; }

private:
    void Process(const queue::Delivery& d);
    ZkillboardWorkerOptions options_;
    store::Store& store_;
    esi::EsiClient& esi_;
    esi::ZkbClient& zkb_;
    Settler& settler_;
    std::int64_t stored_ = 0;
    /// Ids this worker already saw stored or queued, per kind (bounded): later pages of a
    /// history mostly reference the same corporations, alliances and types again.
    std::unordered_set<Id> seen_[4];
};

}  // namespace kr::worker
