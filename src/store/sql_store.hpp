#pragma once
// Internal: the dialect-independent part of SqliteStore and PgStore. The backends supply how a
// set of values is passed to one statement (PostgreSQL arrays vs SQLite json_each), how a batch
// of rows is written (unnest multi-row statements vs a prepared statement per row) and how the
// `users` table is introspected.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace kr::store::detail {

using db::Param;
using Row = std::vector<Param>;
using Rows = std::vector<Row>;

struct Col {
    const char* name;
    const char* pg_type;  ///< element type for the unnest array cast ("bigint", "text", …)
};

/// A table written in batches. Rows hold the values of `cols`, in order; `now_cols` (created_at,
/// updated_at) are appended with the batch's "now".
struct TableSpec {
    const char* table;
    std::vector<Col> cols;
    std::vector<const char*> now_cols;  ///< set to now on insert
    std::vector<const char*> key;       ///< conflict target; empty = plain INSERT
    /// Upsert: on conflict update every non-key column (+ updated_at when in now_cols) unless all
    /// of them are unchanged; the counts tell created / updated / unchanged apart.
    bool upsert = false;
};

/// Time helpers: ISO-8601 with milliseconds, UTC ("2026-11-28T12:00:00.123Z").
std::string IsoFromMs(std::int64_t ms);

/// A PostgreSQL array literal ("{1,NULL,\"a\\\"b\"}") from parameters of one column.
std::string PgArrayLiteral(const std::vector<Param>& column);

class SqlStore : public Store {
public:
    explicit SqlStore(std::unique_ptr<db::Connection> conn);

    db::Connection& Conn() override { return *conn_; }
    db::MigrateReport Migrate() override;

    UpsertCounts UpsertAlliances(const std::vector<Alliance>& rows) override;
    UpsertCounts UpsertCorporations(const std::vector<Corporation>& rows) override;
    UpsertCounts UpsertCharacters(const std::vector<Character>& rows) override;
    UpsertCounts UpsertTypes(const std::vector<Type>& rows) override;
    EntityBatchResult ApplyEntityBatch(const EntityBatch& batch) override;
    std::unordered_set<Id> ExistingIds(EntityKind kind, const std::vector<Id>& ids) override;
    std::vector<Id> ListIds(EntityKind kind, Id after, std::size_t limit) override;
    std::vector<Id> FilterMissing(EntityKind kind, const std::vector<Id>& ids, const ScanOptions& options) override;

    std::unordered_map<std::string, CacheEntry> LoadHttpCache(const std::vector<std::string>& paths) override;
    void SaveHttpCache(const std::vector<CacheEntry>& entries) override;

    StoreKillmailsResult StoreKillmails(const std::vector<Killmail>& killmails) override;
    std::unordered_set<Id> ExistingKillmailIds(const std::vector<Id>& ids) override;

    std::int64_t AddUser(Id character_id, const std::string& name) override;
    std::vector<std::pair<Id, std::string>> ListUserCharacters() override;

    std::vector<Id> MissingReferencedIds(EntityKind kind, Id after, std::size_t limit,
                                         const ScanOptions& options) override;
    void MarkPending(EntityKind kind, const std::vector<Id>& ids, std::int64_t now_ms) override;

    TableCounts Counts() override;

protected:
    /// A kr_http_cache row read from columns first..first+5 (path, etag, last_modified, expires_at,
    /// status, checked_at) of `r`.
    static CacheEntry CacheRow(const db::Result& r, std::size_t row, std::size_t first);
    /// Deletes the pending marks of `ids` (they are stored or known missing now).
    void ClearPending(EntityKind kind, const std::vector<Id>& ids);
    struct UserColumn {
        std::string name;
        bool not_null = false;
        bool has_default = false;
    };

    /// SQL predicate tail for "column ∈ set given as parameter $n": " = ANY($n::bigint[])" /
    /// " IN (SELECT value FROM json_each($n))".
    virtual std::string IdSetSql(int n) const = 0;
    virtual Param IdSetParam(const std::vector<Id>& ids) const = 0;
    virtual std::string TextSetSql(int n) const = 0;
    /// A FROM item yielding the ids of parameter $n as column `id`: "unnest($n::bigint[]) AS u(id)".
    virtual std::string IdListFrom(int n) const = 0;
    virtual Param TextSetParam(const std::vector<std::string>& values) const = 0;
    /// Writes rows of one table (inside the caller's transaction).
    virtual UpsertCounts WriteRows(const TableSpec& spec, const Rows& rows, const std::string& now) = 0;
    /// Stores killmails (sorted by id, unique, validated) inside the caller's transaction.
    virtual void WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                                StoreKillmailsResult& result) = 0;
    virtual std::vector<UserColumn> UserColumns() = 0;
    /// Whether an index on `table` starts with `column` (the scanner's skip scan needs one).
    virtual bool HasLeadingIndex(const std::string& table, const std::string& column) = 0;
    /// Extra tables for Counts() (PostgreSQL: kr_created_tables).
    virtual std::vector<std::string> ExtraCountTables() const { return {}; }

    /// Rows of the killmail's dependent tables, appended in the order of the specs below.
    static Row KillmailRow(const Killmail& km);
    static void AppendDependentRows(const Killmail& km, Rows& victims, Rows& attackers, Rows& items, Rows& children);

    static const TableSpec& KillmailSpec();
    static const TableSpec& VictimSpec();
    static const TableSpec& AttackerSpec();
    static const TableSpec& ItemSpec();
    static const TableSpec& ChildSpec();

    std::unique_ptr<db::Connection> conn_;

private:
    template <typename T>
    UpsertCounts UpsertEntities(EntityKind kind, const std::vector<T>& rows, const std::string& now);
    /// UpsertEntities in a transaction of its own (the public Upsert* methods).
    template <typename T>
    UpsertCounts UpsertInTransaction(EntityKind kind, const std::vector<T>& rows);
    /// Next distinct ids of one reference column after $1, ascending, at most $2.
    const std::string& RefStreamSql(EntityKind kind, const char* table, const char* column);
    /// Which of the candidate ids ($1) are missing, not pending ($2 kind, $3 since), not 404 ($4 now).
    const std::string& MissingFilterSql(EntityKind kind);

    std::map<std::string, std::string> scan_sql_;
    std::optional<std::vector<UserColumn>> user_columns_;
};

}  // namespace kr::store::detail
