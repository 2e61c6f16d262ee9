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
// With a committer (an Executor with a store of its own; PostgreSQL), step 3 and the lookups of
// step 4 run on its thread and connection while this thread fetches the next page; steps 4
// (publish) and 5 follow on this thread once the page is stored.
#include <array>
#include <memory>
#include <optional>
#include <unordered_set>

#include "core/clock.hpp"
#include "esi/esi_client.hpp"
#include "esi/zkb_client.hpp"
#include "queue/messages.hpp"
#include "store/store.hpp"
#include "worker/executor.hpp"
#include "worker/worker_loop.hpp"

namespace kr::worker {

struct ZkillboardWorkerOptions {
    int concurrency = 1;
    int max_pages = 100;  ///< as the original: at most 100 pages (20,000 killmails) per character
};

class ZkillboardWorker final : public Worker {
public:
    /// `clock`: the published messages' queuedAt.
    ZkillboardWorker(ZkillboardWorkerOptions options, store::Store& store, esi::EsiClient& esi, esi::ZkbClient& zkb,
                     Settler& settler, const Clock& clock, Executor<store::Store>* committer = nullptr);
    ~ZkillboardWorker() override;
    std::string Name() const override { return "worker:zkillboard"; }
    std::vector<std::string> Queues() const override;
    int Concurrency() const override { return options_.concurrency; }
    void Admit(std::vector<queue::Delivery> deliveries) override;
    void Pump(std::chrono::milliseconds wait) override;
    std::size_t Held() const override { return storing_ ? 1 : 0; }
    void ReleaseAll() override;

    /// Killmails stored by this worker so far.
    std::int64_t KillmailsStored() const { return stored_; }

private:
    /// One page between its fetch and its ack.
    struct Page {
        queue::Delivery d;
        queue::ZkillboardJob job;
        int page = 1;
        std::size_t listed = 0;
        bool relies_on_storing = false;        ///< skipped killmails the committer is storing now
        std::vector<Killmail> killmails;       ///< new ones, to store
        std::vector<std::string> unavailable;  ///< permanent ESI answers (404/422), rejected rows
        std::string transient;                 ///< first transient failure
        PerKind<std::vector<Id>> unseen;       ///< referenced ids not seen by this worker yet
        // filled by Store()
        store::StoreKillmailsResult result;
        PerKind<std::vector<Id>> missing;  ///< of unseen: not stored, not queued, not gone
        double fetch_ms = 0, esi_ms = 0, store_ms = 0;
    };
    void Process(const queue::Delivery& d);
    /// zKillboard page + ESI killmails; nullopt at the end of the history (acked).
    std::optional<Page> Fetch(const queue::Delivery& d);
    static void Store(store::Store& store, Page& p);
    /// Queues what is missing, publishes the next page and settles the delivery.
    void Finish(Page& p);
    /// Settles the page the committer stored; false if its store failed (or it still runs).
    bool FinishStoring(std::chrono::milliseconds wait);
    /// After a failed store: the page's references were marked seen but never queued.
    void ForgetSeen();

    ZkillboardWorkerOptions options_;
    store::Store& store_;
    esi::EsiClient& esi_;
    esi::ZkbClient& zkb_;
    Settler& settler_;
    const Clock& clock_;
    Executor<store::Store>* committer_;
    std::unique_ptr<Page> storing_;       ///< the page the committer stores
    std::unordered_set<Id> storing_ids_;  ///< its killmails: not fetched again for the next page
    std::int64_t stored_ = 0;
    /// Ids this worker already saw stored or queued, per kind (bounded): later pages of a
    /// history mostly reference the same corporations, alliances and types again.
    PerKind<std::unordered_set<Id>> seen_;
};

}  // namespace kr::worker
