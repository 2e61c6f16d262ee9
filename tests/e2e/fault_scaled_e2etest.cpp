// The fault suite on the scaled-out layout: RabbitMQ + PostgreSQL, one killreport process per
// worker, against tools/fake-esi with latency. Each test has its own vhost and database; the two
// that act on the whole broker (a restart; its memory alarm) run as a CTest entry of their own that
// nothing else using the broker runs beside (the line below; CMakeLists.txt). The scenarios and
// what each proves: fault_cases.hpp.
// ctest-broker-exclusive: FaultRabbitPg.BrokerRestart:FaultRabbitPg.KillNineRightAfterACommit
#include "e2e/fault_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test::faults {

class FaultRabbitPg : public ::testing::Test {
protected:
    void SetUp() override {
        KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
        KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
        db_ = std::make_unique<TempPgDatabase>(pg);
        vhost_ = std::make_unique<TempVhost>(amqp);
        target_ = {"rabbitpg", Layout::kScaled, vhost_.get()};
    }
    void TearDown() override {
        p_.reset();
        vhost_.reset();
        db_.reset();
    }
    /// The simulator with `universe`, and the backend.
    Pipeline& Start(fakeesi::Options universe) {
        p_ = std::make_unique<Pipeline>(Backend{db_->Url(), vhost_->Url()}, std::move(universe));
        return *p_;
    }

    std::unique_ptr<TempPgDatabase> db_;
    std::unique_ptr<TempVhost> vhost_;
    std::unique_ptr<Pipeline> p_;
    Target target_;
};

TEST_F(FaultRabbitPg, KillNineAtRandomMoments) { KillNineAtRandom(Start(KillUniverse()), target_); }

TEST_F(FaultRabbitPg, KillNineRightAfterACommit) { KillNineAfterCommit(Start(FaultUniverse()), target_); }

TEST_F(FaultRabbitPg, BrokerRestart) { BrokerRestart(Start(FaultUniverse()), target_); }

TEST_F(FaultRabbitPg, DatabaseConnectionsTerminated) { DatabaseConnectionsTerminated(Start(FaultUniverse()), target_); }

TEST_F(FaultRabbitPg, MalformedMessagesOnEveryQueue) { MalformedMessages(Start(FaultUniverse()), target_); }

TEST_F(FaultRabbitPg, EsiFaults) { EsiFaults(Start(FaultUniverse()), target_); }

}  // namespace kr::test::faults
