// RateBudget: in-process and SQLite-backed (shared by processes on one machine).
#include <algorithm>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "budget_checks.hpp"
#include "esi/pacer.hpp"

using namespace kr::esi;
using namespace kr::esi::testing;

namespace {

std::string TempDbUrl(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("kr_esi_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / name;
    std::filesystem::remove(path);
    return "sqlite://" + path.string();
}

TEST(InProcessBudget, SlotsAreSpacedAcrossThreads) {
    InProcessBudget b;
    std::vector<std::int64_t> all;
    std::mutex mu;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
        ts.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                SlotGrant g = b.Reserve("esi", 1000, 2);
                std::lock_guard lock(mu);
                for (int k = 0; k < g.count; ++k) all.push_back(g.first_us + k * g.interval_us);
            }
        });
    }
    for (auto& t : ts) t.join();
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), 400u);
    ExpectSpaced(all, 1000, 0);
}

TEST(InProcessBudget, ObserveMerge) {
    InProcessBudget b;
    CheckObserveMerge(b, "esi");
}

TEST(DbBudgetSqlite, ObserveMerge) {
    const auto url = TempDbUrl("merge.db");
    MigrateDb(url);
    DbBudget b(url);
    CheckObserveMerge(b, "esi");
}

TEST(InProcessBudget, OutageGateCycle) {
    InProcessBudget b;
    CheckOutageCycle(b, "esi", kr::SystemClock::Instance());
}

TEST(DbBudgetSqlite, OutageGateCycle) {
    const auto url = TempDbUrl("outage.db");
    MigrateDb(url);
    DbBudget b(url);
    CheckOutageCycle(b, "esi", kr::SystemClock::Instance());
}

TEST(DbBudgetSqlite, OneProcessOfFourTakesTheProbersLease) {
    const auto url = TempDbUrl("lease.db");
    MigrateDb(url);
    CheckOneProberTakesTheLease(url, "esi", 4);
}

/// Spent(key, 60): what was spent in the current second and the 59 before it, per key.
void CheckSpent(RateBudget& b, kr::ManualClock& clock) {
    clock.Set(1'700'000'000'000'000);  // a second's start
    b.Spend("esi", 3);
    clock.Advance(30'000'000);
    b.Spend("esi", 4);
    b.Spend("zkb", 9);
    EXPECT_EQ(b.Spent("esi", 60), 7);
    EXPECT_EQ(b.Spent("zkb", 60), 9);
    EXPECT_EQ(b.Spent("esi", 1), 4);
    clock.Advance(30'000'000);  // the first second is 60 s ago: out of the last minute
    EXPECT_EQ(b.Spent("esi", 60), 4);
    clock.Advance(60'000'000);
    EXPECT_EQ(b.Spent("esi", 60), 0);
    EXPECT_EQ(b.Spent("never", 60), 0);
}

TEST(InProcessBudget, SpentIsWhatWasSpentInTheLastMinute) {
    kr::ManualClock clock;
    InProcessBudget b(clock);
    CheckSpent(b, clock);
}

TEST(DbBudgetSqlite, SpentIsWhatWasSpentInTheLastMinute) {
    const auto url = TempDbUrl("spent.db");
    MigrateDb(url);
    kr::ManualClock clock;
    DbBudget b(url, clock);
    CheckSpent(b, clock);
}

TEST(DbBudgetSqlite, FourProcessesShareOneSequenceOfSlots) {
    const auto url = TempDbUrl("procs.db");
    MigrateDb(url);
    auto slots = ReserveFromProcesses(url, "esi", 4, 60, 3, 2000);
    ASSERT_EQ(slots.size(), 240u);
    ExpectSpaced(slots, 2000, 0);
}

/// The window guard's permits: `count` at most taken, each free a window after it is given back
/// (or max_hold after it was taken), on both implementations.
void PermitsAreTheLimitInAnyWindow(RateBudget& b, kr::ManualClock& clock) {
    const std::string key = "esi:window:test";
    std::vector<std::int64_t> taken;
    for (int i = 0; i < 3; ++i) {
        auto g = b.TakePermit(key, 3, 30'000'000);
        ASSERT_TRUE(g.permit);
        taken.push_back(*g.permit);
    }
    std::sort(taken.begin(), taken.end());
    EXPECT_EQ(taken, (std::vector<std::int64_t>{0, 1, 2}));
    auto none = b.TakePermit(key, 3, 30'000'000);
    EXPECT_FALSE(none.permit);
    EXPECT_EQ(none.retry_at_us, clock.NowUs() + 30'000'000);
    // Given back: free a window later, not before.
    b.ReleasePermit(key, 1, 1'000'000);
    EXPECT_FALSE(b.TakePermit(key, 3, 30'000'000).permit);
    clock.Advance(999'999);
    EXPECT_EQ(b.TakePermit(key, 3, 30'000'000).retry_at_us, clock.NowUs() + 1);
    clock.Advance(1);
    auto again = b.TakePermit(key, 3, 30'000'000);
    ASSERT_TRUE(again.permit);
    EXPECT_EQ(*again.permit, 1);
    // Never given back (a process that died): free after max_hold.
    clock.Advance(30'000'000);
    EXPECT_TRUE(b.TakePermit(key, 3, 30'000'000).permit);
    // A larger count adds permits.
    EXPECT_TRUE(b.TakePermit(key, 5, 30'000'000).permit);
}

TEST(InProcessBudget, PermitsAreTheLimitInAnyWindow) {
    kr::ManualClock clock;
    InProcessBudget b(clock);
    PermitsAreTheLimitInAnyWindow(b, clock);
}

TEST(DbBudgetSqlite, PermitsAreTheLimitInAnyWindow) {
    const auto url = TempDbUrl("permits.db");
    MigrateDb(url);
    kr::ManualClock clock;
    DbBudget b(url, clock);
    PermitsAreTheLimitInAnyWindow(b, clock);
}

TEST(InProcessBudget, RefreshHoldsItsShareWhileNewWorkWaits) {
    kr::ManualClock clock;
    InProcessBudget b(clock);
    CheckRefreshShare(b, "esi", clock);
}

TEST(DbBudgetSqlite, RefreshHoldsItsShareWhileNewWorkWaits) {
    const auto url = TempDbUrl("share.db");
    MigrateDb(url);
    kr::ManualClock clock;
    DbBudget b(url, clock);
    CheckRefreshShare(b, "esi", clock);
}

TEST(InProcessBudget, NewWorkWaitsForAWindowThenRefreshTakesEverything) {
    kr::ManualClock clock;
    InProcessBudget b(clock);
    const PermitShare refresh{true, true, 1, "esi:new-work"};
    b.MarkDemand("esi:new-work", 1'000'000);
    ASSERT_TRUE(b.TakePermit("esi:window", 4, 30'000'000, refresh).permit);
    auto held = b.TakePermit("esi:window", 4, 30'000'000, refresh);
    EXPECT_FALSE(held.permit);
    EXPECT_EQ(held.retry_at_us, clock.NowUs() + 1'000'000) << "when new work stops waiting";
    clock.Advance(1'000'001);
    auto free = b.TakePermit("esi:window", 4, 30'000'000, refresh);
    ASSERT_TRUE(free.permit);
    EXPECT_FALSE(free.limited);
    // A share of 0: nothing for refresh while new work waits.
    b.MarkDemand("esi:new-work", 1'000'000);
    EXPECT_FALSE(b.TakePermit("esi:window", 4, 30'000'000, PermitShare{true, true, 0, "esi:new-work"}).permit);
}

TEST(DbBudgetSqlite, FourProcessesTakeNoMoreThanTheShare) {
    const auto url = TempDbUrl("share-procs.db");
    MigrateDb(url);
    EXPECT_EQ(TakeRefreshPermitsFromProcesses(url, "esi", 4, 5), 3);
}

TEST(Pacer, HandsOutSlotsAndDropsLateOnes) {
    kr::ManualClock clock;
    InProcessBudget b(clock);
    PacerOptions o;
    o.rate = 100;  // interval (1 s + 20 ms) / 100 = 10.2 ms; blocks of 5
    Pacer p(b, clock, "k", o);
    EXPECT_EQ(p.IntervalUs(), 10'200);
    auto t = p.TryTake(10);
    EXPECT_TRUE(t.taken);
    auto n = p.TryTake(10);
    EXPECT_FALSE(n.taken);
    EXPECT_EQ(n.at_us - t.at_us, 10'200);
    clock.Advance(10'200);
    EXPECT_TRUE(p.TryTake(10).taken);
    clock.Advance(100'000);  // the rest of the block is now too late to use
    auto late = p.TryTake(10);
    EXPECT_TRUE(late.taken);
    EXPECT_EQ(late.at_us, clock.NowUs());
    EXPECT_EQ(p.SlotsDropped(), 3);
}

}  // namespace
