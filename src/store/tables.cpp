#include "store/tables.hpp"

#include <algorithm>
#include <stdexcept>

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
constexpr int kSync = 4;  ///< store/4: worker:zkillboard's outbox and page chains

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

/// An entity table: upserted by id, the columns of the ESI response.
TableDef EntityShape(EntityKind kind, int since, std::vector<db::IndexDef> indexes) {
    return Shape(KindInfo(kind).table, since, std::move(indexes), {"id"}, true);
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

const Table<Killmail>& KillmailsTable() {
    static const Table<Killmail> table{
        Shape("killmails", kOriginal, {}, {"killmail_id"}),
        {
            {Col("killmail_id", kBigint, kPrimaryKey), &Killmail::killmail_id},
            {Col("killmail_hash", kText, kNotNull), &Killmail::killmail_hash},
            {Col("killmail_time", kTimestamp, kNotNull), &Killmail::killmail_time},
            {Col("solar_system_id", kBigint, kNotNull), &Killmail::solar_system_id},
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

/// The entity tables, by kind.
const std::array<const TableDef*, kEntityKindCount>& EntityTables() {
    static const std::array<const TableDef*, kEntityKindCount> tables = [] {
        std::array<const TableDef*, kEntityKindCount> t{&AlliancesTable().Def(), &CorporationsTable().Def(),
                                                        &CharactersTable().Def(), &TypesTable().Def()};
        for (const auto& k : EntityKinds()) {
            const TableDef* def = t[KindIndex(k.kind)];
            // The store relies on both: the table is the kind's, and "id" is its first value.
            if (def->name != k.table || def->ValueColumns().front()->name != "id") {
                throw std::logic_error("entity table of kind " + std::string(k.name) + " is " + def->name);
            }
        }
        return t;
    }();
    return tables;
}

const Table<Alliance>& TableOf(const Alliance*) { return AlliancesTable(); }
const Table<Corporation>& TableOf(const Corporation*) { return CorporationsTable(); }
const Table<Character>& TableOf(const Character*) { return CharactersTable(); }
const Table<Type>& TableOf(const Type*) { return TypesTable(); }

}  // namespace

const db::TableDef& EntityTable(EntityKind kind) { return *EntityTables()[KindIndex(kind)]; }

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

std::vector<const db::TableDef*> AllTables() {
    // Creation order (the order of their migrations' statements).
    std::vector<const db::TableDef*> out;
    for (const auto& k : EntityKinds()) out.push_back(&EntityTable(k.kind));
    for (const TableDef* t : {&UsersTable(), &KillmailsTable().Def(), &VictimsTable().Def(), &AttackersTable().Def(),
                              &ItemsTable().Def(), &HttpCacheTable().Def(), &PendingTable(), &ChildrenTable().Def(),
                              &EntityOutboxTable().Def(), &ZkbSyncTable()}) {
        out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(), [](const TableDef* a, const TableDef* b) { return a->since < b->since; });
    return out;
}

std::vector<RefColumn> RefColumns(EntityKind kind) {
    std::vector<RefColumn> out;
    std::vector<std::pair<const TableDef*, unsigned>> sources = {{&VictimsTable().Def(), kFromKillmails},
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
