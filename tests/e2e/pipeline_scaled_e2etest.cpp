// End to end on the scaled-out layout: RabbitMQ for the queues, PostgreSQL for the data.
// Each test gets its own RabbitMQ vhost (the original's queue names are fixed) and database.
#include "e2e/pipeline_cases.hpp"
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
