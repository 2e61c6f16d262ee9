// SqlStore, part 5: KillReport's derived tables (store/6) — killmail_filters and the kill stats of
// characters, corporations and alliances — computed from the stored killmails, set-based: one
// statement per table for a whole batch (the killmails a page stored) or a whole rebuild.
//
// The same statements serve both: killmail_filters' rows are built from the killmails selected
// by a scope predicate over `k` (the batch's new ids, or killmail_time from a day on), joined with
// victims, attackers and the universe tables; the kill stats are then counted from those filter
// rows' attacker arrays, which hold each killmail's distinct ids once (no second pass over the
// attackers, no per-group DISTINCT). The scope reads only killmail_id and killmail_time, which
// killmails and killmail_filters both have. Dialects differ only in the day of a timestamp and in
// how an id array is built and read (PostgreSQL BIGINT[] / INTEGER[], SQLite a JSON array).
#include <string>
#include <vector>

#include "core/time_format.hpp"
#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

namespace {

/// The attacker columns whose distinct non-NULL values become killmail_filters' arrays.
constexpr const char* kArrayColumns[] = {"ship_type_id", "character_id", "corporation_id", "alliance_id"};
/// The kill-stats entities, in tables::KillStats() order: attackers' <entity>_id columns.
constexpr const char* kStatsEntities[] = {"character", "corporation", "alliance"};

/// Distinct non-NULL values of attackers `x`.<column> of a group, ascending.
std::string IdArrayAgg(const std::string& column, db::Dialect d) {
    const std::string c = "x." + column;
    if (d == db::Dialect::kPostgres) {
        return "array_agg(DISTINCT " + c + " ORDER BY " + c + ") FILTER (WHERE " + c + " IS NOT NULL)";
    }
    return "json_group_array(DISTINCT " + c + ") FILTER (WHERE " + c + " IS NOT NULL)";
}

std::string EmptyIdArray(db::Dialect d) { return d == db::Dialect::kPostgres ? "'{}'" : "'[]'"; }

/// The UTC day of killmails `k`.killmail_time (PostgreSQL: TIMESTAMP(3) in UTC; SQLite: ISO text).
std::string KillDay(db::Dialect d) {
    return d == db::Dialect::kPostgres ? "CAST(k.killmail_time AS date)" : "date(k.killmail_time)";
}

/// One killmail_filters row per killmail in scope (kept when the killmail has one already, unless
/// `into_emptied`: the scope's rows were deleted under a table lock, so no conflict can happen and
/// the plain INSERT skips the conflict checks).
std::string FiltersInsertSql(const SqlStore::DeriveScope& scope, db::Dialect d, bool into_emptied) {
    std::string aggregates, arrays;
    for (const char* c : kArrayColumns) {
        aggregates += ", " + IdArrayAgg(c, d) + " AS " + c + "s";
        arrays += ", COALESCE(a." + std::string(c) + "s, " + EmptyIdArray(d) + ")";
    }
    return "INSERT INTO killmail_filters (killmail_id, killmail_time, solar_system_id, attacker_count, "
           "constellation_id, region_id, victim_ship_type_id, victim_character_id, victim_corporation_id, "
           "victim_alliance_id, attacker_ship_type_ids, attacker_character_ids, attacker_corporation_ids, "
           "attacker_alliance_ids, security_status, security_class) "
           "SELECT k.killmail_id, k.killmail_time, k.solar_system_id, COALESCE(a.n, 0), s.constellation_id, "
           "c.region_id, v.ship_type_id, v.character_id, v.corporation_id, v.alliance_id" +
           arrays +
           ", s.security_status, CAST(s.security_class AS VARCHAR(2)) FROM killmails k"
           " LEFT JOIN victims v ON v.killmail_id = k.killmail_id"
           " LEFT JOIN (SELECT x.killmail_id, count(*) AS n" +
           aggregates + " FROM attackers x WHERE " + scope.attackers +
           " GROUP BY x.killmail_id) a ON a.killmail_id = k.killmail_id"
           " LEFT JOIN solar_systems s ON s.system_id = k.solar_system_id"
           " LEFT JOIN constellations c ON c.constellation_id = s.constellation_id"
           " WHERE " +
           scope.killmails + " ORDER BY k.killmail_id" + (into_emptied ? "" : " ON CONFLICT (killmail_id) DO NOTHING");
}

/// +1 per killmail in scope for each distinct attacker <entity> of it, on the killmail's UTC day,
/// counted from the killmails' filter rows (written just before, in the same transaction): their
/// arrays are the distinct non-NULL ids. Ordered by key: concurrent writers lock the rows they add
/// to in the same order, and a rebuild appends to the primary key. `into_emptied`: as
/// FiltersInsertSql (a plain INSERT).
std::string KillStatsUpsertSql(const std::string& entity, const std::string& scope, db::Dialect d, bool into_emptied,
                               const std::string& filters = "killmail_filters") {
    const std::string table = entity + "_kill_stats";
    const std::string id = entity + "_id";
    const std::string array = "k.attacker_" + entity + "_ids";
    const std::string ids = d == db::Dialect::kPostgres ? "CROSS JOIN LATERAL unnest(" + array + ") AS u(id)"
                                                        : "CROSS JOIN json_each(" + array + ") AS u";
    const std::string value = d == db::Dialect::kPostgres ? "u.id" : "u.value";
    return "INSERT INTO " + table + " (kill_date, " + id + ", kill_count) SELECT " + KillDay(d) + ", " + value +
           ", count(*) FROM " + filters + " k " + ids + " WHERE " + scope + " GROUP BY 1, 2 ORDER BY 1, 2" +
           (into_emptied ? ""
                         : " ON CONFLICT (kill_date, " + id + ") DO UPDATE SET kill_count = COALESCE(" + table +
                               ".kill_count, 0) + excluded.kill_count");
}

/// A page's three kill-stats upserts as one PostgreSQL statement (KillStatsUpsertSql each, from
/// the scope's filter rows read once; one round trip instead of three); its one value is the
/// number of rows written.
std::string KillStatsUpsertAllSql(const std::string& scope) {
    std::string columns = "killmail_time", upserts, total;
    for (const char* entity : kStatsEntities) columns += ", attacker_" + std::string(entity) + "_ids";
    for (const char* entity : kStatsEntities) {
        const std::string name = std::string(entity) + "_stats";
        upserts += ", " + name + " AS (" +
                   KillStatsUpsertSql(entity, "TRUE", db::Dialect::kPostgres, false, "page_filters") + " RETURNING 1)";
        total += (total.empty() ? "SELECT " : " + ") + ("(SELECT count(*) FROM " + name + ")");
    }
    return "WITH page_filters AS MATERIALIZED (SELECT " + columns + " FROM killmail_filters k WHERE " + scope + ")" +
           upserts + " " + total;
}

/// The location columns of the filters in solar systems $1 or in constellations $2, from the
/// universe tables; rows already right are not rewritten.
std::string FilterLocationsSql(const std::string& systems, const std::string& constellations) {
    const char* const kClass = "CAST(s.security_class AS VARCHAR(2))";
    return std::string(
               "UPDATE killmail_filters SET constellation_id = s.constellation_id, region_id = c.region_id, "
               "security_status = s.security_status, security_class = ") +
           kClass +
           " FROM solar_systems s LEFT JOIN constellations c ON c.constellation_id = s.constellation_id"
           " WHERE killmail_filters.solar_system_id = s.system_id AND (s.system_id" +
           systems + " OR s.constellation_id" + constellations +
           ") AND (killmail_filters.constellation_id IS DISTINCT FROM s.constellation_id"
           " OR killmail_filters.region_id IS DISTINCT FROM c.region_id"
           " OR killmail_filters.security_status IS DISTINCT FROM s.security_status"
           " OR killmail_filters.security_class IS DISTINCT FROM " +
           kClass + ")";
}

/// A killmail write derives its filters from the universe tables while a universe write locates the
/// filters already written: both in flight (READ COMMITTED), each could miss the other's
/// uncommitted rows and a filter would stay unlocated for good. On PostgreSQL the two are ordered by
/// a transaction-level advisory lock, shared for killmail writes (they run side by side) and
/// exclusive for universe writes (rare); the statements after it see what the other committed.
/// SQLite writes one transaction at a time.
constexpr const char* kLocationLockShared = "SELECT pg_advisory_xact_lock_shared(7021190)";
constexpr const char* kLocationLockExclusive = "SELECT pg_advisory_xact_lock(7021190)";

/// A rebuild on PostgreSQL: the derived tables locked against other writers (readers go on reading
/// the old rows until the commit, except during a whole rebuild, below) — a killmail page in flight
/// either committed its rows before (and the rebuild recomputes them) or derives after the
/// rebuild's commit, so nothing is counted twice or missed; its aggregates hash and sort in memory
/// and its index builds sort in memory.
constexpr const char* kRebuildLock =
    "LOCK TABLE killmail_filters, character_kill_stats, corporation_kill_stats, alliance_kill_stats "
    "IN EXCLUSIVE MODE";
constexpr const char* kRebuildMemory = "SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'";

/// The secondary indexes of table $1 (those that back no constraint — the primary keys stay), each
/// as the catalog defines it: a whole rebuild drops them and builds them again from these exact
/// definitions, whoever created them (our migrations or the original's).
constexpr const char* kSecondaryIndexes =
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_get_indexdef(i.indexrelid) FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE i.indrelid = to_regclass($1) "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.relname";

/// The derived tables, filters first.
std::vector<std::string> DerivedTableNames() {
    std::vector<std::string> names{tables::KillmailFilters().name};
    for (const auto& t : tables::KillStats()) names.push_back(t.name);
    return names;
}

}  // namespace

std::vector<std::string> SqlStore::EmptyDerivedForRebuild() {
    std::vector<std::string> rebuild;
    std::string drop, truncate;
    for (const auto& table : DerivedTableNames()) {
        auto r = conn_->Exec(kSecondaryIndexes, {table});
        for (std::size_t i = 0; i < r.Rows(); ++i) {
            drop += "DROP INDEX " + r.Text(i, 0) + "; ";
            rebuild.push_back(r.Text(i, 1));
        }
        truncate += (truncate.empty() ? "TRUNCATE " : ", ") + table;
    }
    conn_->ExecScript(drop + truncate);
    return rebuild;
}

SqlStore::DeriveScope SqlStore::DeriveScopeOf(const std::vector<Id>& ids) const {
    return {"k.killmail_id" + IdSetSql(1), "x.killmail_id" + IdSetSql(1), {IdSetParam(ids)}};
}

DerivedCounts SqlStore::Derive(const DeriveScope& scope, bool into_emptied) {
    const db::Dialect d = conn_->GetDialect();
    if (d == db::Dialect::kPostgres) conn_->Exec(kLocationLockShared);
    DerivedCounts counts;
    // Planned per call: the plans depend on how many killmails the scope selects (see
    // db::Connection; a generic plan made on a fresh database would scan).
    counts.filters = conn_->ExecPlannedPerCall(FiltersInsertSql(scope, d, into_emptied), scope.params).Affected();
    if (d == db::Dialect::kPostgres && !into_emptied) {
        counts.kill_stats = conn_->ExecPlannedPerCall(KillStatsUpsertAllSql(scope.killmails), scope.params).Int(0, 0);
        return counts;
    }
    for (const char* entity : kStatsEntities) {
        counts.kill_stats +=
            conn_->ExecPlannedPerCall(KillStatsUpsertSql(entity, scope.killmails, d, into_emptied), scope.params)
                .Affected();
    }
    return counts;
}

void SqlStore::RefreshFilterLocations(const std::vector<Id>& systems, const std::vector<Id>& constellations) {
    if (systems.empty() && constellations.empty()) return;
    if (conn_->GetDialect() == db::Dialect::kPostgres) conn_->Exec(kLocationLockExclusive);
    conn_->ExecPlannedPerCall(FilterLocationsSql(IdSetSql(1), IdSetSql(2)),
                              {IdSetParam(systems), IdSetParam(constellations)});
}

DerivedCounts SqlStore::RebuildDerived(const std::optional<std::string>& from_date) {
    const bool pg = conn_->GetDialect() == db::Dialect::kPostgres;
    std::vector<Param> params;
    std::string scope = pg ? "TRUE" : "1";
    std::string filters_from, stats_from;
    if (from_date) {
        // A day, compared as a date on PostgreSQL and as ISO text on SQLite ("2025-01-02T…" >= "2025-01-02").
        const std::string day = pg ? "$1::date" : "$1";
        params.emplace_back(*from_date);
        scope = "k.killmail_time >= " + day;
        filters_from = " WHERE killmail_time >= " + day;
        stats_from = " WHERE kill_date >= " + day;
    }
    db::Transaction tx(*conn_);
    std::vector<std::string> indexes;
    if (pg) {
        conn_->Exec(kRebuildLock);
        conn_->ExecScript(kRebuildMemory);
    }
    if (pg && !from_date) {
        // The whole tables: emptied, filled without their secondary indexes, which are then built
        // in one sorted pass each — on 1M killmails several times faster than keeping 20 indexes
        // (4 of them GIN) up to date row by row. Readers wait for the commit from here on (the
        // DROP INDEX locks the tables), as they would for the original's migrations.
        indexes = EmptyDerivedForRebuild();
    } else {
        conn_->Exec("DELETE FROM " + tables::KillmailFilters().name + filters_from, params);
        for (const auto& t : tables::KillStats()) conn_->Exec("DELETE FROM " + t.name + stats_from, params);
    }
    // The scope's rows are gone and no one else writes these tables until the commit: plain
    // INSERTs (conflict checks cost a third of a rebuild on PostgreSQL).
    // The attackers of the killmails in scope: the whole table, or through the killmails' times.
    const std::string attackers =
        from_date ? "x.killmail_id IN (SELECT k.killmail_id FROM killmails k WHERE " + scope + ")" : scope;
    DerivedCounts counts = Derive({scope, attackers, params}, true);
    for (const auto& index : indexes) conn_->ExecScript(index);
    tx.Commit();
    return counts;
}

}  // namespace kr::store::detail
