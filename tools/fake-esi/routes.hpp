// Request classification for fake-esi: which service a path belongs to (ESI, zKillboard,
// admin), which route inside it, and the route names and status slots that the stats and the
// fault scopes use.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fakeesi {

enum Route : int {
    kAlliancesList,
    kAlliance,
    kAllianceCorps,
    kCorporation,
    kNpcCorps,
    kCharacter,
    kType,
    kKillmail,
    kStatus,
    kNames,
    kAffiliation,
    kRegionsList,
    kRegion,
    kConstellationsList,
    kConstellation,
    kSystemsList,
    kSystem,
    kEsiUnknown,
    kZkbCharacter,
    kZkbKill,
    kZkbUnknown,
    kR2z2Sequence,
    kR2z2Kill,
    kR2z2History,     // /history/totals.json, /history/YYYYMMDD.json
    kR2z2HistoryRaw,  // /history/raw/YYYYMMDD.json
    kR2z2Unknown,
    kAdmin,
    kRouteCount
};

// The route's name in the stats JSON and in FaultConfig::scope ("alliances", "killmail", ...).
const char* RouteName(int route);
bool IsZkb(int route);

// Responses are counted per route and status slot: the usual statuses, then "other".
inline constexpr std::array<int, 12> kStatusCodes = {200, 304, 400, 403, 404, 420, 422, 429, 500, 502, 503, 504};
inline constexpr int kStatusSlots = static_cast<int>(kStatusCodes.size()) + 1;  // + "other"
int StatusSlot(int status);
std::string StatusSlotName(int slot);  // "200" ... "504", "other"

inline constexpr std::string_view kAdminPrefix = "/_admin";
inline constexpr std::string_view kZkbPrefix = "/zkb/api";
inline constexpr std::string_view kR2z2Prefix = "/r2z2";

enum class Service { kEsi, kZkb, kR2z2, kAdmin };
Service ServiceOf(std::string_view path);  // by prefix; everything else is ESI

struct EsiRoute {
    int route = kEsiUnknown;
    std::int64_t id = 0;
    std::string hash;
    std::string key;  // canonical path: version prefix and duplicate/missing slashes removed
};
// Classifies an ESI path; POST only knows /universe/names/ and /characters/affiliation/.
EsiRoute MatchEsi(std::string_view path, bool post);

struct ZkbRoute {
    int route = kZkbUnknown;
    std::string_view rest;              // the path after /zkb/api (views into the path)
    std::vector<std::string_view> seg;  // its segments
};
// Classifies a /zkb/api path by its first segment (characterID, killID).
ZkbRoute MatchZkb(std::string_view path);

}  // namespace fakeesi
