// Progress: the line (rate, percentage, ETA), a terminal's line rewritten in place at most every
// 250 ms, and plain log lines every 10 s otherwise — on a manual clock.
#include "log/progress.hpp"

#include <gtest/gtest.h>

#include "support/captured_log.hpp"

namespace kr::test {
namespace {

constexpr std::int64_t kMs = 1000;  // ManualClock counts microseconds

TEST(ProgressLine, RatePercentageAndEta) {
    EXPECT_EQ(log::Progress::Line("queue:alliances", 1200, 3400, "ids", 100),
              "queue:alliances: 1200/3400 ids (35%), 100/s, ETA 22 s");
    EXPECT_EQ(log::Progress::Line("run", 10, 4000, "messages", 2), "run: 10/4000 messages (0%), 2/s, ETA 33 min 15 s");
    EXPECT_EQ(log::Progress::Line("x", 5, 10, "ids", 0), "x: 5/10 ids (50%), 0/s, ETA ?");
    EXPECT_EQ(log::Progress::Line("x", 10, 10, "ids", 3), "x: 10/10 ids (100%), 3/s");
    EXPECT_EQ(log::Progress::Line("scan", 77, -1, "ids", 7.4), "scan: 77 ids, 7/s");
}

TEST(Progress, ATerminalLineIsRewrittenInPlace) {
    ManualClock clock;
    std::string tty;
    log::Progress::Options o;
    o.tty = true;
    o.clock = &clock;
    o.write_tty = [&](const std::string& s) { tty += s; };
    {
        log::Progress p("q", 1000, "ids", o);
        p.Set(10);  // not yet due
        EXPECT_EQ(tty, "");
        clock.Advance(500 * kMs);
        p.Set(500);
        EXPECT_EQ(tty, "\rq: 500/1000 ids (50%), 1000/s, ETA 1 s");
        clock.Advance(100 * kMs);
        p.Set(560);  // within 250 ms: nothing
        clock.Advance(400 * kMs);
        p.Set(1000);
    }  // the destructor finishes: the last line and a newline
    EXPECT_EQ(tty,
              "\rq: 500/1000 ids (50%), 1000/s, ETA 1 s"
              "\rq: 1000/1000 ids (100%), 1000/s       "  // spaces over the longer line's end
              "\rq: 1000/1000 ids (100%), 1000/s\n");
}

TEST(Progress, WithoutATerminalAPlainLineEveryTenSeconds) {
    CapturedLog log;
    ManualClock clock;
    log::Progress::Options o;
    o.tty = false;
    o.clock = &clock;
    o.write_tty = [](const std::string& s) { ADD_FAILURE() << "no terminal: " << s; };
    log::Progress p("scan:entities", -1, "ids", o);
    for (int s = 1; s <= 25; ++s) {
        clock.Advance(1000 * kMs);
        p.Add(10);
    }
    p.Finish();
    p.Finish();  // once
    EXPECT_EQ(log.Text(),
              "info scan:entities: 100 ids, 10/s\n"
              "info scan:entities: 200 ids, 10/s\n"
              "info scan:entities: 250 ids, 10/s\n");
}

TEST(Progress, ATotalLearnedOnTheWayAndNoLastLineTwice) {
    CapturedLog log;
    ManualClock clock;
    log::Progress::Options o;
    o.tty = false;
    o.clock = &clock;
    o.plain_every = std::chrono::milliseconds(0);  // KILLREPORT_PROGRESS_EVERY=0: every step
    log::Progress p("queue:alliances", -1, "messages", o);
    clock.Advance(1000 * kMs);
    p.Expect(200);  // the script learned its total (ESI's list)
    p.Add(100);
    clock.Advance(1000 * kMs);
    p.Add(100);
    p.Finish();  // the last step was printed: not again
    EXPECT_EQ(log.Text(),
              "info queue:alliances: 0/200 messages (0%), 0/s, ETA ?\n"
              "info queue:alliances: 100/200 messages (50%), 100/s, ETA 1 s\n"
              "info queue:alliances: 200/200 messages (100%), 100/s\n");
}

TEST(Progress, AQuickCommandStaysQuiet) {
    CapturedLog log;
    ManualClock clock;
    log::Progress::Options o;
    o.clock = &clock;
    {
        log::Progress p("queue:regions", 100, "ids", o);
        p.Set(100);
    }
    EXPECT_EQ(log.Text(), "");
}

}  // namespace
}  // namespace kr::test
