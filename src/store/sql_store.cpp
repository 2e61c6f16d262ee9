#include "store/sql_store.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/errors.hpp"
#include "core/time_format.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

std::string CacheColumns(const std::string& prefix) {
    std::string out;
    for (const auto& c : tables::HttpCache().Def().columns) out += (out.empty() ? "" : ", ") + prefix + c.name;
    return out;
}

// ---- helpers ----------------------------------------------------------------------------------

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

SqlStore::SqlStore(std::unique_ptr<db::Connection> conn, const Clock& clock, StoreOptions options)
    : conn_(std::move(conn)), clock_(clock), options_(options) {}

const std::string& SqlStore::WriteStatement(const db::TableDef& table, const std::string& suffix) {
    std::string key = table.name + '|' + suffix;
    auto it = write_sql_.find(key);
    if (it != write_sql_.end()) return it->second;
    return write_sql_.emplace(std::move(key), db::WriteSql(table, conn_->GetDialect(), suffix)).first->second;
}

std::unordered_set<Id> SqlStore::ExistingIds(EntityKind kind, const std::vector<Id>& ids) {
    std::unordered_set<Id> found;
    if (ids.empty()) return found;
    const std::string& key = tables::EntityKey(kind);
    auto r = conn_->ExecPlannedPerCall(
        "SELECT " + key + " FROM " + tables::EntityTable(kind).name + " WHERE " + key + IdSetSql(1), {IdSetParam(ids)});
    for (std::size_t i = 0; i < r.Rows(); ++i) found.insert(r.Int(i, 0));
    return found;
}

std::vector<Id> SqlStore::ListIds(EntityKind kind, Id after, std::size_t limit) {
    const std::string& key = tables::EntityKey(kind);
    auto r = conn_->Exec("SELECT " + key + " FROM " + tables::EntityTable(kind).name + " WHERE " + key +
                             " > $1 ORDER BY " + key + " LIMIT $2",
                         {after, static_cast<std::int64_t>(limit)});
    std::vector<Id> ids;
    ids.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) ids.push_back(r.Int(i, 0));
    return ids;
}

std::unordered_map<std::string, CacheEntry> SqlStore::LoadHttpCache(const std::vector<std::string>& paths) {
    std::unordered_map<std::string, CacheEntry> out;
    if (paths.empty()) return out;
    auto r = conn_->ExecPlannedPerCall("SELECT " + CacheColumns() + " FROM kr_http_cache WHERE path" + TextSetSql(1),
                                       {TextSetParam(paths)});
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        CacheEntry e = CacheRow(r, i, 0);
        out.emplace(e.path, std::move(e));
    }
    return out;
}

void SqlStore::ClearPending(EntityKind kind, const std::vector<Id>& ids) {
    conn_->ExecPlannedPerCall(std::string("DELETE FROM kr_pending_entities WHERE kind = $1 AND id") + IdSetSql(2),
                              {std::string(KindInfo(kind).name), IdSetParam(ids)});
}

CacheEntry SqlStore::CacheRow(const db::Result& r, std::size_t row, std::size_t first) {
    // By name: the column's place in CacheColumns() (the table's definition).
    const auto col = [first](const char* name) {
        const auto& columns = tables::HttpCache().Def().columns;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (columns[i].name == name) return first + i;
        }
        throw FatalError(std::string("kr_http_cache has no column ") + name);
    };
    CacheEntry e;
    e.path = r.Text(row, col("path"));
    e.etag = r.OptText(row, col("etag"));
    e.last_modified = r.OptText(row, col("last_modified"));
    e.expires_at_ms = r.Int(row, col("expires_at"));
    e.status = static_cast<int>(r.Int(row, col("status")));
    e.checked_at_ms = r.Int(row, col("checked_at"));
    if (!r.IsNull(row, col("entity_kind"))) {
        e.entity_kind = KindByName(r.Text(row, col("entity_kind")));
        e.entity_id = r.OptInt(row, col("entity_id")).value_or(0);
    }
    return e;
}

std::unordered_map<std::string, ListSweep> SqlStore::LoadListSweeps(const std::vector<std::string>& paths) {
    std::unordered_map<std::string, ListSweep> out;
    if (paths.empty()) return out;
    auto r =
        conn_->Exec("SELECT path, server_version, swept_at, checked_at FROM kr_list_sweeps WHERE path" + TextSetSql(1),
                    {TextSetParam(paths)});
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        ListSweep s;
        s.path = r.Text(i, 0);
        s.server_version = r.OptText(i, 1);
        s.swept_at_ms = r.OptInt(i, 2);
        s.checked_at_ms = r.Int(i, 3);
        out.emplace(s.path, std::move(s));
    }
    return out;
}

void SqlStore::SaveListSweep(const ListSweep& sweep, const std::optional<CacheEntry>& list_cache) {
    const std::int64_t now_ms = clock_.NowMs();
    const std::string now = IsoUtc(now_ms);
    db::Transaction tx(*conn_);
    WriteRows(tables::ListSweeps().Def(), {tables::ListSweeps().RowOf(sweep)}, now);
    if (list_cache) {
        CacheEntry e = *list_cache;
        if (!e.checked_at_ms) e.checked_at_ms = now_ms;
        WriteRows(tables::HttpCache().Def(), {tables::HttpCache().RowOf(e)}, now);
    }
    tx.Commit();
}

std::int64_t SqlStore::AddUser(Id character_id, const std::string& name) {
    if (!user_columns_) user_columns_ = UserColumns();
    std::string now = IsoUtc(clock_.NowMs());
    std::vector<std::string> cols{"character_id", "character_name"};
    std::vector<Param> params{character_id, name};
    bool has_updated_at = false;
    for (const auto& c : *user_columns_) {
        bool required = c.not_null && !c.has_default;
        if ((c.name == "character_owner_hash" || c.name == "access_token" || c.name == "refresh_token") && required) {
            cols.push_back(c.name);
            params.emplace_back(std::string(kSsoPlaceholder));
        } else if (c.name == "expires_at" && required) {
            cols.push_back(c.name);
            params.emplace_back(IsoUtc(0));  // the epoch: an expired token
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
        if (conn_->GetDialect() == db::Dialect::kPostgres &&
            (cols[i] == "created_at" || cols[i] == "updated_at" || cols[i] == "expires_at")) {
            values += "::timestamp(3)";
        }
    }
    sql +=
        ") VALUES (" + values + ") ON CONFLICT (character_id) DO UPDATE SET character_name = excluded.character_name";
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

bool SqlStore::RemoveUser(Id character_id) {
    static constexpr const char* kDeleteUser = "DELETE FROM users WHERE character_id = $1";
    db::Transaction tx(*conn_);
    const bool removed = conn_->Exec(kDeleteUser, {character_id}).Affected() > 0;
    tx.Commit();
    return removed;
}

TableCounts SqlStore::Counts() {
    std::vector<std::string> tables;
    for (const db::TableDef* t : tables::AllTables()) tables.push_back(t->name);
    for (auto& t : ExtraCountTables()) tables.push_back(t);
    TableCounts out;
    for (const auto& t : tables) out.emplace_back(t, conn_->Exec("SELECT count(*) FROM " + t).Int(0, 0));
    return out;
}

}  // namespace kr::store::detail