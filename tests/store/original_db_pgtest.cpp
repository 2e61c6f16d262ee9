// A database the original created (tests/support/original_schema.hpp: its nine core tables with
// INTEGER ids, its universe and derived tables): db:migrate adds only our tables, and the
// killmail write path (worker:zkillboard's page store) fills its derived tables exactly as the
// reference's rules say — compared with values this test computes from the killmails it stored —
// also when pages are delivered twice and when the connection dies in the middle of a batch;
// RebuildDerived reproduces them. Needs KR_TEST_PG_DSN; one database per test, dropped after.
#include <unistd.h>

#include <ctime>

#include <gtest/gtest.h>

#include "db/migrator.hpp"
#include "store/derived_expect.hpp"
#include "support/original_schema.hpp"
#include "support/pg_faults.hpp"

namespace kr::store::testing {
namespace {

std::string AdminDsn() {
    const char* dsn = std::getenv("KR_TEST_PG_DSN");
    return dsn ? dsn : "";
}

/// The DSN with its database name replaced.
std::string WithDatabase(const std::string& dsn, const std::string& db) {
    auto scheme = dsn.find("://");
    auto slash = dsn.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    auto query = dsn.find('?');
    std::string base = slash == std::string::npos ? dsn.substr(0, query) : dsn.substr(0, slash);
    std::string rest = query == std::string::npos ? "" : dsn.substr(query);
    return base + "/" + db + rest;
}

class OriginalDatabaseTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (AdminDsn().empty()) {
            const char* require = std::getenv("KR_REQUIRE_INTEGRATION");
            if (require && std::string(require) == "1") GTEST_FAIL() << "KR_TEST_PG_DSN is not set";
            GTEST_SKIP() << "KR_TEST_PG_DSN not set";
        }
        name_ = "kr_original_test_" + std::to_string(::getpid()) + "_" + std::to_string(std::time(nullptr));
        db::Open(AdminDsn())->Exec("CREATE DATABASE " + name_);
        url_ = WithDatabase(AdminDsn(), name_);
        conn_ = db::Open(url_);
        conn_->ExecScript(kr::test::OriginalSchemaSql());
    }
    void TearDown() override {
        conn_.reset();
        if (!name_.empty()) db::Open(AdminDsn())->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    }
    /// Columns (name, type, nullability, default) and indexes of the original's tables.
    std::vector<std::string> Shape() {
        std::vector<std::string> out;
        std::vector<std::string> names(kr::test::OriginalTables().begin(), kr::test::OriginalTables().end());
        auto c = conn_->Exec(
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || udt_name || ' ' || is_nullable || "
            "' ' || coalesce(column_default, '') || ' ' || coalesce(character_maximum_length::text, '') FROM "
            "information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1::text[]) ORDER BY 1",
            {db::PgTextArray(names)});
        for (std::size_t i = 0; i < c.Rows(); ++i) out.push_back(c.Text(i, 0));
        auto x = conn_->Exec(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1::text[]) ORDER BY 1",
            {db::PgTextArray(names)});
        for (std::size_t i = 0; i < x.Rows(); ++i) out.push_back(x.Text(i, 0));
        return out;
    }

    std::string name_, url_;
    std::unique_ptr<db::Connection> conn_;
};

TEST_F(OriginalDatabaseTest, MigrateAddsOnlyOurTablesAndThePipelineFillsTheirDerivedTables) {
    const auto before = Shape();
    ASSERT_GT(before.size(), 150u);
    auto report = db::Migrate(*conn_);
    EXPECT_TRUE(report.killreport_tables_existed);
    EXPECT_FALSE(report.applied.empty());
    EXPECT_EQ(Shape(), before);  // their tables, columns, types and indexes: untouched
    EXPECT_EQ(conn_->Exec("SELECT count(*) FROM kr_created_tables").Int(0, 0), 0);
    // Every table that is not theirs is one of ours (kr_*).
    auto added = conn_->Exec(
        "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public' AND tablename <> ALL($1::text[]) "
        "AND tablename NOT LIKE 'kr\\_%'",
        {db::PgTextArray(
            std::vector<std::string>(kr::test::OriginalTables().begin(), kr::test::OriginalTables().end()))});
    EXPECT_TRUE(added.IsNull(0, 0)) << added.Text(0, 0);

    auto store = OpenStore(url_);
    // user:add works on their users table (SSO columns NOT NULL without default): marked placeholders.
    store->AddUser(90000001, "New Pilot");
    auto user = conn_->Exec(
        "SELECT character_owner_hash, access_token, refresh_token, expires_at FROM users WHERE character_id = "
        "90000001");
    ASSERT_EQ(user.Rows(), 1u);
    EXPECT_EQ(user.Text(0, 0), kSsoPlaceholder);
    EXPECT_EQ(user.Text(0, 1), kSsoPlaceholder);
    EXPECT_TRUE(user.IsNull(0, 2));  // nullable there: left alone
    EXPECT_EQ(NormTime(user.Text(0, 3)), "1970-01-01 00:00:00");
    const Universe universe =
        StoreUniverse(*store, {{30000186, std::string("C")}, {30002537, std::nullopt}, {30000142, "B"}});
    std::vector<Killmail> all = AllSampleKillmails();
    const auto tricky = TrickyKillmails();
    all.insert(all.end(), tricky.begin(), tricky.end());
    const std::vector<Killmail> first(all.begin(), all.begin() + 6), second(all.begin() + 4, all.end());
    PerKind<std::vector<Id>> enrich;
    enrich[EntityKind::kCharacter] = {91000000};
    EXPECT_EQ(store->StoreKillmailPage(first, enrich, nullptr).inserted, first.size());
    EXPECT_EQ(store->StoreKillmailPage(first, enrich, nullptr).inserted, 0u);  // the page redelivered
    // The overlapping page's store is cut off mid-batch (its connection dies while it waits to add
    // to the kill stats, after its killmails were written): it runs again on a new connection.
    auto stored = kr::test::TerminatedInFlight(url_, "LOCK TABLE character_kill_stats IN ACCESS EXCLUSIVE MODE",
                                               [&] { return store->StoreKillmailPage(second, enrich, nullptr); });
    StoreKillmailsResult result;
    EXPECT_NO_THROW(result = stored.get());
    EXPECT_EQ(result.inserted, all.size() - first.size());

    const Derived expected = Expect(all, universe);
    KR_EXPECT_DERIVED_EQ(Actual(*conn_), expected);
    // Their arrays are integer[] and keep that type.
    EXPECT_EQ(conn_->Exec("SELECT pg_typeof(attacker_character_ids)::text FROM killmail_filters LIMIT 1").Text(0, 0),
              "integer[]");
    // The web UI's questions: a character's kills (GIN containment) and the day's leaderboard.
    EXPECT_EQ(
        conn_->Exec("SELECT count(*) FROM killmail_filters WHERE attacker_character_ids @> ARRAY[91000000]").Int(0, 0),
        3);
    EXPECT_EQ(conn_
                  ->Exec("SELECT character_id FROM character_kill_stats WHERE kill_date = '2025-01-02' ORDER BY "
                         "kill_count DESC, character_id LIMIT 1")
                  .Int(0, 0),
              91000000);

    // Holes as the original leaves them, then a rebuild.
    conn_->ExecScript(
        "DELETE FROM killmail_filters WHERE killmail_id % 2 = 0; UPDATE corporation_kill_stats SET kill_count = 99;");
    store->RebuildDerived(std::nullopt);
    KR_EXPECT_DERIVED_EQ(Actual(*conn_), expected);
    EXPECT_EQ(Shape(), before);
}

}  // namespace
}  // namespace kr::store::testing
