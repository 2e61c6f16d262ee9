#pragma once
// A small SQL connection abstraction over SQLite and PostgreSQL, so the store, the database queue,
// the shared rate budget and the HTTP cache share one glue layer.
//
// Contract:
// - One Connection per thread (not thread-safe). Open() with "sqlite:///path" or "postgresql://…".
// - Parameters are written $1..$N in both dialects (the SQLite side rewrites them to ?N); never
//   concatenate values into SQL. A '$' followed by digits inside a string literal is not allowed.
// - Statements are prepared once per connection and cached by their text.
// - Errors are translated in exactly one place per backend (detail/):
//     lost connection, serialization failure, deadlock, SQLITE_BUSY   -> kr::TransientError
//     constraint / data errors (NOT NULL, out of range, …)            -> kr::PermanentError
//     anything else (SQL syntax, missing table)                       -> kr::FatalError
// - Result cells are text (NULL is std::nullopt); typed accessors convert.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kr::db {

enum class Dialect { kSqlite, kPostgres };

/// A bound parameter. std::monostate is SQL NULL.
using Param = std::variant<std::monostate, std::int64_t, double, std::string, bool>;

template <typename T>
Param Opt(const std::optional<T>& v) {
    if (!v) return std::monostate{};
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        return static_cast<std::int64_t>(*v);
    } else {
        return *v;
    }
}

class Result {
public:
    Result() = default;
    Result(std::vector<std::string> columns, std::vector<std::optional<std::string>> cells, std::int64_t affected)
        : columns_(std::move(columns)), cells_(std::move(cells)), affected_(affected) {}

    std::size_t Rows() const { return columns_.empty() ? 0 : cells_.size() / columns_.size(); }
    std::size_t Columns() const { return columns_.size(); }
    const std::vector<std::string>& ColumnNames() const { return columns_; }
    /// Rows changed by an INSERT/UPDATE/DELETE.
    std::int64_t Affected() const { return affected_; }

    bool IsNull(std::size_t row, std::size_t col) const { return !Cell(row, col).has_value(); }
    const std::optional<std::string>& Cell(std::size_t row, std::size_t col) const {
        return cells_.at(row * columns_.size() + col);
    }
    std::string Text(std::size_t row, std::size_t col) const;
    std::int64_t Int(std::size_t row, std::size_t col) const;
    double Double(std::size_t row, std::size_t col) const;
    bool Bool(std::size_t row, std::size_t col) const;
    std::optional<std::int64_t> OptInt(std::size_t row, std::size_t col) const;
    std::optional<double> OptDouble(std::size_t row, std::size_t col) const;
    std::optional<std::string> OptText(std::size_t row, std::size_t col) const { return Cell(row, col); }

private:
    std::vector<std::string> columns_;
    std::vector<std::optional<std::string>> cells_;
    std::int64_t affected_ = 0;
};

class Connection {
public:
    virtual ~Connection() = default;
    virtual Dialect GetDialect() const = 0;
    /// The URL with any password masked (safe to log).
    virtual std::string DisplayUrl() const = 0;
    /// Run one statement with bound parameters.
    virtual Result Exec(std::string_view sql, const std::vector<Param>& params = {}) = 0;
    /// Like Exec, but planned for these parameter values every time (PostgreSQL: an unnamed statement,
    /// never a cached generic plan). For statements whose best plan depends on the size of a bound id
    /// set: a generic plan estimates `unnest($1)` at 10 rows and picks joins that are quadratic at 10,000.
    virtual Result ExecPlannedPerCall(std::string_view sql, const std::vector<Param>& params) {
        return Exec(sql, params);
    }
    /// Run several statements separated by ';' without parameters (migrations).
    virtual void ExecScript(std::string_view sql) = 0;
    /// BEGIN (SQLite: BEGIN IMMEDIATE, so the write lock is taken up front), COMMIT, ROLLBACK.
    virtual void Begin() = 0;
    virtual void Commit() = 0;
    virtual void Rollback() noexcept = 0;
    virtual bool InTransaction() const = 0;
    /// True after the connection to the server was lost (the next call reconnects). A statement
    /// that failed this way outside a transaction may or may not have run: retry only what is
    /// idempotent. PostgreSQL also notices a connection the server closed while it sat idle (a
    /// terminated backend, a restart) before the next statement, and reconnects first.
    virtual bool Lost() const { return false; }
};

/// Opens a connection by URL scheme: "sqlite:///abs/path.db", "sqlite://rel/path.db",
/// "sqlite::memory:", "postgresql://…" or "postgres://…". Throws FatalError on a malformed URL
/// and TransientError when the database is unreachable.
std::unique_ptr<Connection> Open(const std::string& url);

/// Masks every credential in a URL or DSN before it is shown: the user-info password
/// ("postgresql://u:secret@h/db" -> "postgresql://u:****@h/db"), secret query parameters
/// ("?password=…", "&sslpassword=…") and libpq keyword DSNs ("host=h password=secret").
std::string MaskUrl(const std::string& url);

/// RAII transaction: rolls back unless Commit() was called.
class Transaction {
public:
    explicit Transaction(Connection& c) : c_(c) { c_.Begin(); }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
        if (!done_) c_.Rollback();
    }
    void Commit() {
        c_.Commit();
        done_ = true;
    }

private:
    Connection& c_;
    bool done_ = false;
};

/// Helpers for set-based statements on PostgreSQL: "{1,2,3}" array literals for $n::bigint[] etc.
std::string PgIntArray(const std::vector<std::int64_t>& v);
std::string PgOptIntArray(const std::vector<std::optional<std::int64_t>>& v);
std::string PgTextArray(const std::vector<std::string>& v);
std::string PgOptTextArray(const std::vector<std::optional<std::string>>& v);
std::string PgOptDoubleArray(const std::vector<std::optional<double>>& v);
std::string PgBoolArray(const std::vector<bool>& v);

}  // namespace kr::db
