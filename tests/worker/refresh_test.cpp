// RefreshCycle (`refresh`, `run`'s refresh schedule) on a temp SQLite database and its database
// queue, ESI faked, a manual clock: each sweep runs when its cadence says and once per cadence,
// whatever calls the cycle.
#include "worker/refresh.hpp"

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/worker_env.hpp"

namespace kr::worker {
namespace {

using kr::test::kHourMs;
using nlohmann::json;
constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;
constexpr std::int64_t k20300102Ms = 1893542400000;  ///< 2030-01-02T00:00:00Z

/// Unix ms of 2030-01-02 + `day` days, at h:m:s UTC.
constexpr std::int64_t Utc(int day, int h, int m, int s = 0) {
    return k20300102Ms + day * kDayMs + h * kHourMs + m * kMinuteMs + s * 1000LL;
}

class RefreshTest : public ::testing::Test {
protected:
    RefreshTest() {
        // 2030-01-02 12:00:00 UTC: after the day's downtime.
        env.Clock().Set(Utc(0, 12, 0) * 1000);
        env.Http().SetHandler([](const http::HttpRequest& req) {
            const auto ok = [](const json& body) {
                return http::FakeHttpClient::Reply(200, body.dump(), {{"Cache-Control", "max-age=3600"}});
            };
            if (req.url.find("/characters/affiliation/") != std::string::npos) {
                json out = json::array();
                for (const auto& id : json::parse(req.body)) {
                    out.push_back({{"character_id", id}, {"corporation_id", 98000001}});
                }
                return ok(out);
            }
            if (req.url.size() >= 11 && req.url.substr(req.url.size() - 11) == "/alliances/") return ok({99000001});
            if (req.url.find("/corporations/npccorps/") != std::string::npos) return ok(json::array());
            return http::FakeHttpClient::Reply(404, "{\"error\":\"Not found\"}");
        });
        Character c;
        c.id = 90000001;
        c.name = "c";
        c.corporation_id = 98000001;
        c.birthday = "2015-03-24T11:37:00Z";
        c.gender = "male";
        c.bloodline_id = 1;
        c.race_id = 1;
        Type t;
        t.id = 587;
        t.name = "Rifter";
        t.group_id = 25;
        env.Store().ApplyEntityBatch({{c}, {EntityCacheEntry(EntityKind::kCharacter, c.id)}});
        env.Store().ApplyEntityBatch({{t}, {EntityCacheEntry(EntityKind::kType, t.id)}});
    }
    std::set<std::string> Cycle(bool first_is_due = true) {
        RefreshOptions o;
        o.first_is_due = first_is_due;
        auto r = RefreshCycle(env.Rt(), o);
        EXPECT_TRUE(r.failed.empty());
        return {r.ran.begin(), r.ran.end()};
    }
    using Ran = std::set<std::string>;

    test::WorkerEnv env;
};

TEST_F(RefreshTest, EachSweepRunsAtItsCadenceOnce) {
    EXPECT_EQ(Cycle(), (Ran{"affiliations", "alliances", "corporations", "types"}));
    EXPECT_EQ(env.Requests("/characters/affiliation/"), 1u);
    EXPECT_EQ(env.Requests("/alliances/"), 1u);
    EXPECT_EQ(env.Requests("/corporations/npccorps/"), 1u);
    EXPECT_EQ(env.TakeIds("esi_type_info_queue"), (std::vector<Id>{587}));
    EXPECT_EQ(env.TakeIds("esi_alliance_info_queue"), (std::vector<Id>{99000001}));

    // A minute later, nothing is due.
    env.Clock().Advance(kMinuteMs * 1000);
    EXPECT_EQ(Cycle(), Ran{});
    // Ten minutes after the first: the alliances and corporations whose Expires passed.
    env.Clock().Advance(9 * kMinuteMs * 1000);
    EXPECT_EQ(Cycle(), (Ran{"alliances", "corporations"}));
    // An hour after the first: the affiliations again.
    env.Clock().Advance(50 * kMinuteMs * 1000);
    EXPECT_EQ(Cycle(), (Ran{"affiliations", "alliances", "corporations"}));
    EXPECT_EQ(env.Requests("/characters/affiliation/"), 2u);
    // The types: not before the next downtime is over (11:10 UTC), then once.
    env.Clock().Set(Utc(1, 11, 5) * 1000);
    EXPECT_EQ(Cycle().count("types"), 0u);
    env.Clock().Set(Utc(1, 11, 10, 1) * 1000);
    EXPECT_EQ(Cycle().count("types"), 1u);
    EXPECT_EQ(Cycle().count("types"), 0u);
    EXPECT_EQ(env.TakeIds("esi_type_info_queue"), (std::vector<Id>{587}));
}

TEST_F(RefreshTest, RunStartsTheClockOfANewDatabaseInsteadOfRefreshing) {
    EXPECT_EQ(Cycle(/*first_is_due=*/false), Ran{});
    EXPECT_EQ(env.Requests("/characters/affiliation/"), 0u);
    env.Clock().Advance(kHourMs * 1000);
    EXPECT_EQ(Cycle(false), (Ran{"affiliations", "alliances", "corporations"}));
    env.Clock().Advance(kDayMs * 1000);
    EXPECT_EQ(Cycle(false).count("types"), 1u);
}

TEST_F(RefreshTest, TheTypesWindowOpensAfterEachDowntime) {
    RefreshOptions o;
    EXPECT_EQ(LatestTypesWindowMs(Utc(0, 12, 0), o), Utc(0, 11, 10));
    EXPECT_EQ(LatestTypesWindowMs(Utc(0, 11, 10), o), Utc(0, 11, 10));
    EXPECT_EQ(LatestTypesWindowMs(Utc(0, 11, 9, 59), o), Utc(-1, 11, 10));
    EXPECT_EQ(LatestTypesWindowMs(Utc(0, 0, 0), o), Utc(-1, 11, 10));
}

}  // namespace
}  // namespace kr::worker
