// The SQL generated from the table definitions, pinned: every migration's DDL and every table's
// write statement, in both dialects, compared with tests/fixtures/golden/*.sql so a change to a
// definition shows up in review as a change of SQL. KR_UPDATE_GOLDEN=1 rewrites the files.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "db/migrator.hpp"
#include "db/table.hpp"
#include "store/tables.hpp"

namespace kr::db {
namespace {

std::string GoldenPath(const std::string& name) {
    return std::string(KR_SOURCE_DIR) + "/tests/fixtures/golden/" + name;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
    const std::string path = GoldenPath(name);
    const char* update = std::getenv("KR_UPDATE_GOLDEN");
    if (update && std::string(update) == "1") {
        std::ofstream(path) << actual;
        return;
    }
    std::ifstream in(path);
    ASSERT_TRUE(in) << path << " is missing (KR_UPDATE_GOLDEN=1 writes it)";
    std::stringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(actual, expected.str()) << "the generated SQL differs from " << path
                                      << " (KR_UPDATE_GOLDEN=1 rewrites it; review the diff)";
}

std::string Migrations(Dialect d) {
    std::string out;
    for (const auto& m : AllMigrations()) {
        out += "-- " + m.module + "/" + std::to_string(m.version) + ": " + m.description + "\n";
        out += d == Dialect::kPostgres ? m.postgres_sql : m.sqlite_sql;
        out += "\n";
    }
    return out;
}

std::string Writes(Dialect d) {
    namespace t = store::tables;
    std::vector<const TableDef*> defs;
    for (const auto& k : EntityKinds()) defs.push_back(&t::EntityTable(k.kind));
    for (const TableDef* def :
         {&t::Killmails().Def(), &t::Victims().Def(), &t::Attackers().Def(), &t::Items().Def(), &t::Children().Def(),
          &t::HttpCache().Def(), &t::EntityOutbox().Def(), &t::ListSweeps().Def(), &t::AllianceCorporations().Def()}) {
        defs.push_back(def);
    }
    std::string out;
    for (const TableDef* def : defs) out += "-- " + def->name + "\n" + WriteSql(*def, d) + ";\n";
    return out;
}

TEST(TableSql, MigrationsSqlite) { ExpectGolden("migrations_sqlite.sql", Migrations(Dialect::kSqlite)); }
TEST(TableSql, MigrationsPostgres) { ExpectGolden("migrations_postgres.sql", Migrations(Dialect::kPostgres)); }
TEST(TableSql, WritesSqlite) { ExpectGolden("writes_sqlite.sql", Writes(Dialect::kSqlite)); }
TEST(TableSql, WritesPostgres) { ExpectGolden("writes_postgres.sql", Writes(Dialect::kPostgres)); }

struct Row {
    Id id = 0;
    std::string name;
};

TEST(TableSql, RowsAreBoundByColumnWhateverTheDefinitionOrder) {
    TableDef shape;
    shape.name = "t";
    Table<Row> table(shape, {{Col("name", ColType::kText), &Row::name},
                             {Unwritten(Col("serial", ColType::kBigSerial))},
                             {Col("id", ColType::kBigint, kPrimaryKey), &Row::id},
                             {CreatedAt()}});
    auto row = table.RowOf({7, "seven"});
    ASSERT_EQ(row.size(), 2u);  // the value columns, in definition order
    EXPECT_EQ(std::get<std::string>(row[0]), "seven");
    EXPECT_EQ(std::get<std::int64_t>(row[1]), 7);
    EXPECT_EQ(WriteSql(table.Def(), Dialect::kSqlite), "INSERT INTO t (name, id, created_at) VALUES ($1, $2, $3)");
}

TEST(TableSql, AColumnWithoutItsValueIsRefused) {
    TableDef shape;
    shape.name = "t";
    EXPECT_THROW(Table<Row>(shape, {{Col("id", ColType::kBigint)}}), std::logic_error);
    EXPECT_THROW(Table<Row>(shape, {{Unwritten(Col("id", ColType::kBigint)), &Row::id}}), std::logic_error);
}

TEST(TableSql, ALaterMigrationAddsOnlyWhatItIntroduces) {
    TableDef old_table;
    old_table.name = "a";
    ColumnDef added = Col("note", ColType::kText);
    added.since = 3;
    old_table.columns = {Col("id", ColType::kBigint, kPrimaryKey), added};
    old_table.indexes = {{"a_note_idx", "note", 3}};
    TableDef new_table;
    new_table.name = "b";
    new_table.since = 3;
    new_table.columns = {Col("id", ColType::kBigint, kPrimaryKey)};
    const std::vector<const TableDef*> tables{&old_table, &new_table};
    // Migration 1 (released) is not touched by what migration 3 adds.
    EXPECT_EQ(MigrationSql(tables, 1, Dialect::kSqlite),
              "CREATE TABLE IF NOT EXISTS a (\n  id INTEGER PRIMARY KEY\n);\n");
    EXPECT_EQ(MigrationSql(tables, 2, Dialect::kSqlite), "");
    EXPECT_EQ(MigrationSql(tables, 3, Dialect::kPostgres),
              "ALTER TABLE a ADD COLUMN note TEXT;\nCREATE INDEX IF NOT EXISTS a_note_idx ON a (note);\n"
              "CREATE TABLE IF NOT EXISTS b (\n  id BIGINT PRIMARY KEY\n);\n");
}

TEST(TableSql, KeepOnNullColumnsAreNotOverwrittenWithNull) {
    TableDef t;
    t.name = "c";
    t.conflict = {"k"};
    t.upsert = true;
    t.columns = {Col("k", ColType::kText, kPrimaryKey), Col("v", ColType::kText, kKeepOnNull)};
    EXPECT_EQ(WriteSql(t, Dialect::kSqlite),
              "INSERT INTO c (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = COALESCE(excluded.v, c.v) "
              "WHERE NOT (v IS COALESCE(excluded.v, c.v))");
}

}  // namespace
}  // namespace kr::db
