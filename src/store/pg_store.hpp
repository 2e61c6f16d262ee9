#pragma once
// PostgreSQL Store: one set-based statement per table and batch (INSERT … SELECT FROM
// unnest($1::bigint[], …) [ON CONFLICT …]), id sets as `= ANY($n::bigint[])`.
#include <memory>
#include <string>
#include <unordered_map>

#include "store/sql_store.hpp"

namespace kr::store {

class PgStore final : public detail::SqlStore {
public:
    PgStore(std::unique_ptr<db::Connection> conn, const Clock& clock, StoreOptions options = {});
    Freshness LookupFreshness(EntityKind kind, const std::vector<Id>& ids,
                              const std::vector<std::string>& paths) override;

protected:
    std::string IdSetSql(int n) const override;
    detail::Param IdSetParam(const std::vector<Id>& ids) const override;
    std::string TextSetSql(int n) const override;
    detail::Param TextSetParam(const std::vector<std::string>& values) const override;
    std::string IdListFrom(int n) const override;
    UpsertCounts WriteRows(const db::TableDef& table, const detail::Rows& rows, const std::string& now) override;
    std::vector<Id> WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                                   StoreKillmailsResult& result) override;
    void NotifyNew(const std::vector<Id>& new_ids) override;
    std::vector<UserColumn> UserColumns() override;
    bool HasLeadingIndex(const std::string& table, const std::string& column) override;
    std::vector<std::string> ExtraCountTables() const override { return {"kr_created_tables"}; }

private:
    /// One array parameter per value column (+ "now" when the table has time columns).
    std::vector<detail::Param> ArrayParams(const db::TableDef& table, const detail::Rows& rows,
                                           const std::string& now) const;
};

}  // namespace kr::store
