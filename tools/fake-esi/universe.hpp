// Deterministic fake EVE universe: alliances, corporations, characters, types and killmails
// generated from a seed and a few size parameters, plus the real ESI samples from shared/samples.
//
// Everything is a pure function of (params, id) except:
//   * the character -> killmails index, built once at construction (compact CSR arrays), and
//   * mutations (corporation leaves alliance, character moves corp, ...) applied at runtime.
// Killmails are immutable and never stored: they are regenerated from their id on demand.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "geography.hpp"

namespace fakeesi {

struct UniverseParams {
    std::uint64_t seed = 42;
    int alliances = 50;
    int corporations = 500;      // player corporations (>= alliances)
    int npc_corporations = 20;   // ids 1,000,000-1,999,999 (incl. 1000001 "Doomheim")
    int characters = 5000;       // player characters (>= corporations)
    int npc_characters = 50;     // ids 3,000,000-3,999,999
    int types = 300;             // generated inventory types (>= 50)
    int killmails = 20000;       // generated killmails
    int history_characters = 5;  // the first N player characters get a long zKillboard history ...
    int history_kills = 450;     // ... of exactly this many extra killmails each (as attacker)
    int regions = 4;             // the map (geography.hpp); the last region is wormhole space
    int constellations_per_region = 3;
    int systems_per_constellation = 4;
    std::string samples_dir;  // empty = no samples
    // Every generated id below 2^31, as a database the original created can hold (its INTEGER
    // columns); by default some character and killmail ids are above 2^31 (our BIGINT schema).
    bool int32_ids = false;
};

enum class Kind { Alliance, Corporation, Character, Type, Killmail };

// 64-bit mixing; the universe's only source of randomness.
inline std::uint64_t Mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// A tiny deterministic stream: Rng(seed, salt, index).
class Rng {
public:
    Rng(std::uint64_t seed, std::uint64_t salt, std::uint64_t index)
        : s_(Mix64(seed ^ Mix64(salt * 0x100000001b3ULL ^ Mix64(index)))) {}
    std::uint64_t Next() { return s_ = Mix64(s_); }
    // uniform in [0, n)
    std::uint64_t Below(std::uint64_t n) { return n == 0 ? 0 : Next() % n; }
    std::int64_t Range(std::int64_t lo, std::int64_t hi) {  // inclusive
        return lo + static_cast<std::int64_t>(Below(static_cast<std::uint64_t>(hi - lo + 1)));
    }
    double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
    bool Chance(double p) { return Unit() < p; }

private:
    std::uint64_t s_;
};

class Universe {
public:
    explicit Universe(UniverseParams p);

    const UniverseParams& Params() const { return p_; }
    /// The map: regions, constellations, solar systems (the killmails' systems are among them).
    Geography& Geo() { return geo_; }
    const Geography& Geo() const { return geo_; }

    // ---- current records as ESI would serve them (nullopt = 404) ------------------------------
    std::optional<nlohmann::json> Alliance(std::int64_t id) const;
    std::optional<nlohmann::json> AllianceCorporations(std::int64_t id) const;
    std::optional<nlohmann::json> Corporation(std::int64_t id) const;
    std::optional<nlohmann::json> Character(std::int64_t id) const;
    std::optional<nlohmann::json> Type(std::int64_t id) const;
    // The killmail body for (id, hash); nullopt if the id is unknown or the hash does not match.
    std::optional<nlohmann::json> Killmail(std::int64_t id) const;
    std::optional<std::string> KillmailHash(std::int64_t id) const;
    // zKillboard's "zkb" block for a killmail (deterministic values).
    std::optional<nlohmann::json> Zkb(std::int64_t killmail_id) const;
    nlohmann::json AllianceIds() const;  // GET /alliances/
    nlohmann::json NpcCorpIds() const;   // GET /corporations/npccorps/
    // POST /universe/names element or nullopt if the id is unknown.
    std::optional<nlohmann::json> Name(std::int64_t id) const;
    // POST /characters/affiliation element or nullopt if the id is not a known character.
    std::optional<nlohmann::json> Affiliation(std::int64_t id) const;

    // ---- ground truth ---------------------------------------------------------------------------
    std::vector<std::int64_t> AllAllianceIds() const;
    std::vector<std::int64_t> AllCorporationIds() const;  // player + NPC + sample
    std::vector<std::int64_t> AllCharacterIds() const;    // existing (not deleted) player + sample
    std::vector<std::int64_t> NpcCharacterIds() const;
    std::vector<std::int64_t> DeletedCharacterIds() const;  // referenced by killmails, 404 on ESI
    std::vector<std::int64_t> AllTypeIds() const;
    std::vector<std::int64_t> AllKillmailIds() const;       // ascending; generated + sample
    std::vector<std::int64_t> HistoryCharacterIds() const;  // the characters with long histories
    // Killmails a character appears in (victim or attacker), newest (highest id) first.
    std::vector<std::int64_t> CharacterKillmails(std::int64_t character_id) const;
    std::size_t CharacterKillmailCount(std::int64_t character_id) const;
    // Page (1-based) of CharacterKillmails.
    std::vector<std::int64_t> CharacterKillmailPage(std::int64_t character_id, int page, int page_size) const;
    std::optional<nlohmann::json> Record(Kind kind, std::int64_t id) const;
    bool IsDeletedCharacter(std::int64_t id) const;
    static bool IsNpcCharacterId(std::int64_t id) { return id >= 3000000 && id <= 3999999; }
    static bool IsNpcCorporationId(std::int64_t id) { return id >= 1000000 && id <= 1999999; }
    std::size_t SampleCount() const;

    // ---- mutations (return false if the entity is unknown) ---------------------------------------
    bool CorporationLeaveAlliance(std::int64_t corp_id);
    bool CorporationJoinAlliance(std::int64_t corp_id, std::int64_t alliance_id);
    bool AllianceRemoveExecutor(std::int64_t alliance_id);
    bool CharacterMove(std::int64_t character_id, std::int64_t corp_id);
    // Biomassed: from now on as the deleted characters (404 on /characters and /universe/names,
    // Doomheim in affiliations); its killmails do not change.
    bool CharacterDelete(std::int64_t character_id);
    // A game patch renames an inventory type (its name on /universe/types/{id}/ and /universe/names).
    bool TypeRename(std::int64_t type_id, const std::string& name);
    std::uint64_t MutationCount() const { return mutation_count_.load(); }

    // ---- id <-> index (generated entities) --------------------------------------------------------
    static constexpr std::int64_t kAllianceBase = 99000001;
    static constexpr std::int64_t kCorpBase = 98000001;
    static constexpr std::int64_t kNpcCorpBase = 1000300;  // + i-1; index 0 is 1000001 Doomheim
    static constexpr std::int64_t kNpcCharBase = 3000001;
    static constexpr std::int64_t kTypeBase = 900000;
    std::int64_t CharacterId(int index) const;
    int CharacterIndex(std::int64_t id) const;  // -1 if not a generated player character
    std::int64_t KillmailId(int index) const { return km_base_ + index; }
    int KillmailIndex(std::int64_t id) const;

private:
    struct Attacker {
        int kind;  // 0 player, 1 npc char, 2 npc corp only, 3 faction only, 4 player no ship
        std::int64_t character_id = 0;
        std::int64_t corporation_id = 0;
    };
    struct Skeleton {
        bool structure = false;
        int victim_char = -1;  // player character index, or -1
        std::vector<Attacker> attackers;
    };

    Skeleton MakeSkeleton(int km_index) const;
    // base (unmutated) affiliations, used for killmails
    std::int64_t BaseCorpIdOfChar(int char_index) const;
    int BaseAllianceOfCorp(int corp_index) const;  // -1 none
    std::int64_t CorpId(int corp_index) const { return kCorpBase + corp_index; }
    std::int64_t NpcCorpId(int i) const { return i == 0 ? 1000001 : kNpcCorpBase + i - 1; }
    int NpcCorpIndex(std::int64_t id) const;
    int CorpIndex(std::int64_t id) const;
    int AllianceIndex(std::int64_t id) const;
    int TypeIndex(std::int64_t id) const;
    int TypeKind(int type_index) const;  // 0 ship, 1 module, 2 charge, 3 container, 4 structure
    std::int64_t PickType(Rng& r, int kind) const;
    std::optional<std::int64_t> FactionOfCorpId(std::int64_t corp_id) const;
    std::optional<std::int64_t> FactionOfAlliance(int alliance_index) const;
    // current (mutated) affiliations
    std::int64_t CurrentCorpOfChar(int char_index) const;
    std::optional<std::int64_t> CurrentAllianceOfCorpId(std::int64_t corp_id) const;
    nlohmann::json ItemList(Rng& r, int count, bool allow_nested) const;
    nlohmann::json NpcCharacter(int npc_index) const;
    nlohmann::json NpcCorporation(int npc_index) const;
    std::string CharacterName(int index) const;
    std::string CorpName(int index) const;
    std::string AllianceName(int index) const;
    std::string TypeName(int index) const;
    std::string NpcCharName(int index) const;
    std::string NpcCorpName(int index) const;
    bool IsDeletedIndex(int index) const;
    std::optional<std::int64_t> CurrentExecutor(int alliance_index) const;
    void LoadSamples();

    UniverseParams p_;
    Geography geo_;
    std::int64_t km_base_ = 0;
    // CSR index: killmail indices per player character (ascending); NPC chars are not indexed.
    std::vector<std::uint32_t> hist_offsets_;
    std::vector<std::uint32_t> hist_kms_;
    std::vector<std::vector<std::int64_t>> ship_types_by_kind_;

    // samples, keyed by id
    std::unordered_map<std::int64_t, nlohmann::json> s_alliances_, s_corps_, s_chars_, s_types_, s_killmails_;
    std::unordered_map<std::int64_t, std::string> s_hashes_;
    std::unordered_map<std::int64_t, nlohmann::json> s_zkb_;

    // mutations
    mutable std::shared_mutex mu_;
    std::atomic<bool> mutated_{false};
    std::atomic<std::uint64_t> mutation_count_{0};
    std::unordered_map<std::int64_t, std::optional<std::int64_t>> corp_alliance_override_;
    std::unordered_map<std::int64_t, bool> alliance_no_executor_;
    std::unordered_map<int, std::int64_t> char_corp_override_;
    std::unordered_set<int> char_deleted_;
    std::unordered_map<std::int64_t, std::string> type_name_override_;
};

}  // namespace fakeesi
