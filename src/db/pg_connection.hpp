#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "db/connection.hpp"

struct pg_conn;

namespace kr::db {

/// PostgreSQL backend over raw libpq: statements prepared by name on first use, text parameters,
/// a lost connection is reset on the next call (and reported as TransientError once). Before a
/// statement outside a transaction it checks, without blocking, whether the server closed the
/// idle connection (pg_terminate_backend, a server restart) and reconnects at once: work does not
/// spend an attempt on a connection that was already gone.
class PgConnection final : public Connection {
public:
    explicit PgConnection(const std::string& url);
    ~PgConnection() override;

    Dialect GetDialect() const override { return Dialect::kPostgres; }
    std::string DisplayUrl() const override;
    Result Exec(std::string_view sql, const std::vector<Param>& params = {}) override;
    Result ExecPlannedPerCall(std::string_view sql, const std::vector<Param>& params) override;
    void ExecScript(std::string_view sql) override;
    void Begin() override;
    void Commit() override;
    void Rollback() noexcept override;
    bool InTransaction() const override { return in_tx_; }
    bool Lost() const override;

private:
    struct ConnDeleter {
        void operator()(pg_conn* c) const;
    };
    void Connect();
    void EnsureConnected();
    /// Reads what the server sent an idle connection (a FATAL notice, end of file) without
    /// blocking. False when the server closed it or is closing it.
    bool IdleConnectionAlive();
    Result Run(std::string_view sql, const std::vector<Param>& params, bool prepare);

    std::string url_;
    std::unique_ptr<pg_conn, ConnDeleter> conn_;
    std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
    bool in_tx_ = false;
    bool closing_ = false;  ///< the server sent a FATAL notice: it is closing the connection
};

}  // namespace kr::db
