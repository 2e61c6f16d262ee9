#pragma once
// worker:redisq (the original's name): new killmails from zKillboard's live feed R2Z2, for 0 ESI
// requests. Not a queue consumer: one loop that polls the feed while it holds it.
//   - The cursor (kr_live_cursor) is the next sequence to fetch. It is held by one process at a
//     time (HoldLiveCursor, renewed with every step and at least every hold/3): a second process
//     waits, saying who holds the feed and until when, and takes over when the hold expires — at
//     once when the holder was a process of this host that is gone (kill -9, then a restart).
//   - Start: the stored cursor; none (or --from-now): /ephemeral/sequence.json; --from SEQ.
//   - Catching up (the rate limit off), the files after N are asked for ahead, a bounded window
//     of concurrent requests (R2z2Client::FetchSequenceFileAhead), answered in sequence order and
//     stored in batches of up to `batch` sequences per transaction; at the head, one request per
//     poll (a 404 drops the window).
//   - GET /ephemeral/{N}.json: 200 → the killmail (victim, attackers, nested items from its
//     inline `esi` object, values from `zkb`) is stored and the cursor moved to N+1 in ONE
//     transaction (Store::StoreLivePage, the killmail-page write path of worker:zkillboard); the
//     ids it references that this process has not seen go into kr_entity_outbox in the same
//     transaction and, after the commit, those the database lacks are published to the info
//     queues (NPCs never) and cleared. A killmail already stored is not written again.
//     `sequence_updated: M` → the file at M is fetched again and the stored killmail's values
//     rewritten in the same transaction (with the announcing file's values if M expired).
//     404 → nothing new at N: the same N after head_wait (≥ 6 s). 429 / 403 → R2z2Client paused
//     the shared key as told; a 403 (a ban) is logged once and noted in the cursor row (`status`).
//     Anything else (transport errors, 5xx, a body that does not parse, the database away) →
//     the same N again after a backoff: a killmail is never skipped.
//   - A gap (the process was away longer than R2Z2 keeps its files, about a day): detected, not
//     guessed, at the first 404 of a process — sequence.json is asked once; if it is ≥ the cursor
//     N, N was uploaded (sequences are contiguous) and is gone: expired. The oldest sequence still
//     served, O, is found by bisection between N and sequence.json; the UTC days from the day of
//     O's killmail backwards are filled from zKillboard's history dumps (worker/backfill.hpp: raw
//     dumps, else the index + ESI) until a day with nothing missing (or not dumped, or
//     kMaxGapDays); then the cursor moves to O and live polling goes on. `status` shows the gap
//     and the day being repaired (the cursor's note). A crash meanwhile repeats the repair on the
//     next start (the cursor only moves at its end; what was stored is skipped).
//   - kill -9 at any moment: the cursor and the killmail are one commit, so a restart resumes at
//     the first sequence not stored (after the dead process's hold expires): no gap, no duplicate.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/clock.hpp"
#include "esi/r2z2_client.hpp"
#include "push/killmail_events.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"
#include "worker/backfill.hpp"
#include "worker/executor.hpp"
#include "worker/publisher.hpp"
#include "worker/worker_stats.hpp"

namespace kr::worker {

struct LiveWorkerOptions {
    std::string feed = "r2z2";
    std::string holder;                         ///< this process (LiveHolderName())
    std::optional<std::int64_t> from;           ///< --from SEQ: start there, whatever is stored
    bool from_now = false;                      ///< --from-now: start at sequence.json, whatever is stored
    std::chrono::milliseconds head_wait{6000};  ///< between polls of a sequence not there yet
    std::chrono::milliseconds hold{30000};      ///< a hold not renewed for this long expires
    std::chrono::milliseconds backoff_cap{60000};
    std::size_t batch = 500;  ///< sequences per transaction while catching up (item 7's rate)
};

/// "host:pid": who holds the feed, as `status` shows it.
std::string LiveHolderName();

class LiveWorker {
public:
    /// `events` hears of each killmail new in a commit, after it. With a `committer` (an Executor
    /// with a store connection of its own; PostgreSQL), a full batch commits there while the next
    /// one is fetched; its outcome is collected before the next batch is handed over, before the
    /// hold is renewed, before any wait, and at the end of Run; a batch's ids are published while
    /// the next one commits.
    LiveWorker(LiveWorkerOptions options, store::Store& store, queue::Queue& queue, esi::R2z2Client& r2z2,
               const Clock& clock, push::KillmailEvents& events = push::NoKillmailEvents::Instance(),
               Backfill* gap_repair = nullptr, Executor<store::Store>* committer = nullptr);

    /// What one Poll did.
    enum class Step { kStored, kAtHead, kHeldElsewhere, kPaused, kFailed };

    /// Polls until `stop` (the waits end on it through the client's stop token); lets go of the
    /// feed at the end. `idle` (optional) is true while there is nothing to fetch now (the feed at
    /// its head, held elsewhere, or failing) and nothing left to publish. Rethrows kr::FatalError.
    void Run(std::stop_token stop, std::atomic<bool>* idle = nullptr);
    /// One step: hold the feed, fetch the sequence it stands at, store it; waits as the answer says.
    Step Poll();

    std::int64_t KillmailsStored() const { return counters_.created.load(); }
    std::int64_t Published() const { return counters_.published.load(); }
    /// What `status` (kr_worker_status) and /metrics read while it runs, from other threads:
    /// processed = sequences stored, created = killmails new to the database, published = ids
    /// put on the info queues, the last error a step failed with.
    const WorkerCounters& Counters() const { return counters_; }
    /// The next sequence to fetch (0 until the feed is held and started).
    std::int64_t Cursor() const { return cursor_seen_.load(std::memory_order_relaxed); }

private:
    /// One batch: sequences [from, to) and what goes into their transaction.
    struct Commit {
        std::int64_t from = 0;
        std::int64_t to = 0;
        std::vector<Killmail> killmails;
        std::vector<Killmail> revalued;
        Referenced unseen;
        store::StoreKillmailsResult result;
    };
    store::LiveCursorStep StepOf(const Commit& c) const;
    /// Waits for the batch on the committer and hands it back (nullptr: none), or rethrows its error
    /// with the cursor back at its first sequence.
    std::unique_ptr<Commit> CollectCommit();
    /// CollectCommit, then Committed.
    void DrainCommit();
    /// After a batch's commit: events, counters, the ids published.
    void Committed(const Commit& c);
    /// Takes or renews the hold; false when another process holds the feed (waited a while).
    bool Hold();
    /// Sets the start (--from, --from-now, or a feed never started) once the feed is held.
    bool Start();
    Step Fetch(std::int64_t sequence);
    /// Parses the file of `sequence` into `killmails` (and, for sequence_updated, the killmail's
    /// new values into `revalued`); kr::TransientError when it (or the updated file) is unusable.
    void AddPackage(std::int64_t sequence, const std::string& body, std::vector<Killmail>& killmails,
                    std::vector<Killmail>& revalued);
    /// Publishes what the step recorded and the database lacks, then clears it.
    void Publish(const Referenced& recorded);
    void Backoff();
    /// At a 404 for `sequence`: whether it expired (see above); if so the gap is repaired and the
    /// cursor moved to the oldest sequence served. False: the head, nothing to repair.
    bool RepairGap(std::int64_t sequence);
    /// Every 5 s in which killmails were stored: one info line (how many, where the feed stands).
    void Summary(Step step);

    LiveWorkerOptions options_;
    store::Store& store_;
    queue::Queue& queue_;
    esi::R2z2Client& r2z2_;
    const Clock& clock_;
    push::KillmailEvents& events_;
    Backfill* gap_repair_;
    Executor<store::Store>* committer_;
    std::unique_ptr<Commit> pending_;  ///< submitted to committer_, not collected yet
    bool gap_checked_ = false;
    bool head_next_ = false;  ///< the last batch ended on a 404: wait before asking again  ///< the first 404 of this
                              ///< process was looked at
    bool held_ = false;
    bool started_ = false;
    std::int64_t cursor_ = 0;
    std::int64_t renew_at_ms_ = 0;
    std::string waiting_for_;  ///< the other holder we logged about
    bool banned_noted_ = false;
    bool recover_ = true;  ///< the outbox may hold what nobody published
    int failures_ = 0;
    WorkerCounters counters_;
    std::atomic<std::int64_t> cursor_seen_{0};  ///< cursor_ for other threads
    std::int64_t summary_at_ms_ = 0;
    std::int64_t summary_stored_ = 0;
    std::int64_t summary_seen_ = 0;  ///< sequences stored (new or not) since the last summary
    PerKind<std::unordered_set<Id>> seen_;
};

}  // namespace kr::worker
