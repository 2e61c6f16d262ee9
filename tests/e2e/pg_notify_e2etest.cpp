// On PostgreSQL, without Redis: LISTEN killmail_new hears each new killmail once (NOTIFY in the
// killmails' transaction), from the live feed and from worker:zkillboard.
#include "e2e/killmail_push_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(PgNotify, NewKillmailsNotified) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, PushUniverse());
    PgObserver observer(db.Url());
    NewKillmailsObserved(p, observer, "");
}

}  // namespace kr::test
