#include "store/pg_store.hpp"

namespace kr::store {

using detail::Param;
using detail::Rows;
using detail::TableSpec;

PgStore::PgStore(std::unique_ptr<db::Connection> conn) : SqlStore(std::move(conn)) {}

std::string PgStore::IdSetSql(int n) const { return " = ANY($" + std::to_string(n) + "::bigint[])"; }
Param PgStore::IdSetParam(const std::vector<Id>& ids) const { return db::PgIntArray(ids); }
std::string PgStore::TextSetSql(int n) const { return " = ANY($" + std::to_string(n) + "::text[])"; }
Param PgStore::TextSetParam(const std::vector<std::string>& values) const { return db::PgTextArray(values); }
std::string PgStore::IdListFrom(int n) const { return "unnest($" + std::to_string(n) + "::bigint[]) AS u(id)"; }

Store::Freshness PgStore::LookupFreshness(EntityKind kind, const std::vector<Id>& ids,
                                          const std::vector<std::string>& paths) {
    Freshness out;
    if (ids.empty()) return out;
    // One row per id: is it stored, and its cache row if any. Planned per call: the plan must see
    // the batch's size (a generic plan guesses 10 rows; see db::Connection).
    const std::string sql =
        std::string("SELECT u.id, e.id IS NOT NULL, h.path, h.etag, h.last_modified, h.expires_at, h.status,"
                    " h.checked_at FROM unnest($1::bigint[], $2::text[]) AS u(id, path) LEFT JOIN ") +
        KindTable(kind) + " e ON e.id = u.id LEFT JOIN kr_http_cache h ON h.path = u.path";
    auto r = conn_->ExecPlannedPerCall(sql, {db::PgIntArray(ids), db::PgTextArray(paths)});
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        if (r.Bool(i, 1)) out.existing.insert(r.Int(i, 0));
        if (r.IsNull(i, 2)) continue;
        CacheEntry e = CacheRow(r, i, 2);
        out.cache.emplace(e.path, std::move(e));
    }
    return out;
}

const std::string& PgStore::Sql(const TableSpec& spec, const std::string& suffix) {
    std::string key = std::string(spec.table) + '|' + suffix;
    auto it = sql_.find(key);
    if (it != sql_.end()) return it->second;
    std::string cols, select, arrays, set, old_row, new_row;
    for (std::size_t i = 0; i < spec.cols.size(); ++i) {
        const auto& c = spec.cols[i];
        if (i) {
            cols += ", ";
            select += ", ";
            arrays += ", ";
        }
        cols += c.name;
        select += std::string("u.") + c.name;
        arrays += "$" + std::to_string(i + 1) + "::" + c.pg_type + "[]";
        bool is_key = false;
        for (const char* k : spec.key) is_key = is_key || std::string_view(k) == c.name;
        if (!is_key) {
            if (!set.empty()) {
                set += ", ";
                old_row += ", ";
                new_row += ", ";
            }
            set += std::string(c.name) + " = EXCLUDED." + c.name;
            old_row += std::string("t.") + c.name;
            new_row += std::string("EXCLUDED.") + c.name;
        }
    }
    const std::string now_param = "$" + std::to_string(spec.cols.size() + 1) + "::timestamp(3)";
    for (const char* n : spec.now_cols) {
        cols += std::string(", ") + n;
        select += ", " + now_param;
        if (std::string_view(n) == "updated_at") set += ", updated_at = EXCLUDED.updated_at";
    }
    std::string sql = std::string("INSERT INTO ") + spec.table + " AS t (" + cols + ") SELECT " + select +
                      " FROM unnest(" + arrays + ") AS u(";
    for (std::size_t i = 0; i < spec.cols.size(); ++i) sql += std::string(i ? ", " : "") + spec.cols[i].name;
    sql += ")";
    if (!spec.key.empty()) {
        std::string target;
        for (const char* k : spec.key) target += std::string(target.empty() ? "" : ", ") + k;
        if (spec.upsert) {
            // Skip rows whose columns are all unchanged (no new tuple, no WAL); RETURNING tells
            // inserted (xmax = 0) from updated rows; skipped rows return nothing.
            sql += " ON CONFLICT (" + target + ") DO UPDATE SET " + set + " WHERE ROW(" + old_row +
                   ") IS DISTINCT FROM ROW(" + new_row + ") RETURNING (xmax = 0) AS inserted";
        } else {
            sql += " ON CONFLICT (" + target + ") DO NOTHING";
        }
    }
    sql += suffix;
    return sql_.emplace(std::move(key), std::move(sql)).first->second;
}

std::vector<Param> PgStore::ArrayParams(const TableSpec& spec, const Rows& rows, const std::string& now) const {
    std::vector<Param> params;
    params.reserve(spec.cols.size() + 1);
    std::vector<Param> column;
    column.reserve(rows.size());
    for (std::size_t c = 0; c < spec.cols.size(); ++c) {
        column.clear();
        for (const auto& row : rows) column.push_back(row[c]);
        params.emplace_back(detail::PgArrayLiteral(column));
    }
    if (!spec.now_cols.empty()) params.emplace_back(now);
    return params;
}

UpsertCounts PgStore::WriteRows(const TableSpec& spec, const Rows& rows, const std::string& now) {
    UpsertCounts counts;
    if (rows.empty()) return counts;
    auto r = conn_->Exec(Sql(spec), ArrayParams(spec, rows, now));
    if (spec.upsert) {
        for (std::size_t i = 0; i < r.Rows(); ++i) (r.Bool(i, 0) ? counts.created : counts.updated) += 1;
        counts.unchanged = rows.size() - r.Rows();
    } else {
        counts.created = static_cast<std::size_t>(r.Affected());
        counts.unchanged = rows.size() - counts.created;
    }
    return counts;
}

void PgStore::WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                             StoreKillmailsResult& result) {
    Rows rows;
    rows.reserve(killmails.size());
    for (const Killmail* km : killmails) rows.push_back(KillmailRow(*km));
    // Only killmails whose row is new get their children: a second store changes nothing.
    auto r = conn_->Exec(Sql(KillmailSpec(), " RETURNING killmail_id"), ArrayParams(KillmailSpec(), rows, now));
    std::unordered_set<Id> inserted;
    for (std::size_t i = 0; i < r.Rows(); ++i) inserted.insert(r.Int(i, 0));
    result.inserted += inserted.size();
    result.already_present += killmails.size() - inserted.size();
    if (inserted.empty()) return;
    Rows victims, attackers, items, children;
    for (const Killmail* km : killmails) {
        if (inserted.count(km->killmail_id)) AppendDependentRows(*km, victims, attackers, items, children);
    }
    WriteRows(VictimSpec(), victims, now);
    WriteRows(AttackerSpec(), attackers, now);
    WriteRows(ItemSpec(), items, now);
    WriteRows(ChildSpec(), children, now);
}

std::vector<detail::SqlStore::UserColumn> PgStore::UserColumns() {
    auto r = conn_->Exec(
        "SELECT column_name, is_nullable, column_default IS NOT NULL FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = 'users'");
    std::vector<UserColumn> out;
    for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back({r.Text(i, 0), r.Text(i, 1) == "NO", r.Bool(i, 2)});
    return out;
}

bool PgStore::HasLeadingIndex(const std::string& table, const std::string& column) {
    return conn_->Exec(
                   "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
                   "i.indkey[0] WHERE i.indrelid = to_regclass($1) AND a.attname = $2",
                   {table, column})
               .Int(0, 0) > 0;
}

}  // namespace kr::store
