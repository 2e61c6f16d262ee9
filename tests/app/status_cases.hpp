#pragma once
// `status --json` against a known state, on either backend: messages ready, one leased by a live
// consumer, one dead letter; the shared budget's error limit and a paused route group as
// kr_rate_state holds them (written through DbBudget, as the workers do). `status` runs with
// ESI_RATE_LIMIT=0 — its own configuration must not change what it reports of the shared state.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "db/connection.hpp"
#include "esi/rate_budget.hpp"
#include "queue/queue.hpp"
#include "support/run.hpp"
#include "worker/status_beat.hpp"
#include "worker/worker_stats.hpp"

namespace kr::test {

inline void StatusJsonTellsAKnownState(const std::string& database_url, const std::string& amqp_url) {
    using nlohmann::json;
    const std::string env = "DATABASE_URL='" + database_url + "' RABBITMQ_URL='" + amqp_url +
                            "' ESI_RATE_LIMIT=0 LOG_LEVEL=warn " KR_KILLREPORT_BIN " ";
    ASSERT_EQ(RunCommand(env + "db:migrate").exit_code, 0);
    const std::string name = "esi_character_info_queue";
    const std::optional<std::string> amqp = amqp_url.empty() ? std::nullopt : std::optional(amqp_url);
    auto q = queue::OpenQueue(amqp, database_url);
    q->Declare(name);
    q->Publish(name, {{"{\"id\":1}"}, {"{\"id\":2}"}, {"{\"id\":3}"}, {"{\"id\":4}"}});
    q->Consume(name, 1);
    auto first = q->Poll(std::chrono::seconds(10), 1);
    ASSERT_EQ(first.size(), 1u);
    q->DeadLetter(first[0], "test_reason", "boom");
    auto held = q->Poll(std::chrono::seconds(10), 1);  // leased by this live consumer while status looks
    ASSERT_EQ(held.size(), 1u);
    {
        esi::DbBudget budget(database_url);
        esi::Observation limit;
        limit.remaining = 37;
        limit.reset_in_us = 50'000'000;
        budget.Observe("esi", limit);
        esi::Observation pause;
        pause.pause_for_us = 600'000'000;
        budget.Observe("esi:group:killmail", pause);
        budget.Observe("zkb", {});  // a key that is not paused
        budget.Spend("esi", 5);     // requests of two processes in the last minute
        budget.Spend("esi", 7);
        budget.Spend("zkb", 100);                                                // not ESI's
        budget.SuspectOutage("esi", "HTTP 503 from /characters/1/",              // the downtime gate
                             kr::SystemClock::Instance().NowUs() + 60'000'000);  // news newer than any "up"
        EXPECT_FALSE(budget.TakeProbeLease("zkb", 1'000'000));
        ASSERT_TRUE(budget.TakeProbeLease("esi", 1'000'000));
        budget.ProbeAnswered("esi", /*up=*/false, 300'000'000, 600'000'000);  // /status/ said down
    }

    auto r = RunCommand(env + "status --json");
    EXPECT_EQ(r.exit_code, 1) << "dead letters exist\n" << r.err;
    json s;
    ASSERT_NO_THROW(s = json::parse(r.out)) << r.out << r.err;
    EXPECT_EQ(s["queue_backend"], amqp ? "rabbitmq" : "database");
    EXPECT_EQ(s["dead_letters"], 1);
    bool found = false;
    for (const auto& e : s["queues"]) {
        if (e["queue"] != name) {
            EXPECT_EQ(e["ready"], 0) << e.dump();
            EXPECT_EQ(e["dead"], 0) << e.dump();
            continue;
        }
        found = true;
        EXPECT_EQ(e["ready"], 2) << e.dump();
        EXPECT_EQ(e["dead"], 1) << e.dump();
        EXPECT_EQ(e["retrying"], 0) << e.dump();
        EXPECT_EQ(e["consumers"], 1) << e.dump();  // RabbitMQ: the broker's count; database: live leases
        if (amqp) {
            EXPECT_TRUE(e["unacked"].is_null()) << e.dump();  // the AMQP client cannot see it
        } else {
            EXPECT_EQ(e["unacked"], 1) << e.dump();
        }
    }
    EXPECT_TRUE(found) << s.dump(2);
    EXPECT_EQ(s["esi"]["error_limit"]["remaining"], 37);
    EXPECT_EQ(s["esi"]["tokens_last_minute"], 12);
    const double resets = s["esi"]["error_limit"]["resets_in_seconds"].get<double>();
    EXPECT_GT(resets, 0);
    EXPECT_LE(resets, 50);
    ASSERT_EQ(s["paused"].size(), 1u) << s.dump(2);
    EXPECT_EQ(s["paused"][0]["budget"], "esi");
    EXPECT_EQ(s["paused"][0]["group"], "killmail");
    EXPECT_GT(s["paused"][0]["seconds"].get<double>(), 500);
    EXPECT_LE(s["paused"][0]["seconds"].get<double>(), 600);
    EXPECT_EQ(s["esi"]["availability"]["state"], "down") << s.dump(2);
    EXPECT_EQ(s["esi"]["availability"]["reason"], "HTTP 503 from /characters/1/");
    EXPECT_EQ(s["esi"]["availability"]["failed_probes"], 1);
    EXPECT_GT(s["esi"]["availability"]["next_probe_in_seconds"].get<double>(), 200);
    EXPECT_EQ(s["rows"]["characters"], 0);
    // The dead letter itself, with its reason and error (what the status page lists).
    ASSERT_EQ(s["dead"].size(), 1u) << s.dump(2);
    EXPECT_EQ(s["dead"][0]["queue"], name);
    EXPECT_EQ(s["dead"][0]["reason"], "test_reason");
    EXPECT_EQ(s["dead"][0]["last_error"], "boom");
    EXPECT_EQ(s["dead"][0]["body"], "{\"id\":1}");

    // The text says the same.
    auto text = RunCommand(env + "status");
    EXPECT_EQ(text.exit_code, 1);
    EXPECT_NE(text.out.find("PAUSED"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("killmail"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("remain 37"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("ESI DOWN since"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("1 dead letter(s)"), std::string::npos) << text.out;

    // Dead letters put back: exit 0, three ready again (the held one is still leased).
    ASSERT_EQ(RunCommand(env + "dead:retry " + name).exit_code, 0);
    auto after = RunCommand(env + "status --json");
    EXPECT_EQ(after.exit_code, 0) << after.err;
    const json a = json::parse(after.out);
    EXPECT_EQ(a["dead_letters"], 0);
    for (const auto& e : a["queues"]) {
        if (e["queue"] == name) {
            EXPECT_EQ(e["ready"], 3) << e.dump();
        }
    }
    q->Ack(held[0]);
}

}  // namespace kr::test

namespace kr::test {

/// The workers' part: a live process's rows (written by the real StatusBeat, with its own ESI
/// limit, a settled count and a last error) and a process that died without stopping (a stale
/// heartbeat): status shows both, the limit in force is the workers' and not its own, the queue's
/// rate is the live worker's last minute, and the exit code is 1 for the dead one.
inline void StatusJsonShowsTheWorkers(const std::string& database_url) {
    using nlohmann::json;
    const std::string env =
        "DATABASE_URL='" + database_url + "' RABBITMQ_URL= ESI_RATE_LIMIT=0 LOG_LEVEL=warn " KR_KILLREPORT_BIN " ";
    ASSERT_EQ(RunCommand(env + "db:migrate").exit_code, 0);
    {
        auto conn = db::Open(database_url);
        const std::int64_t long_ago = SystemClock::Instance().NowMs() - 5 * 60'000;
        conn->Exec(
            "INSERT INTO kr_worker_status (worker, host, pid, queue, started_at, heartbeat_at, settled,"
            " settled_last_minute, esi_rate_limit, esi_tokens_last_minute, last_error, last_error_at)"
            " VALUES ('worker:types', 'gone-host', 4242, 'esi_type_info_queue', $1, $1, 9, 9, 50, 0,"
            " 'esi: HTTP 502', $1)",
            {long_ago});
    }
    config::Overrides flags;
    flags.values["DATABASE_URL"] = database_url;
    flags.values["ESI_RATE_LIMIT"] = "7";
    const config::Config cfg = config::Load(flags, nullptr);
    worker::WorkerCounters counters;
    counters.processed = 30;
    counters.RecordError("esi: HTTP 503 (retry)", SystemClock::Instance().NowMs());
    worker::StatusBeat beat(cfg, std::chrono::milliseconds(50));
    auto handle = beat.Register("worker:characters", "esi_character_info_queue", counters);
    // Until the live worker's row is there (the beat's first write may precede the registration).
    RunResult r;
    for (int i = 0; i < 300; ++i) {
        r = RunCommand(env + "status --json");
        if (r.out.find("worker:characters") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(r.exit_code, 1) << "a worker is down\n" << r.err;
    json s;
    ASSERT_NO_THROW(s = json::parse(r.out)) << r.out << r.err;
    EXPECT_EQ(s["dead_letters"], 0);
    EXPECT_EQ(s["workers_down"], 1);
    ASSERT_EQ(s["workers"].size(), 2u) << s.dump(2);
    std::map<std::string, json> by;
    for (const auto& w : s["workers"]) by[w["worker"]] = w;
    EXPECT_EQ(by["worker:characters"]["state"], "running");
    EXPECT_EQ(by["worker:characters"]["settled"], 30);
    EXPECT_EQ(by["worker:characters"]["settled_last_minute"], 30);
    EXPECT_EQ(by["worker:characters"]["last_error"], "esi: HTTP 503 (retry)");
    EXPECT_EQ(by["worker:types"]["state"], "down");
    EXPECT_EQ(by["worker:types"]["host"], "gone-host");
    EXPECT_EQ(by["worker:types"]["last_error"], "esi: HTTP 502");
    EXPECT_EQ(s["esi"]["limits_in_force"], json::array({7.0}));  // the worker's, not status's own 0
    for (const auto& q : s["queues"]) {
        EXPECT_DOUBLE_EQ(q["rate_per_second"].get<double>(), q["queue"] == "esi_character_info_queue" ? 0.5 : 0.0)
            << q.dump();
    }
    auto text = RunCommand(env + "status");
    EXPECT_NE(text.out.find("1 worker(s) down"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("ESI budget in force: 7 req/s"), std::string::npos) << text.out;

    // A clean stop is recorded: the live one reads "stopped" (and is not down).
    handle = {};
    auto after = RunCommand(env + "status --json");
    const json a = json::parse(after.out);
    for (const auto& w : a["workers"]) {
        if (w["worker"] == "worker:characters") {
            EXPECT_EQ(w["state"], "stopped") << w.dump();
        }
    }
    EXPECT_EQ(a["workers_down"], 1);
}

}  // namespace kr::test
