// End to end: keeping stored data true. tools/fake-esi's universe changes under a populated
// database — a corporation leaves its alliance and joins another, an alliance loses its executor,
// a character changes corporation, a character is biomassed — and one refresh with the
// documented commands of the scaled-out layout (queue:alliances, queue:alliance-corporations,
// queue:characters, then the workers: `run --until-idle`) makes every stored row the simulator's
// truth, at ≤ N/1000 affiliation requests + one request per changed entity + a small constant.
// On the embedded default (SQLite, its own queue) and on PostgreSQL + RabbitMQ; there also as
// deployed: a `worker:*` process per queue while `refresh` runs from its timer.
#include <httplib.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/model.hpp"
#include "db/connection.hpp"
#include "e2e/fault_harness.hpp"
#include "server.hpp"
#include "support/run.hpp"
#include "support/temp_vhost.hpp"
#include "support/test_env.hpp"

namespace kr::test {
namespace {

using nlohmann::json;

class FreshnessE2e {
public:
    FreshnessE2e(std::string database_url, std::string amqp_url)
        : database_url_(std::move(database_url)), amqp_url_(std::move(amqp_url)) {
        fakeesi::Options o;
        o.quiet = true;
        o.threads = 64;
        o.cache_seconds = 2;  // every Expires in 2 s: a refresh can follow a change at once
        o.universe.alliances = 6;
        o.universe.corporations = 30;
        o.universe.characters = 200;
        o.universe.types = 20;
        o.universe.killmails = 50;
        o.universe.history_characters = 1;
        o.universe.history_kills = 10;
        o.zkb_rate = 0;
        server_ = std::make_unique<fakeesi::Server>(o);
        if (!server_->Start()) throw std::runtime_error("fake-esi did not start");
        client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->Port());
        vars_ = "ESI_BASE_URL='" + server_->EsiBaseUrl() + "' ZKILLBOARD_BASE_URL='" + server_->ZkbBaseUrl() +
                "' ESI_RATE_LIMIT=0 ZKILLBOARD_RATE_LIMIT=0 LOG_LEVEL=warn KILLREPORT_METRICS_ADDR=" +
                " KILLREPORT_UNIVERSE_CHECK=0 DATABASE_URL='" + database_url_ + "' RABBITMQ_URL='" + amqp_url_ + "' ";
        env_ = "cd '" + work_.Dir() + "' && " + vars_;
    }
    ~FreshnessE2e() { server_->Stop(); }

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
    void Post(const std::string& path) {
        auto r = client_->Post(path.c_str(), "", "application/json");
        EXPECT_TRUE(r && r->status == 200) << path;
    }
    fakeesi::Server& Server() { return *server_; }
    db::Connection& Db() {
        if (!db_) db_ = db::Open(database_url_.empty() ? "sqlite://" + work_.Dir() + "/killreport.db" : database_url_);
        return *db_;
    }
    std::vector<Id> Ids(const std::string& sql) {
        auto r = Db().Exec(sql);
        std::vector<Id> out;
        for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Int(i, 0));
        return out;
    }
    std::int64_t RouteTotal(const std::string& name) {
        auto stats = server_->Stats();
        if (!stats["routes"].contains(name)) return 0;
        return stats["routes"][name]["total"].get<std::int64_t>();
    }
    static void PastExpires() { std::this_thread::sleep_for(std::chrono::milliseconds(3100)); }

    static std::optional<Id> OptId(const json& j, const char* key) {
        return j.contains(key) && !j[key].is_null() ? std::optional<Id>(j[key].get<Id>()) : std::nullopt;
    }
    /// Stored characters whose corporation / alliance / faction differ from the simulator's.
    std::set<Id> CharactersOff() {
        std::set<Id> off;
        auto r = Db().Exec("SELECT id, corporation_id, alliance_id, faction_id FROM characters");
        for (std::size_t i = 0; i < r.Rows(); ++i) {
            auto t = Truth("affiliation", r.Int(i, 0));
            if (t.is_null() || r.Int(i, 1) != t["corporation_id"].get<Id>() ||
                r.OptInt(i, 2) != OptId(t, "alliance_id") || r.OptInt(i, 3) != OptId(t, "faction_id")) {
                off.insert(r.Int(i, 0));
            }
        }
        return off;
    }
    /// Stored corporations whose alliance differs from the simulator's.
    std::set<Id> CorporationsOff() {
        std::set<Id> off;
        auto r = Db().Exec("SELECT id, alliance_id FROM corporations");
        for (std::size_t i = 0; i < r.Rows(); ++i) {
            auto t = Truth("corporation", r.Int(i, 0));
            if (t.is_null() || r.OptInt(i, 1) != OptId(t, "alliance_id")) off.insert(r.Int(i, 0));
        }
        return off;
    }
    /// Stored alliances whose executor differs from the simulator's.
    std::set<Id> AlliancesOff() {
        std::set<Id> off;
        auto r = Db().Exec("SELECT id, executor_corporation_id FROM alliances");
        for (std::size_t i = 0; i < r.Rows(); ++i) {
            auto t = Truth("alliance", r.Int(i, 0));
            if (t.is_null() || r.OptInt(i, 1) != OptId(t, "executor_corporation_id")) off.insert(r.Int(i, 0));
        }
        return off;
    }

    /// Stored types whose name differs from the simulator's.
    std::set<Id> TypesOff() {
        std::set<Id> off;
        auto r = Db().Exec("SELECT id, name FROM types");
        for (std::size_t i = 0; i < r.Rows(); ++i) {
            auto t = Truth("type", r.Int(i, 0));
            if (t.is_null() || r.Text(i, 1) != t["name"].get<std::string>()) off.insert(r.Int(i, 0));
        }
        return off;
    }
    /// Time passes: every refresh sweep's last run is a day and more ago.
    void RefreshRunsLongAgo() { Db().Exec("UPDATE kr_refresh_runs SET last_run_at = 0"); }
    void SetEnv(const std::string& more) {
        env_ += more + " ";
        vars_ += more + " ";
    }
    /// `killreport ARGS` with this test's environment, for a long-running child (faults::Proc).
    std::string Command(const std::string& args) const { return "env " + vars_ + KR_KILLREPORT_BIN " " + args; }
    std::string Dir() const { return work_.Dir(); }

private:
    TempSqliteFile work_;  ///< the working directory (and the embedded database)
    std::string database_url_, amqp_url_;
    std::unique_ptr<fakeesi::Server> server_;
    std::unique_ptr<httplib::Client> client_;
    std::unique_ptr<db::Connection> db_;
    std::string env_, vars_;
};

void OneRefreshMakesEveryRowTrue(FreshnessE2e& u) {
    // A populated database: the alliances, their corporations, and characters by id (the sweep
    // queues the ids it is given that are not stored, and the corporations they are in).
    auto all_characters = u.Get("/_admin/truth/characters");
    ASSERT_GE(all_characters.size(), 150u);
    std::string ids;
    std::vector<Id> characters;
    for (std::size_t i = 0; i < 150; ++i) {
        characters.push_back(all_characters[i].get<Id>());
        ids += " " + std::to_string(characters.back());
    }
    u.Kr("db:migrate");
    u.Kr("queue:alliances");
    u.Kr("run --until-idle");
    u.Kr("queue:alliance-corporations");
    u.Kr("queue:characters" + ids);
    u.Kr("run --until-idle");
    ASSERT_EQ(u.Ids("SELECT id FROM characters").size(), 150u);
    EXPECT_TRUE(u.CharactersOff().empty());
    EXPECT_TRUE(u.CorporationsOff().empty());
    EXPECT_TRUE(u.AlliancesOff().empty());

    // The universe changes.
    auto in_alliance = u.Ids(
        "SELECT id FROM corporations WHERE alliance_id IS NOT NULL AND id BETWEEN 98000001 AND 98000999 ORDER BY id");
    ASSERT_GE(in_alliance.size(), 3u);
    const Id mover = in_alliance[0];   // leaves its alliance and joins another
    const Id leaver = in_alliance[1];  // leaves its alliance
    const Id old_alliance = u.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {mover}).Int(0, 0);
    Id new_alliance = 0;
    for (Id a : u.Ids("SELECT id FROM alliances WHERE id BETWEEN 99000001 AND 99000999 ORDER BY id")) {
        if (a != old_alliance) new_alliance = a;
    }
    ASSERT_NE(new_alliance, 0);
    u.Post("/_admin/mutate/corporation/" + std::to_string(mover) + "/leave-alliance");
    u.Post("/_admin/mutate/corporation/" + std::to_string(mover) + "/join-alliance/" + std::to_string(new_alliance));
    u.Post("/_admin/mutate/corporation/" + std::to_string(leaver) + "/leave-alliance");
    for (Id a : u.Ids("SELECT id FROM alliances WHERE executor_corporation_id IS NOT NULL AND id BETWEEN 99000001 AND "
                      "99000999 ORDER BY id DESC LIMIT 1")) {
        u.Post("/_admin/mutate/alliance/" + std::to_string(a) + "/remove-executor");
    }
    const Id moved = characters[3];
    const Id biomassed = characters[5];
    u.Post("/_admin/mutate/character/" + std::to_string(moved) + "/move/" + std::to_string(in_alliance[2]));
    u.Post("/_admin/mutate/character/" + std::to_string(biomassed) + "/delete");
    FreshnessE2e::PastExpires();
    const auto characters_off = u.CharactersOff();
    EXPECT_TRUE(characters_off.count(moved));
    EXPECT_TRUE(characters_off.count(biomassed));
    const auto corporations_off = u.CorporationsOff();
    EXPECT_EQ(corporations_off, (std::set<Id>{mover, leaver}));
    const auto stored_alliances = u.Ids("SELECT id FROM alliances").size();

    // One refresh, the scaled-out layout's commands.
    u.Server().ResetStats();
    u.Kr("queue:alliances");
    u.Kr("queue:alliance-corporations");
    u.Kr("queue:characters");
    u.Kr("run --until-idle");

    EXPECT_TRUE(u.CharactersOff().empty());
    EXPECT_TRUE(u.CorporationsOff().empty());
    EXPECT_TRUE(u.AlliancesOff().empty());
    EXPECT_EQ(u.Db().Exec("SELECT corporation_id FROM characters WHERE id = $1", {biomassed}).Int(0, 0), 1000001);
    EXPECT_EQ(u.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {mover}).Int(0, 0), new_alliance);
    EXPECT_TRUE(u.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {leaver}).IsNull(0, 0));

    // What it cost: one affiliation request for the 150 characters, a full fetch only for the
    // characters that changed; the corporations that changed (at most twice: the sweep and the
    // alliance lists both ask for them) and Doomheim (new); the alliances: /alliances/, each
    // alliance and each list revalidated (304s unless changed).
    const auto n_alliances = static_cast<std::int64_t>(stored_alliances);
    const auto n_characters = static_cast<std::int64_t>(characters_off.size());
    const auto n_corporations = static_cast<std::int64_t>(corporations_off.size());
    EXPECT_EQ(u.RouteTotal("character_affiliation"), 1);
    EXPECT_EQ(u.RouteTotal("character"), n_characters);
    EXPECT_LE(u.RouteTotal("corporation"), 2 * n_corporations + 1);
    EXPECT_LE(u.RouteTotal("alliance_corporations"), n_alliances);
    EXPECT_LE(u.RouteTotal("alliance"), n_alliances);
    const auto stats = u.Server().Stats();
    EXPECT_LE(stats["esi_requests"].get<std::int64_t>(),
              150 / 1000 + 1 + n_characters + 2 * n_corporations + 1 + 2 * n_alliances + 1)
        << stats.dump();
}

/// What the universe's changes were, for the checks after a refresh.
struct Changes {
    Id mover = 0, leaver = 0, new_alliance = 0, moved = 0, biomassed = 0, renamed_type = 0;
    std::size_t characters_off = 0, corporations_off = 0, types_off = 0;
};

/// A populated database (alliances, their corporations, 150 characters by id, a history
/// character's killmails: their characters, corporations and types); the refresh schedule's clock
/// started by `run`.
std::vector<Id> Populate(FreshnessE2e& u) {
    auto all_characters = u.Get("/_admin/truth/characters");
    EXPECT_GE(all_characters.size(), 150u);
    std::string ids;
    std::vector<Id> characters;
    for (std::size_t i = 0; i < 150 && i < all_characters.size(); ++i) {
        characters.push_back(all_characters[i].get<Id>());
        ids += " " + std::to_string(characters.back());
    }
    const auto history = u.Get("/_admin/truth/history-characters");
    EXPECT_FALSE(history.empty());
    u.Kr("db:migrate");
    u.Kr("queue:alliances");
    u.Kr("run --until-idle");
    u.Kr("queue:alliance-corporations");
    u.Kr("queue:characters" + ids);
    if (!history.empty()) u.Kr("queue:zkillboard " + std::to_string(history[0].get<Id>()));
    u.Kr("run --until-idle");
    EXPECT_TRUE(u.CharactersOff().empty());
    EXPECT_TRUE(u.CorporationsOff().empty());
    EXPECT_TRUE(u.AlliancesOff().empty());
    EXPECT_TRUE(u.TypesOff().empty());
    return characters;
}

/// The universe changes: a corporation leaves its alliance and joins another, another leaves its
/// alliance, an alliance loses its executor, a character changes corporation, one is biomassed, a
/// type is renamed (a patch).
Changes ChangeTheUniverse(FreshnessE2e& u, const std::vector<Id>& characters) {
    Changes c;
    auto in_alliance = u.Ids(
        "SELECT id FROM corporations WHERE alliance_id IS NOT NULL AND id BETWEEN 98000001 AND 98000999 ORDER BY id");
    EXPECT_GE(in_alliance.size(), 3u);
    EXPECT_GE(characters.size(), 6u);
    if (in_alliance.size() < 3 || characters.size() < 6) return c;
    c.mover = in_alliance[0];
    c.leaver = in_alliance[1];
    const Id old_alliance = u.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {c.mover}).Int(0, 0);
    for (Id a : u.Ids("SELECT id FROM alliances WHERE id BETWEEN 99000001 AND 99000999 ORDER BY id")) {
        if (a != old_alliance) c.new_alliance = a;
    }
    EXPECT_NE(c.new_alliance, 0);
    u.Post("/_admin/mutate/corporation/" + std::to_string(c.mover) + "/leave-alliance");
    u.Post("/_admin/mutate/corporation/" + std::to_string(c.mover) + "/join-alliance/" +
           std::to_string(c.new_alliance));
    u.Post("/_admin/mutate/corporation/" + std::to_string(c.leaver) + "/leave-alliance");
    for (Id a : u.Ids("SELECT id FROM alliances WHERE executor_corporation_id IS NOT NULL AND id BETWEEN 99000001 AND "
                      "99000999 ORDER BY id DESC LIMIT 1")) {
        u.Post("/_admin/mutate/alliance/" + std::to_string(a) + "/remove-executor");
    }
    c.moved = characters[3];
    c.biomassed = characters[5];
    u.Post("/_admin/mutate/character/" + std::to_string(c.moved) + "/move/" + std::to_string(in_alliance[2]));
    u.Post("/_admin/mutate/character/" + std::to_string(c.biomassed) + "/delete");
    const auto types = u.Ids("SELECT id FROM types ORDER BY id");
    EXPECT_FALSE(types.empty());
    if (!types.empty()) {
        c.renamed_type = types[0];
        u.Post("/_admin/mutate/type/" + std::to_string(c.renamed_type) + "/rename");
    }
    FreshnessE2e::PastExpires();
    const auto characters_off = u.CharactersOff();
    EXPECT_TRUE(characters_off.count(c.moved));
    EXPECT_TRUE(characters_off.count(c.biomassed));
    EXPECT_EQ(u.CorporationsOff(), (std::set<Id>{c.mover, c.leaver}));
    EXPECT_FALSE(u.AlliancesOff().empty());
    EXPECT_EQ(u.TypesOff(), (std::set<Id>{c.renamed_type}));
    c.characters_off = characters_off.size();
    c.corporations_off = 2;
    c.types_off = 1;
    return c;
}

/// Every stored row is the simulator's truth, at the refresh's price: one affiliation request for
/// the stored characters (< 1000), a full fetch only for the characters that changed; every
/// stored corporation, alliance (and its list) and type revalidated once at most (their Expires
/// passed: 304s unless changed; the changed corporations at most twice more, and Doomheim, new),
/// the lists /alliances/ and /corporations/npccorps/ once each.
void EveryRowTrueAtTheRefreshPrice(FreshnessE2e& u, const Changes& c) {
    EXPECT_TRUE(u.CharactersOff().empty());
    EXPECT_TRUE(u.CorporationsOff().empty());
    EXPECT_TRUE(u.AlliancesOff().empty());
    EXPECT_TRUE(u.TypesOff().empty());
    EXPECT_EQ(u.Db().Exec("SELECT corporation_id FROM characters WHERE id = $1", {c.biomassed}).Int(0, 0), 1000001);
    EXPECT_EQ(u.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {c.mover}).Int(0, 0), c.new_alliance);
    EXPECT_TRUE(u.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {c.leaver}).IsNull(0, 0));

    const auto n_characters = static_cast<std::int64_t>(u.Ids("SELECT id FROM characters").size());
    const auto n_alliances = static_cast<std::int64_t>(u.Ids("SELECT id FROM alliances").size());
    const auto n_corporations = static_cast<std::int64_t>(u.Ids("SELECT id FROM corporations").size());
    const auto n_types = static_cast<std::int64_t>(u.Ids("SELECT id FROM types").size());
    const auto changed_characters = static_cast<std::int64_t>(c.characters_off);
    EXPECT_EQ(u.RouteTotal("character_affiliation"), n_characters / 1000 + 1);
    EXPECT_EQ(u.RouteTotal("character"), changed_characters);
    const auto changed_corporations = static_cast<std::int64_t>(c.corporations_off);
    EXPECT_LE(u.RouteTotal("corporation"), n_corporations + 2 * changed_corporations + 1);
    EXPECT_LE(u.RouteTotal("alliance_corporations"), n_alliances);
    EXPECT_LE(u.RouteTotal("alliance"), n_alliances);
    EXPECT_LE(u.RouteTotal("type"), n_types);
    const auto stats = u.Server().Stats();
    EXPECT_LE(stats["esi_requests"].get<std::int64_t>(), n_characters / 1000 + 1 + changed_characters + n_corporations +
                                                             2 * changed_corporations + 1 + 2 * n_alliances + n_types +
                                                             10)
        << stats.dump();
}

/// The embedded layout: `run` alone keeps every row true (its refresh schedule, due after time
/// passed), the changes applied by one `run`.
void RunAloneKeepsEveryRowTrue(FreshnessE2e& u) {
    const auto characters = Populate(u);
    const auto c = ChangeTheUniverse(u, characters);
    // The schedule's clock started with the first `run` (its rows, none due yet): a `run` now
    // refreshes nothing.
    u.Server().ResetStats();
    u.Kr("run --until-idle");
    EXPECT_EQ(u.RouteTotal("character_affiliation"), 0);
    EXPECT_FALSE(u.CharactersOff().empty());
    // A day later.
    u.RefreshRunsLongAgo();
    u.Server().ResetStats();
    u.Kr("run --until-idle");
    EveryRowTrueAtTheRefreshPrice(u, c);
}

/// The scaled-out layout: `refresh` (a timer's) and the workers (here `run` with its own schedule
/// off, KILLREPORT_REFRESH=0) make every row true; a second `refresh` at once finds nothing due.
void RefreshAndWorkersKeepEveryRowTrue(FreshnessE2e& u) {
    u.SetEnv("KILLREPORT_REFRESH=0");
    const auto characters = Populate(u);
    const auto c = ChangeTheUniverse(u, characters);
    u.Server().ResetStats();
    u.Kr("refresh");
    u.Kr("run --until-idle");
    EveryRowTrueAtTheRefreshPrice(u, c);
    // Shared schedule: the next cycle right after finds every sweep ran within its cadence.
    u.Server().ResetStats();
    u.Kr("refresh");
    EXPECT_EQ(u.Server().Stats()["esi_requests"].get<std::int64_t>(), 0);
}

/// The scaled-out layout as deployed: one long-running process per queue the refresh feeds
/// (`worker:*`, on RabbitMQ + PostgreSQL) while `refresh` runs as its timer would (a cycle every
/// few seconds; after the first, nothing is due): the changed universe ends up stored, at the
/// refresh's price, and the workers stop cleanly.
void RefreshTimerAndOneProcessPerWorkerKeepEveryRowTrue(FreshnessE2e& u) {
    u.SetEnv("KILLREPORT_REFRESH=0");
    const auto characters = Populate(u);
    const auto c = ChangeTheUniverse(u, characters);
    u.Server().ResetStats();
    std::vector<std::unique_ptr<faults::Proc>> workers;
    for (const char* w : {"worker:info:alliances", "worker:alliance-corporations", "worker:info:corporations",
                          "worker:info:characters", "worker:info:types"}) {
        std::string name = w;
        std::replace(name.begin(), name.end(), ':', '-');
        workers.push_back(std::make_unique<faults::Proc>(name, u.Command(w), u.Dir() + "/scaled"));
        workers.back()->Start();
    }
    const auto all_true = [&] {
        return u.CharactersOff().empty() && u.CorporationsOff().empty() && u.AlliancesOff().empty() &&
               u.TypesOff().empty();
    };
    bool done = false;
    for (int tick = 0; tick < 30 && !done; ++tick) {
        u.Kr("refresh");  // the timer fires
        done = faults::WaitFor(all_true, faults::milliseconds(5000), faults::milliseconds(500));
    }
    std::string logs;
    for (auto& w : workers) logs += "--- " + w->Name() + "\n" + w->LogTail();
    EXPECT_TRUE(done) << logs;
    for (auto& w : workers) {
        EXPECT_TRUE(w->Running()) << w->Name() << "\n" << w->LogTail();
        w->Kill(SIGTERM);
        EXPECT_EQ(w->Wait(faults::milliseconds(60000)), 0) << w->Name() << "\n" << w->LogTail();
    }
    EveryRowTrueAtTheRefreshPrice(u, c);
}

TEST(FreshnessEmbedded, RunAloneKeepsEveryRowTrue) {
    FreshnessE2e u("", "");
    RunAloneKeepsEveryRowTrue(u);
}

TEST(FreshnessEmbedded, RefreshAndWorkersKeepEveryRowTrue) {
    FreshnessE2e u("", "");
    RefreshAndWorkersKeepEveryRowTrue(u);
}

TEST(FreshnessRabbitPg, RunAloneKeepsEveryRowTrue) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    FreshnessE2e u(db.Url(), vhost.Url());
    RunAloneKeepsEveryRowTrue(u);
}

TEST(FreshnessRabbitPg, RefreshAndWorkersKeepEveryRowTrue) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    FreshnessE2e u(db.Url(), vhost.Url());
    RefreshAndWorkersKeepEveryRowTrue(u);
}

TEST(FreshnessRabbitPg, RefreshTimerAndOneProcessPerWorkerKeepEveryRowTrue) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    FreshnessE2e u(db.Url(), vhost.Url());
    RefreshTimerAndOneProcessPerWorkerKeepEveryRowTrue(u);
}

TEST(FreshnessEmbedded, OneRefreshMakesEveryRowTrue) {
    FreshnessE2e u("", "");
    OneRefreshMakesEveryRowTrue(u);
}

TEST(FreshnessRabbitPg, OneRefreshMakesEveryRowTrue) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    KR_REQUIRE_ENV(amqp, "KR_TEST_AMQP_URL");
    TempPgDatabase db(pg);
    TempVhost vhost(amqp);
    FreshnessE2e u(db.Url(), vhost.Url());
    OneRefreshMakesEveryRowTrue(u);
}

}  // namespace
}  // namespace kr::test
