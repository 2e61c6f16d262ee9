#include "routes.hpp"

#include "http_util.hpp"

namespace fakeesi {
namespace {

const char* const kRouteNames[kRouteCount] = {"alliances",
                                              "alliance",
                                              "alliance_corporations",
                                              "corporation",
                                              "npccorps",
                                              "character",
                                              "type",
                                              "killmail",
                                              "status",
                                              "universe_names",
                                              "character_affiliation",
                                              "regions",
                                              "region",
                                              "constellations",
                                              "constellation",
                                              "systems",
                                              "system",
                                              "esi_unknown",
                                              "zkb_character",
                                              "zkb_killmail",
                                              "zkb_unknown",
                                              "r2z2_sequence",
                                              "r2z2_killmail",
                                              "r2z2_history",
                                              "r2z2_history_raw",
                                              "r2z2_unknown",
                                              "admin"};

}  // namespace

const char* RouteName(int route) { return kRouteNames[route]; }

bool IsZkb(int r) { return r >= kZkbCharacter && r <= kZkbUnknown; }

int StatusSlot(int s) {
    for (std::size_t i = 0; i < kStatusCodes.size(); ++i)
        if (kStatusCodes[i] == s) return static_cast<int>(i);
    return kStatusSlots - 1;
}

std::string StatusSlotName(int slot) {
    return slot < kStatusSlots - 1 ? std::to_string(kStatusCodes[static_cast<std::size_t>(slot)]) : "other";
}

Service ServiceOf(std::string_view path) {
    if (path.substr(0, kAdminPrefix.size()) == kAdminPrefix) return Service::kAdmin;
    if (path.substr(0, kZkbPrefix.size()) == kZkbPrefix) return Service::kZkb;
    if (path.substr(0, kR2z2Prefix.size()) == kR2z2Prefix) return Service::kR2z2;
    return Service::kEsi;
}

EsiRoute MatchEsi(std::string_view path, bool post) {
    static const char* const kPrefixes[] = {"/latest/", "/legacy/", "/dev/", "/v1/", "/v2/",
                                            "/v3/",     "/v4/",     "/v5/",  "/v6/", "/v7/"};
    for (const char* p : kPrefixes) {
        std::string_view pv(p);
        if (path.substr(0, pv.size()) == pv) {
            path.remove_prefix(pv.size() - 1);
            break;
        }
    }
    auto seg = Split(path);
    EsiRoute r;
    r.key.push_back('/');  // not r.key = "/": GCC 12 gives a false -Wrestrict warning there
    for (auto s : seg) {
        r.key.append(s);
        r.key.push_back('/');
    }
    const std::size_t n = seg.size();
    auto id_at = [&](std::size_t i) { return ParseId(seg[i], r.id); };
    if (post) {
        if (n == 2 && seg[0] == "universe" && seg[1] == "names")
            r.route = kNames;
        else if (n == 2 && seg[0] == "characters" && seg[1] == "affiliation")
            r.route = kAffiliation;
        return r;
    }
    if (n == 1 && seg[0] == "alliances")
        r.route = kAlliancesList;
    else if (n == 1 && seg[0] == "status")
        r.route = kStatus;
    else if (n == 2 && seg[0] == "alliances" && id_at(1))
        r.route = kAlliance;
    else if (n == 3 && seg[0] == "alliances" && seg[2] == "corporations" && id_at(1))
        r.route = kAllianceCorps;
    else if (n == 2 && seg[0] == "corporations" && seg[1] == "npccorps")
        r.route = kNpcCorps;
    else if (n == 2 && seg[0] == "corporations" && id_at(1))
        r.route = kCorporation;
    else if (n == 2 && seg[0] == "characters" && id_at(1))
        r.route = kCharacter;
    else if (n == 3 && seg[0] == "universe" && seg[1] == "types" && id_at(2))
        r.route = kType;
    else if (n >= 2 && n <= 3 && seg[0] == "universe" &&
             (seg[1] == "regions" || seg[1] == "constellations" || seg[1] == "systems")) {
        const int list = seg[1] == "regions"          ? kRegionsList
                         : seg[1] == "constellations" ? kConstellationsList
                                                      : kSystemsList;
        if (n == 2) {
            r.route = list;
        } else if (id_at(2)) {
            r.route = list + 1;  // the entity route follows its list's
        }
    } else if (n == 3 && seg[0] == "killmails" && id_at(1)) {
        r.route = kKillmail;
        r.hash = std::string(seg[2]);
    }
    return r;
}

ZkbRoute MatchZkb(std::string_view path) {
    ZkbRoute r;
    r.rest = path.substr(kZkbPrefix.size());
    r.seg = Split(r.rest);
    if (!r.seg.empty() && r.seg[0] == "characterID") r.route = kZkbCharacter;
    if (!r.seg.empty() && r.seg[0] == "killID") r.route = kZkbKill;
    return r;
}

}  // namespace fakeesi
