// SqlStore, part 6: refreshing what is stored — queue:characters' affiliation sweep (ESI's
// affiliations written onto the stored characters set-based, one statement per batch, and the
// corporations whose alliance the sweep saw differ from the stored one; a batch is one bound
// parameter, a JSON array of rows) and the stored entities whose ESI Expires passed.
#include <algorithm>
#include <limits>
#include <string>

#include "core/time_format.hpp"
#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

namespace {

// $1: [[character_id, corporation_id, alliance_id|null, faction_id|null], …]; $2: now.
constexpr const char* kApplyAffiliationsPg =
    "UPDATE characters AS c SET corporation_id = u.corporation_id, alliance_id = u.alliance_id,"
    " faction_id = u.faction_id, updated_at = $2::timestamp(3)"
    " FROM (SELECT (e->>0)::bigint AS id, (e->>1)::bigint AS corporation_id, (e->>2)::bigint AS alliance_id,"
    " (e->>3)::bigint AS faction_id FROM jsonb_array_elements($1::jsonb) AS e) AS u"
    " WHERE c.id = u.id AND (c.corporation_id IS DISTINCT FROM u.corporation_id"
    " OR c.alliance_id IS DISTINCT FROM u.alliance_id OR c.faction_id IS DISTINCT FROM u.faction_id)"
    " RETURNING c.id";
constexpr const char* kApplyAffiliationsSqlite =
    "UPDATE characters SET corporation_id = u.corporation_id, alliance_id = u.alliance_id,"
    " faction_id = u.faction_id, updated_at = $2"
    " FROM (SELECT value->>0 AS id, value->>1 AS corporation_id, value->>2 AS alliance_id,"
    " value->>3 AS faction_id FROM json_each($1)) AS u"
    " WHERE characters.id = u.id AND (characters.corporation_id IS NOT u.corporation_id"
    " OR characters.alliance_id IS NOT u.alliance_id OR characters.faction_id IS NOT u.faction_id)"
    " RETURNING characters.id";

// $1: [[corporation_id, alliance_id|null], …]
constexpr const char* kCorporationsWithOtherAlliancePg =
    "SELECT DISTINCT c.id FROM corporations AS c JOIN (SELECT (e->>0)::bigint AS id, (e->>1)::bigint AS alliance_id"
    " FROM jsonb_array_elements($1::jsonb) AS e) AS u ON c.id = u.id"
    " WHERE c.alliance_id IS DISTINCT FROM u.alliance_id ORDER BY c.id";
constexpr const char* kCorporationsWithOtherAllianceSqlite =
    "SELECT DISTINCT c.id FROM corporations AS c JOIN (SELECT value->>0 AS id, value->>1 AS alliance_id"
    " FROM json_each($1)) AS u ON c.id = u.id"
    " WHERE c.alliance_id IS NOT u.alliance_id ORDER BY c.id";

// $1 limit. A member's affiliation newer than its corporation's row names another alliance.
constexpr const char* kCorporationsWithNewerOtherAlliancePg =
    "SELECT DISTINCT co.id FROM characters AS ch JOIN corporations AS co ON co.id = ch.corporation_id"
    " WHERE ch.updated_at > co.updated_at AND ch.alliance_id IS DISTINCT FROM co.alliance_id ORDER BY co.id LIMIT $1";
constexpr const char* kCorporationsWithNewerOtherAllianceSqlite =
    "SELECT DISTINCT co.id FROM characters AS ch JOIN corporations AS co ON co.id = ch.corporation_id"
    " WHERE ch.updated_at > co.updated_at AND ch.alliance_id IS NOT co.alliance_id ORDER BY co.id LIMIT $1";

/// {table}, {key}: the entity table and its key; $1 kind name, $2 now (unix ms), $3 limit.
constexpr const char* kListExpired =
    "SELECT e.{key} FROM {table} AS e LEFT JOIN kr_http_cache AS h ON h.entity_kind = $1 AND h.entity_id = e.{key}"
    " WHERE h.path IS NULL OR h.expires_at <= $2 ORDER BY COALESCE(h.expires_at, 0), e.{key} LIMIT $3";

std::string Fill(std::string sql, const std::string& table, const std::string& key) {
    for (std::string::size_type at; (at = sql.find("{table}")) != std::string::npos;) sql.replace(at, 7, table);
    for (std::string::size_type at; (at = sql.find("{key}")) != std::string::npos;) sql.replace(at, 5, key);
    return sql;
}

void AppendOpt(std::string& out, const std::optional<Id>& v) { out += v ? std::to_string(*v) : std::string("null"); }

}  // namespace

std::vector<Id> SqlStore::ListExpired(EntityKind kind, std::size_t limit) {
    const auto sql = Fill(kListExpired, tables::EntityTable(kind).name, tables::EntityKey(kind));
    const auto lim = limit > 0 ? static_cast<std::int64_t>(limit) : std::numeric_limits<std::int64_t>::max();
    auto r = conn_->ExecPlannedPerCall(sql, {std::string(KindInfo(kind).name), clock_.NowMs(), lim});
    std::vector<Id> out;
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Int(i, 0));
    return out;
}

std::vector<Id> SqlStore::ApplyAffiliations(const std::vector<CharacterAffiliation>& affiliations) {
    std::vector<Id> changed;
    if (affiliations.empty()) return changed;
    std::string rows = "[";
    for (const auto& a : affiliations) {
        if (rows.size() > 1) rows += ",";
        rows += "[" + std::to_string(a.character_id) + "," + std::to_string(a.corporation_id) + ",";
        AppendOpt(rows, a.alliance_id);
        rows += ",";
        AppendOpt(rows, a.faction_id);
        rows += "]";
    }
    rows += "]";
    const bool pg = conn_->GetDialect() == db::Dialect::kPostgres;
    db::Transaction tx(*conn_);
    auto r =
        conn_->ExecPlannedPerCall(pg ? kApplyAffiliationsPg : kApplyAffiliationsSqlite, {rows, IsoUtc(clock_.NowMs())});
    tx.Commit();
    changed.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) changed.push_back(r.Int(i, 0));
    std::sort(changed.begin(), changed.end());
    return changed;
}

std::vector<Id> SqlStore::CorporationsWithOtherAlliance(
    const std::vector<std::pair<Id, std::optional<Id>>>& corporation_alliances) {
    std::vector<Id> out;
    if (corporation_alliances.empty()) return out;
    std::string rows = "[";
    for (const auto& [corporation, alliance] : corporation_alliances) {
        if (rows.size() > 1) rows += ",";
        rows += "[" + std::to_string(corporation) + ",";
        AppendOpt(rows, alliance);
        rows += "]";
    }
    rows += "]";
    const bool pg = conn_->GetDialect() == db::Dialect::kPostgres;
    auto r =
        conn_->ExecPlannedPerCall(pg ? kCorporationsWithOtherAlliancePg : kCorporationsWithOtherAllianceSqlite, {rows});
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Int(i, 0));
    return out;
}

std::vector<Id> SqlStore::CorporationsWithNewerOtherAlliance(std::size_t limit) {
    const bool pg = conn_->GetDialect() == db::Dialect::kPostgres;
    const auto lim = limit > 0 ? static_cast<std::int64_t>(limit) : std::numeric_limits<std::int64_t>::max();
    auto r = conn_->ExecPlannedPerCall(
        pg ? kCorporationsWithNewerOtherAlliancePg : kCorporationsWithNewerOtherAllianceSqlite, {lim});
    std::vector<Id> out;
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Int(i, 0));
    return out;
}

}  // namespace kr::store::detail
