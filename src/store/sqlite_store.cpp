#include "store/sqlite_store.hpp"

#include <nlohmann/json.hpp>

#include "store/tables.hpp"

namespace kr::store {

using detail::Param;
using detail::Row;
using detail::Rows;

SqliteStore::SqliteStore(std::unique_ptr<db::Connection> conn, const Clock& clock, StoreOptions options)
    : SqlStore(std::move(conn), clock, options) {
    // The killmail tables carry several random-key indexes; SQLite's default 2 MB page cache makes
    // every batch re-read index pages through the OS. 6 MB per connection keeps most hot index
    // pages while a worker stays under its 30 MB RSS budget (ingest: 8 MB ran at the same speed,
    // 10 MB pushed the 'full' format past 30 MB).
    conn_->ExecScript("PRAGMA cache_size = -6144");  // 6 MB
}

std::string SqliteStore::IdSetSql(int n) const {
    return " IN (SELECT value FROM json_each($" + std::to_string(n) + "))";
}

Param SqliteStore::IdSetParam(const std::vector<Id>& ids) const {
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(ids[i]);
    }
    out += ']';
    return out;
}

std::string SqliteStore::TextSetSql(int n) const { return IdSetSql(n); }

std::string SqliteStore::IdListFrom(int n) const {
    return "(SELECT value AS id FROM json_each($" + std::to_string(n) + ")) AS u";
}

Param SqliteStore::TextSetParam(const std::vector<std::string>& values) const {
    return nlohmann::json(values).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool SqliteStore::WriteRow(const db::TableDef& table, const Row& row, const std::string& now) {
    params_.assign(row.begin(), row.end());
    if (table.WritesNow()) params_.emplace_back(now);
    return conn_->Exec(WriteStatement(table), params_).Affected() > 0;
}

UpsertCounts SqliteStore::WriteRows(const db::TableDef& table, const Rows& rows, const std::string& now) {
    UpsertCounts counts;
    if (rows.empty()) return counts;
    // Tables upserted by an integer key that is their first value (the entity tables): learn which
    // rows exist, to tell created from updated.
    std::unordered_set<Id> existing;
    const auto values = table.ValueColumns();
    const bool split = table.upsert && table.conflict.size() == 1 && table.conflict[0] == values.front()->name &&
                       std::holds_alternative<std::int64_t>(rows.front()[0]);
    if (split) {
        const std::string& key = table.conflict[0];
        std::vector<Id> ids;
        ids.reserve(rows.size());
        for (const auto& row : rows) ids.push_back(std::get<std::int64_t>(row[0]));
        auto r =
            conn_->Exec("SELECT " + key + " FROM " + table.name + " WHERE " + key + IdSetSql(1), {IdSetParam(ids)});
        for (std::size_t i = 0; i < r.Rows(); ++i) existing.insert(r.Int(i, 0));
    }
    for (const auto& row : rows) {
        if (!WriteRow(table, row, now)) {
            ++counts.unchanged;
        } else if (split && existing.count(std::get<std::int64_t>(row[0]))) {
            ++counts.updated;
        } else {
            ++counts.created;
        }
    }
    return counts;
}

std::vector<Id> SqliteStore::WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                                            StoreKillmailsResult& result) {
    DependentRows dependent;
    std::vector<Id> ids;
    for (const Killmail* km : killmails) {
        if (!WriteRow(tables::Killmails().Def(), tables::Killmails().RowOf(*km), now)) {
            ++result.already_present;  // ON CONFLICT DO NOTHING: the killmail is stored already
            continue;
        }
        ++result.inserted;
        ids.push_back(km->killmail_id);
        dependent.Clear();
        AppendDependentRows(*km, dependent);
        for (const auto& row : dependent.victims) WriteRow(tables::Victims().Def(), row, now);
        for (const auto& row : dependent.attackers) WriteRow(tables::Attackers().Def(), row, now);
        for (const auto& row : dependent.items) WriteRow(tables::Items().Def(), row, now);
        for (const auto& row : dependent.children) WriteRow(tables::Children().Def(), row, now);
    }
    return ids;
}

std::vector<detail::SqlStore::UserColumn> SqliteStore::UserColumns() {
    auto r = conn_->Exec("SELECT name, \"notnull\", dflt_value IS NOT NULL FROM pragma_table_info('users')");
    std::vector<UserColumn> out;
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back({r.Text(i, 0), r.Int(i, 1) != 0, r.Int(i, 2) != 0});
    return out;
}

bool SqliteStore::HasLeadingIndex(const std::string& table, const std::string& column) {
    return conn_
               ->Exec(
                   "SELECT count(*) FROM pragma_index_list($1) l WHERE (SELECT name FROM pragma_index_info(l.name) "
                   "WHERE seqno = 0) = $2",
                   {table, column})
               .Int(0, 0) > 0;
}

}  // namespace kr::store
