// End to end on the scaled-out layout: RabbitMQ for the queues, PostgreSQL for the data.
// Each test gets its own RabbitMQ vhost (the original's queue names are fixed) and database.
#include "e2e/pipeline_cases.hpp"
#include "support/original_schema.hpp"
#include "support/temp_vhost.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(PipelineRabbitPg, SyncedCharactersMatchGroundTruth) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    Pipeline p({db.Url(), vhost.Url()}, SmallUniverse());
    SyncedCharactersMatchGroundTruth(p);
}

TEST(PipelineRabbitPg, OneProcessPerWorkerMatchesGroundTruth) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    Pipeline p({db.Url(), vhost.Url()}, SmallUniverse());
    SyncedCharactersMatchGroundTruth(p, /*per_process=*/true);
}

// Issue 15: a database the original's migrations created (INTEGER ids, its users table with
// NOT NULL SSO columns, its derived tables), our workers one process each on RabbitMQ: every row
// matches the simulator's truth, the web UI's tables included.
TEST(PipelineRabbitPg, OnTheOriginalsDatabase) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    db::Open(db.Url())->ExecScript(OriginalSchemaSql());
    TempVhost vhost(amqp);
    auto o = SmallUniverse();
    o.universe.int32_ids = true;  // their INTEGER columns
    Pipeline p({db.Url(), vhost.Url()}, o);
    SyncedCharactersMatchGroundTruth(p, /*per_process=*/true);
    EXPECT_EQ(p.Count("SELECT count(*) FROM kr_created_tables"), 0);  // every table of theirs kept
}

TEST(PipelineRabbitPg, RefreshClearsStaleFields) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    auto o = SmallUniverse();
    o.cache_seconds = 2;
    Pipeline p({db.Url(), vhost.Url()}, o);
    RefreshClearsStaleFields(p);
}

TEST(PipelineRabbitPg, GracefulShutdownHandsBackInFlight) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    Pipeline p({db.Url(), vhost.Url()}, SmallUniverse());
    GracefulShutdownHandsBackInFlight(p);
}

}  // namespace kr::test
