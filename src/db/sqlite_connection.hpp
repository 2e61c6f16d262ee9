#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "db/connection.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace kr::db {

/// SQLite backend: WAL, synchronous=NORMAL, busy_timeout, foreign keys on; statements cached.
class SqliteConnection final : public Connection {
public:
    explicit SqliteConnection(const std::string& url);
    ~SqliteConnection() override;

    Dialect GetDialect() const override { return Dialect::kSqlite; }
    std::string DisplayUrl() const override { return url_; }
    Result Exec(std::string_view sql, const std::vector<Param>& params = {}) override;
    void ExecScript(std::string_view sql) override;
    void Begin() override;
    void Commit() override;
    void Rollback() noexcept override;
    bool InTransaction() const override { return in_tx_; }

    /// The file path a sqlite URL names (":memory:" for in-memory).
    static std::string PathFromUrl(const std::string& url);

private:
    struct StmtDeleter {
        void operator()(sqlite3_stmt* s) const;
    };
    struct DbDeleter {
        void operator()(sqlite3* d) const;
    };
    sqlite3_stmt* Prepare(std::string_view sql);

    std::string url_;
    std::unique_ptr<sqlite3, DbDeleter> db_;
    std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StmtDeleter>> stmts_;
    bool in_tx_ = false;
};

}  // namespace kr::db
