#include "worker/entity_kind.hpp"

#include "core/esi_json.hpp"
#include "queue/queue.hpp"

namespace kr::worker {

const KindTraits& Traits(store::EntityKind kind) {
    static const KindTraits kAlliance{store::EntityKind::kAlliance, queue::kAllianceInfo, "worker:info:alliances",
                                      "alliances", 3};
    static const KindTraits kCorporation{store::EntityKind::kCorporation, queue::kCorporationInfo,
                                         "worker:info:corporations", "corporations", 5};
    static const KindTraits kCharacter{store::EntityKind::kCharacter, queue::kCharacterInfo,
                                       "worker:info:characters", "characters", 10};
    static const KindTraits kType{store::EntityKind::kType, queue::kTypeInfo, "worker:info:types", "types", 10};
    switch (kind) {
        case store::EntityKind::kAlliance: return kAlliance;
        case store::EntityKind::kCorporation: return kCorporation;
        case store::EntityKind::kCharacter: return kCharacter;
        case store::EntityKind::kType: return kType;
    }
    return kType;
}

void AppendParsed(store::EntityKind kind, Id id, std::string_view body, store::EntityBatch& batch) {
    switch (kind) {
        case store::EntityKind::kAlliance: batch.alliances.push_back(esi_json::ParseAlliance(id, body)); break;
        case store::EntityKind::kCorporation:
            batch.corporations.push_back(esi_json::ParseCorporation(id, body));
            break;
        case store::EntityKind::kCharacter: batch.characters.push_back(esi_json::ParseCharacter(id, body)); break;
        case store::EntityKind::kType: batch.types.push_back(esi_json::ParseType(id, body)); break;
    }
}

bool ShouldFetch(store::EntityKind kind, Id id) {
    if (id <= 0) return false;
    if (kind == store::EntityKind::kCharacter) return !IsNpcCharacter(id);
    return true;
}

}  // namespace kr::worker
