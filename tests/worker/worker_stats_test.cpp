// Worker summary lines: only the counters that moved since the previous line, and a short final
// line when nothing was processed (a demo's idle workers printed twelve all-zero lines).
#include "worker/worker_stats.hpp"

#include <gtest/gtest.h>

namespace kr::worker {
namespace {

TEST(SummaryLine, OnlyTheCountersThatMoved) {
    CounterSnapshot before;
    before.processed = 10;
    before.created = 10;
    CounterSnapshot now = before;
    now.processed = 40;
    now.unchanged = 25;
    now.not_found = 5;
    EXPECT_EQ(SummaryLine("worker:info:characters", "", now, before, 6),
              "worker:info:characters: processed 40 (unchanged 25, not found 5) 6/s");
}

TEST(SummaryLine, TheFinalLineSumsUpEverythingNotZero) {
    CounterSnapshot now;
    now.processed = 3;
    now.created = 2;
    now.dead = 1;
    now.published = 7;
    EXPECT_EQ(SummaryLine("worker:zkillboard", "done", now, {}, 0),
              "worker:zkillboard done: processed 3 (created 2, dead 1, published 7) 0/s");
}

TEST(SummaryLine, NothingProcessedIsShort) {
    EXPECT_EQ(SummaryLine("worker:regions", "done", {}, {}, 0), "worker:regions done: nothing processed");
}

TEST(SummaryLine, ALineWithOnlyProcessedMovingHasNoParentheses) {
    CounterSnapshot before;
    before.processed = 1;
    CounterSnapshot now;
    now.processed = 2;
    EXPECT_EQ(SummaryLine("w", "idle", now, before, 1), "w idle: processed 2 1/s");
}

}  // namespace
}  // namespace kr::worker
