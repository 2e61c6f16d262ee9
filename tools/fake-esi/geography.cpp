#include "geography.hpp"

#include <algorithm>
#include <mutex>

#include "universe.hpp"

namespace fakeesi {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kBaseServerVersion = 2964217;

const char* const kSyllables[] = {"ja", "ta", "ki", "mo", "to", "ro", "ne", "su", "ha", "ku",
                                  "ri", "ve", "lo", "da", "ne", "mi", "sa", "ko", "ur", "an"};

std::string Word(Rng& r, int syllables) {
    std::string s;
    for (int i = 0; i < syllables; ++i) s += kSyllables[r.Below(20)];
    s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

/// Null-sec style: "4-HWWF".
std::string Designation(Rng& r) {
    std::string s(1, static_cast<char>('0' + r.Below(10)));
    s += '-';
    for (int i = 0; i < 4; ++i) s += static_cast<char>('A' + r.Below(26));
    return s;
}

std::string Padded(std::int64_t v, int width) {
    std::string s = std::to_string(v);
    return std::string(static_cast<std::size_t>(std::max(0, width - static_cast<int>(s.size()))), '0') + s;
}

double Coordinate(Rng& r) { return (r.Unit() * 2 - 1) * 1e17; }

json PositionJson(double x, double y, double z) { return json{{"x", x}, {"y", y}, {"z", z}}; }

}  // namespace

Geography::Geography(GeographyParams p) : p_(p) {
    const int regions = std::max(1, p_.regions);
    const int per_region = std::max(1, p_.constellations_per_region);
    const int per_constellation = std::max(1, p_.systems_per_constellation);
    std::int64_t k_const = 0, w_const = 0, k_sys = 0, w_sys = 0;
    static const char* const kClasses[] = {"A", "B", "B1", "C", "C1", "D", "E", "F", "G", "H"};
    for (int r = 0; r < regions; ++r) {
        const bool wspace = regions >= 2 && r == regions - 1;
        Rng rr(p_.seed, 400, static_cast<std::uint64_t>(r));
        const std::int64_t region_id = wspace ? 11000001 : 10000001 + r;
        RegionRow region;
        region.name = wspace ? "A-R" + Padded(r + 1, 5) : Word(rr, 2) + " " + Word(rr, 1);
        if (!wspace && r % 3 != 2) region.description = "The " + region.name + " region, as a patch left it.";
        regions_[region_id] = region;
        for (int c = 0; c < per_region; ++c) {
            const std::int64_t index = static_cast<std::int64_t>(r) * per_region + c;
            Rng rc(p_.seed, 401, static_cast<std::uint64_t>(index));
            const std::int64_t constellation_id = wspace ? 21000001 + w_const++ : 20000001 + k_const++;
            ConstellationRow con;
            con.name = wspace ? "B-C" + Padded(constellation_id % 1000000, 5) : Word(rc, 3);
            con.region_id = region_id;
            con.position = {Coordinate(rc), Coordinate(rc), Coordinate(rc)};
            constellations_[constellation_id] = con;
            for (int s = 0; s < per_constellation; ++s) {
                const std::int64_t global = index * per_constellation + s;
                Rng rs(p_.seed, 402, static_cast<std::uint64_t>(global));
                const std::int64_t system_id = wspace ? 31000001 + w_sys++ : 30000001 + k_sys++;
                SystemRow sys;
                sys.constellation_id = constellation_id;
                if (wspace) {
                    sys.name = "J" + Padded(100000 + static_cast<std::int64_t>(rs.Below(900000)), 6);
                    sys.security_status = -0.99;
                } else {
                    sys.name = global % 5 == 4 ? Designation(rs) : Word(rs, 2);
                    sys.security_status = rs.Unit() * 2 - 1;
                    if (global % 7 != 3) sys.security_class = kClasses[rs.Below(10)];
                }
                if (global % 11 != 5) sys.star_id = 40000001 + global * 20;
                sys.position = {Coordinate(rs), Coordinate(rs), Coordinate(rs)};
                systems_[system_id] = sys;
                (wspace ? wspace_systems_ : kspace_systems_).push_back(system_id);
            }
        }
    }
}

std::optional<json> Geography::Region(std::int64_t id) const {
    std::shared_lock lk(mu_);
    auto it = regions_.find(id);
    if (it == regions_.end()) return std::nullopt;
    json constellations = json::array();
    for (const auto& [cid, c] : constellations_) {
        if (c.region_id == id) constellations.push_back(cid);
    }
    json j{{"region_id", id}, {"name", it->second.name}, {"constellations", constellations}};
    if (it->second.description) j["description"] = *it->second.description;
    return j;
}

std::optional<json> Geography::Constellation(std::int64_t id) const {
    std::shared_lock lk(mu_);
    auto it = constellations_.find(id);
    if (it == constellations_.end()) return std::nullopt;
    json systems = json::array();
    for (const auto& [sid, s] : systems_) {
        if (s.constellation_id == id) systems.push_back(sid);
    }
    const auto& c = it->second;
    return json{{"constellation_id", id},
                {"name", c.name},
                {"position", PositionJson(c.position.x, c.position.y, c.position.z)},
                {"region_id", c.region_id},
                {"systems", systems}};
}

std::optional<json> Geography::SolarSystem(std::int64_t id) const {
    std::shared_lock lk(mu_);
    auto it = systems_.find(id);
    if (it == systems_.end()) return std::nullopt;
    const auto& s = it->second;
    json j{{"constellation_id", s.constellation_id},
           {"name", s.name},
           {"position", PositionJson(s.position.x, s.position.y, s.position.z)},
           {"security_status", s.security_status},
           {"system_id", id}};
    if (s.security_class) j["security_class"] = *s.security_class;
    if (s.star_id) j["star_id"] = *s.star_id;
    return j;
}

json Geography::RegionIds() const {
    std::shared_lock lk(mu_);
    json out = json::array();
    for (const auto& [id, r] : regions_) out.push_back(id);
    return out;
}

json Geography::ConstellationIds() const {
    std::shared_lock lk(mu_);
    json out = json::array();
    for (const auto& [id, c] : constellations_) out.push_back(id);
    return out;
}

json Geography::SystemIds() const {
    std::shared_lock lk(mu_);
    json out = json::array();
    for (const auto& [id, s] : systems_) out.push_back(id);
    return out;
}

std::optional<std::pair<std::string, std::string>> Geography::Name(std::int64_t id) const {
    std::shared_lock lk(mu_);
    if (auto it = regions_.find(id); it != regions_.end()) return std::pair{std::string("region"), it->second.name};
    if (auto it = constellations_.find(id); it != constellations_.end()) {
        return std::pair{std::string("constellation"), it->second.name};
    }
    if (auto it = systems_.find(id); it != systems_.end())
        return std::pair{std::string("solar_system"), it->second.name};
    return std::nullopt;
}

std::int64_t Geography::PickSystem(bool wspace, std::uint64_t draw) const {
    const auto& list = wspace && !wspace_systems_.empty() ? wspace_systems_ : kspace_systems_;
    const auto& any = list.empty() ? wspace_systems_ : list;
    return any[draw % any.size()];
}

bool Geography::RenameSystem(std::int64_t system_id, const std::string& name) {
    std::unique_lock lk(mu_);
    auto it = systems_.find(system_id);
    if (it == systems_.end() || name.empty()) return false;
    it->second.name = name;
    Patched();
    return true;
}

bool Geography::MoveConstellation(std::int64_t constellation_id, std::int64_t region_id) {
    std::unique_lock lk(mu_);
    auto it = constellations_.find(constellation_id);
    if (it == constellations_.end() || !regions_.count(region_id)) return false;
    it->second.region_id = region_id;
    Patched();
    return true;
}

std::optional<std::int64_t> Geography::AddSystem(std::int64_t constellation_id) {
    std::unique_lock lk(mu_);
    auto c = constellations_.find(constellation_id);
    if (c == constellations_.end()) return std::nullopt;
    const std::int64_t base = constellation_id >= 21000000 ? 31000001 : 30000001;
    std::int64_t id = base;
    for (const auto& [sid, s] : systems_) {
        if ((sid >= 31000000) == (base >= 31000000)) id = std::max(id, sid + 1);
    }
    Rng rs(p_.seed, 403, static_cast<std::uint64_t>(id));
    SystemRow sys;
    sys.name = "New " + Word(rs, 2);
    sys.constellation_id = constellation_id;
    sys.security_status = rs.Unit() * 2 - 1;
    sys.position = {Coordinate(rs), Coordinate(rs), Coordinate(rs)};
    systems_[id] = sys;
    Patched();
    return id;
}

void Geography::Patched() { ++patches_; }

std::string Geography::ServerVersion() const {
    std::shared_lock lk(mu_);
    return std::to_string(kBaseServerVersion + static_cast<std::int64_t>(patches_));
}

std::uint64_t Geography::Patches() const {
    std::shared_lock lk(mu_);
    return patches_;
}

}  // namespace fakeesi
