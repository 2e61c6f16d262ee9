// The SQL layer on SQLite (no server needed).
#include "db/db_cases.hpp"
#include "db/sqlite_connection.hpp"
#include "support/test_env.hpp"

namespace kr::test {

class SqliteDb : public ::testing::Test {
protected:
    TempSqliteFile file_;
    std::unique_ptr<db::Connection> c_ = db::Open(file_.Url());
};

TEST_F(SqliteDb, RoundTripsTypesAndParameters) { DbRoundTripTypes(*c_); }
TEST_F(SqliteDb, TransactionRollsBackUnlessCommitted) { DbTransactionRollsBack(*c_); }
TEST_F(SqliteDb, ErrorsAreClassified) { DbErrorsAreClassified(*c_); }
TEST_F(SqliteDb, MigrateIsIdempotent) { DbMigrateIsIdempotent(*c_); }

TEST(SqliteUrl, PathForms) {
    EXPECT_EQ(db::SqliteConnection::PathFromUrl("sqlite:///abs/k.db"), "/abs/k.db");
    EXPECT_EQ(db::SqliteConnection::PathFromUrl("sqlite://rel/k.db"), "rel/k.db");
    EXPECT_EQ(db::SqliteConnection::PathFromUrl("sqlite::memory:"), ":memory:");
    EXPECT_THROW(db::SqliteConnection::PathFromUrl("sqlite://"), FatalError);
    EXPECT_EQ(db::SqliteConnection::PathFromUrl("sqlite:///abs/k.db?synchronous=full"), "/abs/k.db");
}

TEST(SqliteUrl, SynchronousIsNormalUnlessTheUrlAsksForFull) {
    TempSqliteFile file;
    EXPECT_EQ(db::Open(file.Url())->Exec("PRAGMA synchronous").Int(0, 0), 1);                        // NORMAL
    EXPECT_EQ(db::Open(file.Url() + "?synchronous=full")->Exec("PRAGMA synchronous").Int(0, 0), 2);  // FULL
    EXPECT_EQ(db::Open(file.Url() + "?synchronous=normal")->Exec("PRAGMA synchronous").Int(0, 0), 1);
    EXPECT_THROW(db::Open(file.Url() + "?synchronous=off"), FatalError);
    EXPECT_THROW(db::Open(file.Url() + "?cache=shared"), FatalError);
}

TEST(SqliteUrl, MissingDirectoryIsAClearError) {
    try {
        db::Open("sqlite:///no/such/dir/k.db");
        FAIL() << "expected an error";
    } catch (const FatalError& e) {
        EXPECT_NE(std::string(e.what()).find("/no/such/dir"), std::string::npos);
    }
}

TEST(DbUrl, UnsupportedSchemeAndMasking) {
    EXPECT_THROW(db::Open("mysql://u:p@h/d"), FatalError);
    EXPECT_EQ(db::MaskUrl("postgresql://u:secret@h:5432/d"), "postgresql://u:****@h:5432/d");
    EXPECT_EQ(db::MaskUrl("amqp://guest:guest@127.0.0.1:5672/"), "amqp://guest:****@127.0.0.1:5672/");
    EXPECT_EQ(db::MaskUrl("postgresql://h/d"), "postgresql://h/d");
    // Every credential form, not only the user-info password.
    EXPECT_EQ(db::MaskUrl("postgresql://h/d?user=u&password=secret&sslmode=require"),
              "postgresql://h/d?user=u&password=****&sslmode=require");
    EXPECT_EQ(db::MaskUrl("postgresql://u@h/d?sslpassword=k3y"), "postgresql://u@h/d?sslpassword=****");
    EXPECT_EQ(db::MaskUrl("postgresql://u:p@ss@h/d"), "postgresql://u:****@h/d");  // a raw '@' in the password
    EXPECT_EQ(db::MaskUrl("amqp://u:s3cr3t@h:5672/vhost?heartbeat=30&PASSWORD=x"),
              "amqp://u:****@h:5672/vhost?heartbeat=30&PASSWORD=****");
    EXPECT_EQ(db::MaskUrl("host=127.0.0.1 user=u password=secret dbname=d"),
              "host=127.0.0.1 user=u password=**** dbname=d");
    EXPECT_EQ(db::MaskUrl("host=h password='se cret' dbname=d"), "host=h password=**** dbname=d");
    for (const char* url : {"postgresql://u:hunter2@h/d?password=hunter2", "host=h password=hunter2"}) {
        EXPECT_EQ(db::MaskUrl(url).find("hunter2"), std::string::npos) << url;
    }
}

TEST(PgArrays, Literals) {
    EXPECT_EQ(db::PgIntArray({1, -2, 3'000'000'000}), "{1,-2,3000000000}");
    EXPECT_EQ(db::PgOptIntArray({1, std::nullopt}), "{1,NULL}");
    EXPECT_EQ(db::PgOptTextArray({std::string("a\"b\\c"), std::nullopt}), "{\"a\\\"b\\\\c\",NULL}");
    EXPECT_EQ(db::PgBoolArray({true, false}), "{t,f}");
}

}  // namespace kr::test
