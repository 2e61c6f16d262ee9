#pragma once
// worker:redisq / `run`'s live feed against the simulator's R2Z2 (tools/fake-esi/r2z2_feed.hpp),
// on any backend: what is stored is exactly the feed's killmails, for 0 ESI killmail requests.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "e2e/pipeline_cases.hpp"

namespace kr::test {

/// `killmails` generated (plus the samples); one of them uploaded at start: a feed never polled
/// starts at its newest sequence (sequence.json), the others come after (Upload).
inline fakeesi::Options LiveUniverse(int killmails) {
    auto o = SmallUniverse();
    o.universe.killmails = killmails;
    o.r2z2.backlog = 1;
    // Generated killmails only: the samples reference real ids the simulator does not serve (their
    // 404s would spend ESI's error limit and slow the enrichment down).
    o.load_samples = false;
    o.universe.history_characters = 0;
    o.universe.history_kills = 0;
    o.r2z2.first_sequence = 7000000;
    o.r2z2.poll_rate = 0;
    return o;
}

/// Uploads `n` more killmails to the feed (-1: every one left).
inline void Upload(Pipeline& p, int n = -1) {
    httplib::Client admin("127.0.0.1", p.Server().Port());
    const std::string body = "{\"publish\": " + std::to_string(n < 0 ? 1000000 : n) + "}";
    auto r = admin.Post("/_admin/r2z2", body, "application/json");
    ASSERT_TRUE(r && r->status == 200);
}

/// The feed's first run: it starts at the newest sequence (the one killmail uploaded), stores it
/// and stops at the head; then the rest of the universe is uploaded for the test to catch up on.
inline void StartFeed(Pipeline& p, int upload = -1) {
    p.Kr("worker:redisq --until-idle");
    Upload(p, upload);
}

/// The feed's killmails (ids, in sequence order) and the sequence after the newest.
struct FeedTruth {
    std::vector<Id> killmails;
    std::int64_t next = 0;
    json updates;
};
inline FeedTruth Feed(Pipeline& p) {
    auto t = p.Get("/_admin/truth/r2z2");
    return {t["killmails"].get<std::vector<Id>>(), t["newest"].get<std::int64_t>() + 1, t["updates"]};
}

/// Every feed killmail stored exactly once with its victim and all its attackers, nothing else,
/// and the cursor after the newest sequence.
inline void ExpectExactlyTheFeed(Pipeline& p, const FeedTruth& feed) {
    EXPECT_EQ(p.Count("SELECT count(*) FROM killmails"), static_cast<std::int64_t>(feed.killmails.size()));
    EXPECT_EQ(p.Count("SELECT count(*) FROM victims"), static_cast<std::int64_t>(feed.killmails.size()));
    std::int64_t attackers = 0;
    for (Id id : feed.killmails) {
        EXPECT_EQ(p.Count("SELECT count(*) FROM killmails WHERE killmail_id = $1", {id}), 1) << "killmail " << id;
        attackers += static_cast<std::int64_t>(p.Truth("killmail", id)["killmail"]["attackers"].size());
    }
    EXPECT_EQ(p.Count("SELECT count(*) FROM attackers"), attackers) << "an attacker row missing or written twice";
    EXPECT_EQ(p.Count("SELECT sequence FROM kr_live_cursor WHERE feed = 'r2z2'"), feed.next);
}

inline void ExpectNoKillmailRequests(Pipeline& p) {
    auto stats = p.Server().Stats();
    EXPECT_FALSE(stats["routes"].contains("killmail") && stats["routes"]["killmail"]["total"].get<int>() > 0)
        << stats["routes"].dump();
}

/// `run --until-idle` with the live feed: every killmail of the feed, its entities enriched (every
/// character they reference that ESI has), 0 ESI killmail requests; then an update and new kills.
inline void LiveKillsStoredWithoutEsiAndEnriched(Pipeline& p) {
    p.SetLive(true);
    p.Kr("run --until-idle");  // a feed never polled: its newest killmail
    EXPECT_EQ(p.Count("SELECT count(*) FROM killmails"), 1);
    Upload(p, 100);
    p.Kr("run --until-idle");  // from the stored cursor: the hundred uploaded since
    auto feed = Feed(p);
    ASSERT_GT(feed.killmails.size(), 50u);
    ExpectExactlyTheFeed(p, feed);
    ExpectNoKillmailRequests(p);
    // Enriched: every player character the killmails reference is stored, unless ESI lost it.
    std::set<Id> deleted;
    for (const auto& id : p.Get("/_admin/truth/deleted-characters")) deleted.insert(id.get<Id>());
    auto r = p.Db().Exec(
        "SELECT DISTINCT character_id FROM attackers WHERE character_id IS NOT NULL UNION "
        "SELECT DISTINCT character_id FROM victims WHERE character_id IS NOT NULL");
    std::size_t checked = 0;
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        const Id id = r.Int(i, 0);
        if (!ShouldFetch(EntityKind::kCharacter, id) || deleted.count(id)) continue;
        EXPECT_EQ(p.Count("SELECT count(*) FROM characters WHERE id = $1", {id}), 1) << "character " << id;
        ++checked;
    }
    EXPECT_GT(checked, 20u);
    const Id some = feed.killmails[feed.killmails.size() / 2];
    EXPECT_DOUBLE_EQ(p.Db().Exec("SELECT total_value FROM killmails WHERE killmail_id = $1", {some}).Double(0, 0),
                     p.Truth("zkb", some)["totalValue"].get<double>());

    // An update of the fourth sequence's killmail, then five more kills: each stored once, the
    // updated killmail's values rewritten.
    const std::size_t first = feed.killmails.size();
    httplib::Client admin("127.0.0.1", p.Server().Port());
    ASSERT_TRUE(admin.Post("/_admin/r2z2", R"({"update": 7000003})", "application/json"));
    Upload(p, 5);
    p.Kr("run --until-idle");
    feed = Feed(p);
    ASSERT_EQ(feed.killmails.size(), first + 5);
    ExpectExactlyTheFeed(p, feed);
    ASSERT_EQ(feed.updates.size(), 1u);
    const Id updated = std::stoll(feed.updates.begin().key());
    EXPECT_EQ(updated, feed.killmails[3]);
    EXPECT_DOUBLE_EQ(p.Db().Exec("SELECT total_value FROM killmails WHERE killmail_id = $1", {updated}).Double(0, 0),
                     feed.updates.begin().value().get<double>());
    ExpectNoKillmailRequests(p);
}

/// worker:redisq killed with SIGKILL ten times while it catches up, then run to the head: exactly
/// the feed's killmails, no gap, no duplicate.
inline void KillNineDuringCatchUpThenRestart(Pipeline& p) {
    StartFeed(p);
    std::mt19937 rng(20261201);
    const std::string cmd = p.Env() + "R2Z2_RATE_LIMIT=150 exec " KR_KILLREPORT_BIN " worker:redisq";
    std::int64_t before = 0;
    for (int i = 0; i < 10; ++i) {
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::execl("/bin/sh", "sh", "-c", (cmd + " >/dev/null 2>&1").c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        const std::int64_t now = p.Count("SELECT count(*) FROM killmails");
        EXPECT_GE(now, before);
        before = now;
    }
    const auto feed = Feed(p);
    EXPECT_LT(before, static_cast<std::int64_t>(feed.killmails.size())) << "the kills came during catch-up";
    p.Kr("worker:redisq --until-idle");
    ExpectExactlyTheFeed(p, feed);
    ExpectNoKillmailRequests(p);
}

/// Two worker:redisq processes on one database: one holds the feed, the other waits; together
/// they store each sequence once.
inline void TwoProcessesShareOneCursor(Pipeline& p) {
    StartFeed(p);
    const std::string cmd =
        p.Env() + "R2Z2_RATE_LIMIT=100 LOG_LEVEL=info " KR_KILLREPORT_BIN " worker:redisq --until-idle";
    auto a = std::async(std::launch::async, [&] { return RunCommand(cmd); });
    auto b = std::async(std::launch::async, [&] { return RunCommand(cmd); });
    const auto ra = a.get();
    const auto rb = b.get();
    EXPECT_EQ(ra.exit_code, 0) << ra.err;
    EXPECT_EQ(rb.exit_code, 0) << rb.err;
    const bool waited =
        ra.err.find("is held by") != std::string::npos || rb.err.find("is held by") != std::string::npos;
    EXPECT_TRUE(waited) << "one of them must have waited for the other:\n" << ra.err << "\n---\n" << rb.err;
    ExpectExactlyTheFeed(p, Feed(p));
}

/// R2Z2 polled faster than it allows (429 + Retry-After) and a 403 ban: every kill is stored, a
/// 429 is followed by the pause it asks for (at most one per second's allowance), and the ban is
/// met with one request and one log line.
inline void RateLimitsAndBanHandledWithoutHammering(Pipeline& p) {
    StartFeed(p);
    httplib::Client admin("127.0.0.1", p.Server().Port());
    ASSERT_TRUE(admin.Post("/_admin/r2z2", R"({"rate": 5})", "application/json"));  // our R2Z2_RATE_LIMIT is off
    auto r = p.Kr("worker:redisq --until-idle");
    auto feed = Feed(p);
    ExpectExactlyTheFeed(p, feed);
    auto stats = p.Server().Stats();
    const auto ok = stats["routes"]["r2z2_killmail"]["by_status"].value("200", 0);
    const auto limited = stats["r2z2_rate_limited_429"].get<int>();
    EXPECT_GT(limited, 0) << "the test must provoke 429s";
    EXPECT_LE(limited, ok / 4 + 3) << "after a 429 the client waits as told: " << stats.dump();

    // A ban: 403 with Retry-After; one request meets it, it is logged once, then the feed goes on.
    p.Server().ResetStats();
    ASSERT_TRUE(admin.Post("/_admin/r2z2", R"({"rate": 0, "ban_seconds": 3, "update": 7000001})", "application/json"));
    r = p.Kr("worker:redisq --until-idle");
    stats = p.Server().Stats();
    EXPECT_EQ(stats["r2z2_banned_403"].get<int>(), 1) << stats.dump();
    std::size_t logged = 0;
    for (auto pos = r.err.find("answered 403"); pos != std::string::npos; pos = r.err.find("answered 403", pos + 1)) {
        ++logged;
    }
    EXPECT_EQ(logged, 1u) << r.err;
    feed = Feed(p);
    ExpectExactlyTheFeed(p, feed);
    EXPECT_EQ(p.Count("SELECT count(*) FROM kr_live_cursor WHERE note IS NOT NULL"), 0) << "the ban's note is cleared";
}

}  // namespace kr::test
