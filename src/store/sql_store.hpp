#pragma once
// Internal: the dialect-independent part of SqliteStore and PgStore. The backends supply how a
// set of values is passed to one statement (PostgreSQL arrays vs SQLite json_each), how a batch
// of rows is written (unnest multi-row statements vs a prepared statement per row) and how the
// `users` table is introspected.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "db/table.hpp"
#include "store/store.hpp"

namespace kr::store::detail {

using db::Param;
using Row = std::vector<Param>;
using Rows = std::vector<Row>;

/// The kr_http_cache columns CacheRow reads ("path, etag, …", each with `prefix`): the table's
/// definition, in its order.
std::string CacheColumns(const std::string& prefix = {});

/// A PostgreSQL array literal ("{1,NULL,\"a\\\"b\"}") from parameters of one column.
std::string PgArrayLiteral(const std::vector<Param>& column);

class SqlStore : public Store {
public:
    SqlStore(std::unique_ptr<db::Connection> conn, const Clock& clock, StoreOptions options = {});

    EntityBatchResult ApplyEntityBatch(const EntityBatch& batch) override;
    std::unordered_set<Id> ExistingIds(EntityKind kind, const std::vector<Id>& ids) override;
    std::vector<Id> ListIds(EntityKind kind, Id after, std::size_t limit) override;
    std::vector<Id> FilterMissing(EntityKind kind, const std::vector<Id>& ids, const ScanOptions& options) override;

    std::unordered_map<std::string, CacheEntry> LoadHttpCache(const std::vector<std::string>& paths) override;
    void SaveHttpCache(const std::vector<CacheEntry>& entries) override;

    StoreKillmailsResult StoreKillmailPage(std::span<const Killmail> killmails, const PerKind<std::vector<Id>>& enrich,
                                           const ZkbChainStep* step) override;
    std::unordered_set<Id> ExistingKillmailIds(const std::vector<Id>& ids) override;
    DerivedCounts RebuildDerived(const std::optional<std::string>& from_date) override;

    std::optional<ZkbChainAt> LoadZkbChain(Id character_id) override;
    std::vector<Id> ListEntityOutbox(EntityKind kind, Id after, std::size_t limit) override;
    std::vector<ZkbNextPage> UnpublishedZkbPages(Id after, std::size_t limit) override;
    void ClearPublished(const PerKind<std::vector<Id>>& ids, const ZkbChainAt* next_of) override;

    bool ClaimRefresh(const std::string& sweep, std::int64_t due_before_ms, bool first_is_due) override;
    std::optional<LiveCursor> LoadLiveCursor(const std::string& feed) override;
    LiveCursor HoldLiveCursor(const std::string& feed, const std::string& holder, std::int64_t hold_ms) override;
    bool SetLiveCursor(const std::string& feed, const std::string& holder, std::int64_t sequence) override;
    void NoteLiveCursor(const std::string& feed, const std::string& note) override;
    void ReleaseLiveCursor(const std::string& feed, const std::string& holder) override;
    StoreKillmailsResult StoreLivePage(std::span<const Killmail> killmails, const PerKind<std::vector<Id>>& enrich,
                                       const LiveCursorStep& step) override;

    std::unordered_map<std::string, ListSweep> LoadListSweeps(const std::vector<std::string>& paths) override;
    void SaveListSweep(const ListSweep& sweep, const std::optional<CacheEntry>& list_cache) override;

    AllianceMembers LoadAllianceMembers(Id alliance_id) override;
    void SaveAllianceList(const AllianceList& list, const std::optional<CacheEntry>& list_cache) override;
    void ExpireHttpCache(const std::vector<std::string>& paths) override;
    std::vector<Id> ListExpired(EntityKind kind, std::size_t limit) override;
    std::vector<Id> ApplyAffiliations(const std::vector<CharacterAffiliation>& affiliations) override;
    std::vector<Id> CorporationsWithOtherAlliance(
        const std::vector<std::pair<Id, std::optional<Id>>>& corporation_alliances) override;
    std::vector<Id> CorporationsWithNewerOtherAlliance(std::size_t limit) override;

    std::int64_t AddUser(Id character_id, const std::string& name) override;
    std::vector<std::pair<Id, std::string>> ListUserCharacters() override;
    bool RemoveUser(Id character_id) override;

    std::vector<Id> MissingReferencedIds(EntityKind kind, Id after, std::size_t limit,
                                         const ScanOptions& options) override;
    void MarkPending(EntityKind kind, const std::vector<Id>& ids) override;

    TableCounts Counts() override;

    /// Whether the connection is lost right now (ReconnectingStore).
    bool ConnectionLost() const { return conn_->Lost(); }

protected:
    /// A kr_http_cache row read from columns first..first+7 of `r` (CacheColumns(), in that order).
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
    /// Writes rows of one table (inside the caller's transaction); rows hold the values of the
    /// table's ValueColumns().
    virtual UpsertCounts WriteRows(const db::TableDef& table, const Rows& rows, const std::string& now) = 0;
    /// The table's write statement in this dialect (db::WriteSql), built once per connection.
    const std::string& WriteStatement(const db::TableDef& table, const std::string& suffix = {});
    /// Stores killmails (sorted by id, unique, validated) inside the caller's transaction; the ids
    /// of those that were new.
    virtual std::vector<Id> WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                                           StoreKillmailsResult& result) = 0;
    /// Tells the database's own listeners of the killmails new in the caller's transaction
    /// (PostgreSQL: NOTIFY killmail_new, '<id>', delivered at the commit); SQLite: nobody.
    virtual void NotifyNew(const std::vector<Id>& /*new_ids*/) {}
    virtual std::vector<UserColumn> UserColumns() = 0;
    /// Whether an index on `table` starts with `column` (the scanner's skip scan needs one).
    virtual bool HasLeadingIndex(const std::string& table, const std::string& column) = 0;
    /// Extra tables for Counts() (PostgreSQL: kr_created_tables).
    virtual std::vector<std::string> ExtraCountTables() const { return {}; }

    /// Rows of the killmail's dependent tables (victims, attackers, killmail_items, nested items).
    struct DependentRows {
        Rows victims, attackers, items, children;
        void Clear();
    };
    static void AppendDependentRows(const Killmail& km, DependentRows& rows);

    std::unique_ptr<db::Connection> conn_;
    const Clock& clock_;
    const StoreOptions options_;

public:
    /// The killmails whose derived rows are written: a predicate over killmails `k` (it reads only
    /// killmail_id and killmail_time, so it also selects their killmail_filters rows `k`), the same
    /// selection as a predicate over attackers `x`, and their parameters.
    struct DeriveScope {
        std::string killmails;
        std::string attackers;
        std::vector<Param> params;
    };

private:
    /// The scope of a page's new killmails `ids`. The attackers are selected by the id set itself:
    /// through a semi-join with killmails PostgreSQL planned a sequential scan of all attackers
    /// (most of a page's derive time on a 24k-killmail database, and growing with the table).
    DeriveScope DeriveScopeOf(const std::vector<Id>& ids) const;
    /// The derived tables' rows of the killmails in `scope`, inside the caller's transaction:
    /// killmail_filters rows (kept when present) and kill stats added. The number of rows written
    /// (filters, stats). `into_emptied`: the scope's derived rows were just deleted under a lock
    /// (RebuildDerived): plain INSERTs.
    DerivedCounts Derive(const DeriveScope& scope, bool into_emptied);
    /// A whole rebuild on PostgreSQL, inside its transaction: drops the derived tables' secondary
    /// indexes, empties the tables, and returns the indexes' definitions to build again.
    std::vector<std::string> EmptyDerivedForRebuild();
    /// Fills the location columns of the filters in the given solar systems or constellations
    /// (just stored), inside the caller's transaction.
    void RefreshFilterLocations(const std::vector<Id>& systems, const std::vector<Id>& constellations);
    /// The write of StoreKillmailPage and StoreLivePage: the page's killmails, `enrich`, and either
    /// `step` or `live` (if given), in one transaction.
    StoreKillmailsResult WritePage(std::span<const Killmail> killmails, const PerKind<std::vector<Id>>& enrich,
                                   const ZkbChainStep* step, const LiveCursorStep* live);
    /// Rewrites the values of `live.revalued` and moves the cursor inside the caller's transaction;
    /// throws LiveCursorLost when the step cannot be taken.
    void TakeLiveStep(const LiveCursorStep& live);
    /// Records `enrich` in kr_entity_outbox and takes `step` (if any) inside the caller's
    /// transaction; whether the step was taken.
    bool WritePageBookkeeping(const PerKind<std::vector<Id>>& enrich, const ZkbChainStep* step, const std::string& now);
    /// Upserts the entities of one kind (last one wins per id) inside the caller's transaction.
    UpsertCounts UpsertEntities(EntityKind kind, const std::vector<const Entity*>& entities, const std::string& now);
    /// Next distinct ids of one reference column after $1, ascending, at most $2.
    const std::string& RefStreamSql(EntityKind kind, const std::string& table, const std::string& column);
    /// Which of the candidate ids ($1) are missing, not pending ($2 kind, $3 since), not 404 ($4 now).
    const std::string& MissingFilterSql(EntityKind kind);

    std::map<std::string, std::string> scan_sql_;
    std::map<std::string, std::string> write_sql_;
    std::optional<std::vector<UserColumn>> user_columns_;
};

}  // namespace kr::store::detail
