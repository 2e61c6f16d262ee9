#include "db/pg_connection.hpp"

#include <poll.h>

#include <cstdio>

#include <libpq-fe.h>

#include "core/errors.hpp"

namespace kr::db {

namespace {

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

/// The one place where libpq errors are translated, by SQLSTATE class (never by message text).
[[noreturn]] void Throw(PGconn* conn, const PGresult* res, std::string_view context) {
    std::string msg = "postgresql: ";
    msg += context;
    msg += ": ";
    const char* text = res ? PQresultErrorMessage(res) : nullptr;
    if (!text || !*text) text = conn ? PQerrorMessage(conn) : "unknown error";
    msg += text;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    if (!state || (conn && PQstatus(conn) != CONNECTION_OK)) throw TransientError(msg);
    std::string_view cls(state, 2);
    if (cls == "08" || cls == "40" || cls == "53" || cls == "57" || cls == "55") throw TransientError(msg);
    if (cls == "23" || cls == "22") throw PermanentError(cls == "23" ? "db_constraint" : "db_data", msg);
    throw FatalError(msg);
}

/// Notices are not shown; a FATAL one on an idle connection says the server is closing it
/// (pg_terminate_backend, shutdown): `closing` is set before the socket reports end of file.
void OnNotice(void* closing, const PGresult* res) {
    const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity && (std::string_view(severity) == "FATAL" || std::string_view(severity) == "PANIC")) {
        *static_cast<bool*>(closing) = true;
    }
}

}  // namespace

void PgConnection::ConnDeleter::operator()(pg_conn* c) const { PQfinish(c); }

PgConnection::PgConnection(const std::string& url) : url_(url) { Connect(); }

PgConnection::~PgConnection() {
    if (in_tx_) Rollback();
}

std::string PgConnection::DisplayUrl() const { return MaskUrl(url_); }

void PgConnection::Connect() {
    // The URL's own options win; we only add a connect timeout when it sets none.
    std::vector<const char*> keys{"dbname", "fallback_application_name"};
    std::vector<const char*> vals{url_.c_str(), "killreport"};
    if (url_.find("connect_timeout") == std::string::npos) {
        keys.push_back("connect_timeout");
        vals.push_back("10");
    }
    keys.push_back(nullptr);
    vals.push_back(nullptr);
    PGconn* raw = PQconnectdbParams(keys.data(), vals.data(), 1);
    conn_.reset(raw);
    prepared_.clear();
    in_tx_ = false;
    if (!raw) throw TransientError("postgresql: out of memory while connecting");
    if (PQstatus(raw) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(raw);
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        conn_.reset();
        // A malformed URL is a configuration error; an unreachable server is transient.
        if (msg.find("invalid") != std::string::npos && msg.find("URI") != std::string::npos) {
            throw FatalError("postgresql: " + msg);
        }
        throw TransientError("postgresql: cannot connect to " + MaskUrl(url_) + ": " + msg);
    }
    closing_ = false;
    PQsetNoticeReceiver(raw, OnNotice, &closing_);
}

bool PgConnection::Lost() const { return !conn_ || closing_ || PQstatus(conn_.get()) != CONNECTION_OK; }

bool PgConnection::IdleConnectionAlive() {
    PGconn* c = conn_.get();
    for (int i = 0; i < 4 && !closing_ && PQstatus(c) == CONNECTION_OK; ++i) {
        pollfd p{PQsocket(c), POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) break;
        if (PQconsumeInput(c) == 0) break;  // end of file: PQstatus is CONNECTION_BAD now
        PQisBusy(c);                        // parses what came: a FATAL notice sets closing_
    }
    return !closing_ && PQstatus(c) == CONNECTION_OK;
}

void PgConnection::EnsureConnected() {
    // Outside a transaction, a connection the server closed while it sat idle is replaced now,
    // before a statement fails on it.
    if (conn_ && !in_tx_ && !IdleConnectionAlive()) conn_.reset();
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        if (in_tx_) {
            in_tx_ = false;
            throw TransientError("postgresql: connection lost inside a transaction");
        }
        Connect();
    }
}

Result PgConnection::Exec(std::string_view sql, const std::vector<Param>& params) { return Run(sql, params, true); }

Result PgConnection::ExecPlannedPerCall(std::string_view sql, const std::vector<Param>& params) {
    return Run(sql, params, false);
}

Result PgConnection::Run(std::string_view sql, const std::vector<Param>& params, bool prepare) {
    EnsureConnected();
    PGconn* c = conn_.get();
    std::string key(sql);
    const std::string* statement = nullptr;
    if (prepare) {
        auto it = prepared_.find(key);
        if (it == prepared_.end()) {
            std::string name = "kr" + std::to_string(prepared_.size() + 1);
            ResultPtr prep(PQprepare(c, name.c_str(), key.c_str(), 0, nullptr));
            if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK) Throw(c, prep.get(), "prepare");
            it = prepared_.emplace(key, std::move(name)).first;  // key: also the text of unprepared runs
        }
        statement = &it->second;
    }
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    char buf[64];
    for (std::size_t i = 0; i < params.size(); ++i) {
        std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::monostate>) {
                    values[i] = nullptr;
                    return;
                } else if constexpr (std::is_same_v<T, std::int64_t>) {
                    storage[i] = std::to_string(v);
                } else if constexpr (std::is_same_v<T, double>) {
                    int n = std::snprintf(buf, sizeof buf, "%.17g", v);
                    storage[i].assign(buf, static_cast<std::size_t>(n));
                } else if constexpr (std::is_same_v<T, bool>) {
                    storage[i] = v ? "t" : "f";
                } else {
                    storage[i] = v;
                }
                values[i] = storage[i].c_str();
            },
            params[i]);
    }
    const int n = static_cast<int>(params.size());
    ResultPtr res(statement ? PQexecPrepared(c, statement->c_str(), n, values.data(), nullptr, nullptr, 0)
                            : PQexecParams(c, key.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0));
    auto st = PQresultStatus(res.get());
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        if (PQstatus(c) != CONNECTION_OK) in_tx_ = false;
        Throw(c, res.get(), "exec");
    }
    int nrows = PQntuples(res.get());
    int ncols = PQnfields(res.get());
    std::vector<std::string> cols;
    cols.reserve(static_cast<std::size_t>(ncols));
    for (int j = 0; j < ncols; ++j) cols.emplace_back(PQfname(res.get(), j));
    std::vector<std::optional<std::string>> cells;
    cells.reserve(static_cast<std::size_t>(nrows) * static_cast<std::size_t>(ncols));
    for (int r = 0; r < nrows; ++r) {
        for (int j = 0; j < ncols; ++j) {
            if (PQgetisnull(res.get(), r, j)) {
                cells.emplace_back(std::nullopt);
            } else {
                cells.emplace_back(
                    std::string(PQgetvalue(res.get(), r, j), static_cast<std::size_t>(PQgetlength(res.get(), r, j))));
            }
        }
    }
    std::int64_t affected = 0;
    const char* tuples = PQcmdTuples(res.get());
    if (tuples && *tuples) affected = std::stoll(tuples);
    return Result(std::move(cols), std::move(cells), affected);
}

void PgConnection::ExecScript(std::string_view sql) {
    EnsureConnected();
    std::string text(sql);
    ResultPtr res(PQexec(conn_.get(), text.c_str()));
    auto st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        Throw(conn_.get(), res.get(), "exec script");
    }
}

void PgConnection::Begin() {
    Exec("BEGIN");
    in_tx_ = true;
}

void PgConnection::Commit() {
    // in_tx_ stays set while COMMIT runs: a connection lost inside the transaction then fails the
    // commit (EnsureConnected throws) instead of being replaced by a new one, on which COMMIT would
    // answer "no transaction in progress" as a success and the transaction's writes be lost.
    struct Ended {
        bool& in_tx;
        ~Ended() { in_tx = false; }
    } ended{in_tx_};
    Exec("COMMIT");
}

void PgConnection::Rollback() noexcept {
    if (!in_tx_) return;
    in_tx_ = false;
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) {
        PGresult* r = PQexec(conn_.get(), "ROLLBACK");
        PQclear(r);
    }
}

}  // namespace kr::db
