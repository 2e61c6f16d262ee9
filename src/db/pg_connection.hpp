#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "db/connection.hpp"

struct pg_conn;

namespace kr::db {

/// PostgreSQL backend over raw libpq: statements prepared by name on first use, text parameters,
/// a lost connection is reset on the next call (and reported as TransientError once).
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

private:
    struct ConnDeleter {
        void operator()(pg_conn* c) const;
    };
    void Connect();
    void EnsureConnected();
    Result Run(std::string_view sql, const std::vector<Param>& params, bool prepare);

    std::string url_;
    std::unique_ptr<pg_conn, ConnDeleter> conn_;
    std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
    bool in_tx_ = false;
};

}  // namespace kr::db
