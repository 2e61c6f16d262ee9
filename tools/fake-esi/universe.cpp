#include "universe.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>

#include "http_util.hpp"

namespace fakeesi {
namespace {

using json = nlohmann::json;
constexpr std::int64_t kTwo31 = 2147483648LL;
/// Where the characters otherwise above 2^31 go with UniverseParams::int32_ids.
constexpr std::int64_t kBelowTwo31 = 2140000000LL;

double Round(double v, int decimals) {
    double f = std::pow(10.0, decimals);
    return std::round(v * f) / f;
}

const char* const kSyllables[] = {"ka",  "ri",  "to",  "mo",  "ven", "dra", "sul", "an",  "el", "or",
                                  "zan", "qui", "thu", "bar", "lo",  "mi",  "nex", "tar", "ys", "gor"};

std::string Word(Rng& r, int syllables) {
    std::string s;
    for (int i = 0; i < syllables; ++i) s += kSyllables[r.Below(20)];
    s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

std::string Ticker(Rng& r, int len) {
    std::string s;
    for (int i = 0; i < len; ++i) s += static_cast<char>('A' + r.Below(26));
    return s;
}

struct Faction {
    std::int64_t id;
    const char* name;
};
const Faction kFactions[] = {{500001, "Caldari State"},       {500002, "Minmatar Republic"}, {500003, "Amarr Empire"},
                             {500004, "Gallente Federation"}, {500010, "Serpentis"},         {500024, "Drifters"}};

bool ReadJsonFile(const std::filesystem::path& p, json& out) {
    std::ifstream in(p);
    if (!in) return false;
    try {
        out = json::parse(in);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

std::string HexOf(std::uint64_t v, int digits) {
    static const char* hx = "0123456789abcdef";
    std::string s(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) {
        s[static_cast<std::size_t>(i)] = hx[v & 15];
        v >>= 4;
    }
    return s;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
Universe::Universe(UniverseParams p)
    : p_(std::move(p)),
      geo_(GeographyParams{p_.seed, p_.regions, p_.constellations_per_region, p_.systems_per_constellation}) {
    p_.alliances = std::max(1, p_.alliances);
    p_.corporations = std::max(p_.alliances, p_.corporations);
    p_.npc_corporations = std::clamp(p_.npc_corporations, 2, 999000);
    p_.characters = std::max(p_.corporations + 10, p_.characters);
    p_.npc_characters = std::clamp(p_.npc_characters, 1, 999000);
    p_.types = std::max(50, p_.types);
    p_.killmails = std::max(1, p_.killmails);
    p_.history_characters = std::clamp(p_.history_characters, 0, p_.corporations);
    p_.history_kills = std::clamp(p_.history_kills, 0, p_.killmails);
    const int K = p_.killmails;
    km_base_ = p_.int32_ids ? 2000000000LL            // all below 2^31
                            : kTwo31 - (K - K / 10);  // the newest ~10% of killmail ids are above 2^31

    LoadSamples();

    ship_types_by_kind_.assign(5, {});
    for (int t = 0; t < p_.types; ++t)
        ship_types_by_kind_[static_cast<std::size_t>(TypeKind(t))].push_back(kTypeBase + t);

    // character -> killmails index (CSR), from the killmail skeletons only
    std::vector<std::uint32_t> counts(static_cast<std::size_t>(p_.characters) + 1, 0);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
    pairs.reserve(static_cast<std::size_t>(K) * 7);
    for (int i = 0; i < K; ++i) {
        Skeleton sk = MakeSkeleton(i);
        if (sk.victim_char >= 0) pairs.emplace_back(static_cast<std::uint32_t>(sk.victim_char), i);
        for (const auto& a : sk.attackers) {
            if (a.kind == 0 || a.kind == 4) {
                int ci = CharacterIndex(a.character_id);
                pairs.emplace_back(static_cast<std::uint32_t>(ci), i);
            }
        }
    }
    for (auto& pr : pairs) counts[pr.first + 1]++;
    for (std::size_t c = 1; c < counts.size(); ++c) counts[c] += counts[c - 1];
    hist_offsets_ = counts;
    hist_kms_.assign(pairs.size(), 0);
    std::vector<std::uint32_t> fill(counts.begin(), counts.end() - 1);
    for (auto& pr : pairs) hist_kms_[fill[pr.first]++] = pr.second;  // ascending per character
}

void Universe::LoadSamples() {
    namespace fs = std::filesystem;
    if (p_.samples_dir.empty()) return;
    std::error_code ec;
    if (!fs::is_directory(p_.samples_dir, ec)) return;
    static const std::regex re(R"(^([a-z0-9_]+?)_([0-9]+)\.json$)");
    for (const auto& de : fs::directory_iterator(p_.samples_dir, ec)) {
        std::string name = de.path().filename().string();
        json j;
        if (name == "esi_corporation_npc_TribalLiberationForce.json") {
            if (ReadJsonFile(de.path(), j)) s_corps_[1000182] = j;  // TLF's real corporation id
            continue;
        }
        std::smatch m;
        if (!std::regex_match(name, m, re)) continue;
        std::string kind = m[1];
        std::int64_t id = std::stoll(m[2]);
        if (!ReadJsonFile(de.path(), j)) continue;
        if (kind == "esi_alliance")
            s_alliances_[id] = j;
        else if (kind == "esi_corporation")
            s_corps_[id] = j;
        else if (kind == "esi_character")
            s_chars_[id] = j;
        else if (kind == "esi_type")
            s_types_[id] = j;
        else if (kind == "killmail")
            s_killmails_[id] = j;
        else if (kind == "zkill_redisq_package" && j.contains("zkb")) {
            s_zkb_[id] = j["zkb"];
            if (j.contains("killmail") && !s_killmails_.count(id)) s_killmails_[id] = j["killmail"];
        } else if (kind == "zkill_r2z2_ephemeral" && j.contains("esi")) {
            s_killmails_[id] = j["esi"];
            json z = j["zkb"];
            z.erase("href");
            z.erase("attackerCount");
            s_zkb_[id] = z;
        }
    }
    for (auto& [id, z] : s_zkb_)
        if (z.contains("hash")) s_hashes_[id] = z["hash"].get<std::string>();
    for (auto& [id, km] : s_killmails_) {
        (void)km;
        if (!s_hashes_.count(id)) {
            std::uint64_t a = Mix64(p_.seed ^ Mix64(static_cast<std::uint64_t>(id) ^ 0x5a5a));
            s_hashes_[id] = HexOf(Mix64(a), 16) + HexOf(Mix64(a + 1), 16) + HexOf(Mix64(a + 2), 8);
        }
    }
}

std::size_t Universe::SampleCount() const {
    return s_alliances_.size() + s_corps_.size() + s_chars_.size() + s_types_.size() + s_killmails_.size();
}

// ---- ids -----------------------------------------------------------------------------------------
std::int64_t Universe::CharacterId(int i) const {
    if (i % 10 == 0) return (p_.int32_ids ? kBelowTwo31 : kTwo31) + i;
    if (i % 2 == 0) return 90000000 + i;
    return 2112000000 + i;
}

int Universe::CharacterIndex(std::int64_t id) const {
    const std::int64_t n = p_.characters;
    const std::int64_t high = p_.int32_ids ? kBelowTwo31 : kTwo31;
    if (id >= high && id < high + n) {
        std::int64_t i = id - high;
        return (i < n && i % 10 == 0) ? static_cast<int>(i) : -1;
    }
    if (id >= 2112000000 && id < 2112000000 + n) {
        std::int64_t i = id - 2112000000;
        return i % 2 == 1 ? static_cast<int>(i) : -1;
    }
    if (id >= 90000000 && id < 90000000 + n) {
        std::int64_t i = id - 90000000;
        return (i % 2 == 0 && i % 10 != 0) ? static_cast<int>(i) : -1;
    }
    return -1;
}

int Universe::KillmailIndex(std::int64_t id) const {
    std::int64_t i = id - km_base_;
    return (i >= 0 && i < p_.killmails) ? static_cast<int>(i) : -1;
}
int Universe::CorpIndex(std::int64_t id) const {
    std::int64_t i = id - kCorpBase;
    return (i >= 0 && i < p_.corporations) ? static_cast<int>(i) : -1;
}
int Universe::NpcCorpIndex(std::int64_t id) const {
    if (id == 1000001) return 0;
    std::int64_t i = id - kNpcCorpBase + 1;
    return (i >= 1 && i < p_.npc_corporations) ? static_cast<int>(i) : -1;
}
int Universe::AllianceIndex(std::int64_t id) const {
    std::int64_t i = id - kAllianceBase;
    return (i >= 0 && i < p_.alliances) ? static_cast<int>(i) : -1;
}
int Universe::TypeIndex(std::int64_t id) const {
    std::int64_t i = id - kTypeBase;
    return (i >= 0 && i < p_.types) ? static_cast<int>(i) : -1;
}
int Universe::TypeKind(int t) const {
    if (t % 50 == 49) return 4;
    int m = t % 10;
    if (m <= 2) return 0;
    if (m <= 6) return 1;
    if (m <= 8) return 2;
    return 3;
}
bool Universe::IsDeletedIndex(int i) const {
    if (mutated_.load(std::memory_order_acquire)) {
        std::shared_lock lk(mu_);
        if (char_deleted_.count(i)) return true;
    }
    if (i < p_.corporations || i < p_.history_characters || i < 10) return false;
    return Mix64(p_.seed ^ Mix64(static_cast<std::uint64_t>(i) * 31 + 7)) % 50 == 0;
}
bool Universe::IsDeletedCharacter(std::int64_t id) const {
    if (s_chars_.count(id)) return false;
    int i = CharacterIndex(id);
    return i >= 0 && IsDeletedIndex(i);
}

// ---- names ---------------------------------------------------------------------------------------
std::string Universe::CharacterName(int i) const {
    switch (i) {
        case 1: return "O'Brien \"x\"; DROP TABLE--";
        case 2: return "Ünïcødé 日本";
        case 3: return "Robert'); DROP TABLE characters;--";
        case 4: return "Back\\slash %s %d <b>bold</b> & Co";
        default: break;
    }
    Rng r(p_.seed, 21, static_cast<std::uint64_t>(i));
    return Word(r, 2) + " " + Word(r, 1 + static_cast<int>(r.Below(2))) + " " + std::to_string(i);
}
std::string Universe::CorpName(int c) const {
    if (c == 1) return "O'Neil & Sons \"Quoted\"; DELETE FROM corporations--";
    if (c == 2) return "Ωmega 株式会社";
    Rng r(p_.seed, 22, static_cast<std::uint64_t>(c));
    static const char* suffix[] = {"Industries", "Holdings", "Corp", "Enterprises", "Mining Co"};
    return Word(r, 2) + " " + suffix[r.Below(5)] + " " + std::to_string(c);
}
std::string Universe::AllianceName(int a) const {
    if (a == 1) return "Alliance 'of' \"Quotes\"; --";
    if (a == 2) return "Ållïåncé 連盟";
    Rng r(p_.seed, 23, static_cast<std::uint64_t>(a));
    static const char* suffix[] = {"Alliance", "Coalition", "Federation", "Collective", "Pact"};
    return "The " + Word(r, 2) + " " + suffix[r.Below(5)] + " " + std::to_string(a);
}
std::string Universe::TypeName(int t) const {
    Rng r(p_.seed, 24, static_cast<std::uint64_t>(t));
    static const char* kind[] = {"Ship", "Module", "Charge", "Container", "Citadel"};
    return Word(r, 2) + " " + kind[TypeKind(t)] + " " + std::to_string(t);
}
std::string Universe::NpcCharName(int j) const {
    Rng r(p_.seed, 25, static_cast<std::uint64_t>(j));
    return Word(r, 2) + " " + Word(r, 2) + " (NPC " + std::to_string(j) + ")";
}
std::string Universe::NpcCorpName(int k) const {
    if (k == 0) return "Doomheim";
    Rng r(p_.seed, 26, static_cast<std::uint64_t>(k));
    return Word(r, 3) + " Navy " + std::to_string(k);
}

// ---- affiliations --------------------------------------------------------------------------------
std::int64_t Universe::BaseCorpIdOfChar(int i) const {
    if (i < p_.corporations) return CorpId(i);
    Rng r(p_.seed, 11, static_cast<std::uint64_t>(i));
    if (r.Chance(0.1))
        return NpcCorpId(1 + static_cast<int>(r.Below(static_cast<std::uint64_t>(p_.npc_corporations - 1))));
    return CorpId(static_cast<int>(r.Below(static_cast<std::uint64_t>(p_.corporations))));
}
int Universe::BaseAllianceOfCorp(int c) const {
    if (c < p_.alliances) return c;
    Rng r(p_.seed, 12, static_cast<std::uint64_t>(c));
    if (r.Chance(0.2)) return -1;
    return static_cast<int>(r.Below(static_cast<std::uint64_t>(p_.alliances)));
}
std::optional<std::int64_t> Universe::FactionOfCorpId(std::int64_t corp_id) const {
    int c = CorpIndex(corp_id);
    if (c >= 0) {
        if (c % 11 == 4) return kFactions[c % 4].id;
        return std::nullopt;
    }
    int k = NpcCorpIndex(corp_id);
    if (k > 0) return kFactions[k % 4].id;
    return std::nullopt;
}
std::optional<std::int64_t> Universe::FactionOfAlliance(int a) const {
    if (a % 9 == 2) return kFactions[a % 4].id;
    return std::nullopt;
}
std::int64_t Universe::CurrentCorpOfChar(int i) const {
    if (mutated_.load(std::memory_order_acquire)) {
        std::shared_lock lk(mu_);
        auto it = char_corp_override_.find(i);
        if (it != char_corp_override_.end()) return it->second;
    }
    return BaseCorpIdOfChar(i);
}
std::optional<std::int64_t> Universe::CurrentAllianceOfCorpId(std::int64_t corp_id) const {
    if (mutated_.load(std::memory_order_acquire)) {
        std::shared_lock lk(mu_);
        auto it = corp_alliance_override_.find(corp_id);
        if (it != corp_alliance_override_.end()) return it->second;
    }
    int c = CorpIndex(corp_id);
    if (c >= 0) {
        int a = BaseAllianceOfCorp(c);
        if (a >= 0) return kAllianceBase + a;
        return std::nullopt;
    }
    auto s = s_corps_.find(corp_id);
    if (s != s_corps_.end() && s->second.contains("alliance_id")) return s->second["alliance_id"].get<std::int64_t>();
    return std::nullopt;
}
std::optional<std::int64_t> Universe::CurrentExecutor(int a) const {
    const std::int64_t aid = kAllianceBase + a;
    if (mutated_.load(std::memory_order_acquire)) {
        std::shared_lock lk(mu_);
        if (alliance_no_executor_.count(aid)) return std::nullopt;
    }
    if (a % 7 == 3) return std::nullopt;
    return CorpId(a);
}

// ---- records -------------------------------------------------------------------------------------
std::optional<json> Universe::Alliance(std::int64_t id) const {
    if (auto s = s_alliances_.find(id); s != s_alliances_.end()) return s->second;
    int a = AllianceIndex(id);
    if (a < 0) return std::nullopt;
    Rng r(p_.seed, 31, static_cast<std::uint64_t>(a));
    json j;
    j["creator_corporation_id"] = CorpId(a);
    j["creator_id"] = CharacterId(a);
    j["date_founded"] = IsoDate(1262304000 + static_cast<std::int64_t>(r.Below(15 * 365)) * 86400 +
                                static_cast<std::int64_t>(r.Below(86400)));
    if (auto e = CurrentExecutor(a)) j["executor_corporation_id"] = *e;
    if (auto f = FactionOfAlliance(a)) j["faction_id"] = *f;
    j["name"] = AllianceName(a);
    j["ticker"] = Ticker(r, 3 + static_cast<int>(r.Below(3)));
    return j;
}

std::optional<json> Universe::AllianceCorporations(std::int64_t id) const {
    json arr = json::array();
    if (s_alliances_.count(id)) {
        for (auto& [cid, c] : s_corps_)
            if (CurrentAllianceOfCorpId(cid) == id) arr.push_back(cid);
        std::vector<std::int64_t> v = arr.get<std::vector<std::int64_t>>();
        std::sort(v.begin(), v.end());
        return json(v);
    }
    if (AllianceIndex(id) < 0) return std::nullopt;
    for (int c = 0; c < p_.corporations; ++c)
        if (CurrentAllianceOfCorpId(CorpId(c)) == id) arr.push_back(CorpId(c));
    return arr;
}

json Universe::NpcCorporation(int k) const {
    Rng r(p_.seed, 33, static_cast<std::uint64_t>(k));
    json j;
    j["ceo_id"] = kNpcCharBase + (k % p_.npc_characters);
    j["creator_id"] = 1;
    j["description"] = k == 0 ? "Where dead characters go." : "An NPC corporation serving its faction.";
    if (auto f = FactionOfCorpId(NpcCorpId(k))) j["faction_id"] = *f;
    if (k != 0) j["home_station_id"] = 60000004 + static_cast<std::int64_t>(r.Below(15000));
    j["member_count"] = static_cast<std::int64_t>(r.Below(500000));
    j["name"] = NpcCorpName(k);
    j["shares"] = 0;
    j["tax_rate"] = 0;
    j["ticker"] = Ticker(r, 4);
    j["url"] = "";
    return j;
}

std::optional<json> Universe::Corporation(std::int64_t id) const {
    if (auto s = s_corps_.find(id); s != s_corps_.end()) {
        json j = s->second;
        if (mutated_.load()) {
            if (auto al = CurrentAllianceOfCorpId(id))
                j["alliance_id"] = *al;
            else
                j.erase("alliance_id");
        }
        return j;
    }
    if (int k = NpcCorpIndex(id); k >= 0) return NpcCorporation(k);
    int c = CorpIndex(id);
    if (c < 0) return std::nullopt;
    Rng r(p_.seed, 32, static_cast<std::uint64_t>(c));
    static const double kTax[] = {0.0, 0.05000000074505806, 0.10000000149011612, 0.15000000596046448, 1.0};
    json j;
    if (auto al = CurrentAllianceOfCorpId(id)) j["alliance_id"] = *al;
    j["ceo_id"] = CharacterId(c);
    j["creator_id"] = CharacterId(c);
    if (c % 13 != 5) j["date_founded"] = IsoDate(1262304000 + static_cast<std::int64_t>(r.Below(15 * 365 * 86400LL)));
    std::uint64_t d = r.Below(10);
    if (d < 6)
        j["description"] = "<font size=\"12\" color=\"#bfffffff\">Welcome to " + CorpName(c) + "</font>";
    else if (d < 8)
        j["description"] = "";
    if (auto f = FactionOfCorpId(id)) j["faction_id"] = *f;
    if (r.Chance(0.8)) j["home_station_id"] = 60000004 + static_cast<std::int64_t>(r.Below(15000));
    j["member_count"] = 1 + static_cast<std::int64_t>(r.Below(3000));
    j["name"] = CorpName(c);
    if (r.Chance(0.9)) j["shares"] = 1000;
    j["tax_rate"] = kTax[r.Below(5)];
    j["ticker"] = Ticker(r, 2 + static_cast<int>(r.Below(4)));
    if (r.Chance(0.7)) j["url"] = r.Chance(0.5) ? "http://" : "";
    if (r.Chance(0.8)) j["war_eligible"] = r.Chance(0.7);
    return j;
}

json Universe::NpcCharacter(int n) const {
    Rng r(p_.seed, 35, static_cast<std::uint64_t>(n));
    json j;
    j["birthday"] = "2003-05-06T00:00:00Z";
    j["bloodline_id"] = 1 + static_cast<std::int64_t>(r.Below(14));
    j["corporation_id"] = NpcCorpId(1 + n % (p_.npc_corporations - 1));
    j["description"] = "";
    j["gender"] = r.Chance(0.5) ? "male" : "female";
    j["name"] = NpcCharName(n);
    j["race_id"] = std::int64_t{1} << r.Below(4);
    j["security_status"] = 0;
    return j;
}

std::optional<json> Universe::Character(std::int64_t id) const {
    if (auto s = s_chars_.find(id); s != s_chars_.end()) return s->second;
    if (IsNpcCharacterId(id)) {
        std::int64_t n = id - kNpcCharBase;
        if (n >= 0 && n < p_.npc_characters) return NpcCharacter(static_cast<int>(n));
        return std::nullopt;
    }
    int i = CharacterIndex(id);
    if (i < 0 || IsDeletedIndex(i)) return std::nullopt;
    Rng r(p_.seed, 34, static_cast<std::uint64_t>(i));
    static const int kBloodlines[4][3] = {{1, 2, 14}, {3, 4, 15}, {5, 6, 13}, {7, 8, 12}};
    int race = static_cast<int>(r.Below(4));
    std::int64_t corp = CurrentCorpOfChar(i);
    json j;
    if (auto al = CurrentAllianceOfCorpId(corp)) j["alliance_id"] = *al;
    j["birthday"] = IsoDate(1057449600 + static_cast<std::int64_t>(r.Below(21 * 365 * 86400LL)));
    j["bloodline_id"] = kBloodlines[race][r.Below(3)];
    j["corporation_id"] = corp;
    std::uint64_t d = r.Below(10);
    if (d < 5)
        j["description"] = "";
    else if (d < 8)
        j["description"] = "<font size=\"13\">Pilot " + std::to_string(i) + " says \"hi\" & 'bye'</font>";
    if (auto f = FactionOfCorpId(corp); f && i % 3 != 0) j["faction_id"] = *f;
    j["gender"] = r.Chance(0.6) ? "male" : "female";
    j["name"] = CharacterName(i);
    j["race_id"] = std::int64_t{1} << race;
    if (r.Chance(0.85)) j["security_status"] = Round(r.Unit() * 15.0 - 10.0, 9);
    if (r.Chance(0.15)) j["title"] = r.Chance(0.5) ? "Director" : "<color=0xff00ff00>Line Member</color>";
    return j;
}

std::optional<json> Universe::Type(std::int64_t id) const {
    if (auto s = s_types_.find(id); s != s_types_.end()) return s->second;
    int t = TypeIndex(id);
    if (t < 0) return std::nullopt;
    Rng r(p_.seed, 36, static_cast<std::uint64_t>(t));
    static const int kGroups[5][6] = {{25, 26, 27, 419, 420, 324},
                                      {53, 55, 60, 38, 41, 46},
                                      {83, 85, 86, 89, 83, 85},
                                      {12, 340, 12, 340, 12, 340},
                                      {1657, 1657, 1657, 1657, 1657, 1657}};
    int kind = TypeKind(t);
    json j;
    if (kind != 2) j["capacity"] = Round(r.Unit() * 1000.0, 1);
    j["description"] = "Generated type " + std::to_string(t) + ". <b>Not</b> a \"real\" item.";
    j["group_id"] = kGroups[kind][t % 6];
    if (t % 13 != 0) j["icon_id"] = 1000 + static_cast<std::int64_t>(r.Below(20000));
    if (t % 17 != 0) j["mass"] = kind == 0 ? Round(r.Unit() * 1e8, 0) : Round(r.Unit() * 1000, 2);
    j["name"] = TypeName(t);
    if (mutated_.load(std::memory_order_acquire)) {
        std::shared_lock lk(mu_);
        if (auto it = type_name_override_.find(id); it != type_name_override_.end()) j["name"] = it->second;
    }
    if (r.Chance(0.8)) j["packaged_volume"] = Round(r.Unit() * 50000.0, 2);
    j["portion_size"] = kind == 2 ? 100 : 1;
    j["published"] = t % 23 != 0;
    if (kind == 0 || kind == 4) j["radius"] = Round(r.Unit() * 5000.0, 0);
    j["type_id"] = id;
    if (t % 19 != 0) j["volume"] = Round(r.Unit() * 100000.0, 2);
    return j;
}

// ---- killmails -----------------------------------------------------------------------------------
Universe::Skeleton Universe::MakeSkeleton(int i) const {
    Rng r(p_.seed, 100, static_cast<std::uint64_t>(i));
    Skeleton sk;
    const auto N = static_cast<std::uint64_t>(p_.characters);
    sk.structure = r.Chance(0.05);
    if (!sk.structure) sk.victim_char = static_cast<int>(r.Below(N));
    std::uint64_t u = r.Below(100);
    int n = u < 40   ? 1
            : u < 70 ? 2 + static_cast<int>(r.Below(4))
            : u < 95 ? 6 + static_cast<int>(r.Below(15))
                     : 21 + static_cast<int>(r.Below(40));
    auto taken = [&](int ci) {
        if (ci == sk.victim_char) return true;
        for (auto& a : sk.attackers)
            if ((a.kind == 0 || a.kind == 4) && a.character_id == CharacterId(ci)) return true;
        return false;
    };
    for (int k = 0; k < n; ++k) {
        Attacker a{};
        std::uint64_t kk = r.Below(100);
        a.kind = kk < 75 ? 0 : kk < 83 ? 1 : kk < 91 ? 2 : kk < 96 ? 3 : 4;
        if (a.kind == 0 || a.kind == 4) {
            int ci = static_cast<int>(r.Below(N));
            for (int tries = 0; tries < 3 && taken(ci); ++tries) ci = static_cast<int>(r.Below(N));
            if (taken(ci)) {
                a.kind = 2;
            } else {
                a.character_id = CharacterId(ci);
            }
        } else if (a.kind == 1) {
            a.character_id =
                kNpcCharBase + static_cast<std::int64_t>(r.Below(static_cast<std::uint64_t>(p_.npc_characters)));
        }
        sk.attackers.push_back(a);
    }
    // the long-history characters: character h is an attacker on exactly history_kills killmails
    const std::int64_t K = p_.killmails, M = p_.history_kills;
    if (M > 0) {
        for (int h = 0; h < p_.history_characters; ++h) {
            std::int64_t ip = ((i - 7LL * h) % K + K) % K;
            std::int64_t j = (ip * M + K - 1) / K;  // ceil(ip*M/K)
            if (j < M && (j * K) / M == ip && !taken(h)) {
                Attacker a{};
                a.kind = 0;
                a.character_id = CharacterId(h);
                sk.attackers.push_back(a);
            }
        }
    }
    return sk;
}

std::int64_t Universe::PickType(Rng& r, int kind) const {
    const auto& v = ship_types_by_kind_[static_cast<std::size_t>(kind)];
    return v[r.Below(v.size())];
}

json Universe::ItemList(Rng& r, int count, bool allow_nested) const {
    static const int kFlags[] = {5, 11, 12, 13, 19, 20, 21, 27, 28, 29, 87, 92, 93, 94, 133, 158};
    json items = json::array();
    for (int k = 0; k < count; ++k) {
        json it;
        std::uint64_t u = r.Below(100);
        int flag = kFlags[r.Below(16)];
        bool nested = false;
        std::int64_t type;
        if (allow_nested && u < 6) {
            type = PickType(r, 3);  // container in cargo
            flag = 5;
            nested = true;
        } else if (allow_nested && u < 9) {
            type = PickType(r, 0);  // ship in the ship maintenance bay
            flag = 90;
            nested = true;
        } else {
            type = PickType(r, u < 65 ? 1 : 2);
        }
        it["flag"] = flag;
        it["item_type_id"] = type;
        if (nested) {
            it["items"] = ItemList(r, 1 + static_cast<int>(r.Below(4)), false);
        }
        std::uint64_t q = r.Below(100);
        std::int64_t qty = flag == 5 || flag == 133 ? 1 + static_cast<std::int64_t>(r.Below(5000)) : 1;
        if (q < 45 || nested)
            it["quantity_destroyed"] = nested ? 1 : qty;
        else if (q < 90)
            it["quantity_dropped"] = qty;
        else {
            it["quantity_destroyed"] = qty;
            it["quantity_dropped"] = 1 + static_cast<std::int64_t>(r.Below(100));
        }
        it["singleton"] = (!nested && r.Chance(0.05)) ? 2 : 0;
        items.push_back(std::move(it));
    }
    return items;
}

std::optional<std::string> Universe::KillmailHash(std::int64_t id) const {
    if (auto s = s_hashes_.find(id); s != s_hashes_.end()) return s->second;
    if (KillmailIndex(id) < 0) return std::nullopt;
    std::uint64_t a = Mix64(p_.seed ^ Mix64(static_cast<std::uint64_t>(id) ^ 0x4b4d));
    return HexOf(Mix64(a), 16) + HexOf(Mix64(a + 1), 16) + HexOf(Mix64(a + 2), 8);
}

std::optional<json> Universe::Killmail(std::int64_t id) const {
    if (auto s = s_killmails_.find(id); s != s_killmails_.end()) return s->second;
    int i = KillmailIndex(id);
    if (i < 0) return std::nullopt;
    Skeleton sk = MakeSkeleton(i);
    Rng r(p_.seed, 200, static_cast<std::uint64_t>(i));
    json km;
    km["killmail_id"] = id;
    km["killmail_time"] = IsoDate(1735689600LL + 53LL * i + static_cast<std::int64_t>(r.Below(50)));
    // One of the map's systems (the same draws as ever: the rest of the killmail is unchanged).
    const bool wspace = r.Chance(0.1);
    km["solar_system_id"] = geo_.PickSystem(wspace, r.Below(wspace ? 2600 : 5400));
    if (r.Chance(0.02)) km["moon_id"] = 40000001 + static_cast<std::int64_t>(r.Below(400000));
    if (r.Chance(0.03)) km["war_id"] = 740000 + static_cast<std::int64_t>(r.Below(2000));

    auto put_player = [&](json& o, std::int64_t char_id) {
        int ci = CharacterIndex(char_id);
        std::int64_t corp = BaseCorpIdOfChar(ci);
        int c = CorpIndex(corp);
        if (c >= 0) {
            int a = BaseAllianceOfCorp(c);
            if (a >= 0) o["alliance_id"] = kAllianceBase + a;
        }
        o["character_id"] = char_id;
        o["corporation_id"] = corp;
        if (auto f = FactionOfCorpId(corp); f && ci % 3 != 0) o["faction_id"] = *f;
    };

    json victim;
    if (sk.structure) {
        int c = static_cast<int>(r.Below(static_cast<std::uint64_t>(p_.corporations)));
        int a = BaseAllianceOfCorp(c);
        if (a >= 0) victim["alliance_id"] = kAllianceBase + a;
        victim["corporation_id"] = CorpId(c);
        victim["damage_taken"] = 500000 + static_cast<std::int64_t>(r.Below(5000000));
        victim["ship_type_id"] = PickType(r, 4);
    } else {
        put_player(victim, CharacterId(sk.victim_char));
        victim["damage_taken"] = 100 + static_cast<std::int64_t>(r.Below(60000));
        victim["ship_type_id"] = PickType(r, 0);
    }
    if (r.Chance(0.85)) {
        int n = static_cast<int>(r.Below(13));
        victim["items"] = ItemList(r, n, true);
    }
    if (r.Chance(0.9))
        victim["position"] = {
            {"x", (r.Unit() - 0.5) * 1e12}, {"y", (r.Unit() - 0.5) * 1e11}, {"z", (r.Unit() - 0.5) * 1e12}};
    km["victim"] = std::move(victim);

    json attackers = json::array();
    for (std::size_t k = 0; k < sk.attackers.size(); ++k) {
        const auto& a = sk.attackers[k];
        json o;
        switch (a.kind) {
            case 0:
            case 4:
                put_player(o, a.character_id);
                o["security_status"] = Round(r.Unit() * 15.0 - 10.0, 1);
                break;
            case 1:
                o["character_id"] = a.character_id;
                o["corporation_id"] =
                    NpcCorpId(1 + static_cast<int>((a.character_id - kNpcCharBase) % (p_.npc_corporations - 1)));
                o["security_status"] = 0;
                break;
            case 2:
                o["corporation_id"] =
                    NpcCorpId(1 + static_cast<int>(r.Below(static_cast<std::uint64_t>(p_.npc_corporations - 1))));
                o["security_status"] = 0;
                break;
            default:
                o["faction_id"] = 500024;  // Drifters: faction + ship only
                o["security_status"] = 0;
                break;
        }
        o["damage_done"] = static_cast<std::int64_t>(r.Below(20000));
        o["final_blow"] = k == 0;
        if (a.kind != 4) o["ship_type_id"] = PickType(r, 0);
        if (a.kind == 0 || a.kind == 1)
            o["weapon_type_id"] = r.Chance(0.2) ? o["ship_type_id"].get<std::int64_t>() : PickType(r, 1);
        attackers.push_back(std::move(o));
    }
    km["attackers"] = std::move(attackers);
    return km;
}

std::optional<json> Universe::Zkb(std::int64_t id) const {
    if (auto s = s_zkb_.find(id); s != s_zkb_.end()) return s->second;
    auto km = Killmail(id);
    auto hash = KillmailHash(id);
    if (!km || !hash) return std::nullopt;
    Rng r(p_.seed, 300, static_cast<std::uint64_t>(id));
    int players = 0;
    bool awox = false;
    const json& v = (*km)["victim"];
    for (const auto& a : (*km)["attackers"]) {
        if (a.contains("character_id") && !IsNpcCharacterId(a["character_id"].get<std::int64_t>())) {
            ++players;
            if (v.contains("corporation_id") && a.contains("corporation_id") &&
                a["corporation_id"] == v["corporation_id"])
                awox = true;
        }
    }
    const bool npc = players == 0;
    double destroyed = Round(1e6 + r.Unit() * 5e9, 2);
    double dropped = Round(r.Unit() * destroyed * 0.5, 2);
    std::int64_t sys = (*km)["solar_system_id"].get<std::int64_t>();
    json z;
    z["locationID"] = 40000000 + static_cast<std::int64_t>(r.Below(500000));
    z["hash"] = *hash;
    z["fittedValue"] = Round(destroyed * 0.7, 2);
    z["droppedValue"] = dropped;
    z["destroyedValue"] = destroyed;
    z["totalValue"] = Round(destroyed + dropped, 2);
    z["points"] = npc ? 1 : 1 + static_cast<std::int64_t>(r.Below(100));
    z["npc"] = npc;
    z["solo"] = !npc && players == 1 && (*km)["attackers"].size() == 1;
    z["awox"] = awox;
    json labels = json::array({"cat:6"});
    if (z["solo"].get<bool>()) labels.push_back("solo");
    labels.push_back(npc ? "npc" : "pvp");
    labels.push_back(sys >= 31000000 ? "loc:w-space"
                                     : (sys % 3 == 0   ? "loc:highsec"
                                        : sys % 3 == 1 ? "loc:lowsec"
                                                       : "loc:nullsec"));
    z["labels"] = labels;
    return z;
}

// ---- lists, names, affiliation -------------------------------------------------------------------
json Universe::AllianceIds() const { return AllAllianceIds(); }

json Universe::NpcCorpIds() const {
    std::vector<std::int64_t> v;
    for (int k = 0; k < p_.npc_corporations; ++k) v.push_back(NpcCorpId(k));
    for (auto& [id, c] : s_corps_)
        if (IsNpcCorporationId(id)) v.push_back(id);
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

std::optional<json> Universe::Name(std::int64_t id) const {
    auto mk = [&](const char* cat, const std::string& name) {
        return json{{"category", cat}, {"id", id}, {"name", name}};
    };
    if (auto s = s_alliances_.find(id); s != s_alliances_.end()) return mk("alliance", s->second.value("name", ""));
    if (auto s = s_corps_.find(id); s != s_corps_.end()) return mk("corporation", s->second.value("name", ""));
    if (auto s = s_chars_.find(id); s != s_chars_.end()) return mk("character", s->second.value("name", ""));
    if (auto s = s_types_.find(id); s != s_types_.end()) return mk("inventory_type", s->second.value("name", ""));
    if (int a = AllianceIndex(id); a >= 0) return mk("alliance", AllianceName(a));
    if (int c = CorpIndex(id); c >= 0) return mk("corporation", CorpName(c));
    if (int k = NpcCorpIndex(id); k >= 0) return mk("corporation", NpcCorpName(k));
    if (int i = CharacterIndex(id); i >= 0 && !IsDeletedIndex(i)) return mk("character", CharacterName(i));
    if (IsNpcCharacterId(id) && id - kNpcCharBase >= 0 && id - kNpcCharBase < p_.npc_characters)
        return mk("character", NpcCharName(static_cast<int>(id - kNpcCharBase)));
    if (int t = TypeIndex(id); t >= 0) return mk("inventory_type", (*Type(id))["name"].get<std::string>());
    for (const auto& f : kFactions)
        if (f.id == id) return mk("faction", f.name);
    if (auto g = geo_.Name(id)) return mk(g->first.c_str(), g->second);
    if ((id >= 30000001 && id <= 30005400) || (id >= 31000001 && id <= 31002600))
        return mk("solar_system", (id >= 31000000 ? "J" : "S-") + std::to_string(id % 1000000));
    return std::nullopt;
}

std::optional<json> Universe::Affiliation(std::int64_t id) const {
    if (auto s = s_chars_.find(id); s != s_chars_.end()) {
        json j{{"character_id", id}, {"corporation_id", s->second["corporation_id"]}};
        if (s->second.contains("alliance_id")) j["alliance_id"] = s->second["alliance_id"];
        if (s->second.contains("faction_id")) j["faction_id"] = s->second["faction_id"];
        return j;
    }
    if (IsNpcCharacterId(id)) {
        auto c = Character(id);
        if (!c) return std::nullopt;
        return json{{"character_id", id}, {"corporation_id", (*c)["corporation_id"]}};
    }
    int i = CharacterIndex(id);
    if (i < 0) return std::nullopt;
    if (IsDeletedIndex(i)) return json{{"character_id", id}, {"corporation_id", 1000001}};
    auto c = Character(id);
    json j{{"character_id", id}, {"corporation_id", (*c)["corporation_id"]}};
    if (c->contains("alliance_id")) j["alliance_id"] = (*c)["alliance_id"];
    if (c->contains("faction_id")) j["faction_id"] = (*c)["faction_id"];
    return j;
}

// ---- ground truth --------------------------------------------------------------------------------
namespace {
std::vector<std::int64_t> Sorted(std::vector<std::int64_t> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}
}  // namespace

std::vector<std::int64_t> Universe::AllAllianceIds() const {
    std::vector<std::int64_t> v;
    for (int a = 0; a < p_.alliances; ++a) v.push_back(kAllianceBase + a);
    for (auto& [id, x] : s_alliances_) v.push_back(id);
    return Sorted(v);
}
std::vector<std::int64_t> Universe::AllCorporationIds() const {
    std::vector<std::int64_t> v;
    for (int c = 0; c < p_.corporations; ++c) v.push_back(CorpId(c));
    for (int k = 0; k < p_.npc_corporations; ++k) v.push_back(NpcCorpId(k));
    for (auto& [id, x] : s_corps_) v.push_back(id);
    return Sorted(v);
}
std::vector<std::int64_t> Universe::AllCharacterIds() const {
    std::vector<std::int64_t> v;
    for (int i = 0; i < p_.characters; ++i)
        if (!IsDeletedIndex(i)) v.push_back(CharacterId(i));
    for (auto& [id, x] : s_chars_) v.push_back(id);
    return Sorted(v);
}
std::vector<std::int64_t> Universe::NpcCharacterIds() const {
    std::vector<std::int64_t> v;
    for (int n = 0; n < p_.npc_characters; ++n) v.push_back(kNpcCharBase + n);
    return v;
}
std::vector<std::int64_t> Universe::DeletedCharacterIds() const {
    std::vector<std::int64_t> v;
    for (int i = 0; i < p_.characters; ++i)
        if (IsDeletedIndex(i)) v.push_back(CharacterId(i));
    return Sorted(v);
}
std::vector<std::int64_t> Universe::AllTypeIds() const {
    std::vector<std::int64_t> v;
    for (int t = 0; t < p_.types; ++t) v.push_back(kTypeBase + t);
    for (auto& [id, x] : s_types_) v.push_back(id);
    return Sorted(v);
}
std::vector<std::int64_t> Universe::AllKillmailIds() const {
    std::vector<std::int64_t> v;
    v.reserve(static_cast<std::size_t>(p_.killmails) + s_killmails_.size());
    for (auto& [id, x] : s_killmails_) v.push_back(id);
    for (int i = 0; i < p_.killmails; ++i) v.push_back(KillmailId(i));
    return Sorted(v);
}
std::vector<std::int64_t> Universe::HistoryCharacterIds() const {
    std::vector<std::int64_t> v;
    for (int h = 0; h < p_.history_characters; ++h) v.push_back(CharacterId(h));
    return v;
}

std::size_t Universe::CharacterKillmailCount(std::int64_t character_id) const {
    int ci = CharacterIndex(character_id);
    if (ci < 0 || s_chars_.count(character_id)) return 0;
    return hist_offsets_[static_cast<std::size_t>(ci) + 1] - hist_offsets_[static_cast<std::size_t>(ci)];
}

std::vector<std::int64_t> Universe::CharacterKillmailPage(std::int64_t character_id, int page, int page_size) const {
    std::vector<std::int64_t> out;
    int ci = CharacterIndex(character_id);
    if (ci < 0 || page < 1 || page_size < 1 || s_chars_.count(character_id)) return out;
    const std::size_t b = hist_offsets_[static_cast<std::size_t>(ci)];
    const std::size_t e = hist_offsets_[static_cast<std::size_t>(ci) + 1];
    const std::size_t n = e - b;
    const std::size_t skip = static_cast<std::size_t>(page - 1) * static_cast<std::size_t>(page_size);
    for (std::size_t k = skip; k < n && k < skip + static_cast<std::size_t>(page_size); ++k)
        out.push_back(KillmailId(static_cast<int>(hist_kms_[e - 1 - k])));  // newest first
    return out;
}

std::vector<std::int64_t> Universe::CharacterKillmails(std::int64_t character_id) const {
    return CharacterKillmailPage(character_id, 1, 1 << 30);
}

std::optional<json> Universe::Record(Kind kind, std::int64_t id) const {
    switch (kind) {
        case Kind::Alliance: return Alliance(id);
        case Kind::Corporation: return Corporation(id);
        case Kind::Character: return Character(id);
        case Kind::Type: return Type(id);
        case Kind::Killmail: return Killmail(id);
    }
    return std::nullopt;
}

// ---- mutations -----------------------------------------------------------------------------------
bool Universe::CorporationLeaveAlliance(std::int64_t corp_id) {
    if (CorpIndex(corp_id) < 0 && !s_corps_.count(corp_id)) return false;
    auto old = CurrentAllianceOfCorpId(corp_id);
    std::unique_lock lk(mu_);
    corp_alliance_override_[corp_id] = std::nullopt;
    if (old) {
        int a = AllianceIndex(*old);
        if (a >= 0 && CorpId(a) == corp_id) alliance_no_executor_[*old] = true;  // executor left
    }
    mutated_.store(true, std::memory_order_release);
    ++mutation_count_;
    return true;
}
bool Universe::CorporationJoinAlliance(std::int64_t corp_id, std::int64_t alliance_id) {
    if (CorpIndex(corp_id) < 0 && !s_corps_.count(corp_id)) return false;
    if (AllianceIndex(alliance_id) < 0 && !s_alliances_.count(alliance_id)) return false;
    std::unique_lock lk(mu_);
    corp_alliance_override_[corp_id] = alliance_id;
    mutated_.store(true, std::memory_order_release);
    ++mutation_count_;
    return true;
}
bool Universe::AllianceRemoveExecutor(std::int64_t alliance_id) {
    if (AllianceIndex(alliance_id) < 0) return false;
    std::unique_lock lk(mu_);
    alliance_no_executor_[alliance_id] = true;
    mutated_.store(true, std::memory_order_release);
    ++mutation_count_;
    return true;
}
bool Universe::CharacterMove(std::int64_t character_id, std::int64_t corp_id) {
    int i = CharacterIndex(character_id);
    if (i < 0 || IsDeletedIndex(i) || s_chars_.count(character_id)) return false;
    if (CorpIndex(corp_id) < 0 && NpcCorpIndex(corp_id) < 0 && !s_corps_.count(corp_id)) return false;
    std::unique_lock lk(mu_);
    char_corp_override_[i] = corp_id;
    mutated_.store(true, std::memory_order_release);
    ++mutation_count_;
    return true;
}

bool Universe::CharacterDelete(std::int64_t character_id) {
    int i = CharacterIndex(character_id);
    if (i < 0 || IsDeletedIndex(i) || s_chars_.count(character_id)) return false;
    std::unique_lock lk(mu_);
    char_deleted_.insert(i);
    mutated_.store(true, std::memory_order_release);
    ++mutation_count_;
    return true;
}

bool Universe::TypeRename(std::int64_t type_id, const std::string& name) {
    if (TypeIndex(type_id) < 0 || name.empty()) return false;
    std::unique_lock lk(mu_);
    type_name_override_[type_id] = name;
    mutated_.store(true, std::memory_order_release);
    ++mutation_count_;
    return true;
}

}  // namespace fakeesi
