#pragma once
// queue:characters: an affiliation sweep over characters — what changed is found at ESI's cheapest
// price and only that is fetched in full.
//
// Per page of ids (10 requests): POST /characters/affiliation/ with ≤ 1000 ids per request
// (esi::ResolveAffiliations: concurrent, through the shared budget, a batch ESI rejects split
// until the bad id is isolated); the answers written onto the stored characters in one
// set-based statement (Store::ApplyAffiliations; a biomassed character moves to Doomheim,
// 1000001, like any other change); then onto their queues, source "queue-characters":
// - esi_character_info_queue: the characters whose affiliation changed, those stored longer ago
//   than KILLREPORT_MAX_AGE (by their cache row's check time; none without it) and the given ids
//   that are not stored — their cache rows made stale first so that the info worker asks ESI;
// - esi_corporation_info_queue / esi_alliance_info_queue: corporations and alliances the answers
//   name that are not stored (nor pending, nor known missing), and stored corporations whose
//   alliance the answers show changed (cache rows made stale as well).
// An id ESI rejects is recorded as a 404 on its character path (kr_http_cache) for
// `rejected_ttl_ms` and not asked again until then (nor fetched by the info worker).
#include <cstdint>
#include <vector>

#include "core/model.hpp"
#include "worker/runtime.hpp"

namespace kr::worker {

struct AffiliationSweepOptions {
    std::int64_t max_age_ms = 0;  ///< KILLREPORT_MAX_AGE; 0 = only changed characters are refetched
    std::int64_t rejected_ttl_ms = 3LL * 24 * 3600 * 1000;
    std::size_t page = 10000;  ///< ids per page (memory bound; its requests run concurrently)
    std::uint8_t priority = 0;
};

struct AffiliationSweepReport {
    std::size_t characters = 0;  ///< ids swept (NPC ids left out)
    std::size_t known_bad = 0;   ///< not asked: rejected before, not expired
    std::size_t answered = 0;    ///< affiliations ESI gave
    std::size_t changed = 0;     ///< stored characters whose affiliation changed
    std::size_t rejected = 0;    ///< ids ESI rejected now (recorded)
    std::size_t failed = 0;      ///< ids whose request failed for now (asked again next sweep)
    std::size_t characters_queued = 0;
    std::size_t corporations_queued = 0;
    std::size_t alliances_queued = 0;
    std::size_t Published() const { return characters_queued + corporations_queued + alliances_queued; }
};

/// Sweeps `ids` (none: every stored character, keyset-paged).
AffiliationSweepReport SweepAffiliations(Runtime& rt, const std::vector<Id>& ids,
                                         const AffiliationSweepOptions& options);

}  // namespace kr::worker
