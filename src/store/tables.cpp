#include "store/tables.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>
#include <variant>

#include "store/store.hpp"

namespace kr::store::tables {

namespace {

using db::Col;
using db::ColType;
using db::CreatedAt;
using db::Default;
using db::kNotNull;
using db::kPrimaryKey;
using db::References;
using db::RefersTo;
using db::Table;
using db::TableDef;
using db::Unwritten;
using db::UpdatedAt;
using db::WithDefault;

constexpr auto kBigint = ColType::kBigint;
constexpr auto kInt = ColType::kInt;
constexpr auto kText = ColType::kText;
constexpr auto kTimestamp = ColType::kTimestamp;
constexpr auto kDouble = ColType::kDouble;
constexpr auto kBool = ColType::kBool;

const char* const kKillmailFk = "killmails (killmail_id) ON DELETE CASCADE";

/// Migration store/1 created KillReport's nine tables; store/2 our first own ones.
constexpr int kOriginal = 1;
constexpr int kOwn = 2;
constexpr int kSync = 4;      ///< store/4: worker:zkillboard's outbox and page chains
constexpr int kUniverse = 5;  ///< store/5: KillReport's universe tables, kr_list_sweeps
constexpr int kDerived = 6;   ///< store/6: KillReport's derived tables (killmail_filters, *_kill_stats)
constexpr auto kDate = ColType::kDate;
constexpr auto kIdArray = ColType::kIdArray;
constexpr int kFresh = 7;     ///< store/7: kr_alliance_corporations (keeping stored data true)
constexpr int kWorkers = 8;   ///< store/8: kr_worker_status (what `status` reads of the workers)
constexpr int kLive = 9;      ///< store/9: the live feed's cursor
constexpr int kRefresh = 10;  ///< store/10: the refresh scheduler's last runs

TableDef Shape(std::string name, int since, std::vector<db::IndexDef> indexes = {},
               std::vector<std::string> conflict = {}, bool upsert = false) {
    TableDef t;
    t.name = std::move(name);
    t.since = since;
    t.killreport_original = since == kOriginal;
    t.indexes = std::move(indexes);
    t.conflict = std::move(conflict);
    t.upsert = upsert;
    return t;
}

/// An entity table: upserted by its key (the first column, the original's: "id", "region_id", …),
/// the columns of the ESI response. `original`: one of KillReport's own tables (kept when present).
TableDef EntityShape(EntityKind kind, int since, std::vector<db::IndexDef> indexes, std::string key = "id",
                     bool original = false) {
    TableDef t = Shape(KindInfo(kind).table, since, std::move(indexes), {std::move(key)}, true);
    t.killreport_original = t.killreport_original || original;
    return t;
}

const Table<Alliance>& AlliancesTable() {
    static const Table<Alliance> table{
        EntityShape(EntityKind::kAlliance, kOriginal, {}),
        {
            {Col("id", kBigint, kPrimaryKey), &Alliance::id},
            {Col("name", kText, kNotNull), &Alliance::name},
            {Col("ticker", kText, kNotNull), &Alliance::ticker},
            {Col("date_founded", kTimestamp, kNotNull), &Alliance::date_founded},
            {Col("creator_corporation_id", kBigint, kNotNull), &Alliance::creator_corporation_id},
            {Col("creator_id", kBigint, kNotNull), &Alliance::creator_id},
            {Col("executor_corporation_id", kBigint), &Alliance::executor_corporation_id},
            {Col("faction_id", kBigint), &Alliance::faction_id},
            {CreatedAt()},
            {UpdatedAt()},
            {Unwritten(WithDefault(Col("corporation_count", kInt, kNotNull), Default::kZero))},
            {Unwritten(WithDefault(Col("member_count", kInt, kNotNull), Default::kZero))},
        }};
    return table;
}

const Table<Corporation>& CorporationsTable() {
    static const Table<Corporation> table{
        EntityShape(EntityKind::kCorporation, kOriginal, {{"corporations_alliance_id_idx", "alliance_id"}}),
        {
            {Col("id", kBigint, kPrimaryKey), &Corporation::id},
            {Col("name", kText, kNotNull), &Corporation::name},
            {Col("ticker", kText, kNotNull), &Corporation::ticker},
            {Col("member_count", kInt, kNotNull), &Corporation::member_count},
            {Col("ceo_id", kBigint, kNotNull), &Corporation::ceo_id},
            {Col("creator_id", kBigint, kNotNull), &Corporation::creator_id},
            {Col("date_founded", kTimestamp), &Corporation::date_founded},
            {Col("description", kText), &Corporation::description},
            {RefersTo(Col("alliance_id", kBigint), EntityKind::kAlliance), &Corporation::alliance_id},
            {Col("faction_id", kBigint), &Corporation::faction_id},
            {Col("home_station_id", kBigint), &Corporation::home_station_id},
            {Col("shares", kBigint), &Corporation::shares},
            {Col("tax_rate", kDouble, kNotNull), &Corporation::tax_rate},
            {Col("url", kText), &Corporation::url},
            {CreatedAt()},
            {UpdatedAt()},
        }};
    return table;
}

const Table<Character>& CharactersTable() {
    static const Table<Character> table{
        EntityShape(
            EntityKind::kCharacter, kOriginal,
            {{"characters_corporation_id_idx", "corporation_id"}, {"characters_alliance_id_idx", "alliance_id"}}),
        {
            {Col("id", kBigint, kPrimaryKey), &Character::id},
            {Col("name", kText, kNotNull), &Character::name},
            {RefersTo(Col("corporation_id", kBigint, kNotNull), EntityKind::kCorporation), &Character::corporation_id},
            {RefersTo(Col("alliance_id", kBigint), EntityKind::kAlliance), &Character::alliance_id},
            {Col("birthday", kTimestamp, kNotNull), &Character::birthday},
            {Col("bloodline_id", kInt, kNotNull), &Character::bloodline_id},
            {Col("race_id", kInt, kNotNull), &Character::race_id},
            {Col("gender", kText, kNotNull), &Character::gender},
            {Col("security_status", kDouble), &Character::security_status},
            {Col("description", kText), &Character::description},
            {Col("title", kText), &Character::title},
            {Col("faction_id", kBigint), &Character::faction_id},
            {CreatedAt()},
            {UpdatedAt()},
        }};
    return table;
}

const Table<Type>& TypesTable() {
    static const Table<Type> table{
        EntityShape(EntityKind::kType, kOriginal, {{"types_group_id_idx", "group_id"}}),
        {
            {Col("id", kBigint, kPrimaryKey), &Type::id},
            {Col("name", kText, kNotNull), &Type::name},
            {Col("description", kText), &Type::description},
            {Col("group_id", kBigint, kNotNull), &Type::group_id},
            {WithDefault(Col("published", kBool, kNotNull), Default::kTrue), &Type::published},
            {Col("volume", kDouble), &Type::volume},
            {Col("capacity", kDouble), &Type::capacity},
            {Col("mass", kDouble), &Type::mass},
            {Col("icon_id", kBigint), &Type::icon_id},
            {CreatedAt()},
            {UpdatedAt()},
        }};
    return table;
}

// The universe, exactly as the original's tables (INTEGER ids: ESI's universe ids are below 2^31;
// no created_at/updated_at; foreign keys as its latest migration has them). The foreign keys make
// the write order matter: the registry puts regions before constellations before systems, and the
// info workers bring a missing parent in with its child (worker/info_worker.hpp).
const Table<Region>& RegionsTable() {
    static const Table<Region> table{EntityShape(EntityKind::kRegion, kUniverse, {}, "region_id", true),
                                     {
                                         {Col("region_id", kInt, kPrimaryKey), &Region::id},
                                         {Col("name", kText, kNotNull), &Region::name},
                                         {Col("description", kText), &Region::description},
                                     }};
    return table;
}

const Table<Constellation>& ConstellationsTable() {
    static const Table<Constellation> table{
        EntityShape(EntityKind::kConstellation, kUniverse, {{"constellations_region_id_idx", "region_id"}},
                    "constellation_id", true),
        {
            {Col("constellation_id", kInt, kPrimaryKey), &Constellation::id},
            {Col("name", kText, kNotNull), &Constellation::name},
            {RefersTo(References(Col("region_id", kInt), "regions (region_id) ON DELETE RESTRICT ON UPDATE CASCADE"),
                      EntityKind::kRegion),
             &Constellation::region_id},
            {Col("position_x", kDouble), [](const Constellation& c) { return c.position.x; }},
            {Col("position_y", kDouble), [](const Constellation& c) { return c.position.y; }},
            {Col("position_z", kDouble), [](const Constellation& c) { return c.position.z; }},
        }};
    return table;
}

const Table<SolarSystem>& SolarSystemsTable() {
    static const Table<SolarSystem> table{
        EntityShape(EntityKind::kSolarSystem, kUniverse, {{"solar_systems_constellation_id_idx", "constellation_id"}},
                    "system_id", true),
        {
            {Col("system_id", kInt, kPrimaryKey), &SolarSystem::id},
            {Col("name", kText, kNotNull), &SolarSystem::name},
            {RefersTo(References(Col("constellation_id", kInt),
                                 "constellations (constellation_id) ON DELETE RESTRICT ON UPDATE CASCADE"),
                      EntityKind::kConstellation),
             &SolarSystem::constellation_id},
            {Col("security_status", kDouble), &SolarSystem::security_status},
            {Col("security_class", kText), &SolarSystem::security_class},
            {Col("star_id", kInt), &SolarSystem::star_id},
            {Col("position_x", kDouble), [](const SolarSystem& s) { return s.position.x; }},
            {Col("position_y", kDouble), [](const SolarSystem& s) { return s.position.y; }},
            {Col("position_z", kDouble), [](const SolarSystem& s) { return s.position.z; }},
        }};
    return table;
}

TableDef UsersDef() {
    TableDef t = Shape("users", kOriginal);
    db::ColumnDef id = Col("id", ColType::kSerial);
    id.flags |= db::kAutoincrement;
    t.columns = {id,
                 Col("character_id", kBigint, kNotNull | db::kUnique),
                 Col("character_name", kText, kNotNull),
                 Col("access_token", kText),
                 Col("refresh_token", kText),
                 Col("expires_at", kTimestamp),
                 CreatedAt(),
                 UpdatedAt()};
    return t;
}
const TableDef& UsersTable() {
    static const TableDef table = UsersDef();
    return table;
}

// The derived tables, as the original's migrations create them (names, columns, indexes); ids are
// BIGINT when we create them, as in store/1. Written set-based by store/derived.cpp, never row by
// row, so they have no write statement of their own.
TableDef KillmailFiltersDef() {
    const auto btree = [](const std::string& name, const std::string& columns) {
        return db::IndexDef{"killmail_filters_" + name + "_idx", columns};
    };
    TableDef t = Shape(
        "killmail_filters", kDerived,
        {btree("victim_character_id", "victim_character_id"),
         btree("victim_corporation_id", "victim_corporation_id"),
         btree("victim_alliance_id", "victim_alliance_id"),
         btree("victim_ship_type_id", "victim_ship_type_id"),
         btree("solar_system_id", "solar_system_id"),
         btree("constellation_id", "constellation_id"),
         btree("region_id", "region_id"),
         btree("killmail_time", "killmail_time DESC"),
         btree("region_id_killmail_time", "region_id, killmail_time DESC"),
         btree("victim_ship_type_id_killmail_time", "victim_ship_type_id, killmail_time DESC"),
         btree("victim_ship_type_id_region_id_killmail_time", "victim_ship_type_id, region_id, killmail_time DESC"),
         btree("security_status", "security_status"),
         btree("security_class", "security_class"),
         btree("security_status_killmail_time", "security_status, killmail_time DESC"),
         btree("security_class_killmail_time", "security_class, killmail_time DESC"),
         {"killmail_filters_attacker_ship_type_ids_idx", "attacker_ship_type_ids", 0, true},
         {"killmail_filters_attacker_character_ids_idx", "attacker_character_ids", 0, true},
         {"killmail_filters_attacker_corporation_ids_idx", "attacker_corporation_ids", 0, true},
         {"killmail_filters_attacker_alliance_ids_idx", "attacker_alliance_ids", 0, true}},
        {"killmail_id"});
    t.killreport_original = true;
    t.columns = {Col("killmail_id", kBigint, kPrimaryKey | kNotNull),
                 Col("killmail_time", kTimestamp),
                 Col("solar_system_id", kBigint),
                 Col("attacker_count", kInt),
                 Col("constellation_id", kInt),
                 Col("region_id", kInt),
                 Col("victim_ship_type_id", kBigint),
                 Col("victim_character_id", kBigint),
                 Col("victim_corporation_id", kBigint),
                 Col("victim_alliance_id", kBigint),
                 Col("attacker_ship_type_ids", kIdArray),
                 Col("attacker_character_ids", kIdArray),
                 Col("attacker_corporation_ids", kIdArray),
                 Col("attacker_alliance_ids", kIdArray),
                 Col("security_status", kDouble),
                 db::Varchar("security_class", 2)};
    return t;
}

/// character_kill_stats / corporation_kill_stats / alliance_kill_stats: kills per entity per UTC day.
TableDef KillStatsDef(const std::string& entity) {
    const std::string name = entity + "_kill_stats";
    TableDef t = Shape(name, kDerived, {{name + "_kill_date_kill_count_idx", "kill_date, kill_count DESC"}},
                       {"kill_date", entity + "_id"});
    t.killreport_original = true;
    t.columns = {Col("kill_date", kDate, kNotNull), Col(entity + "_id", kBigint, kNotNull), Col("kill_count", kInt)};
    t.primary_key = {"kill_date", entity + "_id"};
    t.without_rowid = true;  // SQLite: the rows live in their key's B-tree (one write per row, not two)
    return t;
}

const TableDef& KillmailFiltersTable() {
    static const TableDef table = KillmailFiltersDef();
    return table;
}

const std::array<TableDef, 3>& KillStatsTables() {
    static const std::array<TableDef, 3> tables = {KillStatsDef("character"), KillStatsDef("corporation"),
                                                   KillStatsDef("alliance")};
    return tables;
}

const Table<Killmail>& KillmailsTable() {
    static const Table<Killmail> table{
        // The index is the original's own (same name): the scan's skip scan over solar systems.
        Shape("killmails", kOriginal, {{"killmails_solar_system_id_idx", "solar_system_id", kUniverse}},
              {"killmail_id"}),
        {
            {Col("killmail_id", kBigint, kPrimaryKey), &Killmail::killmail_id},
            {Col("killmail_hash", kText, kNotNull), &Killmail::killmail_hash},
            {Col("killmail_time", kTimestamp, kNotNull), &Killmail::killmail_time},
            {RefersTo(Col("solar_system_id", kBigint, kNotNull), EntityKind::kSolarSystem), &Killmail::solar_system_id},
            {Col("total_value", kDouble), &Killmail::total_value},
            {Col("destroyed_value", kDouble), &Killmail::destroyed_value},
            {Col("dropped_value", kDouble), &Killmail::dropped_value},
            {Col("attacker_count", kInt), [](const Killmail& k) { return k.attackers.size(); }},
            {Unwritten(Col("related_campaign_id", kInt))},
            {WithDefault(Col("is_war_related", kBool, kNotNull), Default::kFalse),
             [](const Killmail& k) { return k.war_id.has_value(); }},
            {CreatedAt()},
            {UpdatedAt()},
        }};
    return table;
}

std::optional<double> PositionOf(const Killmail& k, double Position::*axis) {
    if (!k.victim.position) return std::nullopt;
    return (*k.victim.position).*axis;
}

const Table<Killmail>& VictimsTable() {
    static const Table<Killmail> table{
        Shape("victims", kOriginal,
              {{"victims_character_id_idx", "character_id"},
               {"victims_corporation_id_idx", "corporation_id"},
               {"victims_alliance_id_idx", "alliance_id"},
               {"victims_ship_type_id_idx", "ship_type_id"}}),
        {
            {References(Col("killmail_id", kBigint, kPrimaryKey), kKillmailFk), &Killmail::killmail_id},
            {RefersTo(Col("character_id", kBigint), EntityKind::kCharacter),
             [](const Killmail& k) { return k.victim.character_id; }},
            {RefersTo(Col("corporation_id", kBigint, kNotNull), EntityKind::kCorporation),
             [](const Killmail& k) { return k.victim.corporation_id; }},
            {RefersTo(Col("alliance_id", kBigint), EntityKind::kAlliance),
             [](const Killmail& k) { return k.victim.alliance_id; }},
            {Col("faction_id", kBigint), [](const Killmail& k) { return k.victim.faction_id; }},
            {RefersTo(Col("ship_type_id", kBigint, kNotNull), EntityKind::kType),
             [](const Killmail& k) { return k.victim.ship_type_id; }},
            {Col("damage_taken", kBigint, kNotNull), [](const Killmail& k) { return k.victim.damage_taken; }},
            {Col("position_x", kDouble), [](const Killmail& k) { return PositionOf(k, &Position::x); }},
            {Col("position_y", kDouble), [](const Killmail& k) { return PositionOf(k, &Position::y); }},
            {Col("position_z", kDouble), [](const Killmail& k) { return PositionOf(k, &Position::z); }},
            {CreatedAt()},
        }};
    return table;
}

const Table<AttackerRow>& AttackersTable() {
    static const Table<AttackerRow> table{
        Shape("attackers", kOriginal,
              {{"attackers_killmail_id_idx", "killmail_id"},
               {"attackers_character_id_idx", "character_id"},
               {"attackers_corporation_id_idx", "corporation_id"},
               {"attackers_alliance_id_idx", "alliance_id"},
               {"attackers_ship_type_id_idx", "ship_type_id"},
               {"attackers_weapon_type_id_idx", "weapon_type_id"}}),
        {
            {Unwritten(Col("id", ColType::kBigSerial))},
            {References(Col("killmail_id", kBigint, kNotNull), kKillmailFk), &AttackerRow::killmail_id},
            {RefersTo(Col("character_id", kBigint), EntityKind::kCharacter),
             [](const AttackerRow& r) { return r.attacker.character_id; }},
            {RefersTo(Col("corporation_id", kBigint), EntityKind::kCorporation),
             [](const AttackerRow& r) { return r.attacker.corporation_id; }},
            {RefersTo(Col("alliance_id", kBigint), EntityKind::kAlliance),
             [](const AttackerRow& r) { return r.attacker.alliance_id; }},
            {Col("faction_id", kBigint), [](const AttackerRow& r) { return r.attacker.faction_id; }},
            {RefersTo(Col("ship_type_id", kBigint), EntityKind::kType),
             [](const AttackerRow& r) { return r.attacker.ship_type_id; }},
            {RefersTo(Col("weapon_type_id", kBigint), EntityKind::kType),
             [](const AttackerRow& r) { return r.attacker.weapon_type_id; }},
            {Col("damage_done", kBigint, kNotNull), [](const AttackerRow& r) { return r.attacker.damage_done; }},
            {Col("final_blow", kBool, kNotNull), [](const AttackerRow& r) { return r.attacker.final_blow; }},
            {Col("security_status", kDouble), [](const AttackerRow& r) { return r.attacker.security_status; }},
            {CreatedAt()},
            {UpdatedAt()},
        }};
    return table;
}

const Table<ItemRow>& ItemsTable() {
    static const Table<ItemRow> table{
        Shape("killmail_items", kOriginal,
              {{"killmail_items_killmail_id_idx", "killmail_id"}, {"killmail_items_item_type_id_idx", "item_type_id"}}),
        {
            {Unwritten(Col("id", ColType::kBigSerial))},
            {References(Col("killmail_id", kBigint, kNotNull), kKillmailFk), &ItemRow::killmail_id},
            {RefersTo(Col("item_type_id", kBigint, kNotNull), EntityKind::kType),
             [](const ItemRow& r) { return r.item.item_type_id; }},
            {Col("flag", kInt, kNotNull), [](const ItemRow& r) { return r.item.flag; }},
            {Col("quantity_dropped", kBigint), [](const ItemRow& r) { return r.item.quantity_dropped; }},
            {Col("quantity_destroyed", kBigint), [](const ItemRow& r) { return r.item.quantity_destroyed; }},
            {Col("singleton", kInt, kNotNull), [](const ItemRow& r) { return r.item.singleton; }},
            {CreatedAt()},
        }};
    return table;
}

TableDef ChildShape() {
    TableDef t = Shape("kr_killmail_item_children", kOwn, {{"kr_killmail_item_children_type_idx", "item_type_id"}});
    t.primary_key = {"killmail_id", "position"};
    t.without_rowid = true;
    return t;
}

const Table<ChildRow>& ChildrenTable() {
    static const Table<ChildRow> table{
        ChildShape(),
        {
            {References(Col("killmail_id", kBigint, kNotNull), kKillmailFk), &ChildRow::killmail_id},
            {Col("position", kInt, kNotNull), &ChildRow::position},
            {Col("parent_position", kInt, kNotNull), &ChildRow::parent_position},
            {Col("parent_item_type_id", kBigint, kNotNull), [](const ChildRow& r) { return r.parent.item_type_id; }},
            {Col("parent_flag", kInt, kNotNull), [](const ChildRow& r) { return r.parent.flag; }},
            {Col("parent_child_position", kInt), &ChildRow::parent_child_position},
            {Col("depth", kInt, kNotNull), &ChildRow::depth},
            {RefersTo(Col("item_type_id", kBigint, kNotNull), EntityKind::kType),
             [](const ChildRow& r) { return r.item.item_type_id; }},
            {Col("flag", kInt, kNotNull), [](const ChildRow& r) { return r.item.flag; }},
            {Col("quantity_dropped", kBigint), [](const ChildRow& r) { return r.item.quantity_dropped; }},
            {Col("quantity_destroyed", kBigint), [](const ChildRow& r) { return r.item.quantity_destroyed; }},
            {Col("singleton", kInt, kNotNull), [](const ChildRow& r) { return r.item.singleton; }},
        }};
    return table;
}

std::optional<std::string> KindNameOf(const CacheEntry& e) {
    if (!e.entity_kind) return std::nullopt;
    return std::string(KindInfo(*e.entity_kind).name);
}
std::optional<Id> EntityIdOf(const CacheEntry& e) {
    if (!e.entity_kind) return std::nullopt;
    return e.entity_id;
}

const Table<CacheEntry>& HttpCacheTable() {
    static const Table<CacheEntry> table{
        Shape("kr_http_cache", kOwn, {{"kr_http_cache_entity_idx", "entity_kind, entity_id"}}, {"path"}, true),
        {
            {Col("path", kText, kPrimaryKey), &CacheEntry::path},
            {Col("etag", kText), &CacheEntry::etag},
            {Col("last_modified", kText), &CacheEntry::last_modified},
            {Col("expires_at", kBigint, kNotNull), &CacheEntry::expires_at_ms},
            {Col("status", kInt, kNotNull), &CacheEntry::status},
            {Col("checked_at", kBigint, kNotNull), &CacheEntry::checked_at_ms},
            // Kept when a row comes without its entity: the scan relies on them to skip 404s.
            {Col("entity_kind", kText, db::kKeepOnNull), &KindNameOf},
            {Col("entity_id", kBigint, db::kKeepOnNull), &EntityIdOf},
        }};
    return table;
}

TableDef PendingDef() {
    TableDef t = Shape("kr_pending_entities", kOwn);
    t.columns = {Col("kind", kText, kNotNull), Col("id", kBigint, kNotNull), Col("queued_at", kBigint, kNotNull)};
    t.primary_key = {"kind", "id"};
    t.without_rowid = true;
    return t;
}
const TableDef& PendingTable() {
    static const TableDef table = PendingDef();
    return table;
}

/// What the killmails of a zKillboard page reference, recorded with them (one transaction) until
/// published to the info queues: a crash between the commit and the publish loses nothing.
TableDef EntityOutboxShape() {
    TableDef t = Shape("kr_entity_outbox", kSync, {}, {"kind", "id"});
    t.primary_key = {"kind", "id"};
    t.without_rowid = true;
    return t;
}

const Table<OutboxRow>& EntityOutboxTable() {
    static const Table<OutboxRow> table{
        EntityOutboxShape(),
        {
            {Col("kind", kText, kNotNull), [](const OutboxRow& r) { return std::string(KindInfo(r.kind).name); }},
            {Col("id", kBigint, kNotNull), &OutboxRow::id},
            {CreatedAt()},
        }};
    return table;
}

/// One row per character: the zKillboard page chain that holds it and the last page stored, and
/// the next page's message until it is published (store/zkb_sync.cpp writes it).
TableDef ZkbSyncDef() {
    TableDef t = Shape("kr_zkb_sync", kSync);
    t.columns = {Col("character_id", kBigint, kPrimaryKey),
                 Col("chain", kText, kNotNull),
                 Col("page", kInt, kNotNull),
                 Col("next_job", kText),
                 WithDefault(Col("next_priority", kInt, kNotNull), Default::kZero),
                 Col("updated_at", kBigint, kNotNull)};
    return t;
}
const TableDef& ZkbSyncTable() {
    static const TableDef table = ZkbSyncDef();
    return table;
}

/// One row per worker of a process (worker/status_beat.hpp): its heartbeat, last-minute rates, the
/// ESI limit it runs with and its last error. Times in unix ms.
TableDef WorkerStatusDef() {
    TableDef t = Shape("kr_worker_status", kWorkers);
    t.columns = {Col("worker", kText, kNotNull),
                 Col("host", kText, kNotNull),
                 Col("pid", kBigint, kNotNull),
                 Col("queue", kText, kNotNull),
                 Col("started_at", kBigint, kNotNull),
                 Col("heartbeat_at", kBigint, kNotNull),
                 Col("stopped_at", kBigint),
                 Col("settled", kBigint, kNotNull),
                 Col("settled_last_minute", kBigint, kNotNull),
                 Col("esi_rate_limit", kDouble, kNotNull),
                 Col("esi_tokens_last_minute", kBigint, kNotNull),
                 Col("last_error", kText),
                 Col("last_error_at", kBigint)};
    t.primary_key = {"worker", "host", "pid"};
    return t;
}
const TableDef& WorkerStatusTable() {
    static const TableDef table = WorkerStatusDef();
    return table;
}

/// One row per ESI id list that `run` keeps in sync (worker/universe.hpp).
const Table<ListSweep>& ListSweepsTable() {
    static const Table<ListSweep> table{Shape("kr_list_sweeps", kUniverse, {}, {"path"}, true),
                                        {
                                            {Col("path", kText, kPrimaryKey), &ListSweep::path},
                                            {Col("server_version", kText), &ListSweep::server_version},
                                            {Col("swept_at", kBigint), &ListSweep::swept_at_ms},
                                            {Col("checked_at", kBigint, kNotNull), &ListSweep::checked_at_ms},
                                        }};
    return table;
}

/// One row per alliance: its corporation list as ESI gave it last, a JSON array of ids
/// (worker:alliance-corporations compares it with corporations.alliance_id when ESI answers 304).
const Table<AllianceList>& AllianceCorporationsTable() {
    static const Table<AllianceList> table{
        Shape("kr_alliance_corporations", kFresh, {}, {"alliance_id"}, true),
        {
            {Col("alliance_id", kBigint, kPrimaryKey), &AllianceList::alliance_id},
            {Col("corporation_ids", kText, kNotNull), [](const AllianceList& l) { return IdListJson(l.corporations); }},
        }};
    return table;
}

/// One row per live feed ("r2z2"): the next sequence to fetch, advanced in the transaction of the
/// killmail it passed over, and the process that holds the feed until held_until (unix ms)
/// (store/live_cursor.cpp writes it).
TableDef LiveCursorDef() {
    TableDef t = Shape("kr_live_cursor", kLive);
    t.columns = {Col("feed", kText, kPrimaryKey),
                 Col("sequence", kBigint),
                 Col("holder", kText),
                 WithDefault(Col("held_until", kBigint, kNotNull), Default::kZero),
                 Col("note", kText),
                 Col("updated_at", kBigint, kNotNull)};
    return t;
}
const TableDef& LiveCursorTable() {
    static const TableDef table = LiveCursorDef();
    return table;
}

/// One row per refresh sweep ("affiliations", "alliances", "corporations", "types"): when its last
/// run started (unix ms), shared by every process on the database (worker/refresh.hpp).
TableDef RefreshRunsDef() {
    TableDef t = Shape("kr_refresh_runs", kRefresh);
    t.columns = {Col("sweep", kText, kPrimaryKey), Col("last_run_at", kBigint, kNotNull)};
    return t;
}
const TableDef& RefreshRunsTable() {
    static const TableDef table = RefreshRunsDef();
    return table;
}

const Table<Alliance>& TableOf(const Alliance*) { return AlliancesTable(); }
const Table<Corporation>& TableOf(const Corporation*) { return CorporationsTable(); }
const Table<Character>& TableOf(const Character*) { return CharactersTable(); }
const Table<Type>& TableOf(const Type*) { return TypesTable(); }
const Table<Region>& TableOf(const Region*) { return RegionsTable(); }
const Table<Constellation>& TableOf(const Constellation*) { return ConstellationsTable(); }
const Table<SolarSystem>& TableOf(const SolarSystem*) { return SolarSystemsTable(); }

/// The entity tables, by kind: each Entity alternative's TableOf.
template <std::size_t... I>
std::array<const TableDef*, kEntityKindCount> EntityTableDefs(std::index_sequence<I...>) {
    return {&TableOf(static_cast<const std::variant_alternative_t<I, Entity>*>(nullptr)).Def()...};
}

const std::array<const TableDef*, kEntityKindCount>& EntityTables() {
    static const std::array<const TableDef*, kEntityKindCount> tables = [] {
        auto t = EntityTableDefs(std::make_index_sequence<kEntityKindCount>());
        for (const auto& k : EntityKinds()) {
            const TableDef* def = t[KindIndex(k.kind)];
            // The store relies on these: the table is the kind's, upserted by its key, which is its
            // first value (the entity's id).
            const auto values = def->ValueColumns();
            if (def->name != k.table || values.empty() || !(values.front()->flags & db::kPrimaryKey) ||
                def->conflict != std::vector<std::string>{values.front()->name}) {
                throw std::logic_error("entity table of kind " + std::string(k.name) + " is " + def->name +
                                       " (keyed by its first column?)");
            }
            // A foreign key to another kind's table: that kind is written first (registry order).
            for (const auto& c : def->columns) {
                if (!c.references.empty() && c.refers_to && KindIndex(*c.refers_to) >= KindIndex(k.kind)) {
                    throw std::logic_error(def->name + "." + c.name + " refers to a kind that is written later");
                }
            }
        }
        return t;
    }();
    return tables;
}

}  // namespace

const db::TableDef& EntityTable(EntityKind kind) { return *EntityTables()[KindIndex(kind)]; }

const std::string& EntityKey(EntityKind kind) { return EntityTable(kind).conflict.front(); }

std::vector<std::pair<EntityKind, Id>> Parents(const Entity& entity) {
    std::vector<std::pair<EntityKind, Id>> out;
    std::visit(
        [&](const auto& e) {
            const auto& table = TableOf(&e);
            table.ForEachRefColumn(e, [&](const db::ColumnDef& c, EntityKind kind, Id id) {
                // Only foreign keys: a plain reference (RefersTo alone) may name a missing id.
                if (!c.references.empty() && ShouldFetch(kind, id)) out.emplace_back(kind, id);
            });
        },
        entity);
    return out;
}

std::vector<db::Param> EntityRow(const Entity& entity) {
    return std::visit([](const auto& e) { return TableOf(&e).RowOf(e); }, entity);
}

const db::Table<Killmail>& Killmails() { return KillmailsTable(); }
const db::Table<Killmail>& Victims() { return VictimsTable(); }
const db::Table<AttackerRow>& Attackers() { return AttackersTable(); }
const db::Table<ItemRow>& Items() { return ItemsTable(); }
const db::Table<ChildRow>& Children() { return ChildrenTable(); }
const db::Table<CacheEntry>& HttpCache() { return HttpCacheTable(); }
const db::TableDef& Users() { return UsersTable(); }
const db::TableDef& PendingEntities() { return PendingTable(); }
const db::Table<OutboxRow>& EntityOutbox() { return EntityOutboxTable(); }
const db::TableDef& ZkbSync() { return ZkbSyncTable(); }
const db::Table<ListSweep>& ListSweeps() { return ListSweepsTable(); }
const db::TableDef& KillmailFilters() { return KillmailFiltersTable(); }
const std::array<db::TableDef, 3>& KillStats() { return KillStatsTables(); }
const db::Table<AllianceList>& AllianceCorporations() { return AllianceCorporationsTable(); }

std::string IdListJson(const std::vector<Id>& ids) {
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ",";
        out += std::to_string(ids[i]);
    }
    return out + "]";
}
const db::TableDef& WorkerStatus() { return WorkerStatusTable(); }
const db::TableDef& LiveCursor() { return LiveCursorTable(); }
const db::TableDef& RefreshRuns() { return RefreshRunsTable(); }

std::vector<const db::TableDef*> AllTables() {
    // Creation order (the order of their migrations' statements).
    std::vector<const db::TableDef*> out;
    for (const auto& k : EntityKinds()) out.push_back(&EntityTable(k.kind));
    for (const TableDef* t :
         {&UsersTable(), &KillmailsTable().Def(), &VictimsTable().Def(), &AttackersTable().Def(), &ItemsTable().Def(),
          &HttpCacheTable().Def(), &PendingTable(), &ChildrenTable().Def(), &EntityOutboxTable().Def(), &ZkbSyncTable(),
          &ListSweepsTable().Def(), &KillmailFiltersTable(), &AllianceCorporationsTable().Def(), &WorkerStatusTable(),
          &LiveCursorTable(), &RefreshRunsTable()}) {
        out.push_back(t);
    }
    for (const TableDef& t : KillStatsTables()) out.push_back(&t);
    std::stable_sort(out.begin(), out.end(), [](const TableDef* a, const TableDef* b) { return a->since < b->since; });
    return out;
}

std::vector<RefColumn> RefColumns(EntityKind kind) {
    std::vector<RefColumn> out;
    std::vector<std::pair<const TableDef*, unsigned>> sources = {{&KillmailsTable().Def(), kFromKillmails},
                                                                 {&VictimsTable().Def(), kFromKillmails},
                                                                 {&AttackersTable().Def(), kFromKillmails},
                                                                 {&ItemsTable().Def(), kFromKillmails},
                                                                 {&ChildrenTable().Def(), kFromKillmails}};
    for (const auto& k : EntityKinds()) sources.emplace_back(&EntityTable(k.kind), kFromEntities);
    for (const auto& [table, source] : sources) {
        for (const auto& c : table->columns) {
            if (c.refers_to == kind) out.push_back({table->name, c.name, source});
        }
    }
    return out;
}

}  // namespace kr::store::tables
