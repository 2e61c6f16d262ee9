// USE_REDIS_PUBSUB=true: a Redis subscriber of NEW_KILLMAIL (KR_TEST_REDIS_URL, scripts/servers.sh)
// sees each new killmail once, from the live feed and from worker:zkillboard, on both backends.
#include "e2e/killmail_push_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(RedisPushSqlite, NewKillmailsPublished) {
    KR_REQUIRE_ENV(redis, "KR_TEST_REDIS_URL");
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, PushUniverse());
    RedisObserver observer(redis);
    NewKillmailsObserved(p, observer, RedisEnv(redis));
}

TEST(RedisPushPg, NewKillmailsPublished) {
    KR_REQUIRE_ENV(redis, "KR_TEST_REDIS_URL");
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, PushUniverse());
    RedisObserver observer(redis);
    NewKillmailsObserved(p, observer, RedisEnv(redis));
}

}  // namespace kr::test
