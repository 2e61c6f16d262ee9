#pragma once
// Publishing entity ids onto the original's queues, in confirmed batches.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/model.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace kr::worker {

/// Publishes {"entityId", "queuedAt", "source"} (or, kBareId, the id alone) for every id to
/// `queue_name` in batches of `batch` (each confirmed before the next; queuedAt is the clock's time
/// at the batch's start). Returns how many were published.
std::size_t PublishIds(queue::Queue& q, const Clock& clock, const std::string& queue_name, const std::vector<Id>& ids,
                       std::uint8_t priority, const std::string& source, std::size_t batch = 1000,
                       MessageFormat format = MessageFormat::kEntityJson);
/// The same onto the queue of `kind`, in its message format.
std::size_t PublishIds(queue::Queue& q, const Clock& clock, kr::EntityKind kind, const std::vector<Id>& ids,
                       std::uint8_t priority, const std::string& source, std::size_t batch = 1000);

/// PublishIds onto the queue of `kind`; the ids are then marked pending in the store so that
/// scan:entities does not queue them again while they wait.
std::size_t PublishEntities(queue::Queue& q, store::Store& store, const Clock& clock, kr::EntityKind kind,
                            const std::vector<Id>& ids, std::uint8_t priority, const std::string& source,
                            std::size_t batch = 1000);

/// Ids referenced by killmails, by kind: those ESI is asked about (ShouldFetch), sorted, unique.
using Referenced = PerKind<std::vector<Id>>;
Referenced ReferencedBy(std::span<const Killmail> killmails);
inline Referenced ReferencedBy(const std::vector<Killmail>& killmails) {
    return ReferencedBy(std::span<const Killmail>(killmails));
}

/// Publishes everything in kr_entity_outbox (what a crash, or a failed publish, left there after
/// Store::StoreKillmailPage recorded it), in pages of `batch` per kind: the ids FilterMissing
/// keeps through PublishEntities, then the page's ids cleared. Returns how many were published.
std::size_t PublishOutbox(queue::Queue& q, store::Store& store, const Clock& clock, std::uint8_t priority,
                          const std::string& source, std::size_t batch = 10000);

}  // namespace kr::worker
