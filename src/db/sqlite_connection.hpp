#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "db/connection.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace kr::db {

/// SQLite backend: WAL, busy_timeout, foreign keys on; statements cached.
/// Durability: `synchronous=NORMAL` by default — a power failure can roll back the last
/// transactions, but only a suffix of them (WAL order), so with the queue in the same file a lost
/// commit always takes its later ack with it and the work is redone. `?synchronous=full` in the
/// URL syncs every commit; config::Load adds it when the queue is RabbitMQ (whose ack a lost
/// commit could not take back).
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

    /// The file path a sqlite URL names (":memory:" for in-memory), without the query.
    static std::string PathFromUrl(const std::string& url);
    /// The URL's `synchronous` option: "NORMAL" (default) or "FULL"; anything else is fatal.
    static std::string SynchronousFromUrl(const std::string& url);

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
