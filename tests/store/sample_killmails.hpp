#pragma once
// Killmails for the store tests: the samples (real ESI bodies) and synthetic ones.
#include <string>
#include <vector>

#include "core/esi_json.hpp"
#include "core/model.hpp"
#include "store/samples.hpp"

namespace kr::store::testing {

inline Killmail SampleKillmail(const std::string& file, const std::string& hash = "0123456789abcdef") {
    return esi_json::ParseKillmail(ReadSample(file), hash);
}

inline Killmail SyntheticKillmail(Id id) {
    Killmail km;
    km.killmail_id = id;
    km.killmail_hash = "h" + std::to_string(id);
    km.killmail_time = "2025-01-02T03:04:05Z";
    km.solar_system_id = 30000142;
    km.victim.character_id = 90000000 + id % 1000;
    km.victim.corporation_id = 98000000;
    km.victim.ship_type_id = 587;
    km.victim.damage_taken = 1234;
    Attacker a;
    a.character_id = 91000000;
    a.corporation_id = 98000001;
    a.ship_type_id = 11176;
    a.weapon_type_id = 2881;
    a.damage_done = 1234;
    a.final_blow = true;
    a.security_status = -1.5;
    km.attackers.push_back(a);
    return km;
}

inline std::vector<Killmail> AllSampleKillmails() {
    std::vector<Killmail> out;
    for (const char* f :
         {"killmail_115787551.json", "killmail_115797013.json", "killmail_119689329.json", "killmail_130734446.json",
          "killmail_131501165.json", "killmail_132249213.json", "killmail_132467594.json"}) {
        out.push_back(SampleKillmail(f));
    }
    return out;
}

}  // namespace kr::store::testing
