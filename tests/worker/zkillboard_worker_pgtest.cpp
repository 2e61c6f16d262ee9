// ZkillboardWorker on PostgreSQL (KR_TEST_PG_DSN) as worker:zkillboard runs there: the page stored
// on a committer (a second connection), the database queue in the same database. The outbox, the
// page chain and the refused-killmail isolation, each through the same scenario as on SQLite.
#include "support/test_env.hpp"
#include "worker/zkillboard_harness.hpp"

namespace kr::worker {
namespace {

using namespace kr::worker::testing;  // NOLINT(google-build-using-namespace): the harness's helpers

class ZkillboardWorkerPgTest : public ::testing::Test {
protected:
    void SetUp() override {
        KR_REQUIRE_ENV(dsn, "KR_TEST_PG_DSN");
        db_ = std::make_unique<kr::test::TempPgDatabase>(dsn);
        h_ = std::make_unique<ZkillboardHarness>(db_->Url());
        committer_ = h_->MakeCommitter();
    }
    void TearDown() override {
        committer_.reset();
        h_.reset();
        db_.reset();
    }

    std::unique_ptr<kr::test::TempPgDatabase> db_;
    std::unique_ptr<ZkillboardHarness> h_;
    std::unique_ptr<Executor<store::Store>> committer_;
};

TEST_F(ZkillboardWorkerPgTest, AKillRightAfterTheCommitLosesNoEnrichment) {
    h_->ExpectAKillAfterTheCommitLosesNoEnrichment(committer_.get());
}

TEST_F(ZkillboardWorkerPgTest, AnUnconfirmedPublishIsPublishedByTheRetryOfThePage) {
    h_->ExpectAFailedPublishIsPublishedByTheRetryOfThePage(1, committer_.get());  // the second info queue's
}

TEST_F(ZkillboardWorkerPgTest, AKillmailOutOfRangeIsIsolatedTheRestStoredAndTheChainGoesOn) {
    h_->ExpectARefusedKillmailIsIsolated(kKm1, kKm2, committer_.get());  // SQLSTATE 22003
}

TEST_F(ZkillboardWorkerPgTest, TwoCopiesOfAPageStoredTogetherPublishOneNextPage) {
    h_->ExpectTwoCopiesOfAPagePublishOneNextPage(*committer_);
}

TEST_F(ZkillboardWorkerPgTest, TwoCharactersPagesCommitSideBySideOnTwoCommitters) {
    auto second = h_->MakeCommitter();
    h_->ExpectTwoCharactersPagesCommitSideBySide(*committer_, *second);
}

}  // namespace
}  // namespace kr::worker
