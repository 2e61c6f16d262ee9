#pragma once
// What differs between the four info workers: queue, ESI path, parser, default concurrency.
#include <string>
#include <string_view>

#include "core/model.hpp"
#include "store/store.hpp"

namespace kr::worker {

struct KindTraits {
    store::EntityKind kind;
    const char* queue;            ///< the original's queue name
    const char* command;          ///< "worker:info:alliances", …
    const char* label;            ///< "alliances", … (log lines)
    int default_concurrency;      ///< the spec's table
};

const KindTraits& Traits(store::EntityKind kind);

/// Parses a 200 body of the entity's ESI route and appends it to the batch (throws
/// esi_json::ParseError on a bad body).
void AppendParsed(store::EntityKind kind, Id id, std::string_view body, store::EntityBatch& batch);

/// Whether ESI is ever asked about this id (NPC characters never are).
bool ShouldFetch(store::EntityKind kind, Id id);

}  // namespace kr::worker
