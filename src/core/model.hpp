#pragma once
// Domain model: what ESI returns for the entities and killmails we store. IDs are 64-bit
// everywhere in C++. std::optional marks fields ESI may leave out: an absent field is stored as
// NULL (never "left unchanged", unlike the original).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kr {

using Id = std::int64_t;

/// Times are kept as ESI sends them, ISO 8601 UTC ("2016-06-26T21:00:00Z"); the stores convert.
using IsoTime = std::string;

/// A character's corporation, alliance and faction (POST /characters/affiliation/ answers a list).
struct CharacterAffiliation {
    Id character_id = 0;
    Id corporation_id = 0;
    std::optional<Id> alliance_id;
    std::optional<Id> faction_id;
    bool operator==(const CharacterAffiliation&) const = default;
};

struct Alliance {
    Id id = 0;
    std::string name;
    std::string ticker;
    IsoTime date_founded;
    Id creator_corporation_id = 0;
    Id creator_id = 0;
    std::optional<Id> executor_corporation_id;
    std::optional<Id> faction_id;
};

struct Corporation {
    Id id = 0;
    std::string name;
    std::string ticker;
    std::int64_t member_count = 0;
    Id ceo_id = 0;
    Id creator_id = 0;
    std::optional<IsoTime> date_founded;
    std::optional<std::string> description;
    std::optional<Id> alliance_id;
    std::optional<Id> faction_id;
    std::optional<Id> home_station_id;
    std::optional<std::int64_t> shares;
    double tax_rate = 0;
    std::optional<std::string> url;
};

struct Character {
    Id id = 0;
    std::string name;
    Id corporation_id = 0;
    std::optional<Id> alliance_id;
    IsoTime birthday;
    Id bloodline_id = 0;
    Id race_id = 0;
    std::string gender;
    std::optional<double> security_status;
    std::optional<std::string> description;
    std::optional<std::string> title;
    std::optional<Id> faction_id;
};

struct Type {
    Id id = 0;
    std::string name;
    std::string description;
    Id group_id = 0;
    bool published = true;
    std::optional<double> volume;
    std::optional<double> capacity;
    std::optional<double> mass;
    std::optional<Id> icon_id;
};

/// GET /universe/regions/{id}/ (the constellation list is not kept: constellations name their region).
struct Region {
    Id id = 0;
    std::string name;
    std::optional<std::string> description;
};

struct Position {
    double x = 0, y = 0, z = 0;
};

/// GET /universe/constellations/{id}/ (the system list is not kept: systems name their constellation).
struct Constellation {
    Id id = 0;
    std::string name;
    Id region_id = 0;
    Position position;
};

/// GET /universe/systems/{id}/ (planets, stargates and stations are not kept).
struct SolarSystem {
    Id id = 0;
    std::string name;
    Id constellation_id = 0;
    double security_status = 0;
    std::optional<std::string> security_class;  ///< absent for some systems (Thera, most of w-space)
    std::optional<Id> star_id;
    Position position;
};

struct KillmailItem {
    Id item_type_id = 0;
    std::int64_t flag = 0;
    std::optional<std::int64_t> quantity_dropped;
    std::optional<std::int64_t> quantity_destroyed;
    std::int64_t singleton = 0;
    std::vector<KillmailItem> items;  ///< contents of a container (nested items)
};

struct Victim {
    std::optional<Id> character_id;  ///< absent for structures
    std::optional<Id> corporation_id;
    std::optional<Id> alliance_id;
    std::optional<Id> faction_id;
    Id ship_type_id = 0;
    std::int64_t damage_taken = 0;
    std::optional<Position> position;
    std::vector<KillmailItem> items;
};

struct Attacker {
    std::optional<Id> character_id;
    std::optional<Id> corporation_id;
    std::optional<Id> alliance_id;
    std::optional<Id> faction_id;
    std::optional<Id> ship_type_id;
    std::optional<Id> weapon_type_id;
    std::int64_t damage_done = 0;
    bool final_blow = false;
    std::optional<double> security_status;
};

/// zKillboard's `zkb` block (only what we keep).
struct Zkb {
    std::string hash;
    std::optional<double> total_value;
    std::optional<double> destroyed_value;
    std::optional<double> dropped_value;
};

struct Killmail {
    Id killmail_id = 0;
    std::string killmail_hash;
    IsoTime killmail_time;
    Id solar_system_id = 0;
    std::optional<Id> moon_id;
    std::optional<Id> war_id;
    Victim victim;
    std::vector<Attacker> attackers;
    std::optional<double> total_value;
    std::optional<double> destroyed_value;
    std::optional<double> dropped_value;
};

}  // namespace kr
