#include "core/esi_json.hpp"

#include <simdjson.h>

#include <nlohmann/json.hpp>

namespace kr::esi_json {

namespace {

// ---------------------------------------------------------------------------------------------
// Entities: nlohmann::json (small bodies, one per HTTP response)

using Json = nlohmann::json;

Json ParseDocument(std::string_view body, std::string_view what) {
    try {
        Json j = Json::parse(body.begin(), body.end());
        if (!j.is_object()) throw ParseError(std::string(what) + ": the body is not a JSON object");
        return j;
    } catch (const Json::exception& e) {
        throw ParseError(std::string(what) + ": malformed JSON: " + e.what());
    }
}

/// The field if present and not null, else nullptr.
const Json* Find(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
}

[[noreturn]] void WrongType(std::string_view what, const char* key, const char* expected) {
    throw ParseError(std::string(what) + ": field '" + key + "' is not " + expected);
}
[[noreturn]] void Missing(std::string_view what, const char* key) {
    throw ParseError(std::string(what) + ": required field '" + key + "' is missing");
}

std::optional<std::int64_t> OptInt(const Json& j, const char* key, std::string_view what) {
    const Json* v = Find(j, key);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) return v->get<std::int64_t>();
    // 1.0 style integers are not produced by ESI; reject rather than guess.
    WrongType(what, key, "an integer");
}
std::int64_t ReqInt(const Json& j, const char* key, std::string_view what) {
    auto v = OptInt(j, key, what);
    if (!v) Missing(what, key);
    return *v;
}
std::optional<double> OptDouble(const Json& j, const char* key, std::string_view what) {
    const Json* v = Find(j, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) WrongType(what, key, "a number");
    return v->get<double>();
}
double ReqDouble(const Json& j, const char* key, std::string_view what) {
    auto v = OptDouble(j, key, what);
    if (!v) Missing(what, key);
    return *v;
}
std::optional<std::string> OptString(const Json& j, const char* key, std::string_view what) {
    const Json* v = Find(j, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) WrongType(what, key, "a string");
    return v->get<std::string>();
}
std::string ReqString(const Json& j, const char* key, std::string_view what) {
    auto v = OptString(j, key, what);
    if (!v) Missing(what, key);
    return *v;
}
std::optional<bool> OptBool(const Json& j, const char* key, std::string_view what) {
    const Json* v = Find(j, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) WrongType(what, key, "a boolean");
    return v->get<bool>();
}

std::string What(const char* kind, Id id) { return std::string(kind) + " " + std::to_string(id); }

/// The body's own id field, when present, must be the requested id.
void CheckBodyId(const Json& j, const char* key, Id id, const std::string& what) {
    if (auto body_id = OptInt(j, key, what); body_id && *body_id != id) {
        throw ParseError(what + ": body is for " + key + " " + std::to_string(*body_id));
    }
}

/// A required {x, y, z} object.
Position ReqPosition(const Json& j, const char* key, const std::string& what) {
    const Json* v = Find(j, key);
    if (!v) Missing(what, key);
    if (!v->is_object()) WrongType(what, key, "an object");
    const std::string inner = what + " " + key;
    return {ReqDouble(*v, "x", inner), ReqDouble(*v, "y", inner), ReqDouble(*v, "z", inner)};
}

// ---------------------------------------------------------------------------------------------
// Killmails and zKillboard pages: simdjson on-demand

namespace od = simdjson::ondemand;

constexpr int kMaxItemDepth = 8;

[[noreturn]] void Fail(std::string_view context, simdjson::error_code e) {
    throw ParseError(std::string(context) + ": " + simdjson::error_message(e));
}
[[noreturn]] void FailMsg(std::string_view context, std::string_view msg) {
    throw ParseError(std::string(context) + ": " + std::string(msg));
}

od::parser& ThreadParser() {
    thread_local od::parser parser;
    return parser;
}

bool IsNull(od::value& v) {
    bool null = false;
    if (auto e = v.is_null().get(null)) Fail("null check", e);
    return null;
}
std::int64_t Int(od::value& v, std::string_view key) {
    std::int64_t x = 0;
    if (auto e = v.get_int64().get(x)) Fail(key, e);
    return x;
}
std::optional<std::int64_t> OptInt(od::value& v, std::string_view key) {
    if (IsNull(v)) return std::nullopt;
    return Int(v, key);
}
double Double(od::value& v, std::string_view key) {
    double x = 0;
    if (auto e = v.get_double().get(x)) Fail(key, e);
    return x;
}
std::optional<double> OptDouble(od::value& v, std::string_view key) {
    if (IsNull(v)) return std::nullopt;
    return Double(v, key);
}
bool Bool(od::value& v, std::string_view key) {
    bool x = false;
    if (auto e = v.get_bool().get(x)) Fail(key, e);
    return x;
}
std::string String(od::value& v, std::string_view key) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) Fail(key, e);
    return std::string(s);
}

/// Calls fn(key, value) for each field of the object value v.
template <typename Fn>
void ForEachField(od::value& v, std::string_view context, Fn&& fn) {
    od::object obj;
    if (auto e = v.get_object().get(obj)) Fail(context, e);
    for (auto field_result : obj) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) Fail(context, e);
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) Fail(context, e);
        fn(key, field.value());
    }
}

/// Calls fn(value) for each element of the array value v.
template <typename Fn>
void ForEachElement(od::value& v, std::string_view context, Fn&& fn) {
    od::array arr;
    if (auto e = v.get_array().get(arr)) Fail(context, e);
    for (auto element_result : arr) {
        od::value element;
        // get() is &&-qualified: the move selects it (the value is trivially copyable).
        if (auto e = std::move(element_result).get(element)) Fail(context, e);  // NOLINT(performance-move-const-arg)
        fn(element);
    }
}

KillmailItem ParseItem(od::value& v, int depth);

void ParseItems(od::value& v, std::vector<KillmailItem>& out, int depth) {
    if (depth > kMaxItemDepth) FailMsg("items", "nested deeper than " + std::to_string(kMaxItemDepth) + " levels");
    ForEachElement(v, "items", [&](od::value& element) { out.push_back(ParseItem(element, depth)); });
}

KillmailItem ParseItem(od::value& v, int depth) {
    KillmailItem item;
    bool type = false, flag = false, singleton = false;
    ForEachField(v, "item", [&](std::string_view key, od::value& f) {
        if (key == "item_type_id") {
            item.item_type_id = Int(f, "item.item_type_id");
            type = true;
        } else if (key == "flag") {
            item.flag = Int(f, "item.flag");
            flag = true;
        } else if (key == "singleton") {
            item.singleton = Int(f, "item.singleton");
            singleton = true;
        } else if (key == "quantity_dropped") {
            item.quantity_dropped = OptInt(f, "item.quantity_dropped");
        } else if (key == "quantity_destroyed") {
            item.quantity_destroyed = OptInt(f, "item.quantity_destroyed");
        } else if (key == "items") {
            if (!IsNull(f)) ParseItems(f, item.items, depth + 1);
        }
    });
    if (!type) FailMsg("item", "required field 'item_type_id' is missing");
    if (!flag) FailMsg("item", "required field 'flag' is missing");
    if (!singleton) FailMsg("item", "required field 'singleton' is missing");
    return item;
}

Victim ParseVictim(od::value& v) {
    Victim victim;
    bool ship = false, damage = false;
    ForEachField(v, "victim", [&](std::string_view key, od::value& f) {
        if (key == "character_id") {
            victim.character_id = OptInt(f, "victim.character_id");
        } else if (key == "corporation_id") {
            victim.corporation_id = OptInt(f, "victim.corporation_id");
        } else if (key == "alliance_id") {
            victim.alliance_id = OptInt(f, "victim.alliance_id");
        } else if (key == "faction_id") {
            victim.faction_id = OptInt(f, "victim.faction_id");
        } else if (key == "ship_type_id") {
            victim.ship_type_id = Int(f, "victim.ship_type_id");
            ship = true;
        } else if (key == "damage_taken") {
            victim.damage_taken = Int(f, "victim.damage_taken");
            damage = true;
        } else if (key == "position") {
            if (IsNull(f)) return;
            Position p;
            bool x = false, y = false, z = false;
            ForEachField(f, "victim.position", [&](std::string_view k, od::value& c) {
                if (k == "x") {
                    p.x = Double(c, "position.x");
                    x = true;
                } else if (k == "y") {
                    p.y = Double(c, "position.y");
                    y = true;
                } else if (k == "z") {
                    p.z = Double(c, "position.z");
                    z = true;
                }
            });
            if (!x || !y || !z) FailMsg("victim.position", "x, y and z are required");
            victim.position = p;
        } else if (key == "items") {
            if (!IsNull(f)) ParseItems(f, victim.items, 1);
        }
    });
    if (!ship) FailMsg("victim", "required field 'ship_type_id' is missing");
    if (!damage) FailMsg("victim", "required field 'damage_taken' is missing");
    return victim;
}

Attacker ParseAttacker(od::value& v) {
    Attacker a;
    bool damage = false, final_blow = false;
    ForEachField(v, "attacker", [&](std::string_view key, od::value& f) {
        if (key == "character_id") {
            a.character_id = OptInt(f, "attacker.character_id");
        } else if (key == "corporation_id") {
            a.corporation_id = OptInt(f, "attacker.corporation_id");
        } else if (key == "alliance_id") {
            a.alliance_id = OptInt(f, "attacker.alliance_id");
        } else if (key == "faction_id") {
            a.faction_id = OptInt(f, "attacker.faction_id");
        } else if (key == "ship_type_id") {
            a.ship_type_id = OptInt(f, "attacker.ship_type_id");
        } else if (key == "weapon_type_id") {
            a.weapon_type_id = OptInt(f, "attacker.weapon_type_id");
        } else if (key == "damage_done") {
            a.damage_done = Int(f, "attacker.damage_done");
            damage = true;
        } else if (key == "final_blow") {
            a.final_blow = Bool(f, "attacker.final_blow");
            final_blow = true;
        } else if (key == "security_status") {
            a.security_status = OptDouble(f, "attacker.security_status");
        }
    });
    if (!damage) FailMsg("attacker", "required field 'damage_done' is missing");
    if (!final_blow) FailMsg("attacker", "required field 'final_blow' is missing");
    return a;
}

/// Which killmail fields were seen (to report missing required ones).
struct KillmailSeen {
    bool id = false, time = false, system = false, victim = false, attackers = false;
    bool Any() const { return time || system || victim || attackers; }
    void Require(std::string_view context) const {
        if (!id) FailMsg(context, "required field 'killmail_id' is missing");
        if (!time) FailMsg(context, "required field 'killmail_time' is missing");
        if (!system) FailMsg(context, "required field 'solar_system_id' is missing");
        if (!victim) FailMsg(context, "required field 'victim' is missing");
        if (!attackers) FailMsg(context, "required field 'attackers' is missing");
    }
};

/// Handles one field of an ESI killmail object; returns false for keys it does not know.
bool KillmailField(std::string_view key, od::value& f, Killmail& km, KillmailSeen& seen) {
    if (key == "killmail_id") {
        km.killmail_id = Int(f, "killmail_id");
        seen.id = true;
    } else if (key == "killmail_time") {
        km.killmail_time = String(f, "killmail_time");
        seen.time = true;
    } else if (key == "solar_system_id") {
        km.solar_system_id = Int(f, "solar_system_id");
        seen.system = true;
    } else if (key == "moon_id") {
        km.moon_id = OptInt(f, "moon_id");
    } else if (key == "war_id") {
        km.war_id = OptInt(f, "war_id");
    } else if (key == "victim") {
        km.victim = ParseVictim(f);
        seen.victim = true;
    } else if (key == "attackers") {
        ForEachElement(f, "attackers", [&](od::value& a) { km.attackers.push_back(ParseAttacker(a)); });
        seen.attackers = true;
    } else {
        return false;
    }
    return true;
}

Zkb ParseZkbBlock(od::value& v) {
    Zkb zkb;
    bool hash = false;
    ForEachField(v, "zkb", [&](std::string_view key, od::value& f) {
        if (key == "hash") {
            zkb.hash = String(f, "zkb.hash");
            hash = true;
        } else if (key == "totalValue") {
            zkb.total_value = OptDouble(f, "zkb.totalValue");
        } else if (key == "destroyedValue") {
            zkb.destroyed_value = OptDouble(f, "zkb.destroyedValue");
        } else if (key == "droppedValue") {
            zkb.dropped_value = OptDouble(f, "zkb.droppedValue");
        }
    });
    if (!hash || zkb.hash.empty()) FailMsg("zkb", "required field 'hash' is missing");
    return zkb;
}

/// Runs fn(root value) on a parsed document; translates simdjson errors.
template <typename Fn>
void WithDocument(std::string_view body, std::string_view context, Fn&& fn) {
    simdjson::padded_string padded(body);
    od::document doc;
    if (auto e = ThreadParser().iterate(padded).get(doc)) Fail(context, e);
    od::value root;
    if (auto e = doc.get_value().get(root)) Fail(context, e);
    try {
        fn(root);
    } catch (const simdjson::simdjson_error& e) {
        Fail(context, e.error());
    }
    // On-demand stops after the root value: anything left over is an error.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) FailMsg(context, "trailing content after the document");
}

}  // namespace

Alliance ParseAlliance(Id id, std::string_view body) {
    const std::string what = What("alliance", id);
    Json j = ParseDocument(body, what);
    Alliance a;
    a.id = id;
    a.name = ReqString(j, "name", what);
    a.ticker = ReqString(j, "ticker", what);
    a.date_founded = ReqString(j, "date_founded", what);
    a.creator_corporation_id = ReqInt(j, "creator_corporation_id", what);
    a.creator_id = ReqInt(j, "creator_id", what);
    a.executor_corporation_id = OptInt(j, "executor_corporation_id", what);
    a.faction_id = OptInt(j, "faction_id", what);
    return a;
}

Corporation ParseCorporation(Id id, std::string_view body) {
    const std::string what = What("corporation", id);
    Json j = ParseDocument(body, what);
    Corporation c;
    c.id = id;
    c.name = ReqString(j, "name", what);
    c.ticker = ReqString(j, "ticker", what);
    c.member_count = ReqInt(j, "member_count", what);
    c.ceo_id = ReqInt(j, "ceo_id", what);
    c.creator_id = ReqInt(j, "creator_id", what);
    c.date_founded = OptString(j, "date_founded", what);
    c.description = OptString(j, "description", what);
    c.alliance_id = OptInt(j, "alliance_id", what);
    c.faction_id = OptInt(j, "faction_id", what);
    c.home_station_id = OptInt(j, "home_station_id", what);
    c.shares = OptInt(j, "shares", what);
    c.tax_rate = ReqDouble(j, "tax_rate", what);
    c.url = OptString(j, "url", what);
    return c;
}

Character ParseCharacter(Id id, std::string_view body) {
    const std::string what = What("character", id);
    Json j = ParseDocument(body, what);
    Character c;
    c.id = id;
    c.name = ReqString(j, "name", what);
    c.corporation_id = ReqInt(j, "corporation_id", what);
    c.alliance_id = OptInt(j, "alliance_id", what);
    c.birthday = ReqString(j, "birthday", what);
    c.bloodline_id = ReqInt(j, "bloodline_id", what);
    c.race_id = ReqInt(j, "race_id", what);
    c.gender = ReqString(j, "gender", what);
    c.security_status = OptDouble(j, "security_status", what);
    c.description = OptString(j, "description", what);
    c.title = OptString(j, "title", what);
    c.faction_id = OptInt(j, "faction_id", what);
    return c;
}

Type ParseType(Id id, std::string_view body) {
    const std::string what = What("type", id);
    Json j = ParseDocument(body, what);
    Type t;
    t.id = id;
    t.name = ReqString(j, "name", what);
    t.description = OptString(j, "description", what).value_or("");
    t.group_id = ReqInt(j, "group_id", what);
    t.published = OptBool(j, "published", what).value_or(true);
    t.volume = OptDouble(j, "volume", what);
    t.capacity = OptDouble(j, "capacity", what);
    t.mass = OptDouble(j, "mass", what);
    t.icon_id = OptInt(j, "icon_id", what);
    if (auto type_id = OptInt(j, "type_id", what); type_id && *type_id != id) {
        throw ParseError(what + ": body is for type " + std::to_string(*type_id));
    }
    return t;
}

Region ParseRegion(Id id, std::string_view body) {
    const std::string what = What("region", id);
    Json j = ParseDocument(body, what);
    CheckBodyId(j, "region_id", id, what);
    Region r;
    r.id = id;
    r.name = ReqString(j, "name", what);
    r.description = OptString(j, "description", what);
    return r;
}

Constellation ParseConstellation(Id id, std::string_view body) {
    const std::string what = What("constellation", id);
    Json j = ParseDocument(body, what);
    CheckBodyId(j, "constellation_id", id, what);
    Constellation c;
    c.id = id;
    c.name = ReqString(j, "name", what);
    c.region_id = ReqInt(j, "region_id", what);
    c.position = ReqPosition(j, "position", what);
    return c;
}

SolarSystem ParseSolarSystem(Id id, std::string_view body) {
    const std::string what = What("solar system", id);
    Json j = ParseDocument(body, what);
    CheckBodyId(j, "system_id", id, what);
    SolarSystem s;
    s.id = id;
    s.name = ReqString(j, "name", what);
    s.constellation_id = ReqInt(j, "constellation_id", what);
    s.security_status = ReqDouble(j, "security_status", what);
    s.security_class = OptString(j, "security_class", what);
    s.star_id = OptInt(j, "star_id", what);
    s.position = ReqPosition(j, "position", what);
    return s;
}

std::vector<Id> ParseIdList(std::string_view body) {
    Json j;
    try {
        j = Json::parse(body.begin(), body.end());
    } catch (const Json::exception& e) {
        throw ParseError(std::string("id list: malformed JSON: ") + e.what());
    }
    if (!j.is_array()) throw ParseError("id list: the body is not a JSON array");
    std::vector<Id> ids;
    ids.reserve(j.size());
    for (const auto& v : j) {
        if (!v.is_number_integer()) throw ParseError("id list: an element is not an integer");
        ids.push_back(v.get<Id>());
    }
    return ids;
}

std::string ParseServerVersion(std::string_view body) {
    Json j = ParseDocument(body, "status");
    if (const Json* v = Find(j, "server_version"); v && v->is_number_integer()) return v->dump();
    return ReqString(j, "server_version", "status");
}

Killmail ParseKillmail(std::string_view body, std::string_view hash) {
    Killmail km;
    km.killmail_hash = std::string(hash);
    KillmailSeen seen;
    WithDocument(body, "killmail", [&](od::value& root) {
        ForEachField(root, "killmail", [&](std::string_view key, od::value& f) { KillmailField(key, f, km, seen); });
    });
    seen.Require("killmail " + std::to_string(km.killmail_id));
    return km;
}

ArrayShape ClassifyArray(std::string_view body) {
    bool is_array = false;
    std::size_t n = 0;
    try {
        WithDocument(body, "array", [&](od::value& root) {
            od::array arr;
            if (root.get_array().get(arr) != simdjson::SUCCESS) return;
            is_array = true;
            for (auto element : arr) {  // skipped, not built: checks the structure to the end
                if (element.error()) throw simdjson::simdjson_error(element.error());
                ++n;
            }
        });
    } catch (const ParseError&) {
        return ArrayShape::kNotArray;
    }
    if (!is_array) return ArrayShape::kNotArray;
    return n == 0 ? ArrayShape::kEmptyArray : ArrayShape::kArray;
}

std::vector<ZkbEntry> ParseZkbPage(std::string_view body) {
    std::vector<ZkbEntry> out;
    WithDocument(body, "zkillboard page", [&](od::value& root) {
        ForEachElement(root, "zkillboard page", [&](od::value& element) {
            ZkbEntry entry;
            Killmail km;
            KillmailSeen seen;
            bool zkb = false;
            ForEachField(element, "zkillboard entry", [&](std::string_view key, od::value& f) {
                if (key == "zkb") {
                    entry.zkb = ParseZkbBlock(f);
                    zkb = true;
                } else {
                    KillmailField(key, f, km, seen);
                }
            });
            if (!seen.id) FailMsg("zkillboard entry", "required field 'killmail_id' is missing");
            if (!zkb) FailMsg("zkillboard entry " + std::to_string(km.killmail_id), "required field 'zkb' is missing");
            entry.killmail_id = km.killmail_id;
            if (seen.Any()) {
                seen.Require("zkillboard entry " + std::to_string(km.killmail_id));
                km.killmail_hash = entry.zkb.hash;
                km.total_value = entry.zkb.total_value;
                km.destroyed_value = entry.zkb.destroyed_value;
                km.dropped_value = entry.zkb.dropped_value;
                entry.killmail = std::move(km);
            }
            out.push_back(std::move(entry));
        });
    });
    return out;
}

R2z2Package ParseR2z2Package(std::string_view body) {
    R2z2Package out;
    Killmail& km = out.killmail;
    KillmailSeen seen;
    std::optional<Id> outer_id;
    std::string hash;
    Zkb zkb;
    bool has_zkb = false, has_esi = false, has_sequence = false;
    WithDocument(body, "r2z2 package", [&](od::value& root) {
        ForEachField(root, "r2z2 package", [&](std::string_view key, od::value& f) {
            if (key == "killmail_id") {
                outer_id = Int(f, "killmail_id");
            } else if (key == "hash") {
                hash = String(f, "hash");
            } else if (key == "sequence_id") {
                out.sequence_id = Int(f, "sequence_id");
                has_sequence = true;
            } else if (key == "sequence_updated") {
                out.sequence_updated = OptInt(f, "sequence_updated");
            } else if (key == "zkb") {
                zkb = ParseZkbBlock(f);
                has_zkb = true;
            } else if (key == "esi") {
                ForEachField(f, "r2z2 esi", [&](std::string_view k, od::value& g) { KillmailField(k, g, km, seen); });
                has_esi = true;
            }
        });
    });
    if (!has_sequence) FailMsg("r2z2 package", "required field 'sequence_id' is missing");
    if (!has_esi) FailMsg("r2z2 package", "required field 'esi' is missing");
    if (!has_zkb) FailMsg("r2z2 package", "required field 'zkb' is missing");
    seen.Require("r2z2 package " + std::to_string(out.sequence_id));
    if (outer_id && *outer_id != km.killmail_id) {
        FailMsg("r2z2 package " + std::to_string(out.sequence_id), "killmail_id differs from esi.killmail_id");
    }
    km.killmail_hash = hash.empty() ? zkb.hash : hash;
    km.total_value = zkb.total_value;
    km.destroyed_value = zkb.destroyed_value;
    km.dropped_value = zkb.dropped_value;
    return out;
}

std::int64_t ParseR2z2Sequence(std::string_view body) {
    std::optional<std::int64_t> seq;
    WithDocument(body, "r2z2 sequence", [&](od::value& root) {
        ForEachField(root, "r2z2 sequence", [&](std::string_view key, od::value& f) {
            if (key == "sequence") seq = Int(f, "sequence");
        });
    });
    if (!seq) FailMsg("r2z2 sequence", "required field 'sequence' is missing");
    return *seq;
}

}  // namespace kr::esi_json
