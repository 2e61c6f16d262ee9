#pragma once
// Static data (the universe: regions, constellations, solar systems — the registry's static_data
// kinds) comes from ESI's id lists and changes only with game patches. Two ways in, both through
// the kind's queue and info worker (conditional requests, the shared budget):
//
//   queue:regions / queue:constellations / queue:solar-systems [ID…] — the original's scripts:
//     the given ids, or every id of ESI's list, onto the kind's queue (bare ids, as the original).
//   `run` — SyncStaticData at start and then periodically: nothing at all until a list's check is
//     due (KILLREPORT_UNIVERSE_CHECK, a day); then GET /status/ (ESI's server version) and each
//     list with If-None-Match. A list is swept (its ids queued) when it was never swept, when it
//     changed (200: ids added or removed), or when the server version changed since its last
//     sweep (a patch: names and places change without the list changing; the stored ids are
//     queued then). A list ESI still serves from its cache (Expires not reached) after a patch is
//     looked at again at the next call (`run`: every ten minutes) until that cache has turned
//     over: before it, ESI would answer with the data from before the patch.
//     Every per-id request of a sweep is conditional: unchanged entities cost a 304.
//
// Where each list stands is kept in kr_list_sweeps, with the list's ETag (kr_http_cache), written
// after the ids are published: a sweep interrupted before that is repeated, never lost. The last
// answer of /status/ is kept there too (its row, until its Expires): it is asked once, not once per
// list or script.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/entity_kind.hpp"
#include "worker/runtime.hpp"

namespace kr::worker {

/// What a sync or a queue script did, per kind.
struct SweepReport {
    PerKind<std::size_t> queued;
    PerKind<std::string> why;  ///< "" = not swept; "first sweep", "the list changed", …
    bool checked = false;      ///< whether ESI was asked at all
    std::size_t Total() const {
        std::size_t n = 0;
        for (auto q : queued.values) n += q;
        return n;
    }
};

/// queue:<kind> [ids…] for a static-data kind: the given ids, or (none given) every id of ESI's
/// list (asked with If-None-Match; unchanged since the last sweep: the stored ids, which are the
/// list's), onto the kind's queue, marked pending; a sweep of the list is recorded. Returns how
/// many were published.
std::size_t QueueListed(Runtime& rt, EntityKind kind, const std::vector<Id>& ids = {});

struct StaticSyncOptions {
    std::chrono::seconds check_interval{std::chrono::hours(24)};  ///< KILLREPORT_UNIVERSE_CHECK
};

/// `run`'s sync of every static-data kind, in registry order (parents first). Returns at once,
/// without a request, when no list was looked at less than check_interval ago. A list ESI does not answer is skipped
/// (logged; looked at again at the next call).
SweepReport SyncStaticData(Runtime& rt, const StaticSyncOptions& options = {});

}  // namespace kr::worker
