#pragma once
// `status --json` against a known state, on either backend: messages ready, one leased by a live
// consumer, one dead letter; the shared budget's error limit and a paused route group as
// kr_rate_state holds them (written through DbBudget, as the workers do). `status` runs with
// ESI_RATE_LIMIT=0 — its own configuration must not change what it reports of the shared state.
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "esi/rate_budget.hpp"
#include "queue/queue.hpp"
#include "support/run.hpp"

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
    const double resets = s["esi"]["error_limit"]["resets_in_seconds"].get<double>();
    EXPECT_GT(resets, 0);
    EXPECT_LE(resets, 50);
    ASSERT_EQ(s["paused"].size(), 1u) << s.dump(2);
    EXPECT_EQ(s["paused"][0]["budget"], "esi");
    EXPECT_EQ(s["paused"][0]["group"], "killmail");
    EXPECT_GT(s["paused"][0]["seconds"].get<double>(), 500);
    EXPECT_LE(s["paused"][0]["seconds"].get<double>(), 600);
    EXPECT_EQ(s["rows"]["characters"], 0);

    // The text says the same.
    auto text = RunCommand(env + "status");
    EXPECT_EQ(text.exit_code, 1);
    EXPECT_NE(text.out.find("PAUSED"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("killmail"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("remain 37"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("1 dead letter(s)"), std::string::npos) << text.out;

    // Dead letters put back: exit 0, three ready again (the held one is still leased).
    ASSERT_EQ(RunCommand(env + "dead:retry " + name).exit_code, 0);
    auto after = RunCommand(env + "status --json");
    EXPECT_EQ(after.exit_code, 0) << after.err;
    const json a = json::parse(after.out);
    EXPECT_EQ(a["dead_letters"], 0);
    for (const auto& e : a["queues"]) {
        if (e["queue"] == name) EXPECT_EQ(e["ready"], 3) << e.dump();
    }
    q->Ack(held[0]);
}

}  // namespace kr::test
