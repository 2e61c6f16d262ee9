// `status --json` against a known state on PostgreSQL + RabbitMQ (the consumers count is the
// broker's) and on PostgreSQL with the database queue (live leases).
#include "app/status_cases.hpp"
#include "support/temp_vhost.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(StatusPg, JsonTellsAKnownStateOnPostgresAndRabbitMq) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    StatusJsonTellsAKnownState(db.Url(), vhost.Url());
}

TEST(StatusPg, JsonTellsAKnownStateOnPostgresWithTheDatabaseQueue) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    StatusJsonTellsAKnownState(db.Url(), "");
}

}  // namespace kr::test

namespace kr::test {

TEST(StatusPg, JsonShowsTheWorkersOnPostgres) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    StatusJsonShowsTheWorkers(db.Url());
}

}  // namespace kr::test
