#pragma once
// The one-shot queue scripts of the spec: they gather ids, publish them (confirmed) and exit.
#include <cstdint>
#include <vector>

#include "core/entity_kind.hpp"
#include "core/model.hpp"
#include "worker/runtime.hpp"

namespace kr::worker {

/// queue:alliances — every alliance id ESI lists (/alliances/) → esi_alliance_info_queue, in
/// batches of 100 (the info worker skips those still fresh).
std::size_t QueueAlliances(Runtime& rt);
/// queue:corporations — NPC corporations (/corporations/npccorps/) and every corporation the
/// database references (characters, victims, attackers) but does not hold; then stored
/// corporations whose ESI Expires passed, the longest expired first, at most `expired_limit`
/// (0 = all; the info worker revalidates them: a 304 when unchanged); and the corporations whose
/// alliance changed in the last affiliation sweep (a member's newer affiliation names another
/// alliance: Store::CorporationsWithNewerOtherAlliance), their rows made stale first so the info
/// worker fetches them — the sweep (queue:characters) queues them too, this catches the ones whose
/// fetch has not brought them up to date yet.
std::size_t QueueCorporations(Runtime& rt, std::size_t expired_limit = 0);
/// queue:character — every user's character → zkillboard_character_queue.
std::size_t QueueUserCharacters(Runtime& rt);
/// queue:zkillboard ID… — a sync job for each character id → zkillboard_character_queue.
std::size_t QueueZkillboard(Runtime& rt, const std::vector<Id>& character_ids);
/// queue:alliance-corporations — every alliance id in the database → esi_alliance_corporations_queue.
std::size_t QueueAllianceCorporations(Runtime& rt);

struct ScanReport {
    PerKind<std::size_t> queued;
    std::size_t Total() const {
        std::size_t n = 0;
        for (auto q : queued.values) n += q;
        return n;
    }
};
/// scan:entities — the characters (NPCs filtered), corporations, alliances, types and solar systems
/// killmails reference (every RefersTo column of the killmail tables) that the database lacks and
/// that are not already waiting in a queue → their kinds' queues (priority 5, source
/// "killmail_scan"; the solar systems' queue takes bare ids). Set-based SQL with keyset pagination: memory is
/// bounded by the page size whatever the database size. `progress` draws a progress line.
ScanReport ScanEntities(Runtime& rt, bool progress);

}  // namespace kr::worker
