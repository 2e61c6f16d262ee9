// scan:entities on RabbitMQ: each kind's queue is published by a pipeline of its own (a thread
// and connections each, in parallel); every missing reference still reaches its kind's queue
// exactly once, at new work's priority, and is marked pending — over several pages.
#include <cstdlib>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/entity_kind.hpp"
#include "queue/amqp_queue.hpp"
#include "queue/messages.hpp"
#include "support/store_helpers.hpp"
#include "support/temp_vhost.hpp"
#include "support/worker_env.hpp"
#include "worker/scripts.hpp"

namespace kr::worker {
namespace {

std::string AmqpUrl() {
    const char* v = std::getenv("KR_TEST_AMQP_URL");
    return v ? v : "";
}

Killmail KillOf(Id id, Id victim, Id corporation, std::optional<Id> alliance) {
    Killmail km;
    km.killmail_id = id;
    km.killmail_hash = "h" + std::to_string(id);
    km.killmail_time = "2025-01-02T03:04:05Z";
    km.solar_system_id = 30000142;
    km.victim.character_id = victim;
    km.victim.corporation_id = corporation;
    km.victim.alliance_id = alliance;
    km.victim.ship_type_id = 587;
    return km;
}

TEST(ScanOnRabbitMq, EveryKindsQueueGetsEachMissingIdOnceFromItsOwnPipeline) {
    if (AmqpUrl().empty()) {
        const char* req = std::getenv("KR_REQUIRE_INTEGRATION");
        if (req && std::string(req) == "1") FAIL() << "KR_TEST_AMQP_URL is not set";
        GTEST_SKIP() << "KR_TEST_AMQP_URL not set (start: scripts/servers.sh start amqp)";
    }
    test::TempVhost vhost(AmqpUrl());
    test::WorkerEnv env({}, [&](config::Config& cfg) { cfg.rabbitmq_url = vhost.Url(); });
    // More characters than a page (10,000): two pages on the characters' pipeline.
    constexpr int kKills = 12500;
    std::map<EntityKind, std::set<Id>> expected;
    std::vector<Killmail> kills;
    for (int i = 0; i < kKills; ++i) {
        const Id character = 90000000 + 2 * i;
        const Id corporation = 98000000 + i % 3000;
        const std::optional<Id> alliance = i % 2 ? std::optional<Id>(99000000 + i % 700) : std::nullopt;
        kills.push_back(KillOf(1000 + i, character, corporation, alliance));
        expected[EntityKind::kCharacter].insert(character);
        expected[EntityKind::kCorporation].insert(corporation);
        if (alliance) expected[EntityKind::kAlliance].insert(*alliance);
        if (kills.size() == 2500) {
            env.Store().StoreKillmails(kills);
            kills.clear();
        }
    }
    expected[EntityKind::kType] = {587};
    expected[EntityKind::kSolarSystem] = {30000142};

    const ScanReport report = ScanEntities(env.Rt(), false);

    queue::AmqpQueue q(vhost.Url());
    for (const auto& [kind, ids] : expected) {
        EXPECT_EQ(report.queued[kind], ids.size()) << KindInfo(kind).plural;
        q.Consume(KindInfo(kind).queue, 1000);
        std::multiset<Id> got;
        for (;;) {
            auto deliveries = q.Poll(std::chrono::milliseconds(500));
            if (deliveries.empty()) break;
            for (const auto& d : deliveries) {
                got.insert(queue::ParseEntityMessage(d.body).entity_id);
                EXPECT_EQ(d.priority, queue::kNewWorkPriority);
                q.Ack(d);
            }
        }
        q.Cancel();
        EXPECT_EQ(got.size(), ids.size()) << KindInfo(kind).queue << ": each id once";
        EXPECT_EQ(std::set<Id>(got.begin(), got.end()), ids) << KindInfo(kind).queue;
        auto pending = env.Conn().Exec("SELECT count(*) FROM kr_pending_entities WHERE kind = $1",
                                       {std::string(KindInfo(kind).name)});
        EXPECT_EQ(pending.Int(0, 0), static_cast<std::int64_t>(ids.size())) << KindInfo(kind).name << " marked";
    }
    // A second scan finds them pending: nothing queued again.
    EXPECT_EQ(ScanEntities(env.Rt(), false).Total(), 0u);
}

}  // namespace
}  // namespace kr::worker
