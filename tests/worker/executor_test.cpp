// Executor: jobs run one at a time on its own thread and resource; outcomes (success or the job's
// exception) are collected on the owner's thread; bounded; errors travel upstream.
#include "worker/executor.hpp"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "db/migrator.hpp"
#include "store/store.hpp"
#include "support/test_env.hpp"

namespace {

using namespace std::chrono_literals;
using kr::worker::Executor;
using StoreExecutor = Executor<kr::store::Store>;

std::unique_ptr<kr::store::Store> FileStore() {
    static kr::test::TempSqliteFile file;  // shared by this binary's tests (distinct ids)
    kr::db::Migrate(*kr::db::Open(file.Url()));
    return kr::store::OpenStore(file.Url());
}

/// Collect until the outcome is there (the tests' jobs are short).
std::exception_ptr Await(StoreExecutor& e) {
    std::optional<std::exception_ptr> outcome;
    for (int i = 0; i < 1000 && !outcome; ++i) outcome = e.Collect(10ms);
    if (!outcome) throw std::runtime_error("the job did not finish");
    return *outcome;
}

TEST(Executor, RunsTheJobOnItsOwnStoreAndThreadAndReportsSuccess) {
    auto owned = FileStore();
    kr::store::Store* store = owned.get();
    StoreExecutor c(std::move(owned));
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
    c.Submit([&](kr::store::Store& s) {
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

TEST(Executor, HandsTheJobsExceptionToTheOwner) {
    StoreExecutor c(FileStore());
    c.Submit([](kr::store::Store&) { throw kr::PermanentError("db_constraint", "boom"); });
    auto error = Await(c);
    ASSERT_NE(error, nullptr);
    try {
        std::rethrow_exception(error);
    } catch (const kr::PermanentError& e) {
        EXPECT_EQ(e.Reason(), "db_constraint");
    }
    // usable again afterwards
    c.Submit([](kr::store::Store&) {});
    EXPECT_EQ(Await(c), nullptr);
    EXPECT_EQ(Await(c), nullptr);  // nothing running
    EXPECT_FALSE(c.Busy());
}

TEST(Executor, CollectReturnsNothingWhileTheJobRuns) {
    StoreExecutor c(FileStore());
    std::atomic<bool> release{false};
    c.Submit([&](kr::store::Store&) {
        while (!release) std::this_thread::sleep_for(1ms);
    });
    EXPECT_FALSE(c.Collect(20ms).has_value());
    EXPECT_TRUE(c.Busy());
    release = true;
    EXPECT_EQ(Await(c), nullptr);
}

TEST(Executor, DestructionFinishesAStartedJob) {
    std::atomic<bool> done{false};
    {
        StoreExecutor c(FileStore());
        c.Submit([&](kr::store::Store&) {
            std::this_thread::sleep_for(30ms);
            done = true;
        });
    }
    EXPECT_TRUE(done);
}

// ---- as a pipeline stage (scan:entities) -----------------------------------------------------

struct Log {
    std::mutex mu;
    std::vector<int> seen;
    void Add(int v) {
        std::lock_guard lock(mu);
        seen.push_back(v);
    }
};

TEST(Executor, RunsJobsInOrderAndDestructionFinishesTheWaitingOnes) {
    Log log;
    {
        Executor<Log> e(std::make_unique<Log>(), 8);
        for (int i = 0; i < 8; ++i)
            e.Submit([&log, i](Log&) {
                std::this_thread::sleep_for(1ms);
                log.Add(i);
            });
    }
    EXPECT_EQ(log.seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Executor, SubmitBlocksWhileDepthJobsWait) {
    Executor<Log> e(std::make_unique<Log>(), 2);
    std::atomic<bool> release{false};
    std::atomic<int> submitted{0};
    std::thread producer([&] {
        for (int i = 0; i < 5; ++i) {
            e.Submit([&](Log&) {
                while (!release) std::this_thread::sleep_for(1ms);
            });
            ++submitted;
        }
    });
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(submitted.load(), 3);  // one running, two waiting; the fourth waits for room
    release = true;
    producer.join();
    std::optional<std::exception_ptr> outcome;
    while (!(outcome = e.Collect(10ms))) {}
    EXPECT_EQ(*outcome, nullptr);
    EXPECT_EQ(submitted.load(), 5);
}

TEST(Executor, AFailureDropsTheWaitingJobsAndSubmitRethrowsIt) {
    Executor<Log> e(std::make_unique<Log>(), 4);
    std::atomic<bool> release{false};
    std::atomic<int> ran{0};
    e.Submit([&](Log&) {
        while (!release) std::this_thread::sleep_for(1ms);
        throw kr::TransientError("stage down");
    });
    e.Submit([&](Log&) { ++ran; });  // waits behind the failing job: dropped
    release = true;
    std::optional<std::exception_ptr> outcome;
    while (!(outcome = e.Collect(10ms))) {}
    ASSERT_NE(*outcome, nullptr);
    EXPECT_THROW(std::rethrow_exception(*outcome), kr::TransientError);
    EXPECT_EQ(ran.load(), 0);
    // Collected: the executor takes jobs again.
    e.Submit([&](Log&) { ++ran; });
    while (!(outcome = e.Collect(10ms))) {}
    EXPECT_EQ(*outcome, nullptr);
    EXPECT_EQ(ran.load(), 1);
}

TEST(Executor, ErrorsTravelUpstreamThroughAPipeline) {
    // first → second: first's job submits to second. second fails; first's job, blocked in
    // second.Submit, fails with second's error, and so does the producer's next Submit to first.
    Executor<Log> second(std::make_unique<Log>(), 1);
    Executor<Log> first(std::make_unique<Log>(), 1);
    std::atomic<bool> release{false};
    second.Submit([&](Log&) {
        while (!release) std::this_thread::sleep_for(1ms);
        throw kr::PermanentError("bad_page", "page 1");
    });
    second.Submit([](Log&) {});                                     // second is full now
    first.Submit([&second](Log&) { second.Submit([](Log&) {}); });  // blocks in second.Submit
    release = true;
    bool threw = false;
    for (int i = 0; i < 10 && !threw; ++i) {  // a Submit may still find room before first fails
        try {
            first.Submit([](Log&) {});
        } catch (const kr::PermanentError& e) {
            threw = true;
            EXPECT_EQ(e.Reason(), "bad_page");
        }
    }
    EXPECT_TRUE(threw);
    for (auto* stage : {&first, &second}) {
        std::optional<std::exception_ptr> outcome;
        while (!(outcome = stage->Collect(10ms))) {}
        ASSERT_NE(*outcome, nullptr);
        EXPECT_THROW(std::rethrow_exception(*outcome), kr::PermanentError);
    }
}

}  // namespace
