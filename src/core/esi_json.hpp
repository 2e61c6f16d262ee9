#pragma once
// Parsing of ESI and zKillboard JSON bodies into the domain model (core/model.hpp).
//
// Contract:
// - Every function throws kr::esi_json::ParseError on malformed JSON, a wrong value type, a
//   missing required field or a trailing garbage after the document. The caller decides what
//   that means (an ESI 200 with a bad body is usually transient; a stored message is permanent).
// - Fields ESI may leave out become std::nullopt; a JSON `null` is treated like an absent field.
// - Unknown fields are ignored (ESI adds fields over time).
// - Ids are int64 (ids above 2^31 are accepted).
// - Entities are parsed with nlohmann::json; killmails and zKillboard pages (the hot path) with
//   simdjson on-demand (a thread-local parser, so the functions are thread-safe).
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"

namespace kr::esi_json {

class ParseError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// GET /alliances/{id}/ (the id is not in the body, so the caller passes it).
Alliance ParseAlliance(Id id, std::string_view body);
/// GET /corporations/{id}/
Corporation ParseCorporation(Id id, std::string_view body);
/// GET /characters/{id}/
Character ParseCharacter(Id id, std::string_view body);
/// GET /universe/types/{id}/ (dogma attributes etc. are ignored)
Type ParseType(Id id, std::string_view body);

/// GET /universe/regions/{id}/ (the constellation list is ignored).
Region ParseRegion(Id id, std::string_view body);
/// GET /universe/constellations/{id}/ (the system list is ignored).
Constellation ParseConstellation(Id id, std::string_view body);
/// GET /universe/systems/{id}/ (planets, stargates, stations are ignored).
SolarSystem ParseSolarSystem(Id id, std::string_view body);

/// GET /killmails/{id}/{hash}/ — the hash is not in the body; pass it to fill killmail_hash.
/// Victim items keep their nesting (container contents in KillmailItem::items).
/// Value fields (total/destroyed/dropped) stay empty: they come from zKillboard.
Killmail ParseKillmail(std::string_view body, std::string_view hash = {});

/// A JSON array of ids (GET /alliances/, /alliances/{id}/corporations/, …).
std::vector<Id> ParseIdList(std::string_view body);

/// GET /status/'s server_version (a string; changes with every deployment of the game).
std::string ParseServerVersion(std::string_view body);

/// One element of a zKillboard API list page (/api/characterID/{id}/page/{p}/).
struct ZkbEntry {
    Id killmail_id = 0;
    Zkb zkb;
    /// Present when the element carries the full ESI killmail next to `zkb` (killmail_time,
    /// solar_system_id, victim, attackers, …): then killmail_hash and the values are filled
    /// from zkb and no ESI fetch is needed.
    std::optional<Killmail> killmail;
};

/// What a 2xx body is: a JSON array with elements, an empty one, or anything else (HTML, a
/// truncated body, an object). Validates the whole document without building it (on-demand).
enum class ArrayShape { kArray, kEmptyArray, kNotArray };
ArrayShape ClassifyArray(std::string_view body);

/// A zKillboard list page: a JSON array of {killmail_id, zkb{hash, totalValue, …}[, killmail…]}.
/// An empty array is valid (end of the history).
std::vector<ZkbEntry> ParseZkbPage(std::string_view body);

/// An R2Z2 file (GET /ephemeral/{sequence}.json): {killmail_id, hash, esi: {the ESI killmail},
/// zkb: {…}, uploaded_at, sequence_id[, sequence_updated]}. The killmail comes with its hash and
/// zKillboard's values (0 ESI requests); its id must be the package's.
struct R2z2Package {
    std::int64_t sequence_id = 0;
    /// This file announces that the killmail at that (earlier) sequence was updated.
    std::optional<std::int64_t> sequence_updated;
    Killmail killmail;
};
R2z2Package ParseR2z2Package(std::string_view body);

/// GET /ephemeral/sequence.json's {"sequence": N}.
std::int64_t ParseR2z2Sequence(std::string_view body);

}  // namespace kr::esi_json
