#pragma once
// SQLite Store: a prepared statement per table executed once per row, inside one transaction
// (BEGIN IMMEDIATE) per batch; id sets are one bound JSON array read with json_each().
#include <memory>
#include <string>
#include <unordered_map>

#include "store/sql_store.hpp"

namespace kr::store {

class SqliteStore final : public detail::SqlStore {
public:
    SqliteStore(std::unique_ptr<db::Connection> conn, const Clock& clock, StoreOptions options = {});

protected:
    std::string IdSetSql(int n) const override;
    detail::Param IdSetParam(const std::vector<Id>& ids) const override;
    std::string TextSetSql(int n) const override;
    detail::Param TextSetParam(const std::vector<std::string>& values) const override;
    std::string IdListFrom(int n) const override;
    UpsertCounts WriteRows(const db::TableDef& table, const detail::Rows& rows, const std::string& now) override;
    std::vector<Id> WriteKillmails(const std::vector<const Killmail*>& killmails, const std::string& now,
                                   StoreKillmailsResult& result) override;
    std::vector<UserColumn> UserColumns() override;
    bool HasLeadingIndex(const std::string& table, const std::string& column) override;

private:
    /// Executes the table's write statement for one row; whether it changed a row.
    bool WriteRow(const db::TableDef& table, const detail::Row& row, const std::string& now);
    std::vector<detail::Param> params_;  // reused per row
};

}  // namespace kr::store
