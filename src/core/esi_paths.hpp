#pragma once
// Canonical ESI paths (relative to ESI_BASE_URL, trailing slash, no version prefix; the
// compatibility date header selects the version). Also the keys of the HTTP cache table.
#include <string>

#include "core/entity_kind.hpp"

namespace kr::esi_paths {

inline std::string Alliances() { return "/alliances/"; }
inline std::string Alliance(Id id) { return EntityPath(EntityKind::kAlliance, id); }
inline std::string AllianceCorporations(Id id) { return "/alliances/" + std::to_string(id) + "/corporations/"; }
inline std::string Corporation(Id id) { return EntityPath(EntityKind::kCorporation, id); }
inline std::string NpcCorporations() { return "/corporations/npccorps/"; }
inline std::string Character(Id id) { return EntityPath(EntityKind::kCharacter, id); }
inline std::string Type(Id id) { return EntityPath(EntityKind::kType, id); }
inline std::string Killmail(Id id, const std::string& hash) {
    return "/killmails/" + std::to_string(id) + "/" + hash + "/";
}
inline std::string UniverseNames() { return "/universe/names/"; }
inline std::string CharacterAffiliation() { return "/characters/affiliation/"; }
inline std::string Status() { return "/status/"; }
/// zKillboard (relative to ZKILLBOARD_BASE_URL); the trailing slash is mandatory (403 without).
inline std::string ZkbCharacterPage(Id character_id, int page) {
    return "/characterID/" + std::to_string(character_id) + "/page/" + std::to_string(page) + "/";
}

}  // namespace kr::esi_paths
