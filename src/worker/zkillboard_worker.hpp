#pragma once
// worker:zkillboard: zkillboard_character_queue. One message = one zKillboard page of one
// character (our optional "page" field; the original's messages start at page 1). Per page:
//   1. Unless the page is stale (below), GET /characterID/{id}/page/{p}/ (shared zKillboard
//      budget). An HTTP error is an error (retried with backoff), never a silent end of history;
//      an empty page is the end.
//   2. Killmails already stored are skipped before any ESI call. The 2026 list format carries the
//      full killmail (no ESI call at all); the classic one needs GET /killmails/{id}/{hash}/,
//      run concurrently under the shared ESI budget.
//   3. ONE transaction (Store::StoreKillmailPage) stores the page's new killmails, records the
//      ids they reference in kr_entity_outbox and takes the page's step on the character's chain
//      (kr_zkb_sync), which keeps the next page's message. If the database refuses it for good
//      (kr::PermanentError: an id beyond an original INT column, …), the page is stored in halves,
//      recursively, down to the killmails it refuses, which are noted as unavailable; then the
//      step is taken alone.
//   4. After the commit: the recorded ids the database lacks (not stored, not pending, not 404)
//      are published to the info queues, the next page is published (the checkpoint), both
//      confirmed, then cleared from the outbox; then this page is acked. No delivery is held for
//      long (RabbitMQ's consumer_timeout is 30 min) and a restart resumes at the page it was on.
//      The enrichment is exactly as durable as the killmails: whatever a crash (or a failed
//      publish) leaves in the outbox is published by the next worker that starts (or the next
//      delivery this one takes) — at least once: the info workers skip what is fresh.
// One page chain per character, whatever crashes or retries happen: a chain is keyed by the
// queuedAt of the message that started the sync ("chain", carried by the later pages; see
// queue/messages.hpp). A message without "chain" starts a new sync, which takes the character
// over; a message of a chain that no longer holds the character, or of a page its chain already
// stored, is stale: acked without fetching. Only the delivery whose step was taken publishes the
// next page, so a duplicate (a crash between publishing the next page and the ack, a
// redelivery, `dead:retry` of a page) never starts a second chain. A dead-lettered page whose
// chain went on is therefore not fetched again by dead:retry; queue:zkillboard (a new sync)
// fetches what is still missing (stored killmails are skipped).
// A killmail ESI cannot serve (404/422) or the database refuses dead-letters the page message
// after the rest is stored and the next page published; a transient failure retries the page
// (stored killmails are skipped; the step waits for a complete page).
// With committers (Executors with a store of their own; PostgreSQL), step 3 and the lookups of
// step 4 run on a committer's thread and connection while this thread fetches the next page; step
// 4's publishing follows on this thread once the page is stored. With two, two pages (of different
// characters: a chain has one page at a time) commit side by side — a page's commit takes about
// twice as long as its fetch, and one connection is one PostgreSQL backend on one core. Their
// killmails are disjoint (a killmail a page being stored has is not fetched again), and the rows
// they share (kill stats, the outbox) are written in key order, so they wait, never deadlock.
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "core/clock.hpp"
#include "esi/esi_client.hpp"
#include "esi/zkb_client.hpp"
#include "push/killmail_events.hpp"
#include "queue/messages.hpp"
#include "store/store.hpp"
#include "worker/executor.hpp"
#include "worker/publisher.hpp"
#include "worker/worker_loop.hpp"

namespace kr::worker {

struct ZkillboardWorkerOptions {
    int concurrency = 1;
    int max_pages = 100;  ///< as the original: at most 100 pages (20,000 killmails) per character
};

class ZkillboardWorker final : public Worker {
public:
    /// `clock`: the published messages' queuedAt. Publishes what an earlier run recorded and did
    /// not publish (kr_entity_outbox, next pages); if that fails, the first delivery retries it.
    ZkillboardWorker(ZkillboardWorkerOptions options, store::Store& store, esi::EsiClient& esi, esi::ZkbClient& zkb,
                     Settler& settler, const Clock& clock, std::vector<Executor<store::Store>*> committers = {},
                     push::KillmailEvents& events = push::NoKillmailEvents::Instance());
    ~ZkillboardWorker() override;
    std::string Name() const override { return "worker:zkillboard"; }
    std::vector<std::string> Queues() const override;
    int Concurrency() const override { return options_.concurrency; }
    void Admit(std::vector<queue::Delivery> deliveries) override;
    void Pump(std::chrono::milliseconds wait) override;
    std::size_t Held() const override;
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
        bool relies_on_storing = false;           ///< skipped killmails a committer is storing now
        std::vector<Killmail> killmails;          ///< new ones, to store
        std::vector<std::string> unavailable;     ///< permanent ESI answers (404/422), rejected rows
        std::string transient;                    ///< first transient failure
        Referenced unseen;                        ///< referenced ids not seen by this worker yet
        std::optional<store::ZkbChainStep> step;  ///< a complete page's step on its chain
        // filled by Store()
        store::StoreKillmailsResult result;
        Referenced recorded;  ///< of unseen: recorded in kr_entity_outbox with the killmails stored
        Referenced missing;   ///< of recorded: not stored, not queued, not gone
        double fetch_ms = 0, esi_ms = 0, store_ms = 0;
    };
    void Process(const queue::Delivery& d);
    /// zKillboard page + ESI killmails; nullopt when the delivery is settled already (the end of
    /// the history, a stale page).
    std::optional<Page> Fetch(const queue::Delivery& d);
    /// Whether the page's chain no longer holds the character or already stored the page.
    bool IsStale(const Page& p);
    static void Store(store::Store& store, Page& p);
    /// After a refused page: stores `killmails` in halves, recursively; those refused alone are
    /// noted as rejected.
    static void StoreApart(store::Store& store, Page& p, std::span<const Killmail> killmails);
    /// Publishes what the page recorded, then settles the delivery.
    void Finish(Page& p);
    /// A committer and the page it stores.
    struct Storing {
        Executor<store::Store>* committer = nullptr;
        std::shared_ptr<Page> page;   ///< being stored (shared with the committer's job); null: idle
        std::unordered_set<Id> ids;   ///< its killmails: not fetched again for another page
        std::uint64_t submitted = 0;  ///< order of submission
    };
    /// Settles `s`'s page once stored (waiting at most `wait`); false if its store failed or it
    /// still runs.
    bool FinishStoring(Storing& s, std::chrono::milliseconds wait);
    /// Settles every page being stored, oldest first (each waited for at most `wait`); false if a
    /// store failed or one still runs.
    bool FinishStoringAll(std::chrono::milliseconds wait);
    /// An idle committer: settles the pages stored meanwhile, else waits for the oldest.
    Storing& IdleCommitter();
    /// The committer busy the longest, if any.
    Storing* Oldest();
    /// Whether a page being stored has killmail `id`.
    bool BeingStored(Id id) const;
    /// Publishes what earlier runs (or failed publishes) left in kr_entity_outbox and kr_zkb_sync.
    void Recover();

    ZkillboardWorkerOptions options_;
    store::Store& store_;
    esi::EsiClient& esi_;
    esi::ZkbClient& zkb_;
    Settler& settler_;
    const Clock& clock_;
    push::KillmailEvents& events_;
    std::vector<Storing> storing_;  ///< one per committer (none: pages are stored on this thread)
    std::uint64_t submitted_ = 0;
    std::int64_t stored_ = 0;
    /// Whether the outbox may hold what nobody publishes: at the start, after a failure.
    bool recover_ = true;
    /// Ids this worker published or found present, per kind (bounded): later pages of a history
    /// mostly reference the same corporations, alliances and types again.
    PerKind<std::unordered_set<Id>> seen_;
};

}  // namespace kr::worker
