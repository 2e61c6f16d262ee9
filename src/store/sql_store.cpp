#include "store/sql_store.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "core/errors.hpp"

namespace kr::store::detail {

namespace {

using db::Opt;

// ---- entity tables ----------------------------------------------------------------------------

const TableSpec kAllianceSpec{"alliances",
                              {{"id", "bigint"},
                               {"name", "text"},
                               {"ticker", "text"},
                               {"date_founded", "timestamp(3)"},
                               {"creator_corporation_id", "bigint"},
                               {"creator_id", "bigint"},
                               {"executor_corporation_id", "bigint"},
                               {"faction_id", "bigint"}},
                              {"created_at", "updated_at"},
                              {"id"},
                              true};

const TableSpec kCorporationSpec{"corporations",
                                 {{"id", "bigint"},
                                  {"name", "text"},
                                  {"ticker", "text"},
                                  {"member_count", "bigint"},
                                  {"ceo_id", "bigint"},
                                  {"creator_id", "bigint"},
                                  {"date_founded", "timestamp(3)"},
                                  {"description", "text"},
                                  {"alliance_id", "bigint"},
                                  {"faction_id", "bigint"},
                                  {"home_station_id", "bigint"},
                                  {"shares", "bigint"},
                                  {"tax_rate", "float8"},
                                  {"url", "text"}},
                                 {"created_at", "updated_at"},
                                 {"id"},
                                 true};

const TableSpec kCharacterSpec{"characters",
                               {{"id", "bigint"},
                                {"name", "text"},
                                {"corporation_id", "bigint"},
                                {"alliance_id", "bigint"},
                                {"birthday", "timestamp(3)"},
                                {"bloodline_id", "bigint"},
                                {"race_id", "bigint"},
                                {"gender", "text"},
                                {"security_status", "float8"},
                                {"description", "text"},
                                {"title", "text"},
                                {"faction_id", "bigint"}},
                               {"created_at", "updated_at"},
                               {"id"},
                               true};

const TableSpec kTypeSpec{"types",
                          {{"id", "bigint"},
                           {"name", "text"},
                           {"description", "text"},
                           {"group_id", "bigint"},
                           {"published", "boolean"},
                           {"volume", "float8"},
                           {"capacity", "float8"},
                           {"mass", "float8"},
                           {"icon_id", "bigint"}},
                          {"created_at", "updated_at"},
                          {"id"},
                          true};

const TableSpec kHttpCacheSpec{"kr_http_cache",
                               {{"path", "text"},
                                {"etag", "text"},
                                {"last_modified", "text"},
                                {"expires_at", "bigint"},
                                {"status", "bigint"},
                                {"checked_at", "bigint"},
                                {"entity_kind", "text"},
                                {"entity_id", "bigint"}},
                               {},
                               {"path"},
                               true};

const TableSpec kKillmailSpec{"killmails",
                              {{"killmail_id", "bigint"},
                               {"killmail_hash", "text"},
                               {"killmail_time", "timestamp(3)"},
                               {"solar_system_id", "bigint"},
                               {"total_value", "float8"},
                               {"destroyed_value", "float8"},
                               {"dropped_value", "float8"},
                               {"attacker_count", "bigint"},
                               {"is_war_related", "boolean"}},
                              {"created_at", "updated_at"},
                              {"killmail_id"},
                              false};

const TableSpec kVictimSpec{"victims",
                            {{"killmail_id", "bigint"},
                             {"character_id", "bigint"},
                             {"corporation_id", "bigint"},
                             {"alliance_id", "bigint"},
                             {"faction_id", "bigint"},
                             {"ship_type_id", "bigint"},
                             {"damage_taken", "bigint"},
                             {"position_x", "float8"},
                             {"position_y", "float8"},
                             {"position_z", "float8"}},
                            {"created_at"},
                            {},
                            false};

const TableSpec kAttackerSpec{"attackers",
                              {{"killmail_id", "bigint"},
                               {"character_id", "bigint"},
                               {"corporation_id", "bigint"},
                               {"alliance_id", "bigint"},
                               {"faction_id", "bigint"},
                               {"ship_type_id", "bigint"},
                               {"weapon_type_id", "bigint"},
                               {"damage_done", "bigint"},
                               {"final_blow", "boolean"},
                               {"security_status", "float8"}},
                              {"created_at", "updated_at"},
                              {},
                              false};

const TableSpec kItemSpec{"killmail_items",
                          {{"killmail_id", "bigint"},
                           {"item_type_id", "bigint"},
                           {"flag", "bigint"},
                           {"quantity_dropped", "bigint"},
                           {"quantity_destroyed", "bigint"},
                           {"singleton", "bigint"}},
                          {"created_at"},
                          {},
                          false};

const TableSpec kChildSpec{"kr_killmail_item_children",
                           {{"killmail_id", "bigint"},
                            {"position", "bigint"},
                            {"parent_position", "bigint"},
                            {"parent_item_type_id", "bigint"},
                            {"parent_flag", "bigint"},
                            {"parent_child_position", "bigint"},
                            {"depth", "bigint"},
                            {"item_type_id", "bigint"},
                            {"flag", "bigint"},
                            {"quantity_dropped", "bigint"},
                            {"quantity_destroyed", "bigint"},
                            {"singleton", "bigint"}},
                           {},
                           {},
                           false};

Row EntityRow(const Alliance& a) {
    return {a.id,         a.name, a.ticker, a.date_founded, a.creator_corporation_id, a.creator_id,
            Opt(a.executor_corporation_id), Opt(a.faction_id)};
}
Row EntityRow(const Corporation& c) {
    return {c.id,          c.name,           c.ticker,           c.member_count,         c.ceo_id,
            c.creator_id,  Opt(c.date_founded), Opt(c.description), Opt(c.alliance_id), Opt(c.faction_id),
            Opt(c.home_station_id), Opt(c.shares), c.tax_rate, Opt(c.url)};
}
Row EntityRow(const Character& c) {
    return {c.id,        c.name,     c.corporation_id,       Opt(c.alliance_id), c.birthday,
            c.bloodline_id, c.race_id, c.gender, Opt(c.security_status), Opt(c.description),
            Opt(c.title), Opt(c.faction_id)};
}
Row EntityRow(const Type& t) {
    return {t.id, t.name, t.description, t.group_id, t.published, Opt(t.volume), Opt(t.capacity), Opt(t.mass),
            Opt(t.icon_id)};
}

const TableSpec& SpecOf(const Alliance*) { return kAllianceSpec; }
const TableSpec& SpecOf(const Corporation*) { return kCorporationSpec; }
const TableSpec& SpecOf(const Character*) { return kCharacterSpec; }
const TableSpec& SpecOf(const Type*) { return kTypeSpec; }

/// Where ids of each kind are referenced.
struct RefColumn {
    const char* table;
    const char* column;
    unsigned source;
};

std::vector<RefColumn> RefColumns(EntityKind kind) {
    switch (kind) {
        case EntityKind::kCharacter:
            return {{"victims", "character_id", kFromKillmails}, {"attackers", "character_id", kFromKillmails}};
        case EntityKind::kCorporation:
            return {{"victims", "corporation_id", kFromKillmails},
                    {"attackers", "corporation_id", kFromKillmails},
                    {"characters", "corporation_id", kFromEntities}};
        case EntityKind::kAlliance:
            return {{"victims", "alliance_id", kFromKillmails},
                    {"attackers", "alliance_id", kFromKillmails},
                    {"characters", "alliance_id", kFromEntities},
                    {"corporations", "alliance_id", kFromEntities}};
        case EntityKind::kType:
            return {{"victims", "ship_type_id", kFromKillmails},
                    {"attackers", "ship_type_id", kFromKillmails},
                    {"attackers", "weapon_type_id", kFromKillmails},
                    {"killmail_items", "item_type_id", kFromKillmails},
                    {"kr_killmail_item_children", "item_type_id", kFromKillmails}};
    }
    return {};
}

void AppendChildren(const std::vector<KillmailItem>& items, Id killmail_id, std::int64_t top_position,
                    const KillmailItem& parent, std::optional<std::int64_t> parent_child_position,
                    std::int64_t depth, std::int64_t& next_position, Rows& children) {
    for (const auto& item : items) {
        std::int64_t position = next_position++;
        children.push_back({killmail_id, position, top_position, parent.item_type_id, parent.flag,
                            Opt(parent_child_position), depth, item.item_type_id, item.flag,
                            Opt(item.quantity_dropped), Opt(item.quantity_destroyed), item.singleton});
        if (!item.items.empty()) {
            AppendChildren(item.items, killmail_id, top_position, item, position, depth + 1, next_position, children);
        }
    }
}

}  // namespace

// ---- helpers ----------------------------------------------------------------------------------

std::string IsoFromMs(std::int64_t ms) {
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    int millis = static_cast<int>(ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

std::string PgArrayLiteral(const std::vector<Param>& column) {
    std::string out;
    out.reserve(column.size() * 8 + 2);
    out += '{';
    char buf[64];
    bool first = true;
    for (const auto& p : column) {
        if (!first) out += ',';
        first = false;
        std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::monostate>) {
                    out += "NULL";
                } else if constexpr (std::is_same_v<T, std::int64_t>) {
                    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
                    (void)ec;
                    out.append(buf, end);
                } else if constexpr (std::is_same_v<T, double>) {
                    int n = std::snprintf(buf, sizeof buf, "%.17g", v);
                    out.append(buf, static_cast<std::size_t>(n));
                } else if constexpr (std::is_same_v<T, bool>) {
                    out += v ? 't' : 'f';
                } else {
                    out += '"';
                    for (char c : v) {
                        if (c == '"' || c == '\\') out += '\\';
                        out += c;
                    }
                    out += '"';
                }
            },
            p);
    }
    out += '}';
    return out;
}

// ---- SqlStore ---------------------------------------------------------------------------------

SqlStore::SqlStore(std::unique_ptr<db::Connection> conn) : conn_(std::move(conn)) {}

db::MigrateReport SqlStore::Migrate() { return db::Migrate(*conn_); }

const TableSpec& SqlStore::KillmailSpec() { return kKillmailSpec; }
const TableSpec& SqlStore::VictimSpec() { return kVictimSpec; }
const TableSpec& SqlStore::AttackerSpec() { return kAttackerSpec; }
const TableSpec& SqlStore::ItemSpec() { return kItemSpec; }
const TableSpec& SqlStore::ChildSpec() { return kChildSpec; }

template <typename T>
UpsertCounts SqlStore::UpsertEntities(EntityKind kind, const std::vector<T>& rows, const std::string& now) {
    if (rows.empty()) return {};
    // Last one wins for duplicate ids (one statement cannot update a row twice on PostgreSQL).
    std::unordered_map<Id, std::size_t> last;
    for (std::size_t i = 0; i < rows.size(); ++i) last[rows[i].id] = i;
    std::vector<std::size_t> order;
    order.reserve(last.size());
    for (const auto& [id, index] : last) order.push_back(index);
    // Sorted by id: concurrent writers lock rows in the same order (no deadlocks).
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rows[a].id < rows[b].id; });
    Rows out;
    out.reserve(order.size());
    std::vector<Id> ids;
    ids.reserve(order.size());
    for (std::size_t index : order) {
        out.push_back(EntityRow(rows[index]));
        ids.push_back(rows[index].id);
    }
    UpsertCounts counts = WriteRows(SpecOf(static_cast<const T*>(nullptr)), out, now);
    counts.unchanged += rows.size() - order.size();  // duplicates inside the batch
    ClearPending(kind, ids);
    return counts;
}

template <typename T>
UpsertCounts SqlStore::UpsertInTransaction(EntityKind kind, const std::vector<T>& rows) {
    db::Transaction tx(*conn_);
    auto c = UpsertEntities(kind, rows, IsoFromMs(NowMs()));
    tx.Commit();
    return c;
}

UpsertCounts SqlStore::UpsertAlliances(const std::vector<Alliance>& rows) {
    return UpsertInTransaction(EntityKind::kAlliance, rows);
}
UpsertCounts SqlStore::UpsertCorporations(const std::vector<Corporation>& rows) {
    return UpsertInTransaction(EntityKind::kCorporation, rows);
}
UpsertCounts SqlStore::UpsertCharacters(const std::vector<Character>& rows) {
    return UpsertInTransaction(EntityKind::kCharacter, rows);
}
UpsertCounts SqlStore::UpsertTypes(const std::vector<Type>& rows) {
    return UpsertInTransaction(EntityKind::kType, rows);
}

EntityBatchResult SqlStore::ApplyEntityBatch(const EntityBatch& batch) {
    std::int64_t now_ms = NowMs();
    std::string now = IsoFromMs(now_ms);
    EntityBatchResult result;
    db::Transaction tx(*conn_);
    result.alliances = UpsertEntities(EntityKind::kAlliance, batch.alliances, now);
    result.corporations = UpsertEntities(EntityKind::kCorporation, batch.corporations, now);
    result.characters = UpsertEntities(EntityKind::kCharacter, batch.characters, now);
    result.types = UpsertEntities(EntityKind::kType, batch.types, now);
    if (!batch.cache.empty()) {
        // Last one wins per path.
        std::unordered_map<std::string, std::size_t> last;
        for (std::size_t i = 0; i < batch.cache.size(); ++i) last[batch.cache[i].path] = i;
        std::vector<std::size_t> order;
        for (const auto& [path, index] : last) order.push_back(index);
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return batch.cache[a].path < batch.cache[b].path; });
        Rows rows;
        std::map<EntityKind, std::vector<Id>> not_found;
        for (std::size_t index : order) {
            const CacheEntry& e = batch.cache[index];
            auto entity = EntityFromPath(e.path);
            rows.push_back({e.path, Opt(e.etag), Opt(e.last_modified), e.expires_at_ms,
                            static_cast<std::int64_t>(e.status), e.checked_at_ms ? e.checked_at_ms : now_ms,
                            entity ? Param(std::string(KindName(entity->first))) : Param(),
                            entity ? Param(entity->second) : Param()});
            if (entity && e.status == 404) not_found[entity->first].push_back(entity->second);
        }
        WriteRows(kHttpCacheSpec, rows, now);
        result.cache_saved = rows.size();
        // A 404 resolves the pending mark too (the 404 record now keeps it out of scans).
        for (const auto& [kind, ids] : not_found) {
            ClearPending(kind, ids);
        }
    }
    tx.Commit();
    return result;
}

std::unordered_set<Id> SqlStore::ExistingIds(EntityKind kind, const std::vector<Id>& ids) {
    std::unordered_set<Id> found;
    if (ids.empty()) return found;
    auto r = conn_->ExecPlannedPerCall(std::string("SELECT id FROM ") + KindTable(kind) + " WHERE id" + IdSetSql(1),
                                       {IdSetParam(ids)});
    for (std::size_t i = 0; i < r.Rows(); ++i) found.insert(r.Int(i, 0));
    return found;
}

std::vector<Id> SqlStore::ListIds(EntityKind kind, Id after, std::size_t limit) {
    auto r = conn_->Exec(std::string("SELECT id FROM ") + KindTable(kind) + " WHERE id > $1 ORDER BY id LIMIT $2",
                         {after, static_cast<std::int64_t>(limit)});
    std::vector<Id> ids;
    ids.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) ids.push_back(r.Int(i, 0));
    return ids;
}

std::unordered_map<std::string, CacheEntry> SqlStore::LoadHttpCache(const std::vector<std::string>& paths) {
    std::unordered_map<std::string, CacheEntry> out;
    if (paths.empty()) return out;
    auto r = conn_->ExecPlannedPerCall(
        std::string("SELECT path, etag, last_modified, expires_at, status, checked_at FROM kr_http_cache WHERE path") +
            TextSetSql(1),
        {TextSetParam(paths)});
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        CacheEntry e = CacheRow(r, i, 0);
        out.emplace(e.path, std::move(e));
    }
    return out;
}

void SqlStore::ClearPending(EntityKind kind, const std::vector<Id>& ids) {
    conn_->ExecPlannedPerCall(std::string("DELETE FROM kr_pending_entities WHERE kind = $1 AND id") + IdSetSql(2),
                              {std::string(KindName(kind)), IdSetParam(ids)});
}

CacheEntry SqlStore::CacheRow(const db::Result& r, std::size_t row, std::size_t first) {
    CacheEntry e;
    e.path = r.Text(row, first);
    e.etag = r.OptText(row, first + 1);
    e.last_modified = r.OptText(row, first + 2);
    e.expires_at_ms = r.Int(row, first + 3);
    e.status = static_cast<int>(r.Int(row, first + 4));
    e.checked_at_ms = r.Int(row, first + 5);
    return e;
}

void SqlStore::SaveHttpCache(const std::vector<CacheEntry>& entries) {
    EntityBatch batch;
    batch.cache = entries;
    ApplyEntityBatch(batch);
}

Row SqlStore::KillmailRow(const Killmail& km) {
    return {km.killmail_id,        km.killmail_hash,       km.killmail_time,     km.solar_system_id,
            Opt(km.total_value),   Opt(km.destroyed_value), Opt(km.dropped_value),
            static_cast<std::int64_t>(km.attackers.size()), km.war_id.has_value()};
}

void SqlStore::AppendDependentRows(const Killmail& km, Rows& victims, Rows& attackers, Rows& items, Rows& children) {
    const Victim& v = km.victim;
    std::optional<double> px, py, pz;
    if (v.position) {
        px = v.position->x;
        py = v.position->y;
        pz = v.position->z;
    }
    victims.push_back({km.killmail_id, Opt(v.character_id), Opt(v.corporation_id), Opt(v.alliance_id),
                       Opt(v.faction_id), v.ship_type_id, v.damage_taken, Opt(px), Opt(py), Opt(pz)});
    for (const auto& a : km.attackers) {
        attackers.push_back({km.killmail_id, Opt(a.character_id), Opt(a.corporation_id), Opt(a.alliance_id),
                             Opt(a.faction_id), Opt(a.ship_type_id), Opt(a.weapon_type_id), a.damage_done,
                             a.final_blow, Opt(a.security_status)});
    }
    std::int64_t next_child = 0;
    for (std::size_t i = 0; i < v.items.size(); ++i) {
        const KillmailItem& item = v.items[i];
        items.push_back({km.killmail_id, item.item_type_id, item.flag, Opt(item.quantity_dropped),
                         Opt(item.quantity_destroyed), item.singleton});
        if (!item.items.empty()) {
            AppendChildren(item.items, km.killmail_id, static_cast<std::int64_t>(i), item, std::nullopt, 1,
                           next_child, children);
        }
    }
}

StoreKillmailsResult SqlStore::StoreKillmails(const std::vector<Killmail>& killmails) {
    StoreKillmailsResult result;
    std::vector<const Killmail*> todo;
    todo.reserve(killmails.size());
    std::unordered_set<Id> seen;
    for (const auto& km : killmails) {
        if (!km.victim.corporation_id) {
            result.rejected.emplace_back(km.killmail_id, "victim without corporation_id");
            continue;
        }
        if (km.killmail_hash.empty()) {
            result.rejected.emplace_back(km.killmail_id, "killmail_hash missing");
            continue;
        }
        if (km.killmail_time.empty()) {
            result.rejected.emplace_back(km.killmail_id, "killmail_time missing");
            continue;
        }
        if (!seen.insert(km.killmail_id).second) {
            ++result.already_present;  // a duplicate inside the batch
            continue;
        }
        todo.push_back(&km);
    }
    if (todo.empty()) return result;
    std::sort(todo.begin(), todo.end(),
              [](const Killmail* a, const Killmail* b) { return a->killmail_id < b->killmail_id; });
    db::Transaction tx(*conn_);
    WriteKillmails(todo, IsoFromMs(NowMs()), result);
    tx.Commit();
    return result;
}

std::unordered_set<Id> SqlStore::ExistingKillmailIds(const std::vector<Id>& ids) {
    std::unordered_set<Id> found;
    if (ids.empty()) return found;
    auto r = conn_->ExecPlannedPerCall(
        std::string("SELECT killmail_id FROM killmails WHERE killmail_id") + IdSetSql(1), {IdSetParam(ids)});
    for (std::size_t i = 0; i < r.Rows(); ++i) found.insert(r.Int(i, 0));
    return found;
}

std::int64_t SqlStore::AddUser(Id character_id, const std::string& name) {
    if (!user_columns_) user_columns_ = UserColumns();
    std::string now = IsoFromMs(NowMs());
    std::vector<std::string> cols{"character_id", "character_name"};
    std::vector<Param> params{character_id, name};
    bool has_updated_at = false;
    for (const auto& c : *user_columns_) {
        bool required = c.not_null && !c.has_default;
        if ((c.name == "access_token" || c.name == "refresh_token") && required) {
            cols.push_back(c.name);
            params.emplace_back(std::string());
        } else if (c.name == "expires_at" && required) {
            cols.push_back(c.name);
            params.emplace_back(IsoFromMs(0));  // the epoch: an expired token
        } else if (c.name == "created_at") {
            cols.push_back(c.name);
            params.emplace_back(now);
        } else if (c.name == "updated_at") {
            cols.push_back(c.name);
            params.emplace_back(now);
            has_updated_at = true;
        }
    }
    std::string sql = "INSERT INTO users (";
    std::string values;
    for (std::size_t i = 0; i < cols.size(); ++i) {
        if (i) {
            sql += ", ";
            values += ", ";
        }
        sql += cols[i];
        values += "$" + std::to_string(i + 1);
        if (conn_->GetDialect() == db::Dialect::kPostgres && (cols[i] == "created_at" || cols[i] == "updated_at" ||
                                                             cols[i] == "expires_at")) {
            values += "::timestamp(3)";
        }
    }
    sql += ") VALUES (" + values + ") ON CONFLICT (character_id) DO UPDATE SET character_name = excluded.character_name";
    if (has_updated_at) sql += ", updated_at = excluded.updated_at";
    sql += " RETURNING id";
    db::Transaction tx(*conn_);
    auto r = conn_->Exec(sql, params);
    tx.Commit();
    return r.Int(0, 0);
}

std::vector<std::pair<Id, std::string>> SqlStore::ListUserCharacters() {
    auto r = conn_->Exec("SELECT character_id, character_name FROM users ORDER BY character_id");
    std::vector<std::pair<Id, std::string>> out;
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) out.emplace_back(r.Int(i, 0), r.Text(i, 1));
    return out;
}

// The scan over referenced ids is done in rounds, each bounded in memory and planner-proof:
//  1. every reference column yields its next distinct ids after the cursor, in id order, from its
//     index: character columns (many distinct values) as a streaming DISTINCT over the index
//     (Index Only Scan -> Unique -> Limit); low-cardinality columns (corporations, alliances,
//     types) as a recursive skip scan, one index probe per distinct value;
//  2. the streams are merged up to the horizon = the smallest last id of the streams that are not
//     exhausted (below it every stream is complete);
//  3. one statement anti-joins the merged candidates against the entity table, the pending marks
//     and the unexpired 404 records.
// A single UNION-ALL/DISTINCT statement was not usable: PostgreSQL 15 plans it as a full scan +
// hash aggregate (or sort) per page, i.e. O(pages x table size) — the original's defect 19 again.
const std::string& SqlStore::RefStreamSql(EntityKind kind, const char* table, const char* column) {
    std::string key = std::string("ref|") + table + "|" + column;
    auto it = scan_sql_.find(key);
    if (it != scan_sql_.end()) return it->second;
    const std::string t = table, c = column;
    std::string sql;
    // NPC characters (id < 1,000,000 or 3,000,000–3,999,999) are never fetched.
    const std::string npc =
        kind == EntityKind::kCharacter ? " AND " + c + " >= 1000000 AND NOT (" + c + " BETWEEN 3000000 AND 3999999)" : "";
    if (kind == EntityKind::kCharacter || !HasLeadingIndex(table, column)) {
        // Without an index (a KillReport database we did not create) this is one scan per round.
        sql = "SELECT DISTINCT " + c + " FROM " + t + " WHERE " + c + " > $1" + npc + " ORDER BY " + c + " LIMIT $2";
    } else {
        sql = "WITH RECURSIVE s(id, n) AS (SELECT (SELECT " + c + " FROM " + t + " WHERE " + c + " > $1 ORDER BY " + c +
              " LIMIT 1), 1 UNION ALL SELECT (SELECT " + c + " FROM " + t + " WHERE " + c + " > s.id ORDER BY " + c +
              " LIMIT 1), s.n + 1 FROM s WHERE s.id IS NOT NULL AND s.n < $2) SELECT id FROM s WHERE id IS NOT NULL";
    }
    return scan_sql_.emplace(std::move(key), std::move(sql)).first->second;
}

const std::string& SqlStore::MissingFilterSql(EntityKind kind) {
    std::string key = std::string("filter|") + KindName(kind);
    auto it = scan_sql_.find(key);
    if (it != scan_sql_.end()) return it->second;
    // $5/$6 bound every probe to the round's id window: whatever join the planner picks (index
    // probes, hash or merge anti join) only touches that window, not the whole pending table.
    std::string sql = "SELECT u.id FROM " + IdListFrom(1) + " WHERE NOT EXISTS (SELECT 1 FROM " + KindTable(kind) +
                      " e WHERE e.id = u.id AND e.id BETWEEN CAST($5 AS BIGINT) AND CAST($6 AS BIGINT))"
                      " AND NOT EXISTS (SELECT 1 FROM kr_pending_entities p WHERE p.kind = $2 AND p.id = u.id"
                      " AND p.id BETWEEN CAST($5 AS BIGINT) AND CAST($6 AS BIGINT) AND p.queued_at > $3)"
                      " AND NOT EXISTS (SELECT 1 FROM kr_http_cache h WHERE h.entity_kind = $2 AND h.entity_id = u.id"
                      " AND h.entity_id BETWEEN CAST($5 AS BIGINT) AND CAST($6 AS BIGINT) AND h.status = 404"
                      " AND h.expires_at > $4)"
                      " ORDER BY u.id";
    return scan_sql_.emplace(std::move(key), std::move(sql)).first->second;
}

std::vector<Id> SqlStore::MissingReferencedIds(EntityKind kind, Id after, std::size_t limit,
                                               const ScanOptions& options) {
    std::vector<Id> out;
    if (limit == 0) return out;
    std::vector<RefColumn> refs;
    for (const auto& ref : RefColumns(kind)) {
        if (ref.source & options.sources) refs.push_back(ref);
    }
    if (refs.empty()) return out;
    const std::int64_t now = options.now_ms ? options.now_ms : NowMs();
    const std::int64_t pending_since = now - options.pending_ttl.count();
    const std::string kind_name = KindName(kind);
    const std::int64_t chunk = static_cast<std::int64_t>(std::clamp<std::size_t>(limit, 10000, 50000));
    Id cursor = after;
    std::vector<Id> candidates;
    for (;;) {
        candidates.clear();
        std::optional<Id> horizon;  // nullopt: every stream is exhausted after this round
        for (const auto& ref : refs) {
            auto r = conn_->Exec(RefStreamSql(kind, ref.table, ref.column), {cursor, chunk});
            for (std::size_t i = 0; i < r.Rows(); ++i) candidates.push_back(r.Int(i, 0));
            if (static_cast<std::int64_t>(r.Rows()) == chunk) {
                Id last = r.Int(r.Rows() - 1, 0);
                if (!horizon || last < *horizon) horizon = last;
            }
        }
        std::sort(candidates.begin(), candidates.end());
        candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
        if (horizon) {
            candidates.erase(std::upper_bound(candidates.begin(), candidates.end(), *horizon), candidates.end());
        }
        if (!candidates.empty()) {
            // Planned per call: the plan must see how many candidates there are (see Connection).
            auto r = conn_->ExecPlannedPerCall(MissingFilterSql(kind), {IdSetParam(candidates), kind_name,
                                                                        pending_since, now, candidates.front(),
                                                                        candidates.back()});
            for (std::size_t i = 0; i < r.Rows() && out.size() < limit; ++i) out.push_back(r.Int(i, 0));
        }
        if (!horizon || out.size() >= limit) break;
        cursor = *horizon;
    }
    return out;
}

std::vector<Id> SqlStore::FilterMissing(EntityKind kind, const std::vector<Id>& ids, const ScanOptions& options) {
    std::vector<Id> out;
    std::vector<Id> candidates = ids;
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    if (kind == EntityKind::kCharacter) {
        candidates.erase(std::remove_if(candidates.begin(), candidates.end(), IsNpcCharacter), candidates.end());
    }
    if (candidates.empty()) return out;
    const std::int64_t now = options.now_ms ? options.now_ms : NowMs();
    auto r = conn_->ExecPlannedPerCall(MissingFilterSql(kind),
                                       {IdSetParam(candidates), std::string(KindName(kind)),
                                        now - options.pending_ttl.count(), now, candidates.front(), candidates.back()});
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Int(i, 0));
    return out;
}

void SqlStore::MarkPending(EntityKind kind, const std::vector<Id>& ids, std::int64_t now_ms) {
    if (ids.empty()) return;
    std::int64_t now = now_ms ? now_ms : NowMs();
    std::vector<Id> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    // One set-valued statement: the kind bound once, nothing returned (10,000 ids per scan page).
    // A scan page's ids are normally not marked yet (the scan skipped those queued recently), and a
    // plain INSERT costs PostgreSQL a third of an upsert: large sets try it first, and a conflict
    // (an expired mark, or another process marking the same id) rolls back and takes the upsert.
    // Small sets (a zKillboard page's references, often raced by other pages) upsert directly.
    // "WHERE true": SQLite needs it to parse an upsert after INSERT … SELECT.
    constexpr std::size_t kPlainInsertFrom = 1000;
    const std::string insert =
        "INSERT INTO kr_pending_entities (kind, id, queued_at) SELECT $1, u.id, $3 FROM " + IdListFrom(2);
    const std::vector<db::Param> params{std::string(KindName(kind)), IdSetParam(sorted), now};
    if (sorted.size() >= kPlainInsertFrom) {
        try {
            db::Transaction tx(*conn_);
            conn_->Exec(insert, params);
            tx.Commit();
            return;
        } catch (const PermanentError& e) {
            if (e.Reason() != "db_constraint") throw;
        }
    }
    db::Transaction tx(*conn_);
    conn_->Exec(insert + " WHERE true ON CONFLICT (kind, id) DO UPDATE SET queued_at = excluded.queued_at", params);
    tx.Commit();
}

TableCounts SqlStore::Counts() {
    std::vector<std::string> tables{"alliances",     "corporations", "characters",     "types",
                                    "users",         "killmails",    "victims",        "attackers",
                                    "killmail_items", "kr_killmail_item_children", "kr_http_cache",
                                    "kr_pending_entities"};
    for (auto& t : ExtraCountTables()) tables.push_back(t);
    TableCounts out;
    for (const auto& t : tables) out.emplace_back(t, conn_->Exec("SELECT count(*) FROM " + t).Int(0, 0));
    return out;
}

}  // namespace kr::store::detail
