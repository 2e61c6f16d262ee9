#pragma once
// `backfill --from DATE [--to DATE]`: the killmails of whole UTC days from zKillboard's per-day
// dumps (esi-and-zkillboard.md §3.4), for days the live feed no longer serves.
//   - /history/YYYYMMDD.json (killmail id → hash) lists the day; the killmails already stored are
//     left alone (a day run twice fetches and writes nothing twice: a re-run resumes).
//   - /history/raw/YYYYMMDD.json, where served, gives them whole: 0 ESI requests. Else each is
//     fetched from ESI (/killmails/{id}/{hash}/, within the killmail route group's budget); a
//     "CCP VERIFIED" hash cannot be fetched and is counted as unfetchable.
//   - Stored through Store::StoreKillmailPage in batches (set-based, derived tables included), the
//     ids they reference recorded in kr_entity_outbox in the same transaction and published to
//     the info queues after it (NPCs never); the new ids go to `events` after each commit.
// Without zkb values (the dumps carry none): total/destroyed/dropped values stay NULL.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/clock.hpp"
#include "esi/esi_client.hpp"
#include "esi/r2z2_client.hpp"
#include "push/killmail_events.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace kr::worker {

/// What one day's backfill did.
struct BackfillDay {
    std::string day;              ///< YYYYMMDD
    bool dumped = false;          ///< the day's index exists
    bool raw = false;             ///< its raw dump was served
    std::size_t listed = 0;       ///< killmails in the index
    std::size_t already = 0;      ///< stored before
    std::size_t stored = 0;       ///< new in the database
    std::size_t from_esi = 0;     ///< fetched from ESI
    std::size_t unfetchable = 0;  ///< "CCP VERIFIED" and not in a raw dump
    std::size_t failed = 0;       ///< ESI refused (404/422) or the body did not parse
};

class Backfill {
public:
    Backfill(store::Store& store, queue::Queue& queue, esi::R2z2Client& r2z2, esi::EsiClient& esi, const Clock& clock,
             push::KillmailEvents& events = push::NoKillmailEvents::Instance(), std::size_t batch = 2000);
    /// One UTC day ("YYYYMMDD"). Throws kr::TransientError when a dump or ESI cannot be reached
    /// (what was stored stays: the next run goes on from there).
    BackfillDay Day(const std::string& day);

    /// "YYYY-MM-DD" → the days from..to inclusive as "YYYYMMDD"; throws kr::FatalError when
    /// a date is not one or to < from.
    static std::vector<std::string> Days(const std::string& from, const std::string& to);

private:
    void Store(std::vector<Killmail>& batch, BackfillDay& d);

    store::Store& store_;
    queue::Queue& queue_;
    esi::R2z2Client& r2z2_;
    esi::EsiClient& esi_;
    const Clock& clock_;
    push::KillmailEvents& events_;
    std::size_t batch_;
};

}  // namespace kr::worker
