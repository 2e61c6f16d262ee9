// End to end on the scaled-out layout: RabbitMQ for the queues, PostgreSQL for the data.
// Each test gets its own RabbitMQ vhost (the original's queue names are fixed) and database.
#include "e2e/pipeline_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

namespace {

/// A throw-away vhost on the test broker (scripts/servers.sh ctl = rabbitmqctl on the test node).
class TempVhost {
public:
    explicit TempVhost(const std::string& amqp_url) {
        name_ = "kr_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++);
        Ctl("add_vhost " + name_);
        Ctl("set_permissions -p " + name_ + " guest '.*' '.*' '.*'");
        auto slash = amqp_url.find('/', amqp_url.find("://") + 3);
        url_ = amqp_url.substr(0, slash) + "/" + name_;
    }
    ~TempVhost() { Ctl("delete_vhost " + name_); }
    const std::string& Url() const { return url_; }

private:
    static void Ctl(const std::string& args) {
        auto r = RunCommand(std::string(KR_SOURCE_DIR) + "/scripts/servers.sh ctl " + args);
        if (r.exit_code != 0) ADD_FAILURE() << "rabbitmqctl " << args << ": " << r.err;
    }
    static inline int counter_ = 0;
    std::string name_, url_;
};

}  // namespace

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
