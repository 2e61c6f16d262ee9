#pragma once
// What we know about one ESI path without its body: a row of kr_http_cache. The ESI client
// revalidates with it (If-None-Match), the info workers decide from it whether to ask at all, and
// the store keeps it next to the entity, in the entity's transaction. One type from the table to
// the wire.
#include <cstdint>
#include <optional>
#include <string>

#include "core/entity_kind.hpp"

namespace kr {

struct CacheEntry {
    std::string path;                          ///< canonical ESI path (core/esi_paths.hpp)
    std::optional<std::string> etag;           ///< sent back verbatim as If-None-Match
    std::optional<std::string> last_modified;  ///< the Last-Modified header as received
    std::int64_t expires_at_ms = 0;            ///< unix ms; until then the path is not re-fetched
    int status = 200;                          ///< last definitive status: 200, 404, …
    std::int64_t checked_at_ms = 0;            ///< unix ms of the last request (0 = now)
    /// The entity the path describes (entity paths only): lets the scan skip unexpired 404s
    /// without parsing paths.
    std::optional<EntityKind> entity_kind;
    Id entity_id = 0;

    bool FreshAt(std::int64_t now_ms) const { return expires_at_ms > now_ms; }
    bool operator==(const CacheEntry&) const = default;
};

/// An empty entry for an entity's path, with its kind and id filled in.
inline CacheEntry EntityCacheEntry(EntityKind kind, Id id) {
    CacheEntry e;
    e.path = EntityPath(kind, id);
    e.entity_kind = kind;
    e.entity_id = id;
    return e;
}

}  // namespace kr
