// The EVE map as fake-esi serves it on ESI's /universe/ routes: regions, constellations and solar
// systems, generated from the seed and three sizes (small by default), and patchable at runtime
// the way a game patch changes it (a system renamed, a constellation moved to another region, a
// system added). Every patch is a new ESI server version (GET /status/'s server_version), as
// CCP's patches are.
//
// Ids as on Tranquility: k-space regions 10000001+, constellations 20000001+, systems 30000001+;
// the last region (when there are at least two) is wormhole space: 11000001, 21000001+, 31000001+.
// Edge cases: regions without description, systems without security_class (all of w-space and
// every 7th k-space one) or star_id (every 11th).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fakeesi {

struct GeographyParams {
    std::uint64_t seed = 42;
    int regions = 4;
    int constellations_per_region = 3;
    int systems_per_constellation = 4;
};

class Geography {
public:
    explicit Geography(GeographyParams p);

    // ---- ESI bodies (nullopt = 404) ------------------------------------------------------------
    std::optional<nlohmann::json> Region(std::int64_t id) const;
    std::optional<nlohmann::json> Constellation(std::int64_t id) const;
    std::optional<nlohmann::json> SolarSystem(std::int64_t id) const;
    nlohmann::json RegionIds() const;         // GET /universe/regions/
    nlohmann::json ConstellationIds() const;  // GET /universe/constellations/
    nlohmann::json SystemIds() const;         // GET /universe/systems/
    /// The name of a region, constellation or system (POST /universe/names/), with its category.
    std::optional<std::pair<std::string, std::string>> Name(std::int64_t id) const;

    /// A system of the generated map for a killmail: w-space or k-space, chosen by `draw`. Only
    /// generated systems (patches do not change which systems killmails name).
    std::int64_t PickSystem(bool wspace, std::uint64_t draw) const;

    // ---- patches (false: unknown id) -------------------------------------------------------------
    bool RenameSystem(std::int64_t system_id, const std::string& name);
    bool MoveConstellation(std::int64_t constellation_id, std::int64_t region_id);
    /// A new system in the constellation (the lists change); its id, or nullopt.
    std::optional<std::int64_t> AddSystem(std::int64_t constellation_id);
    std::string ServerVersion() const;
    std::uint64_t Patches() const;

private:
    struct RegionRow {
        std::string name;
        std::optional<std::string> description;
    };
    struct Position {
        double x = 0, y = 0, z = 0;
    };
    struct ConstellationRow {
        std::string name;
        std::int64_t region_id = 0;
        Position position;
    };
    struct SystemRow {
        std::string name;
        std::int64_t constellation_id = 0;
        double security_status = 0;
        std::optional<std::string> security_class;
        std::optional<std::int64_t> star_id;
        Position position;
    };
    void Patched();  // under the unique lock

    GeographyParams p_;
    std::vector<std::int64_t> kspace_systems_, wspace_systems_;  // generated, for killmails
    mutable std::shared_mutex mu_;
    std::map<std::int64_t, RegionRow> regions_;
    std::map<std::int64_t, ConstellationRow> constellations_;
    std::map<std::int64_t, SystemRow> systems_;
    std::uint64_t patches_ = 0;
};

}  // namespace fakeesi
