// Committer: jobs run on its own thread and store; outcomes (success or the job's exception) are
// collected on the owner's thread.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/errors.hpp"
#include "db/migrator.hpp"
#include "store/store.hpp"
#include "support/store_helpers.hpp"
#include "support/test_env.hpp"
#include "worker/committer.hpp"

namespace {

using namespace std::chrono_literals;
using kr::worker::Committer;

std::unique_ptr<kr::store::Store> MemoryStore() {
    static kr::test::TempSqliteFile file;  // shared by this binary's tests (distinct ids)
    kr::db::Migrate(*kr::db::Open(file.Url()));
    return kr::store::OpenStore(file.Url());
}

TEST(Committer, RunsTheJobOnItsOwnStoreAndThreadAndReportsSuccess) {
    auto owned = MemoryStore();
    kr::store::Store* store = owned.get();
    Committer c(std::move(owned));
    EXPECT_FALSE(c.Busy());
    std::thread::id ran_on;
    kr::store::Store* seen = nullptr;
    kr::store::EntityBatch batch;
    kr::Alliance a;
    a.id = 99003214;
    a.name = "Brave Collective";
    a.ticker = "BRAVE";
    a.date_founded = "2015-01-01T00:00:00Z";
    a.creator_corporation_id = 98445423;
    a.creator_id = 95465499;
    batch.entities.push_back(a);
    c.Start([&](kr::store::Store& s) {
        ran_on = std::this_thread::get_id();
        seen = &s;
        s.ApplyEntityBatch(batch);
    });
    EXPECT_TRUE(c.Busy());
    std::optional<std::exception_ptr> outcome;
    for (int i = 0; i < 500 && !outcome; ++i) outcome = c.Collect(10ms);
    ASSERT_TRUE(outcome.has_value());
    EXPECT_EQ(*outcome, nullptr);
    EXPECT_FALSE(c.Busy());
    EXPECT_NE(ran_on, std::this_thread::get_id());
    EXPECT_EQ(seen, store);
    EXPECT_EQ(store->ExistingIds(kr::EntityKind::kAlliance, {99003214}).size(), 1u);
}

TEST(Committer, HandsTheJobsExceptionToTheOwner) {
    Committer c(MemoryStore());
    c.Start([](kr::store::Store&) { throw kr::PermanentError("db_constraint", "boom"); });
    auto error = c.Wait();
    ASSERT_NE(error, nullptr);
    try {
        std::rethrow_exception(error);
    } catch (const kr::PermanentError& e) {
        EXPECT_EQ(e.Reason(), "db_constraint");
    }
    // usable again afterwards
    c.Start([](kr::store::Store&) {});
    EXPECT_EQ(c.Wait(), nullptr);
    EXPECT_EQ(c.Wait(), nullptr);  // nothing running
}

TEST(Committer, CollectReturnsNothingWhileTheJobRuns) {
    Committer c(MemoryStore());
    std::atomic<bool> release{false};
    c.Start([&](kr::store::Store&) {
        while (!release) std::this_thread::sleep_for(1ms);
    });
    EXPECT_FALSE(c.Collect(20ms).has_value());
    EXPECT_TRUE(c.Busy());
    release = true;
    EXPECT_EQ(c.Wait(), nullptr);
}

TEST(Committer, DestructionFinishesAStartedJob) {
    std::atomic<bool> done{false};
    {
        Committer c(MemoryStore());
        c.Start([&](kr::store::Store&) {
            std::this_thread::sleep_for(30ms);
            done = true;
        });
    }
    EXPECT_TRUE(done);
}

}  // namespace
