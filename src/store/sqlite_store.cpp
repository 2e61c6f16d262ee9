#include "store/sqlite_store.hpp"

#include <nlohmann/json.hpp>

namespace kr::store {

using detail::Param;
using detail::Row;
using detail::Rows;
using detail::TableSpec;

SqliteStore::SqliteStore(std::unique_ptr<db::Connection> conn) : SqlStore(std::move(conn)) {
    // The killmail tables carry several random-key indexes; SQLite's default 2 MB page cache makes
    // every batch re-read index pages through the OS. 6 MB per connection keeps most hot index
    // pages while a worker stays under its 30 MB RSS budget (ingest: 8 MB ran at the same speed,
    // 10 MB pushed the 'full' format past 30 MB).
    conn_->ExecScript("PRAGMA cache_size = -6144");  // 6 MB
}

std::string SqliteStore::IdSetSql(int n) const { return " IN (SELECT value FROM json_each($" + std::to_string(n) + "))"; }

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

const std::string& SqliteStore::Sql(const TableSpec& spec) {
    auto it = sql_.find(spec.table);
    if (it != sql_.end()) return it->second;
    std::string cols, values, set, same;
    for (std::size_t i = 0; i < spec.cols.size(); ++i) {
        const char* c = spec.cols[i].name;
        if (i) {
            cols += ", ";
            values += ", ";
        }
        cols += c;
        values += "$" + std::to_string(i + 1);
        bool is_key = false;
        for (const char* k : spec.key) is_key = is_key || std::string_view(k) == c;
        if (!is_key) {
            if (!set.empty()) {
                set += ", ";
                same += " AND ";
            }
            set += std::string(c) + " = excluded." + c;
            same += std::string(c) + " IS excluded." + c;
        }
    }
    const std::string now_param = "$" + std::to_string(spec.cols.size() + 1);
    for (const char* n : spec.now_cols) {
        cols += std::string(", ") + n;
        values += ", " + now_param;
        if (std::string_view(n) == "updated_at") set += ", updated_at = excluded.updated_at";
    }
    std::string sql = std::string("INSERT INTO ") + spec.table + " (" + cols + ") VALUES (" + values + ")";
    if (!spec.key.empty()) {
        std::string target;
        for (const char* k : spec.key) target += std::string(target.empty() ? "" : ", ") + k;
        if (spec.upsert) {
            sql += " ON CONFLICT (" + target + ") DO UPDATE SET " + set + " WHERE NOT (" + same + ")";
        } else {
            sql += " ON CONFLICT (" + target + ") DO NOTHING";
        }
    }
    return sql_.emplace(spec.table, std::move(sql)).first->second;
}

void SqliteStore::InsertRow(const TableSpec& spec, const Row& row, const std::string& now) {
    params_.assign(row.begin(), row.end());
    if (!spec.now_cols.empty()) params_.emplace_back(now);
    conn_->Exec(Sql(spec), params_);
}

UpsertCounts SqliteStore::WriteRows(const TableSpec& spec, const Rows& rows, const std::string& now) {
    UpsertCounts counts;
    if (rows.empty()) return counts;
    // Entity tables (key "id", first column): learn which rows exist, to tell created from updated.
    std::unordered_set<Id> existing;
    bool split = spec.upsert && spec.key.size() == 1 && std::string_view(spec.key[0]) == "id";
    if (split) {
        std::vector<Id> ids;
        ids.reserve(rows.size());
        for (const auto& row : rows) ids.push_back(std::get<std::int64_t>(row[0]));
        auto r = conn_->Exec(std::string("SELECT id FROM ") + spec.table + " WHERE id" + IdSetSql(1), {IdSetParam(ids)});
        for (std::size_t i = 0; i < r.Rows(); ++i) existing.insert(r.Int(i, 0));
    }
    const std::string& sql = Sql(spec);
    for (const auto& row : rows) {
        params_.assign(row.begin(), row.end());
        if (!spec.now_cols.empty()) params_.emplace_back(now);
        bool changed = conn_->Exec(sql, params_).Affected() > 0;
        if (!changed) {
            ++counts.unchanged;
        } else if (split && existing.count(std::get<std::int64_t>(row[0]))) {
            ++counts.updated;
        } else {
            ++counts.created;
        }
    }
    return counts;
}

void SqliteStore::WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                                 StoreKillmailsResult& result) {
    const std::string& sql = Sql(KillmailSpec());
    Rows victims, attackers, items, children;
    for (const Killmail* km : killmails) {
        params_ = KillmailRow(*km);
        params_.emplace_back(now);
        if (conn_->Exec(sql, params_).Affected() == 0) {
            ++result.already_present;  // ON CONFLICT DO NOTHING: the killmail is stored already
            continue;
        }
        ++result.inserted;
        victims.clear();
        attackers.clear();
        items.clear();
        children.clear();
        AppendDependentRows(*km, victims, attackers, items, children);
        for (const auto& row : victims) InsertRow(VictimSpec(), row, now);
        for (const auto& row : attackers) InsertRow(AttackerSpec(), row, now);
        for (const auto& row : items) InsertRow(ItemSpec(), row, now);
        for (const auto& row : children) InsertRow(ChildSpec(), row, now);
    }
}

std::vector<detail::SqlStore::UserColumn> SqliteStore::UserColumns() {
    auto r = conn_->Exec("SELECT name, \"notnull\", dflt_value IS NOT NULL FROM pragma_table_info('users')");
    std::vector<UserColumn> out;
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back({r.Text(i, 0), r.Int(i, 1) != 0, r.Int(i, 2) != 0});
    return out;
}

bool SqliteStore::HasLeadingIndex(const std::string& table, const std::string& column) {
    return conn_->Exec(
                   "SELECT count(*) FROM pragma_index_list($1) l WHERE (SELECT name FROM pragma_index_info(l.name) "
                   "WHERE seqno = 0) = $2",
                   {table, column})
               .Int(0, 0) > 0;
}

}  // namespace kr::store
