#include "db/table.hpp"

#include <algorithm>

namespace kr::db {

namespace {

bool IsKey(const TableDef& t, const std::string& column) {
    return std::find(t.conflict.begin(), t.conflict.end(), column) != t.conflict.end();
}

std::string Join(const std::vector<std::string>& parts, const char* sep = ", ") {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep;
        out += parts[i];
    }
    return out;
}

std::string DefaultSql(Default dflt, Dialect d) {
    const bool pg = d == Dialect::kPostgres;
    switch (dflt) {
        case Default::kNone: return {};
        case Default::kNow: return pg ? "CURRENT_TIMESTAMP" : "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
        case Default::kZero: return "0";
        case Default::kTrue: return pg ? "true" : "1";
        case Default::kFalse: return pg ? "false" : "0";
    }
    return {};
}

std::string ColumnSql(const ColumnDef& c, Dialect d) {
    std::string line = c.name + " " + ColumnTypeSql(c, d);
    if (c.flags & kPrimaryKey) line += " PRIMARY KEY";
    if (c.flags & kNotNull) line += " NOT NULL";
    if (c.flags & kUnique) line += " UNIQUE";
    if (!c.references.empty()) line += " REFERENCES " + c.references;
    if (c.dflt != Default::kNone) line += " DEFAULT " + DefaultSql(c.dflt, d);
    return line;
}

std::string IndexSql(const TableDef& t, const IndexDef& i, Dialect d, bool if_not_exists) {
    if (i.gin && d != Dialect::kPostgres) return {};
    return std::string("CREATE INDEX ") + (if_not_exists ? "IF NOT EXISTS " : "") + i.name + " ON " + t.name +
           (i.gin ? " USING GIN (" : " (") + i.columns + ");\n";
}

}  // namespace

ColumnDef CreatedAt() {
    ColumnDef c = WithDefault(Col("created_at", ColType::kTimestamp, kNotNull), Default::kNow);
    c.write = Write::kCreated;
    return c;
}

ColumnDef UpdatedAt() {
    ColumnDef c = Col("updated_at", ColType::kTimestamp, kNotNull);
    c.write = Write::kUpdated;
    return c;
}

std::vector<const ColumnDef*> TableDef::ValueColumns() const {
    std::vector<const ColumnDef*> out;
    for (const auto& c : columns) {
        if (c.write == Write::kValue) out.push_back(&c);
    }
    return out;
}

const ColumnDef* TableDef::Find(const std::string& column) const {
    for (const auto& c : columns) {
        if (c.name == column) return &c;
    }
    return nullptr;
}

bool TableDef::WritesNow() const {
    for (const auto& c : columns) {
        if (c.write == Write::kCreated || c.write == Write::kUpdated) return true;
    }
    return false;
}

std::string ColumnTypeSql(const ColumnDef& c, Dialect d) {
    const bool pg = d == Dialect::kPostgres;
    switch (c.type) {
        case ColType::kBigint: return pg ? "BIGINT" : "INTEGER";
        case ColType::kInt: return "INTEGER";
        case ColType::kText: return "TEXT";
        case ColType::kTimestamp: return pg ? "TIMESTAMP(3)" : "TEXT";
        case ColType::kDouble: return pg ? "DOUBLE PRECISION" : "REAL";
        case ColType::kBool: return pg ? "BOOLEAN" : "INTEGER";
        case ColType::kDate: return pg ? "DATE" : "TEXT";
        case ColType::kVarchar: return pg ? "VARCHAR(" + std::to_string(c.length) + ")" : "TEXT";
        case ColType::kIdArray: return pg ? "BIGINT[]" : "TEXT";
        case ColType::kSerial:
        case ColType::kBigSerial:
            if (!pg) return (c.flags & kAutoincrement) ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "INTEGER PRIMARY KEY";
            return c.type == ColType::kSerial ? "SERIAL PRIMARY KEY" : "BIGSERIAL PRIMARY KEY";
    }
    return "TEXT";
}

std::string PgArrayType(const ColumnDef& c) {
    switch (c.type) {
        case ColType::kText: return "text";
        case ColType::kTimestamp: return "timestamp(3)";
        case ColType::kDouble: return "float8";
        case ColType::kBool: return "boolean";
        case ColType::kDate: return "date";
        case ColType::kVarchar: return "text";
        default: return "bigint";
    }
}

std::string CreateTableSql(const TableDef& t, Dialect d, bool if_not_exists) {
    std::string sql = std::string("CREATE TABLE ") + (if_not_exists ? "IF NOT EXISTS " : "") + t.name + " (\n";
    std::vector<std::string> lines;
    for (const auto& c : t.columns) {
        if (c.since > t.since) continue;  // added by a later migration
        lines.push_back("  " + ColumnSql(c, d));
    }
    if (!t.primary_key.empty()) lines.push_back("  PRIMARY KEY (" + Join(t.primary_key) + ")");
    sql += Join(lines, ",\n") + "\n)";
    if (t.without_rowid && d == Dialect::kSqlite) sql += " WITHOUT ROWID";
    sql += ";\n";
    for (const auto& i : t.indexes) {
        if (i.since <= t.since) sql += IndexSql(t, i, d, if_not_exists);
    }
    return sql;
}

std::string MigrationSql(const std::vector<const TableDef*>& tables, int version, Dialect d) {
    const bool pg = d == Dialect::kPostgres;
    std::string sql, originals;
    for (const TableDef* t : tables) {
        if (t->since == version) {
            if (pg && t->killreport_original) {
                originals += "IF to_regclass('" + t->name + "') IS NULL THEN\n" + CreateTableSql(*t, d, false) +
                             "INSERT INTO kr_created_tables (table_name) VALUES ('" + t->name + "');\nEND IF;\n";
            } else {
                sql += CreateTableSql(*t, d);
            }
            continue;
        }
        if (t->since > version) continue;
        for (const auto& c : t->columns) {
            if (c.since == version) sql += "ALTER TABLE " + t->name + " ADD COLUMN " + ColumnSql(c, d) + ";\n";
        }
        for (const auto& i : t->indexes) {
            if (i.since == version) sql += IndexSql(*t, i, d, true);
        }
    }
    if (!originals.empty()) sql = "DO $kr$\nBEGIN\n" + originals + "END\n$kr$;\n" + sql;
    return sql;
}

std::string WriteSql(const TableDef& t, Dialect d, const std::string& suffix) {
    const bool pg = d == Dialect::kPostgres;
    const auto values = t.ValueColumns();
    const std::string now = "$" + std::to_string(values.size() + 1) + (pg ? "::timestamp(3)" : "");
    std::vector<std::string> cols, select, arrays, aliases, set, old_row, new_row;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const auto& c = *values[i];
        cols.push_back(c.name);
        aliases.push_back(c.name);
        select.push_back(pg ? "u." + c.name : "$" + std::to_string(i + 1));
        arrays.push_back("$" + std::to_string(i + 1) + "::" + PgArrayType(c) + "[]");
        if (IsKey(t, c.name)) continue;
        // The value an upsert writes: the new one, or (kKeepOnNull) the stored one when the new is NULL.
        const std::string excluded = (pg ? "EXCLUDED." : "excluded.") + c.name;
        const std::string value = (c.flags & kKeepOnNull)
                                      ? "COALESCE(" + excluded + ", " + (pg ? "t." : t.name + ".") + c.name + ")"
                                      : excluded;
        set.push_back(c.name + " = " + value);
        old_row.push_back((pg ? "t." : "") + c.name);
        new_row.push_back(value);
    }
    for (const auto& c : t.columns) {
        if (c.write != Write::kCreated && c.write != Write::kUpdated) continue;
        cols.push_back(c.name);
        select.push_back(now);
        if (c.write == Write::kUpdated) set.push_back(c.name + " = " + (pg ? "EXCLUDED." : "excluded.") + c.name);
    }
    std::string sql;
    if (pg) {
        sql = "INSERT INTO " + t.name + " AS t (" + Join(cols) + ") SELECT " + Join(select) + " FROM unnest(" +
              Join(arrays) + ") AS u(" + Join(aliases) + ")";
    } else {
        sql = "INSERT INTO " + t.name + " (" + Join(cols) + ") VALUES (" + Join(select) + ")";
    }
    if (!t.conflict.empty()) {
        sql += " ON CONFLICT (" + Join(t.conflict) + ")";
        if (t.upsert && pg) {
            // Skip rows whose columns are all unchanged (no new tuple, no WAL); RETURNING tells
            // inserted (xmax = 0) from updated rows; skipped rows return nothing.
            sql += " DO UPDATE SET " + Join(set) + " WHERE ROW(" + Join(old_row) + ") IS DISTINCT FROM ROW(" +
                   Join(new_row) + ") RETURNING (xmax = 0) AS inserted";
        } else if (t.upsert) {
            std::vector<std::string> same;
            for (std::size_t i = 0; i < old_row.size(); ++i) same.push_back(old_row[i] + " IS " + new_row[i]);
            sql += " DO UPDATE SET " + Join(set) + " WHERE NOT (" + Join(same, " AND ") + ")";
        } else {
            sql += " DO NOTHING";
        }
    }
    return sql + suffix;
}

}  // namespace kr::db
