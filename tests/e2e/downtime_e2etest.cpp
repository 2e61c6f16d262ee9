// End to end: ESI's downtime (11:00 UTC daily, or an unplanned one) against tools/fake-esi's
// downtime mode (503 on every route, /status/ too, each counted against the error limit). Three
// worker processes of the scaled-out layout (PostgreSQL + RabbitMQ, one shared budget) meet it:
// every one of them pauses through the shared state and logs the pause once, none asks ESI while
// paused, /status/ tells them when ESI is back, and every queued entity is stored afterwards —
// at a bounded number of 503s, no 420, no dead letter.
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/model.hpp"
#include "db/connection.hpp"
#include "server.hpp"
#include "support/run.hpp"
#include "support/temp_vhost.hpp"
#include "support/test_env.hpp"

namespace kr::test {
namespace {

using nlohmann::json;

std::size_t Occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

TEST(DowntimeRabbitPg, EveryProcessPausesOnceAndResumesWhenStatusAnswers) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    TempSqliteFile work;  // the working directory (the processes' logs)
    fakeesi::Options o;
    o.quiet = true;
    o.threads = 32;
    o.universe.killmails = 10;
    fakeesi::Server server(o);
    ASSERT_TRUE(server.Start());
    httplib::Client client("127.0.0.1", server.Port());
    const auto get = [&](const std::string& path) {
        auto r = client.Get(path.c_str());
        return r && r->status == 200 ? json::parse(r->body) : json();
    };
    const auto post = [&](const std::string& path) {
        auto r = client.Post(path.c_str(), "", "application/json");
        EXPECT_TRUE(r && r->status == 200) << path;
    };
    const std::string env = "cd '" + work.Dir() + "' && ESI_BASE_URL='" + server.EsiBaseUrl() +
                            "' ESI_RATE_LIMIT=50 ZKILLBOARD_RATE_LIMIT=0 KILLREPORT_LIVE=0 KILLREPORT_REFRESH=0"
                            " KILLREPORT_UNIVERSE_CHECK=0 KILLREPORT_METRICS_ADDR= LOG_LEVEL=info DATABASE_URL='" +
                            db.Url() + "' RABBITMQ_URL='" + vhost.Url() + "' ";
    const auto kr = [&](const std::string& args) {
        auto r = RunCommand(env + "timeout 300 " KR_KILLREPORT_BIN " " + args);
        EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
        return r;
    };

    // Queued work for three workers: given ids (no ESI request to queue them).
    const auto ids_of = [&](const std::string& what, std::size_t n) {
        std::string ids;
        auto all = get("/_admin/truth/" + what);
        EXPECT_GE(all.size(), n) << what;
        for (std::size_t i = 0; i < n && i < all.size(); ++i) ids += " " + std::to_string(all[i].get<Id>());
        return ids;
    };
    const std::int64_t regions = 4;  // every region of the simulator's small map
    kr("db:migrate");
    kr("queue:regions" + ids_of("regions", regions));
    kr("queue:constellations" + ids_of("constellations", 10));
    kr("queue:solar-systems" + ids_of("solar-systems", 30));

    // ESI goes down (until told otherwise); the workers start.
    server.ResetStats();
    post("/_admin/downtime?seconds=3600");
    const std::vector<std::string> workers = {"worker:regions", "worker:constellations", "worker:solar-systems"};
    // (every log path before any thread starts: the threads read `logs` while this one would grow it)
    std::vector<std::string> logs;
    for (std::size_t i = 0; i < workers.size(); ++i)
        logs.push_back(work.Dir() + "/worker" + std::to_string(i) + ".log");
    std::vector<std::thread> procs;
    std::vector<int> exits(workers.size(), -1);
    for (std::size_t i = 0; i < workers.size(); ++i) {
        procs.emplace_back([&, i] {
            exits[i] = RunCommand(env + "timeout 300 " KR_KILLREPORT_BIN " " + workers[i] +
                                  " --until-idle --concurrency 4 2>'" + logs[i] + "'")
                           .exit_code;
        });
    }
    // Every process meets the outage and pauses (its warning, once).
    const auto paused = [&] {
        for (const auto& l : logs) {
            if (Occurrences(Slurp(l), "ESI is unavailable") == 0) return false;
        }
        return true;
    };
    for (int i = 0; i < 1200 && !paused(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(paused()) << Slurp(logs[0]) << Slurp(logs[1]) << Slurp(logs[2]);
    // While paused nobody asks ESI (the pause lasts 15 s; looked at for 2, once the requests that
    // were in flight when the last process paused have reached the simulator).
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto asked = get("/_admin/stats")["esi_requests"].get<std::int64_t>();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    EXPECT_EQ(get("/_admin/stats")["esi_requests"].get<std::int64_t>(), asked);

    // ESI is back: /status/ says so and the work resumes.
    post("/_admin/downtime?seconds=0");
    for (auto& p : procs) p.join();
    for (std::size_t i = 0; i < workers.size(); ++i) {
        const std::string log = Slurp(logs[i]);
        EXPECT_EQ(exits[i], 0) << workers[i] << "\n" << log;
        EXPECT_EQ(Occurrences(log, "ESI is unavailable"), 1u) << workers[i] << "\n" << log;
        EXPECT_EQ(Occurrences(log, "ESI answers again"), 1u) << workers[i] << "\n" << log;
    }
    auto conn = db::Open(db.Url());
    EXPECT_GE(conn->Exec("SELECT count(*) FROM regions").Int(0, 0), regions);
    EXPECT_GE(conn->Exec("SELECT count(*) FROM constellations").Int(0, 0), 10);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM solar_systems").Int(0, 0), 30);
    const auto stats = get("/_admin/stats");
    EXPECT_EQ(stats["error_limited_420"].get<std::int64_t>(), 0) << stats.dump();
    // What the outage cost, at most: per process, the answers before it is sure (10 in a row, or
    // 1 once another process said so through the shared state) and what it had in flight then
    // (4); then one /status/ probe per process per pause (15 s) while down.
    EXPECT_LE(stats["downtime_503"].get<std::int64_t>(), 3 * (10 + 4) + 3 * 3) << stats.dump();
    EXPECT_GE(stats["error_limit"]["remain"].get<std::int64_t>(), 100 - (3 * (10 + 4) + 3 * 3)) << stats.dump();
    EXPECT_GE(stats["routes"]["status"]["total"].get<std::int64_t>(), 3) << stats.dump();
    EXPECT_EQ(kr("dead:list").out.find("dead letter(s)"), std::string::npos);
    server.Stop();
}

}  // namespace
}  // namespace kr::test
