#pragma once
// Table definitions: each column is defined once — name, type, constraints, default, and how the
// store writes it — and both dialects' DDL and the write statements are generated from that.
// tests/db/table_sql_test.cpp pins the generated SQL (golden files) so it stays greppable.
//
// Types map to the dialects as the original's Prisma schema and our SQLite schema need them:
//   kBigint   BIGINT            INTEGER      ids, counts, unix times
//   kInt      INTEGER           INTEGER      the original's INT columns (flags, positions)
//   kText     TEXT              TEXT
//   kTimestamp TIMESTAMP(3)     TEXT         UTC; SQLite keeps ISO-8601 text
//   kDouble   DOUBLE PRECISION  REAL
//   kBool     BOOLEAN           INTEGER
//   kDate     DATE              TEXT         UTC day, SQLite 'YYYY-MM-DD'
//   kVarchar  VARCHAR(length)   TEXT
//   kIdArray  BIGINT[]          TEXT         SQLite: a JSON array ('[1,2]'), read with json_each
//   kSerial / kBigSerial: a surrogate key, SERIAL/BIGSERIAL PRIMARY KEY vs INTEGER PRIMARY KEY
//   (AUTOINCREMENT with kAutoincrement).
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/entity_kind.hpp"
#include "db/connection.hpp"

namespace kr::db {

enum class ColType { kBigint, kInt, kText, kTimestamp, kDouble, kBool, kSerial, kBigSerial, kDate, kVarchar, kIdArray };

/// Column constraints (bit flags).
enum ColFlag : unsigned {
    kNotNull = 1u,
    kPrimaryKey = 2u,  ///< a one-column primary key (composite keys: TableDef::primary_key)
    kUnique = 4u,
    kAutoincrement = 8u,  ///< SQLite AUTOINCREMENT on a serial key (ids never reused)
    kKeepOnNull = 16u,    ///< an upsert never overwrites a stored value with NULL
};

/// A column default, written per dialect.
enum class Default { kNone, kNow, kZero, kTrue, kFalse };

/// How the store's write statements treat a column.
enum class Write {
    kValue,    ///< bound from the row
    kCreated,  ///< the batch's "now" on insert (created_at)
    kUpdated,  ///< the batch's "now" on insert and on a real change (updated_at)
    kNever,    ///< left to the database (serial keys, defaults, columns we do not fill)
};

struct ColumnDef {
    std::string name;
    ColType type = ColType::kBigint;
    unsigned flags = 0;
    Default dflt = Default::kNone;
    Write write = Write::kValue;
    std::string references;  ///< "killmails (killmail_id) ON DELETE CASCADE"
    /// The entity kind whose ids this column holds (no foreign key: what the scan looks for).
    std::optional<EntityKind> refers_to;
    /// 0: created with its table; N: added by the module's migration N (ALTER TABLE … ADD COLUMN).
    int since = 0;
    int length = 0;  ///< kVarchar: VARCHAR(length)
};

/// Column helpers for definition lists: Col("name", ColType::kText, kNotNull).
inline ColumnDef Col(std::string name, ColType type, unsigned flags = 0) {
    ColumnDef c;
    c.name = std::move(name);
    c.type = type;
    c.flags = flags;
    return c;
}
inline ColumnDef Varchar(std::string name, int length) {
    ColumnDef c = Col(std::move(name), ColType::kVarchar);
    c.length = length;
    return c;
}
inline ColumnDef WithDefault(ColumnDef c, Default d) {
    c.dflt = d;
    return c;
}
/// A column the database fills (serial key, default) or that we do not write.
inline ColumnDef Unwritten(ColumnDef c) {
    c.write = Write::kNever;
    return c;
}
inline ColumnDef References(ColumnDef c, std::string target) {
    c.references = std::move(target);
    return c;
}
inline ColumnDef RefersTo(ColumnDef c, EntityKind kind) {
    c.refers_to = kind;
    return c;
}
/// created_at: set on insert (the database default covers rows others write).
ColumnDef CreatedAt();
/// updated_at: set on insert and on a real change (NOT NULL without default, as the original's).
ColumnDef UpdatedAt();

struct IndexDef {
    std::string name;
    std::string columns;  ///< "queue, priority DESC, id"
    int since = 0;        ///< 0: created with its table; N: added by the module's migration N
    /// A GIN index (PostgreSQL, over array columns); SQLite has none and creates no index.
    bool gin = false;
};

/// A table, and the migration of its module that creates it. Released migrations never change:
/// a new table, column or index gets the number of the migration that adds it (`since`), and
/// MigrationSql generates exactly that migration's statements from the definitions.
struct TableDef {
    std::string name;
    int since = 1;  ///< the module's migration that creates the table
    /// One of KillReport's own tables: on PostgreSQL created only when absent (a KillReport
    /// database keeps its own) and then recorded in kr_created_tables.
    bool killreport_original = false;
    std::vector<ColumnDef> columns;
    std::vector<std::string> primary_key;  ///< composite primary key (table constraint)
    std::vector<IndexDef> indexes;
    bool without_rowid = false;  ///< SQLite WITHOUT ROWID
    // ---- the write statement -------------------------------------------------------------------
    std::vector<std::string> conflict;  ///< ON CONFLICT target; empty = plain INSERT
    /// On conflict: true = update every written non-key column unless all are unchanged (the
    /// counts tell created / updated / unchanged apart); false = DO NOTHING.
    bool upsert = false;

    /// The columns bound from rows (Write::kValue), in definition order.
    std::vector<const ColumnDef*> ValueColumns() const;
    const ColumnDef* Find(const std::string& column) const;
    /// Whether the write statement takes the batch's "now" (kCreated / kUpdated columns) as the
    /// parameter after the values.
    bool WritesNow() const;
};

/// SQL type of a column in a dialect ("BIGINT", "TIMESTAMP(3)", "INTEGER PRIMARY KEY", …).
std::string ColumnTypeSql(const ColumnDef& c, Dialect d);
/// PostgreSQL element type for an unnest() array of the column ("bigint", "text", …).
std::string PgArrayType(const ColumnDef& c);

/// CREATE TABLE [IF NOT EXISTS] … ; followed by its CREATE INDEX statements, one per line: the
/// table as its own migration creates it (columns and indexes added later are left out).
std::string CreateTableSql(const TableDef& t, Dialect d, bool if_not_exists = true);

/// The statements of a module's migration `version` over its tables: CREATE for the tables it
/// introduces (KillReport's originals on PostgreSQL only when absent, recorded in
/// kr_created_tables, which must exist), ALTER TABLE … ADD COLUMN and CREATE INDEX for what it adds
/// to older tables.
std::string MigrationSql(const std::vector<const TableDef*>& tables, int version, Dialect d);

/// The write statement of the table.
/// PostgreSQL: INSERT … SELECT … FROM unnest($1::type[], …, $n::type[]) — every row of a batch in
///   one statement; parameter n+1 is "now" (when the table has kCreated/kUpdated columns); an
///   upsert RETURNs (xmax = 0) per created or updated row. `suffix` is appended (RETURNING …).
/// SQLite: INSERT … VALUES ($1, …, $n[, $n+1 = now]) — one row per execution.
std::string WriteSql(const TableDef& t, Dialect d, const std::string& suffix = {});

/// A value as a bound parameter (integers widen to int64; optionals empty = NULL).
inline Param ToParam(const Param& p) { return p; }
inline Param ToParam(const std::string& s) { return s; }
inline Param ToParam(double v) { return v; }
inline Param ToParam(bool v) { return v; }
template <typename T, typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
Param ToParam(T v) {
    return static_cast<std::int64_t>(v);
}
template <typename T>
Param ToParam(const std::optional<T>& v) {
    if (!v) return std::monostate{};
    return ToParam(*v);
}

/// A table whose rows are built from values of type T: each column carries how its value is read
/// from a T, next to its definition, so a row is bound by column, never by position.
template <typename T>
class Table {
public:
    /// A column and (for Write::kValue) how its value is read.
    struct Column {
        ColumnDef def;
        std::function<Param(const T&)> get;

        Column(ColumnDef d) : def(std::move(d)) {}  // NOLINT: implicit, for the definition lists
        template <typename M>
        Column(ColumnDef d, M T::*member)
            : def(std::move(d)), get([member](const T& v) { return ToParam(v.*member); }) {}
        template <typename F, typename = std::enable_if_t<std::is_invocable_v<F, const T&>>>
        Column(ColumnDef d, F f) : def(std::move(d)), get([f](const T& v) { return ToParam(f(v)); }) {}
    };

    /// `shape` holds the table's name, keys, indexes and write mode; its columns come from `columns`.
    Table(TableDef shape, std::vector<Column> columns) : def_(std::move(shape)) {
        for (auto& c : columns) {
            const bool bound = static_cast<bool>(c.get);
            if (bound != (c.def.write == Write::kValue)) {
                throw std::logic_error(
                    "table " + def_.name + ": column " + c.def.name +
                    (bound ? " has a value but is not written from rows" : " is written from rows but has no value"));
            }
            def_.columns.push_back(c.def);
            if (bound) {
                refs_.push_back(c.def.refers_to);
                ref_columns_.push_back(def_.columns.size() - 1);
                getters_.push_back(std::move(c.get));
            }
        }
    }

    const TableDef& Def() const { return def_; }
    /// The row's values, one per ValueColumns() entry.
    std::vector<Param> RowOf(const T& v) const {
        std::vector<Param> row;
        row.reserve(getters_.size());
        for (const auto& g : getters_) row.push_back(g(v));
        return row;
    }

    /// Calls fn(kind, id) for every value of the row that refers to an entity (RefersTo columns
    /// holding an id): what a row references, from the same definitions as the scan.
    template <typename F>
    void ForEachRef(const T& v, F&& fn) const {
        ForEachRefColumn(v, [&](const ColumnDef&, EntityKind kind, Id id) { fn(kind, id); });
    }
    /// The same with the column: fn(column, kind, id).
    template <typename F>
    void ForEachRefColumn(const T& v, F&& fn) const {
        for (std::size_t i = 0; i < getters_.size(); ++i) {
            if (!refs_[i]) continue;
            const Param p = getters_[i](v);
            if (const auto* id = std::get_if<std::int64_t>(&p)) fn(def_.columns[ref_columns_[i]], *refs_[i], *id);
        }
    }

private:
    TableDef def_;
    std::vector<std::optional<EntityKind>> refs_;  ///< per getter
    std::vector<std::size_t> ref_columns_;         ///< per getter: its column's index in def_.columns
    std::vector<std::function<Param(const T&)>> getters_;
};

}  // namespace kr::db
