#include "store/pg_store.hpp"

#include "store/tables.hpp"

namespace kr::store {

namespace {
/// One notification per new killmail, queued in the transaction and delivered at its commit.
constexpr const char* kNotifyKillmailNew =
    "SELECT pg_notify('killmail_new', u.id::text) FROM unnest($1::bigint[]) AS u(id)";
}  // namespace

using detail::Param;
using detail::Rows;

PgStore::PgStore(std::unique_ptr<db::Connection> conn, const Clock& clock, StoreOptions options)
    : SqlStore(std::move(conn), clock, options) {}

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
    const std::string& key = tables::EntityKey(kind);
    const std::string sql = "SELECT u.id, e." + key + " IS NOT NULL, " + detail::CacheColumns("h.") +
                            " FROM unnest($1::bigint[], $2::text[]) AS u(id, path) LEFT JOIN " +
                            tables::EntityTable(kind).name + " e ON e." + key +
                            " = u.id LEFT JOIN kr_http_cache h ON h.path = u.path";
    auto r = conn_->ExecPlannedPerCall(sql, {db::PgIntArray(ids), db::PgTextArray(paths)});
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        if (r.Bool(i, 1)) out.existing.insert(r.Int(i, 0));
        if (r.IsNull(i, 2)) continue;
        CacheEntry e = CacheRow(r, i, 2);
        out.cache.emplace(e.path, std::move(e));
    }
    return out;
}

std::vector<Param> PgStore::ArrayParams(const db::TableDef& table, const Rows& rows, const std::string& now) const {
    const auto columns = table.ValueColumns();
    std::vector<Param> params;
    params.reserve(columns.size() + 1);
    std::vector<Param> column;
    column.reserve(rows.size());
    for (std::size_t c = 0; c < columns.size(); ++c) {
        column.clear();
        for (const auto& row : rows) column.push_back(row[c]);
        params.emplace_back(detail::PgArrayLiteral(column));
    }
    if (table.WritesNow()) params.emplace_back(now);
    return params;
}

UpsertCounts PgStore::WriteRows(const db::TableDef& table, const Rows& rows, const std::string& now) {
    UpsertCounts counts;
    if (rows.empty()) return counts;
    auto r = conn_->Exec(WriteStatement(table), ArrayParams(table, rows, now));
    if (table.upsert) {
        for (std::size_t i = 0; i < r.Rows(); ++i) (r.Bool(i, 0) ? counts.created : counts.updated) += 1;
        counts.unchanged = rows.size() - r.Rows();
    } else {
        counts.created = static_cast<std::size_t>(r.Affected());
        counts.unchanged = rows.size() - counts.created;
    }
    return counts;
}

std::vector<Id> PgStore::WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                                        StoreKillmailsResult& result) {
    const auto& table = tables::Killmails();
    Rows rows;
    rows.reserve(killmails.size());
    for (const Killmail* km : killmails) rows.push_back(table.RowOf(*km));
    // Only killmails whose row is new get their children: a second store changes nothing.
    auto r = conn_->Exec(WriteStatement(table.Def(), " RETURNING killmail_id"), ArrayParams(table.Def(), rows, now));
    std::unordered_set<Id> inserted;
    std::vector<Id> ids;
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        inserted.insert(r.Int(i, 0));
        ids.push_back(r.Int(i, 0));
    }
    result.inserted += inserted.size();
    result.already_present += killmails.size() - inserted.size();
    if (inserted.empty()) return ids;
    DependentRows dependent;
    for (const Killmail* km : killmails) {
        if (inserted.count(km->killmail_id)) AppendDependentRows(*km, dependent);
    }
    WriteRows(tables::Victims().Def(), dependent.victims, now);
    WriteRows(tables::Attackers().Def(), dependent.attackers, now);
    WriteRows(tables::Items().Def(), dependent.items, now);
    WriteRows(tables::Children().Def(), dependent.children, now);
    return ids;
}

void PgStore::NotifyNew(const std::vector<Id>& new_ids) {
    if (!new_ids.empty()) conn_->Exec(kNotifyKillmailNew, {db::PgIntArray(new_ids)});
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
    return conn_
               ->Exec(
                   "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
                   "i.indkey[0] WHERE i.indrelid = to_regclass($1) AND a.attname = $2",
                   {table, column})
               .Int(0, 0) > 0;
}

}  // namespace kr::store
