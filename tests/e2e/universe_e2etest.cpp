// End to end: the universe (regions, constellations, solar systems) from tools/fake-esi into the
// database by `db:migrate` + `run` alone — on the embedded default (no DATABASE_URL: the SQLite
// file in the working directory) and on PostgreSQL + RabbitMQ. The stored rows must be the
// simulator's truth; a re-run costs 304s; a patch of the map (a system renamed, a constellation
// moved, a system added — a new ESI server version) arrives by itself. Killmails' solar systems
// come in with the killmails, parents included.
#include <httplib.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

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

class UniverseE2e {
public:
    /// database_url empty: the embedded default (DATABASE_URL unset, the SQLite file in a temp
    /// working directory).
    UniverseE2e(std::string database_url, std::string amqp_url, int universe_check_seconds)
        : database_url_(std::move(database_url)), amqp_url_(std::move(amqp_url)) {
        fakeesi::Options o;
        o.quiet = true;
        o.threads = 64;
        o.cache_seconds = 2;  // ESI's daily expiry, in seconds
        o.universe.alliances = 4;
        o.universe.corporations = 20;
        o.universe.characters = 120;
        o.universe.types = 60;
        o.universe.killmails = 300;
        o.universe.history_characters = 1;
        o.universe.history_kills = 80;
        o.zkb_rate = 0;
        server_ = std::make_unique<fakeesi::Server>(o);
        if (!server_->Start()) throw std::runtime_error("fake-esi did not start");
        client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->Port());
        env_ = "cd '" + work_.Dir() + "' && ESI_BASE_URL='" + server_->EsiBaseUrl() + "' ZKILLBOARD_BASE_URL='" +
               server_->ZkbBaseUrl() +
               "' ESI_RATE_LIMIT=0 ZKILLBOARD_RATE_LIMIT=0 LOG_LEVEL=warn KILLREPORT_LIVE=0 KILLREPORT_METRICS_ADDR=" +
               " KILLREPORT_UNIVERSE_CHECK=" + std::to_string(universe_check_seconds) + " DATABASE_URL='" +
               database_url_ + "' RABBITMQ_URL='" + amqp_url_ + "' ";
    }
    ~UniverseE2e() { server_->Stop(); }

    void Kr(const std::string& args) {
        auto r = RunCommand(env_ + "timeout 240 " KR_KILLREPORT_BIN " " + args);
        EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    }
    json Get(const std::string& path) {
        auto r = client_->Get(path.c_str());
        if (!r || r->status != 200) return json();
        return json::parse(r->body);
    }
    json Truth(const std::string& what, Id id) { return Get("/_admin/truth/" + what + "/" + std::to_string(id)); }
    json Post(const std::string& path) {
        auto r = client_->Post(path.c_str(), "", "application/json");
        EXPECT_TRUE(r && r->status == 200) << path;
        return r ? json::parse(r->body) : json();
    }
    fakeesi::Server& Server() { return *server_; }
    db::Connection& Db() {
        if (!db_) db_ = db::Open(database_url_.empty() ? "sqlite://" + work_.Dir() + "/killreport.db" : database_url_);
        return *db_;
    }
    std::int64_t Count(const std::string& sql, const std::vector<db::Param>& params = {}) {
        return Db().Exec(sql, params).Int(0, 0);
    }
    /// Requests per status of one fake-esi route since the last stats reset ("system", "regions", …).
    std::map<std::string, std::int64_t> Route(const std::string& name) {
        std::map<std::string, std::int64_t> out;
        auto stats = server_->Stats();
        if (!stats["routes"].contains(name)) return out;
        for (const auto& [status, n] : stats["routes"][name]["by_status"].items()) out[status] = n.get<std::int64_t>();
        return out;
    }
    /// Sleeps past every Expires fake-esi gave so far (cache_seconds = 2).
    static void PastExpires() { std::this_thread::sleep_for(std::chrono::milliseconds(3100)); }

    /// Every region, constellation and system of the simulator, stored with every column as ESI
    /// serves it (absent = NULL), and nothing else.
    void StoredUniverseIsTheTruth() {
        auto regions = Get("/_admin/truth/regions");
        auto constellations = Get("/_admin/truth/constellations");
        auto systems = Get("/_admin/truth/solar-systems");
        ASSERT_FALSE(systems.empty());
        EXPECT_EQ(Count("SELECT count(*) FROM regions"), static_cast<std::int64_t>(regions.size()));
        EXPECT_EQ(Count("SELECT count(*) FROM constellations"), static_cast<std::int64_t>(constellations.size()));
        EXPECT_EQ(Count("SELECT count(*) FROM solar_systems"), static_cast<std::int64_t>(systems.size()));
        for (const auto& id : regions) {
            auto t = Truth("region", id.get<Id>());
            auto r = Db().Exec("SELECT name, description FROM regions WHERE region_id = $1", {id.get<Id>()});
            ASSERT_EQ(r.Rows(), 1u) << "region " << id;
            EXPECT_EQ(r.Text(0, 0), t["name"].get<std::string>());
            EXPECT_EQ(r.OptText(0, 1),
                      t.contains("description") ? std::optional(t["description"].get<std::string>()) : std::nullopt);
        }
        for (const auto& id : constellations) {
            auto t = Truth("constellation", id.get<Id>());
            auto r = Db().Exec(
                "SELECT name, region_id, position_x, position_y, position_z FROM constellations WHERE "
                "constellation_id = $1",
                {id.get<Id>()});
            ASSERT_EQ(r.Rows(), 1u) << "constellation " << id;
            EXPECT_EQ(r.Text(0, 0), t["name"].get<std::string>());
            EXPECT_EQ(r.Int(0, 1), t["region_id"].get<Id>()) << "constellation " << id;
            EXPECT_DOUBLE_EQ(r.Double(0, 2), t["position"]["x"].get<double>());
            EXPECT_DOUBLE_EQ(r.Double(0, 3), t["position"]["y"].get<double>());
            EXPECT_DOUBLE_EQ(r.Double(0, 4), t["position"]["z"].get<double>());
        }
        for (const auto& id : systems) {
            auto t = Truth("solar-system", id.get<Id>());
            auto r = Db().Exec(
                "SELECT name, constellation_id, security_status, security_class, star_id, position_x, position_y, "
                "position_z FROM solar_systems WHERE system_id = $1",
                {id.get<Id>()});
            ASSERT_EQ(r.Rows(), 1u) << "system " << id;
            EXPECT_EQ(r.Text(0, 0), t["name"].get<std::string>()) << "system " << id;
            EXPECT_EQ(r.Int(0, 1), t["constellation_id"].get<Id>());
            EXPECT_DOUBLE_EQ(r.Double(0, 2), t["security_status"].get<double>());
            EXPECT_EQ(r.OptText(0, 3), t.contains("security_class")
                                           ? std::optional(t["security_class"].get<std::string>())
                                           : std::nullopt);
            EXPECT_EQ(r.OptInt(0, 4), t.contains("star_id") ? std::optional(t["star_id"].get<Id>()) : std::nullopt);
            EXPECT_DOUBLE_EQ(r.Double(0, 5), t["position"]["x"].get<double>());
            EXPECT_DOUBLE_EQ(r.Double(0, 7), t["position"]["z"].get<double>());
        }
    }

private:
    TempSqliteFile work_;  ///< the working directory (and the embedded database)
    std::string database_url_, amqp_url_;
    std::unique_ptr<fakeesi::Server> server_;
    std::unique_ptr<httplib::Client> client_;
    std::unique_ptr<db::Connection> db_;
    std::string env_;
};

std::int64_t Total(const std::map<std::string, std::int64_t>& by_status) {
    std::int64_t n = 0;
    for (const auto& [s, c] : by_status) n += c;
    return n;
}

void SweepReRunAndPatch(UniverseE2e& u) {
    const auto n_regions = static_cast<std::int64_t>(u.Get("/_admin/truth/regions").size());
    const auto n_constellations = static_cast<std::int64_t>(u.Get("/_admin/truth/constellations").size());
    const auto n_systems = static_cast<std::int64_t>(u.Get("/_admin/truth/solar-systems").size());

    // 1. A fresh database: db:migrate + run bring the whole universe in, each id asked once.
    u.Kr("db:migrate");
    u.Kr("run --until-idle");
    u.StoredUniverseIsTheTruth();
    EXPECT_EQ(u.Route("system"), (std::map<std::string, std::int64_t>{{"200", n_systems}}));
    EXPECT_EQ(u.Route("constellation"), (std::map<std::string, std::int64_t>{{"200", n_constellations}}));
    EXPECT_EQ(u.Route("region"), (std::map<std::string, std::int64_t>{{"200", n_regions}}));
    for (const char* list : {"regions", "constellations", "systems", "status"}) EXPECT_EQ(Total(u.Route(list)), 1);
    EXPECT_EQ(u.Server().Stats()["repeated_before_expires"].get<std::int64_t>(), 0);
    EXPECT_EQ(u.Count("SELECT count(*) FROM kr_list_sweeps WHERE swept_at IS NOT NULL"), 3);

    // 2. run again, once ESI's cache turned over: the lists are asked with their ETags (304) and
    //    nothing is swept — not a single per-id request.
    UniverseE2e::PastExpires();
    u.Server().ResetStats();
    u.Kr("run --until-idle");
    for (const char* list : {"regions", "constellations", "systems"}) {
        EXPECT_EQ(u.Route(list), (std::map<std::string, std::int64_t>{{"304", 1}})) << list;
    }
    EXPECT_EQ(Total(u.Route("system")) + Total(u.Route("constellation")) + Total(u.Route("region")), 0);

    //    The original's scripts re-run by hand: every id revalidated, every answer a 304.
    UniverseE2e::PastExpires();
    u.Server().ResetStats();
    const auto scripts_start = std::chrono::steady_clock::now();
    u.Kr("queue:regions");
    u.Kr("queue:constellations");
    u.Kr("queue:solar-systems");
    u.Kr("run --until-idle");
    // /status/'s answer is kept until it expires (cache_seconds = 2 here): once for the three
    // scripts, once more per expiry a slow machine (a sanitizer build) lets pass meanwhile.
    const auto status_expiries =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - scripts_start).count() / 2;
    EXPECT_EQ(u.Route("system"), (std::map<std::string, std::int64_t>{{"304", n_systems}}));
    EXPECT_EQ(u.Route("constellation"), (std::map<std::string, std::int64_t>{{"304", n_constellations}}));
    EXPECT_EQ(u.Route("region"), (std::map<std::string, std::int64_t>{{"304", n_regions}}));
    EXPECT_LE(Total(u.Route("status")), 1 + status_expiries);
    EXPECT_EQ(u.Server().Stats()["repeated_before_expires"].get<std::int64_t>(), 0);
    u.StoredUniverseIsTheTruth();

    // 3. A patch: a system renamed, a constellation moved to another region, a system added.
    const Id renamed = u.Get("/_admin/truth/solar-systems")[2].get<Id>();
    const Id moved = u.Get("/_admin/truth/constellations")[1].get<Id>();
    const Id old_region = u.Truth("constellation", moved)["region_id"].get<Id>();
    const Id new_region = u.Get("/_admin/truth/regions")[0].get<Id>() == old_region
                              ? u.Get("/_admin/truth/regions")[1].get<Id>()
                              : u.Get("/_admin/truth/regions")[0].get<Id>();
    const Id grown = u.Get("/_admin/truth/constellations")[0].get<Id>();
    u.Post("/_admin/mutate/solar-system/" + std::to_string(renamed) + "/rename?name=Patched%20Prime");
    u.Post("/_admin/mutate/constellation/" + std::to_string(moved) + "/move/" + std::to_string(new_region));
    const Id added = u.Post("/_admin/mutate/constellation/" + std::to_string(grown) + "/add-system")["system_id"];
    UniverseE2e::PastExpires();
    u.Server().ResetStats();
    u.Kr("run --until-idle");  // by itself: the server version changed, the system list too

    EXPECT_EQ(u.Db().Exec("SELECT name FROM solar_systems WHERE system_id = $1", {renamed}).Text(0, 0),
              "Patched Prime");
    EXPECT_EQ(u.Db().Exec("SELECT region_id FROM constellations WHERE constellation_id = $1", {moved}).Int(0, 0),
              new_region);
    EXPECT_EQ(u.Db().Exec("SELECT constellation_id FROM solar_systems WHERE system_id = $1", {added}).Int(0, 0), grown);
    u.StoredUniverseIsTheTruth();
    // What changed came with a 200, the rest with a 304: the renamed and the added system; the
    // moved constellation and the one that grew; the two regions whose constellation lists changed.
    EXPECT_EQ(u.Route("system"), (std::map<std::string, std::int64_t>{{"200", 2}, {"304", n_systems - 1}}));
    EXPECT_EQ(u.Route("constellation"),
              (std::map<std::string, std::int64_t>{{"200", moved == grown ? 1 : 2},
                                                   {"304", n_constellations - (moved == grown ? 1 : 2)}}));
    EXPECT_EQ(u.Route("region"), (std::map<std::string, std::int64_t>{{"200", 2}, {"304", n_regions - 2}}));
    EXPECT_EQ(u.Route("systems"), (std::map<std::string, std::int64_t>{{"200", 1}}));
    EXPECT_EQ(u.Server().Stats()["repeated_before_expires"].get<std::int64_t>(), 0);
}

/// With the sync off, a killmail's solar system comes in with the killmail (worker:zkillboard's
/// enrichment), its constellation and region with it.
void KillmailSystemsComeWithTheirParents(UniverseE2e& u) {
    auto history = u.Get("/_admin/truth/history-characters");
    ASSERT_FALSE(history.empty());
    u.Kr("db:migrate");
    u.Kr("queue:zkillboard " + std::to_string(history[0].get<Id>()));
    u.Kr("run --until-idle");
    std::set<Id> systems;
    for (const auto& km : u.Get("/_admin/truth/characters/" + std::to_string(history[0].get<Id>()) + "/killmails")) {
        systems.insert(u.Truth("killmail", km.get<Id>())["killmail"]["solar_system_id"].get<Id>());
    }
    ASSERT_GT(systems.size(), 3u);
    for (Id s : systems) {
        if (u.Truth("solar-system", s).is_null()) continue;  // a sample killmail's real system
        EXPECT_EQ(u.Count("SELECT count(*) FROM solar_systems s JOIN constellations c USING (constellation_id) "
                          "JOIN regions r ON r.region_id = c.region_id WHERE s.system_id = $1",
                          {s}),
                  1)
            << s;
    }
    EXPECT_EQ(u.Count("SELECT count(*) FROM kr_list_sweeps"), 0);  // no sweep: the sync is off
    EXPECT_EQ(Total(u.Route("systems")) + Total(u.Route("status")), 0);
    auto stats = u.Server().Stats();
    EXPECT_EQ(stats["repeated_before_expires"].get<std::int64_t>(), 0) << stats["most_requested_url"];
    EXPECT_EQ(Total(u.Route("system")), static_cast<std::int64_t>(u.Count("SELECT count(*) FROM solar_systems")));
}

TEST(UniverseEmbedded, MigrateAndRunBringTheUniverseAndItsPatches) {
    UniverseE2e u("", "", 1);
    SweepReRunAndPatch(u);
}

TEST(UniverseEmbedded, KillmailSystemsComeWithTheirParents) {
    UniverseE2e u("", "", 0);
    KillmailSystemsComeWithTheirParents(u);
}

TEST(UniverseRabbitPg, MigrateAndRunBringTheUniverseAndItsPatches) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    UniverseE2e u(db.Url(), vhost.Url(), 1);
    SweepReRunAndPatch(u);
}

TEST(UniverseRabbitPg, KillmailSystemsComeWithTheirParents) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    UniverseE2e u(db.Url(), vhost.Url(), 0);
    KillmailSystemsComeWithTheirParents(u);
}

}  // namespace
}  // namespace kr::test
