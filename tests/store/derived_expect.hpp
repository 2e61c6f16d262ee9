#pragma once
// The derived tables (killmail_filters, *_kill_stats) as the reference's rules define them,
// computed in the test from the killmails given to the store and the universe rows the test
// stored — never with the store's SQL — and the same tables read back from a database, in one
// shape both backends print alike, for comparison.
#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/model.hpp"
#include "db/connection.hpp"
#include "store/sample_killmails.hpp"
#include "store/store.hpp"

namespace kr::store::testing {

struct FilterRow {
    std::string killmail_time;  ///< "YYYY-MM-DD HH:MM:SS"
    std::optional<Id> solar_system_id, attacker_count, constellation_id, region_id;
    std::optional<Id> victim_ship_type_id, victim_character_id, victim_corporation_id, victim_alliance_id;
    std::array<std::vector<Id>, 4> attacker_ids;  ///< ship types, characters, corporations, alliances
    std::optional<double> security_status;
    std::optional<std::string> security_class;
    bool operator==(const FilterRow&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const FilterRow& r) {
    const auto opt = [&](const std::optional<Id>& v) -> std::ostream& { return v ? (os << *v) : (os << "NULL"); };
    os << "{" << r.killmail_time << " sys=";
    opt(r.solar_system_id) << " n=";
    opt(r.attacker_count) << " con=";
    opt(r.constellation_id) << " reg=";
    opt(r.region_id) << " victim=";
    opt(r.victim_ship_type_id) << "/";
    opt(r.victim_character_id) << "/";
    opt(r.victim_corporation_id) << "/";
    opt(r.victim_alliance_id) << " arrays=";
    for (const auto& ids : r.attacker_ids) {
        os << "[";
        for (Id id : ids) os << id << " ";
        os << "]";
    }
    os << " sec=" << (r.security_status ? std::to_string(*r.security_status) : "NULL")
       << " class=" << r.security_class.value_or("NULL") << "}";
    return os;
}

/// A solar system as the test stored it in the universe tables.
struct SystemAt {
    Id constellation_id = 0;
    Id region_id = 0;
    double security_status = 0;
    std::optional<std::string> security_class;
};
using Universe = std::map<Id, SystemAt>;

/// (day "YYYY-MM-DD", entity id) → kill_count.
using KillStats = std::map<std::pair<std::string, Id>, std::int64_t>;

struct Derived {
    std::map<Id, FilterRow> filters;
    std::array<KillStats, 3> stats;  ///< characters, corporations, alliances
};

inline const std::array<std::string, 3>& StatsTables() {
    static const std::array<std::string, 3> t = {"character_kill_stats", "corporation_kill_stats",
                                                 "alliance_kill_stats"};
    return t;
}

/// "2024-02-24T18:39:19Z" / "2024-02-24 18:39:19" / "…19.000" → "2024-02-24 18:39:19".
inline std::string NormTime(std::string s) {
    for (auto& c : s) {
        if (c == 'T') c = ' ';
    }
    if (!s.empty() && s.back() == 'Z') s.pop_back();
    if (s.size() > 19) s.resize(19);
    return s;
}

/// What the rules give for `killmails` (each counted once, whatever its repeats in the list).
inline Derived Expect(const std::vector<Killmail>& killmails, const Universe& universe) {
    Derived out;
    for (const auto& km : killmails) {
        if (out.filters.count(km.killmail_id)) continue;
        FilterRow r;
        r.killmail_time = NormTime(km.killmail_time);
        r.solar_system_id = km.solar_system_id;
        r.attacker_count = static_cast<Id>(km.attackers.size());
        r.victim_ship_type_id = km.victim.ship_type_id;
        r.victim_character_id = km.victim.character_id;
        r.victim_corporation_id = km.victim.corporation_id;
        r.victim_alliance_id = km.victim.alliance_id;
        std::array<std::set<Id>, 4> sets;
        for (const auto& a : km.attackers) {
            const std::array<std::optional<Id>, 4> v = {a.ship_type_id, a.character_id, a.corporation_id,
                                                        a.alliance_id};
            for (std::size_t i = 0; i < 4; ++i) {
                if (v[i]) sets[i].insert(*v[i]);
            }
        }
        for (std::size_t i = 0; i < 4; ++i) r.attacker_ids[i].assign(sets[i].begin(), sets[i].end());
        if (auto it = universe.find(km.solar_system_id); it != universe.end()) {
            r.constellation_id = it->second.constellation_id;
            r.region_id = it->second.region_id;
            r.security_status = it->second.security_status;
            r.security_class = it->second.security_class;
        }
        const std::string day = r.killmail_time.substr(0, 10);
        for (std::size_t e = 0; e < 3; ++e) {
            for (Id id : sets[e + 1]) ++out.stats[e][{day, id}];  // characters, corporations, alliances
        }
        out.filters.emplace(km.killmail_id, std::move(r));
    }
    return out;
}

/// The ids of an array as either backend prints it ("{1,2}" / "[1,2]"), ascending (duplicates kept).
inline std::vector<Id> ParseIds(const std::string& text) {
    std::vector<Id> ids;
    std::string digits;
    for (char c : text + ",") {
        if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
            digits += c;
        } else if (!digits.empty()) {
            ids.push_back(std::stoll(digits));
            digits.clear();
        }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// The derived tables as stored.
inline Derived Actual(db::Connection& c) {
    Derived out;
    auto r = c.Exec(
        "SELECT killmail_id, killmail_time, solar_system_id, attacker_count, constellation_id, region_id, "
        "victim_ship_type_id, victim_character_id, victim_corporation_id, victim_alliance_id, attacker_ship_type_ids, "
        "attacker_character_ids, attacker_corporation_ids, attacker_alliance_ids, security_status, security_class "
        "FROM killmail_filters");
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        FilterRow f;
        f.killmail_time = NormTime(r.Text(i, 1));
        f.solar_system_id = r.OptInt(i, 2);
        f.attacker_count = r.OptInt(i, 3);
        f.constellation_id = r.OptInt(i, 4);
        f.region_id = r.OptInt(i, 5);
        f.victim_ship_type_id = r.OptInt(i, 6);
        f.victim_character_id = r.OptInt(i, 7);
        f.victim_corporation_id = r.OptInt(i, 8);
        f.victim_alliance_id = r.OptInt(i, 9);
        for (std::size_t a = 0; a < 4; ++a) f.attacker_ids[a] = ParseIds(r.OptText(i, 10 + a).value_or("NULL"));
        f.security_status = r.OptDouble(i, 14);
        f.security_class = r.OptText(i, 15);
        out.filters.emplace(r.Int(i, 0), std::move(f));
    }
    for (std::size_t e = 0; e < 3; ++e) {
        auto s = c.Exec("SELECT CAST(kill_date AS TEXT), " +
                        std::string(e == 0   ? "character_id"
                                    : e == 1 ? "corporation_id"
                                             : "alliance_id") +
                        ", kill_count FROM " + StatsTables()[e]);
        for (std::size_t i = 0; i < s.Rows(); ++i) out.stats[e][{s.Text(i, 0), s.Int(i, 1)}] = s.Int(i, 2);
    }
    return out;
}

/// Killmails whose attackers repeat ids and leave some out: the arrays and the counts must
/// deduplicate and skip NULLs. Days: 2025-01-02 (SyntheticKillmail) and 2025-01-03.
inline std::vector<Killmail> TrickyKillmails() {
    std::vector<Killmail> out;
    for (Id id : {900001, 900002, 900003}) {
        Killmail km = SyntheticKillmail(id);
        Attacker same = km.attackers.front();  // the same pilot twice (two rows, one count)
        same.final_blow = false;
        km.attackers.push_back(same);
        Attacker npc;  // only a faction and a ship: no character, corporation or alliance
        npc.faction_id = 500010;
        npc.ship_type_id = 11176;
        km.attackers.push_back(npc);
        Attacker allied;
        allied.character_id = 91000002 + id % 2;
        allied.corporation_id = 98000001;
        allied.alliance_id = 99000001;
        allied.ship_type_id = 17738;
        km.attackers.push_back(allied);
        if (id == 900003) {
            km.killmail_time = "2025-01-03T23:59:59Z";
            km.solar_system_id = 30000144;
            km.victim.alliance_id = 99000002;
        }
        out.push_back(km);
    }
    Killmail lonely = SyntheticKillmail(900004);  // no attackers at all
    lonely.attackers.clear();
    out.push_back(lonely);
    return out;
}

/// Stores a region, a constellation and the given systems (one batch) and returns them as the
/// test's truth.
inline Universe StoreUniverse(Store& store, const std::map<Id, std::optional<std::string>>& systems,
                              Id constellation_id = 20000020, Id region_id = 10000002) {
    EntityBatch batch;
    Region region;
    region.id = region_id;
    region.name = "Region " + std::to_string(region_id);
    Constellation constellation;
    constellation.id = constellation_id;
    constellation.name = "Constellation " + std::to_string(constellation_id);
    constellation.region_id = region_id;
    batch.entities.emplace_back(region);
    batch.entities.emplace_back(constellation);
    Universe truth;
    double security = 0.25;
    for (const auto& [id, security_class] : systems) {
        SolarSystem s;
        s.id = id;
        s.name = "System " + std::to_string(id);
        s.constellation_id = constellation_id;
        s.security_status = security;
        s.security_class = security_class;
        batch.entities.emplace_back(s);
        truth[id] = {constellation_id, region_id, security, security_class};
        security += 0.125;
    }
    store.ApplyEntityBatch(batch);
    return truth;
}

/// Compares and reports the first differences (gtest).
#define KR_EXPECT_DERIVED_EQ(actual, expected)                                                                     \
    do {                                                                                                           \
        const auto& kr_a = (actual);                                                                               \
        const auto& kr_e = (expected);                                                                             \
        EXPECT_EQ(kr_a.filters.size(), kr_e.filters.size()) << "killmail_filters rows";                            \
        for (const auto& [id, row] : kr_e.filters) {                                                               \
            auto it = kr_a.filters.find(id);                                                                       \
            if (it == kr_a.filters.end()) {                                                                        \
                ADD_FAILURE() << "no killmail_filters row for " << id;                                             \
                continue;                                                                                          \
            }                                                                                                      \
            EXPECT_EQ(it->second, row) << "killmail " << id;                                                       \
        }                                                                                                          \
        for (std::size_t e = 0; e < 3; ++e) {                                                                      \
            EXPECT_EQ(kr_a.stats[e].size(), kr_e.stats[e].size()) << StatsTables()[e] << " rows";                  \
            for (const auto& [key, n] : kr_e.stats[e]) {                                                           \
                auto it = kr_a.stats[e].find(key);                                                                 \
                EXPECT_TRUE(it != kr_a.stats[e].end() && it->second == n)                                          \
                    << StatsTables()[e] << " " << key.first << " " << key.second << ": expected " << n << ", got " \
                    << (it == kr_a.stats[e].end() ? std::string("none") : std::to_string(it->second));             \
            }                                                                                                      \
        }                                                                                                          \
    } while (false)

}  // namespace kr::store::testing
