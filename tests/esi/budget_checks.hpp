#pragma once
// Checks shared by the SQLite (unit) and PostgreSQL budget tests.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "esi/rate_budget.hpp"

namespace kr::esi::testing {

inline void MigrateDb(const std::string& url) {
    auto c = db::Open(url);
    db::Migrate(*c);
}

inline void ResetKey(const std::string& url, const std::string& key) {
    auto c = db::Open(url);
    c->Exec("DELETE FROM kr_rate_state WHERE key = $1", {key});
}

/// Removes the permits and demand marks of the keys starting with `prefix` (a test's own).
inline void RemovePermits(const std::string& url, const std::string& prefix) {
    auto c = db::Open(url);
    c->Exec("DELETE FROM kr_rate_permits WHERE key LIKE $1", {prefix + "%"});
    c->Exec("DELETE FROM kr_rate_demand WHERE key LIKE $1", {prefix + "%"});
}

/// Runs `child` in `procs` forked processes; each reports numbers through `emit` (a pipe). Returns
/// every number reported, and expects each child to exit 0 (a child that throws exits 1).
inline std::vector<std::int64_t> FromProcesses(
    int procs, const std::function<void(const std::function<void(std::int64_t)>&)>& child) {
    std::vector<std::pair<pid_t, FILE*>> kids;
    for (int p = 0; p < procs; ++p) {
        int fds[2];
        if (pipe(fds) != 0) ADD_FAILURE() << "pipe";
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            FILE* out = fdopen(fds[1], "w");
            int code = 0;
            try {
                child([out](std::int64_t v) { std::fprintf(out, "%lld\n", static_cast<long long>(v)); });
            } catch (const std::exception& e) {
                std::fprintf(stderr, "child: %s\n", e.what());
                code = 1;
            }
            std::fclose(out);
            _exit(code);
        }
        close(fds[1]);
        kids.emplace_back(pid, fdopen(fds[0], "r"));
    }
    std::vector<std::int64_t> all;
    for (auto& [pid, in] : kids) {
        long long v = 0;
        while (std::fscanf(in, "%lld", &v) == 1) all.push_back(v);
        std::fclose(in);
        int status = 0;
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return all;
}

/// `procs` processes (fork) each reserve `per_proc` slots (blocks of `block`) from their own
/// DbBudget on `url`; returns all slot times (local clock, unix µs).
inline std::vector<std::int64_t> ReserveFromProcesses(const std::string& url, const std::string& key, int procs,
                                                      int per_proc, int block, std::int64_t interval_us) {
    auto all = FromProcesses(procs, [&](const auto& emit) {
        DbBudget b(url);
        for (int got = 0; got < per_proc;) {
            SlotGrant g = b.Reserve(key, interval_us, std::min(block, per_proc - got));
            for (int i = 0; i < g.count; ++i) emit(g.first_us + static_cast<std::int64_t>(i) * g.interval_us);
            got += g.count;
        }
    });
    std::sort(all.begin(), all.end());
    return all;
}

inline void ExpectSpaced(const std::vector<std::int64_t>& sorted, std::int64_t interval_us, std::int64_t tolerance_us) {
    for (std::size_t i = 1; i < sorted.size(); ++i) {
        ASSERT_GE(sorted[i] - sorted[i - 1], interval_us - tolerance_us) << "slots " << i - 1 << " and " << i;
    }
}

/// The downtime gate's state (both implementations must agree): evidence makes ESI suspect once,
/// the lease is one prober's until it answers, a failed probe backs off (first, then later), an
/// answer that ESI is up clears it, and evidence older than that answer is none.
inline void CheckOutageCycle(RateBudget& b, const std::string& key, Clock& clock) {
    constexpr std::int64_t kS = 1'000'000;
    EXPECT_EQ(b.LoadOutage(key).state, Availability::kUp);
    const std::int64_t t0 = clock.NowUs();
    OutageState o = b.SuspectOutage(key, "HTTP 503 from GET /x/", t0);
    EXPECT_EQ(o.state, Availability::kSuspect);
    EXPECT_TRUE(o.changed);
    EXPECT_EQ(o.reason, "HTTP 503 from GET /x/");
    o = b.SuspectOutage(key, "HTTP 502 from GET /y/", t0);
    EXPECT_FALSE(o.changed);  // suspect already: the first reason stays
    EXPECT_EQ(o.reason, "HTTP 503 from GET /x/");
    EXPECT_TRUE(b.TakeProbeLease(key, 30 * kS));
    EXPECT_FALSE(b.TakeProbeLease(key, 30 * kS));  // one prober at a time
    o = b.ProbeAnswered(key, false, 10 * kS, 60 * kS);
    EXPECT_EQ(o.state, Availability::kDown);
    EXPECT_EQ(o.failed_probes, 1);
    EXPECT_EQ(o.lease_until_us, 0);
    EXPECT_NEAR(static_cast<double>(o.next_probe_us - clock.NowUs()), 10.0 * kS, 2.0 * kS);
    EXPECT_FALSE(b.TakeProbeLease(key, 30 * kS));       // not before the backoff
    o = b.ProbeAnswered(key, false, 10 * kS, 60 * kS);  // doubled
    EXPECT_NEAR(static_cast<double>(o.next_probe_us - clock.NowUs()), 20.0 * kS, 2.0 * kS);
    o = b.ProbeAnswered(key, false, 10 * kS, 60 * kS);
    o = b.ProbeAnswered(key, false, 10 * kS, 60 * kS);  // 80 s: capped
    EXPECT_EQ(o.failed_probes, 4);
    EXPECT_NEAR(static_cast<double>(o.next_probe_us - clock.NowUs()), 60.0 * kS, 2.0 * kS);
    o = b.ProbeAnswered(key, true, 10 * kS, 60 * kS);
    EXPECT_EQ(o.state, Availability::kUp);
    EXPECT_EQ(o.failed_probes, 0);
    EXPECT_GT(o.up_at_us, 0);
    EXPECT_FALSE(b.TakeProbeLease(key, 30 * kS));  // up: nothing to probe
    // An answer to a request sent before /status/ said "up" is no evidence.
    o = b.SuspectOutage(key, "HTTP 503 from GET /z/", o.up_at_us - kS);
    EXPECT_EQ(o.state, Availability::kUp);
    EXPECT_FALSE(o.changed);
    EXPECT_EQ(b.LoadOutage(key).state, Availability::kUp);
}

/// `procs` processes race for the prober's lease of a suspect key: exactly one gets it.
inline void CheckOneProberTakesTheLease(const std::string& url, const std::string& key, int procs) {
    {
        auto c = db::Open(url);
        c->Exec("DELETE FROM kr_rate_outage WHERE key = $1", {key});
    }
    DbBudget parent(url);
    ASSERT_TRUE(parent.SuspectOutage(key, "test", parent.LoadOutage(key).up_at_us + 1).changed);
    auto got = FromProcesses(procs, [&](const auto& emit) {
        DbBudget b(url);
        int n = 0;
        for (int i = 0; i < 20; ++i) n += b.TakeProbeLease(key, 60'000'000) ? 1 : 0;
        emit(n);
    });
    std::int64_t total = 0;
    for (auto n : got) total += n;
    EXPECT_EQ(got.size(), static_cast<std::size_t>(procs));
    EXPECT_EQ(total, 1);
}

/// Merge rules of Observe() (both implementations must agree).
inline void CheckObserveMerge(RateBudget& b, const std::string& key) {
    constexpr std::int64_t kS = 1'000'000;
    Observation o;
    o.remaining = 80;
    o.reset_in_us = 40 * kS;
    RateState s = b.Observe(key, o);
    EXPECT_EQ(s.remaining, 80);
    o.remaining = 90;  // a stale, higher report from the same window does not raise it
    s = b.Observe(key, o);
    EXPECT_EQ(s.remaining, 80);
    o.remaining = 70;
    s = b.Observe(key, o);
    EXPECT_EQ(s.remaining, 70);
    o.remaining = 100;  // a new window (reset much later) replaces it
    o.reset_in_us = 100 * kS;
    s = b.Observe(key, o);
    EXPECT_EQ(s.remaining, 100);
    Observation p;
    p.pause_for_us = 5 * kS;
    s = b.Observe(key, p);
    EXPECT_EQ(s.remaining, 100);  // a pause-only observation keeps the level
    EXPECT_GT(s.paused_until_us, 0);
    Observation shorter;
    shorter.pause_for_us = 1 * kS;
    RateState s2 = b.Observe(key, shorter);
    EXPECT_EQ(s2.paused_until_us / 1000, s.paused_until_us / 1000) << "a pause never shrinks";
    // Reservations start after the pause.
    SlotGrant g = b.Reserve(key, 10'000, 3);
    EXPECT_GE(g.first_us, s.paused_until_us - 2000);
    Observation bucket;
    bucket.remaining = 3000;
    bucket.limit = 3600;
    bucket.window_us = 900 * kS;
    RateState k = b.Observe(key + ":bucket", bucket);
    EXPECT_EQ(k.limit, 3600);
    EXPECT_EQ(k.window_us, 900 * kS);
    bucket.remaining = 3100;  // floating bucket: last report wins
    bucket.limit = 0;
    k = b.Observe(key + ":bucket", bucket);
    EXPECT_EQ(k.remaining, 3100);
    EXPECT_EQ(k.limit, 3600);
    EXPECT_EQ(b.Load(key + ":bucket").remaining, 3100);
    EXPECT_FALSE(b.Load(key + ":none").remaining);
}

/// The refresh share (PermitShare) on any implementation: 10 permits, 3 of them the share. With
/// new work waiting (`prefix`:busy marked) refresh requests hold at most the share's permits and
/// new work takes the others first; with none (`prefix`:idle never marked) refresh takes every
/// spare permit; new work takes the share's permits too when nothing else is free. No clock moves,
/// so it runs on PostgreSQL's clock as well; `clock` is the budget's (caller's) clock.
inline void CheckRefreshShare(RateBudget& b, const std::string& prefix, const kr::Clock& clock) {
    constexpr std::int64_t kHold = 30'000'000;
    const std::string key = prefix + ":window";
    auto share = [&](bool refresh, const std::string& demand) {
        return PermitShare{true, refresh, 3, prefix + demand};
    };
    b.MarkDemand(prefix + ":busy", 60'000'000);
    EXPECT_GE(b.DemandUntil(prefix + ":busy"), clock.NowUs() + 59'000'000);
    EXPECT_EQ(b.DemandUntil(prefix + ":idle"), 0);
    // New work waits: refresh gets the share's permits and no more.
    std::vector<std::int64_t> refresh;
    for (int i = 0; i < 3; ++i) {
        auto g = b.TakePermit(key, 10, kHold, share(true, ":busy"));
        ASSERT_TRUE(g.permit) << i;
        EXPECT_TRUE(g.limited);
        refresh.push_back(*g.permit);
    }
    std::sort(refresh.begin(), refresh.end());
    EXPECT_EQ(refresh, (std::vector<std::int64_t>{0, 1, 2}));
    auto held = b.TakePermit(key, 10, kHold, share(true, ":busy"));
    EXPECT_FALSE(held.permit) << "a fourth refresh permit while new work waits";
    EXPECT_TRUE(held.limited);
    EXPECT_GT(held.retry_at_us, clock.NowUs() + 20'000'000);  // when a share permit frees (30 s)
    // New work: every other permit.
    std::vector<std::int64_t> fresh;
    for (int i = 0; i < 7; ++i) {
        auto g = b.TakePermit(key, 10, kHold, share(false, ":busy"));
        ASSERT_TRUE(g.permit) << i;
        EXPECT_FALSE(g.limited);
        EXPECT_GE(*g.permit, 3) << "new work takes the share's permits last";
        fresh.push_back(*g.permit);
    }
    EXPECT_FALSE(b.TakePermit(key, 10, kHold, share(false, ":busy")).permit);
    // No new work (never marked): refresh takes every spare permit.
    for (auto p : fresh) b.ReleasePermit(key, p, 0);
    for (int i = 0; i < 7; ++i) {
        auto g = b.TakePermit(key, 10, kHold, share(true, ":idle"));
        ASSERT_TRUE(g.permit) << i;
        EXPECT_FALSE(g.limited);
        EXPECT_GE(*g.permit, 3);
    }
    EXPECT_FALSE(b.TakePermit(key, 10, kHold, share(true, ":idle")).permit);
    // New work takes the share's permits when they are the only free ones.
    for (std::int64_t p = 0; p < 10; ++p) b.ReleasePermit(key, p, 0);
    std::vector<std::int64_t> all;
    for (int i = 0; i < 10; ++i) {
        auto g = b.TakePermit(key, 10, kHold, share(false, ":busy"));
        ASSERT_TRUE(g.permit) << i;
        all.push_back(*g.permit);
    }
    EXPECT_GE(*std::min_element(all.begin(), all.begin() + 7), 3) << "the share's permits last";
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

/// `procs` processes (fork) each try `tries` times to take a refresh permit of `prefix`:window
/// (10 permits, a share of 3) while `prefix`:busy says new work waits; returns how many they took.
inline int TakeRefreshPermitsFromProcesses(const std::string& url, const std::string& prefix, int procs, int tries) {
    {
        DbBudget b(url);
        b.MarkDemand(prefix + ":busy", 60'000'000);
    }
    const auto permits = FromProcesses(procs, [&](const auto& emit) {
        DbBudget b(url);
        for (int i = 0; i < tries; ++i) {
            auto g = b.TakePermit(prefix + ":window", 10, 30'000'000, PermitShare{true, true, 3, prefix + ":busy"});
            if (g.permit) emit(*g.permit);
        }
    });
    for (auto v : permits) EXPECT_LT(v, 3) << "a refresh permit outside the share";
    return static_cast<int>(permits.size());
}

}  // namespace kr::esi::testing
