#pragma once
// The SQL layer's behaviour, shared by the SQLite and PostgreSQL test binaries.
#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "db/connection.hpp"
#include "db/migrator.hpp"

namespace kr::test {

inline void DbRoundTripTypes(db::Connection& c) {
    c.ExecScript("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, v DOUBLE PRECISION, b BOOLEAN)");
    const std::string tricky = "O'Brien \"x\"; DROP TABLE t;-- Ünïcødé 日本 $1";
    c.Exec("INSERT INTO t (id, name, v, b) VALUES ($1, $2, $3, $4)",
           {std::int64_t{3'000'000'000'123}, tricky, 0.1 + 0.2, true});
    c.Exec("INSERT INTO t (id, name, v, b) VALUES ($1, $2, $3, $4)",
           {std::int64_t{2}, std::monostate{}, std::monostate{}, false});
    // parameters out of order and reused
    auto r = c.Exec("SELECT id, name, v, b FROM t WHERE id = $2 OR id = $1 ORDER BY id",
                    {std::int64_t{2}, std::int64_t{3'000'000'000'123}});
    ASSERT_EQ(r.Rows(), 2u);
    EXPECT_EQ(r.Int(0, 0), 2);
    EXPECT_TRUE(r.IsNull(0, 1));
    EXPECT_FALSE(r.OptDouble(0, 2).has_value());
    EXPECT_FALSE(r.Bool(0, 3));
    EXPECT_EQ(r.Int(1, 0), 3'000'000'000'123);
    EXPECT_EQ(r.Text(1, 1), tricky);
    EXPECT_DOUBLE_EQ(r.Double(1, 2), 0.1 + 0.2);
    EXPECT_TRUE(r.Bool(1, 3));
    EXPECT_EQ(c.Exec("UPDATE t SET name = $1 WHERE id > $2", {std::string("x"), std::int64_t{0}}).Affected(), 2);
}

inline void DbTransactionRollsBack(db::Connection& c) {
    c.ExecScript("CREATE TABLE t2 (id BIGINT PRIMARY KEY)");
    {
        db::Transaction tx(c);
        c.Exec("INSERT INTO t2 (id) VALUES ($1)", {std::int64_t{1}});
    }  // no commit -> rolled back
    EXPECT_EQ(c.Exec("SELECT count(*) FROM t2").Int(0, 0), 0);
    {
        db::Transaction tx(c);
        c.Exec("INSERT INTO t2 (id) VALUES ($1)", {std::int64_t{1}});
        tx.Commit();
    }
    EXPECT_EQ(c.Exec("SELECT count(*) FROM t2").Int(0, 0), 1);
}

inline void DbErrorsAreClassified(db::Connection& c) {
    c.ExecScript("CREATE TABLE t3 (id BIGINT PRIMARY KEY, name TEXT NOT NULL)");
    c.Exec("INSERT INTO t3 (id, name) VALUES ($1, $2)", {std::int64_t{1}, std::string("a")});
    EXPECT_THROW(c.Exec("INSERT INTO t3 (id, name) VALUES ($1, $2)", {std::int64_t{1}, std::string("b")}),
                 PermanentError);
    EXPECT_THROW(c.Exec("INSERT INTO t3 (id, name) VALUES ($1, $2)", {std::int64_t{2}, std::monostate{}}),
                 PermanentError);
    EXPECT_THROW(c.Exec("SELECT * FROM no_such_table"), FatalError);
    // the connection is still usable afterwards
    EXPECT_EQ(c.Exec("SELECT count(*) FROM t3").Int(0, 0), 1);
}

inline void DbMigrateIsIdempotent(db::Connection& c) {
    auto first = db::Migrate(c);
    EXPECT_EQ(first.applied.size(), db::AllMigrations().size());
    auto second = db::Migrate(c);
    EXPECT_TRUE(second.applied.empty());
    EXPECT_TRUE(db::PendingMigrations(c).empty());
    EXPECT_EQ(c.Exec("SELECT count(*) FROM kr_schema_migrations").Int(0, 0),
              static_cast<std::int64_t>(db::AllMigrations().size()));
}

}  // namespace kr::test
