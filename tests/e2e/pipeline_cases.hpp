#pragma once
// End to end: the killreport binary against tools/fake-esi, on a given database (+ RabbitMQ).
// What is stored must be exactly the simulator's ground truth for the synced characters.
#include <httplib.h>

#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/entity_kind.hpp"
#include "core/esi_json.hpp"
#include "core/model.hpp"
#include "db/connection.hpp"
#include "queue/messages.hpp"
#include "queue/queue.hpp"
#include "server.hpp"
#include "store/derived_expect.hpp"
#include "support/run.hpp"

namespace kr::test {

using nlohmann::json;

/// The derived tables (killmail_filters, the kill stats) as the rules give them for the
/// simulator's killmails `ids` and its universe (tests/store/derived_expect.hpp).
template <typename P>
store::testing::Derived ExpectedDerived(P& p, const std::set<Id>& ids) {
    std::vector<Killmail> killmails;
    store::testing::Universe universe;
    for (Id kid : ids) {
        const auto truth = p.Truth("killmail", kid);
        killmails.push_back(
            esi_json::ParseKillmail(truth["killmail"].dump(), truth["hash"].template get<std::string>()));
        const Id system = killmails.back().solar_system_id;
        if (universe.count(system)) continue;
        const auto s = p.Truth("solar-system", system);
        if (s.is_null()) {
            // A sample killmail's real system: not in the generated universe, but ESI's samples may
            // serve it, and whether a scan fetched it by now is a matter of timing. Once it is stored,
            // its filters must be located as it is stored.
            auto r = p.Db().Exec(
                "SELECT s.constellation_id, c.region_id, s.security_status, s.security_class FROM solar_systems s "
                "JOIN constellations c ON c.constellation_id = s.constellation_id WHERE s.system_id = $1",
                {system});
            if (r.Rows() == 1) {
                universe[system] = {r.Int(0, 0), r.Int(0, 1), r.Double(0, 2),
                                    r.IsNull(0, 3) ? std::nullopt : std::optional(r.Text(0, 3))};
            }
            continue;
        }
        const Id constellation = s["constellation_id"].template get<Id>();
        universe[system] = {constellation, p.Truth("constellation", constellation)["region_id"].template get<Id>(),
                            s["security_status"].template get<double>(),
                            s.contains("security_class")
                                ? std::optional(s["security_class"].template get<std::string>())
                                : std::nullopt};
    }
    return store::testing::Expect(killmails, universe);
}

inline constexpr const char* kQueuedAt = "2026-07-08T22:00:01.123Z";

struct Backend {
    std::string database_url;
    std::string rabbitmq_url;  ///< empty = the queue in the database
};

class Pipeline {
public:
    Pipeline(Backend backend, fakeesi::Options options) : backend_(std::move(backend)), server_(std::move(options)) {
        if (!server_.Start()) throw std::runtime_error("fake-esi did not start");
        client_ = std::make_unique<httplib::Client>("127.0.0.1", server_.Port());
    }
    ~Pipeline() { server_.Stop(); }

    fakeesi::Server& Server() { return server_; }

    /// The simulator's answer; null when it has no such record (404). A request the busy
    /// simulator did not answer (no response, a 5xx or 429) is asked again.
    json Get(const std::string& path) {
        for (int attempt = 0;; ++attempt) {
            auto r = client_->Get(path.c_str());
            if (r && r->status == 200) return json::parse(r->body);
            if ((r && r->status == 404) || attempt >= 20) return json();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    json Truth(const std::string& what, Id id) { return Get("/_admin/truth/" + what + "/" + std::to_string(id)); }
    void Post(const std::string& path) {
        auto r = client_->Post(path.c_str(), "", "application/json");
        ASSERT_TRUE(r && r->status == 200) << path;
    }

    /// Runs `killreport ARGS` against the simulator and the backend; returns its exit code.
    RunResult Kr(const std::string& args) {
        auto r = RunCommand(Env() + "timeout 240 " KR_KILLREPORT_BIN " " + args);
        EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
        return r;
    }

    /// The shell prefix that points killreport at the simulator and the backend.
    std::string Env() const {
        std::string env = "DATABASE_URL='" + backend_.database_url + "' ESI_BASE_URL='" + server_.EsiBaseUrl() +
                          "' ZKILLBOARD_BASE_URL='" + server_.ZkbBaseUrl() +
                          "' ESI_RATE_LIMIT=0 ZKILLBOARD_RATE_LIMIT=0 LOG_LEVEL=warn R2Z2_BASE_URL='" +
                          server_.R2z2BaseUrl() +
                          "' R2Z2_RATE_LIMIT=0 KILLREPORT_METRICS_ADDR= ";  // no default /metrics port
        env += live_ ? "KILLREPORT_LIVE=1 " : "KILLREPORT_LIVE=0 ";
        env += backend_.rabbitmq_url.empty() ? "RABBITMQ_URL= " : "RABBITMQ_URL='" + backend_.rabbitmq_url + "' ";
        return env;
    }
    const Backend& GetBackend() const { return backend_; }
    /// Whether `run` polls the simulator's live feed (off unless a test turns it on).
    void SetLive(bool live) { live_ = live; }

    db::Connection& Db() {
        if (!db_) db_ = db::Open(backend_.database_url);
        return *db_;
    }
    std::int64_t Count(const std::string& sql, const std::vector<db::Param>& params = {}) {
        return Db().Exec(sql, params).Int(0, 0);
    }

    /// Publishes entity messages straight onto an info queue (what an operator's scheduler does).
    void PublishEntities(const std::string& queue_name, const std::vector<Id>& ids) {
        auto q = queue::OpenQueue(backend_.rabbitmq_url.empty() ? std::nullopt : std::optional(backend_.rabbitmq_url),
                                  backend_.database_url);
        q->Declare(queue_name);
        std::vector<queue::OutMessage> out;
        for (Id id : ids) out.push_back({queue::BuildEntityMessage(id, "e2e-test", kQueuedAt), 0, 0});
        q->Publish(queue_name, out);
    }

private:
    Backend backend_;
    fakeesi::Server server_;
    std::unique_ptr<httplib::Client> client_;
    std::unique_ptr<db::Connection> db_;
    bool live_ = false;
};

inline fakeesi::Options SmallUniverse() {
    fakeesi::Options o;
    o.quiet = true;
    // One thread per keep-alive connection: `run` holds up to 32 ESI connections for its zKillboard
    // worker plus the info workers' and zKillboard's; with fewer threads a connection waits for an
    // idle one's keep-alive timeout (10 s), which made the first sync take a minute.
    o.threads = 128;
    o.universe.alliances = 8;
    o.universe.corporations = 40;
    o.universe.npc_corporations = 5;
    o.universe.characters = 250;
    o.universe.npc_characters = 10;
    o.universe.types = 60;
    o.universe.killmails = 400;
    o.universe.history_characters = 2;
    o.universe.history_kills = 150;
    o.zkb_page_size = 60;  // several pages per character
    o.zkb_rate = 0;
    return o;
}

inline std::optional<Id> OptId(const json& j, const char* key) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    return j[key].get<Id>();
}

inline void CollectItemTypes(const json& items, std::set<Id>& types, std::int64_t& top, std::int64_t& nested,
                             int depth) {
    for (const auto& it : items) {
        types.insert(it["item_type_id"].get<Id>());
        (depth == 0 ? top : nested) += 1;
        if (it.contains("items")) CollectItemTypes(it["items"], types, top, nested, depth + 1);
    }
}

/// user:add without --name: the name ESI gives; an id ESI does not know as a character (deleted,
/// or a corporation's) is refused with one line and nothing is added.
inline void UserAddLooksTheNameUpOnEsi(Pipeline& p) {
    auto history = p.Get("/_admin/truth/history-characters");
    ASSERT_TRUE(history.is_array() && history.size() == 2);
    const Id pilot = history[0].get<Id>();
    const Id gone = history[1].get<Id>();
    const Id corporation = p.Truth("character", pilot)["corporation_id"].get<Id>();
    p.Post("/_admin/mutate/character/" + std::to_string(gone) + "/delete");
    auto env = p.Env() + "timeout 60 " KR_KILLREPORT_BIN " user:add ";
    auto added = RunCommand(env + std::to_string(pilot));
    ASSERT_EQ(added.exit_code, 0) << added.err;
    EXPECT_EQ(p.Count("SELECT count(*) FROM users WHERE character_id = $1 AND character_name = $2",
                      {pilot, p.Truth("character", pilot)["name"].get<std::string>()}),
              1);
    auto deleted = RunCommand(env + std::to_string(gone));
    EXPECT_EQ(deleted.exit_code, 1);
    EXPECT_NE(deleted.err.find("ESI knows no character " + std::to_string(gone)), std::string::npos) << deleted.err;
    auto corp = RunCommand(env + std::to_string(corporation));
    EXPECT_EQ(corp.exit_code, 1);
    EXPECT_NE(corp.err.find("is a corporation"), std::string::npos) << corp.err;
    EXPECT_EQ(p.Count("SELECT count(*) FROM users"), 1);
    // ESI unreachable: added with the placeholder name, and a warning says so
    auto offline =
        RunCommand("DATABASE_URL='" + p.GetBackend().database_url +
                   "' RABBITMQ_URL= ESI_BASE_URL=http://127.0.0.1:9 ESI_RATE_LIMIT=0 timeout 120 " KR_KILLREPORT_BIN
                   " user:add 90000001");
    ASSERT_EQ(offline.exit_code, 0) << offline.err;
    EXPECT_NE(offline.err.find("ESI did not answer"), std::string::npos) << offline.err;
    EXPECT_EQ(
        p.Count("SELECT count(*) FROM users WHERE character_id = 90000001 AND character_name = 'Character_90000001'"),
        1);
}

/// The whole spec pipeline, then every stored row compared with the ground truth. per_process:
/// the scaled-out layout (one process per worker, as the spec's "Starting Workers in Order"; on
/// PostgreSQL the info workers commit on their second connection) instead of `run`.
inline void SyncedCharactersMatchGroundTruth(Pipeline& p, bool per_process = false) {
    auto history = p.Get("/_admin/truth/history-characters");
    ASSERT_TRUE(history.is_array() && history.size() == 2);
    for (const auto& id : history) p.Kr("user:add " + std::to_string(id.get<Id>()));
    for (const auto& id : history) {  // named as ESI names them (POST /universe/names/)
        auto r = p.Db().Exec("SELECT character_name FROM users WHERE character_id = $1", {id.get<Id>()});
        ASSERT_EQ(r.Rows(), 1u) << id;
        EXPECT_EQ(r.Text(0, 0), p.Truth("character", id.get<Id>())["name"].get<std::string>());
    }
    p.Kr("queue:character");
    if (per_process) {
        p.Kr("worker:zkillboard --until-idle --concurrency 2");
        p.Kr("scan:entities");
        // The universe's queue scripts (the original's), then every info worker in registry order
        // (parents first: a worker of solar systems finds their constellations stored).
        for (const auto& k : EntityKinds()) {
            if (k.queue_command) p.Kr(k.queue_command);
        }
        for (const auto& k : EntityKinds()) p.Kr(std::string(k.command) + " --until-idle --concurrency 16");
    } else {
        p.Kr("run --until-idle");
        p.Kr("scan:entities");
        p.Kr("run --until-idle");
    }

    std::set<Id> killmail_ids;
    for (const auto& c : history) {
        for (const auto& km : p.Get("/_admin/truth/characters/" + std::to_string(c.get<Id>()) + "/killmails")) {
            killmail_ids.insert(km.get<Id>());
        }
    }
    ASSERT_GT(killmail_ids.size(), 150u);
    EXPECT_EQ(p.Count("SELECT count(*) FROM killmails"), static_cast<std::int64_t>(killmail_ids.size()));

    std::set<Id> characters, corporations, alliances, types;
    std::set<Id> npc_seen;
    for (Id kid : killmail_ids) {
        auto truth = p.Truth("killmail", kid);
        ASSERT_TRUE(truth.contains("killmail")) << kid;
        const auto& km = truth["killmail"];
        auto row = p.Db().Exec(
            "SELECT killmail_hash, solar_system_id, attacker_count FROM killmails WHERE killmail_id = $1", {kid});
        ASSERT_EQ(row.Rows(), 1u) << "killmail " << kid << " not stored";
        EXPECT_EQ(row.Text(0, 0), truth["hash"].get<std::string>());
        EXPECT_EQ(row.Int(0, 1), km["solar_system_id"].get<Id>());
        EXPECT_EQ(row.Int(0, 2), static_cast<std::int64_t>(km["attackers"].size()));
        const auto& v = km["victim"];
        auto vrow = p.Db().Exec(
            "SELECT character_id, corporation_id, alliance_id, ship_type_id, damage_taken FROM victims "
            "WHERE killmail_id = $1",
            {kid});
        ASSERT_EQ(vrow.Rows(), 1u);
        EXPECT_EQ(vrow.OptInt(0, 0), OptId(v, "character_id")) << kid;
        EXPECT_EQ(vrow.OptInt(0, 1), OptId(v, "corporation_id"));
        EXPECT_EQ(vrow.OptInt(0, 2), OptId(v, "alliance_id"));
        EXPECT_EQ(vrow.Int(0, 3), v["ship_type_id"].get<Id>());
        EXPECT_EQ(vrow.Int(0, 4), v["damage_taken"].get<std::int64_t>());
        EXPECT_EQ(p.Count("SELECT count(*) FROM attackers WHERE killmail_id = $1", {kid}),
                  static_cast<std::int64_t>(km["attackers"].size()));
        std::int64_t top = 0, nested = 0;
        if (v.contains("items")) CollectItemTypes(v["items"], types, top, nested, 0);
        EXPECT_EQ(p.Count("SELECT count(*) FROM killmail_items WHERE killmail_id = $1", {kid}), top) << kid;
        EXPECT_EQ(p.Count("SELECT count(*) FROM kr_killmail_item_children WHERE killmail_id = $1", {kid}), nested)
            << kid;
        auto refer = [&](const json& who) {
            if (auto c = OptId(who, "character_id"))
                (!ShouldFetch(EntityKind::kCharacter, *c) ? npc_seen : characters).insert(*c);
            if (auto c = OptId(who, "corporation_id")) corporations.insert(*c);
            if (auto a = OptId(who, "alliance_id")) alliances.insert(*a);
        };
        refer(v);
        types.insert(v["ship_type_id"].get<Id>());
        for (const auto& a : km["attackers"]) {
            refer(a);
            if (auto t = OptId(a, "ship_type_id")) types.insert(*t);
            if (auto t = OptId(a, "weapon_type_id")) types.insert(*t);
        }
    }
    EXPECT_FALSE(npc_seen.empty()) << "the universe should reference NPC characters";

    // every referenced non-NPC entity, with every field as ESI has it (absent = NULL)
    int deleted = 0;
    for (Id id : characters) {
        auto t = p.Truth("character", id);
        auto r = p.Db().Exec(
            "SELECT name, corporation_id, alliance_id, security_status, title, faction_id FROM characters WHERE id = "
            "$1",
            {id});
        if (t.is_null()) {  // deleted on ESI: 404, recorded, not stored
            ++deleted;
            EXPECT_EQ(r.Rows(), 0u);
            continue;
        }
        ASSERT_EQ(r.Rows(), 1u) << "character " << id;
        EXPECT_EQ(r.Text(0, 0), t["name"].get<std::string>());
        EXPECT_EQ(r.Int(0, 1), t["corporation_id"].get<Id>());
        EXPECT_EQ(r.OptInt(0, 2), OptId(t, "alliance_id")) << id;
        if (t.contains("security_status")) {
            EXPECT_NEAR(r.Double(0, 3), t["security_status"].get<double>(), 1e-9);
        } else {
            EXPECT_TRUE(r.IsNull(0, 3));
        }
        EXPECT_EQ(r.OptText(0, 4), t.contains("title") ? std::optional(t["title"].get<std::string>()) : std::nullopt);
        EXPECT_EQ(r.OptInt(0, 5), OptId(t, "faction_id"));
    }
    for (Id id : corporations) {
        auto t = p.Truth("corporation", id);
        ASSERT_FALSE(t.is_null()) << id;
        auto r = p.Db().Exec(
            "SELECT name, ticker, member_count, ceo_id, alliance_id, faction_id, tax_rate "
            "FROM corporations WHERE id = $1",
            {id});
        ASSERT_EQ(r.Rows(), 1u) << "corporation " << id;
        EXPECT_EQ(r.Text(0, 0), t["name"].get<std::string>());
        EXPECT_EQ(r.Text(0, 1), t["ticker"].get<std::string>());
        EXPECT_EQ(r.Int(0, 2), t["member_count"].get<std::int64_t>());
        EXPECT_EQ(r.Int(0, 3), t["ceo_id"].get<Id>());
        EXPECT_EQ(r.OptInt(0, 4), OptId(t, "alliance_id")) << id;
        EXPECT_EQ(r.OptInt(0, 5), OptId(t, "faction_id")) << id;
        EXPECT_NEAR(r.Double(0, 6), t["tax_rate"].get<double>(), 1e-9);
    }
    for (Id id : alliances) {
        auto t = p.Truth("alliance", id);
        auto r =
            p.Db().Exec("SELECT name, ticker, executor_corporation_id, creator_id FROM alliances WHERE id = $1", {id});
        ASSERT_EQ(r.Rows(), 1u) << "alliance " << id;
        EXPECT_EQ(r.Text(0, 0), t["name"].get<std::string>());
        EXPECT_EQ(r.OptInt(0, 2), OptId(t, "executor_corporation_id")) << id;
        EXPECT_EQ(r.Int(0, 3), t["creator_id"].get<Id>());
    }
    for (Id id : types) {
        auto t = p.Truth("type", id);
        auto r = p.Db().Exec("SELECT name, group_id, published FROM types WHERE id = $1", {id});
        ASSERT_EQ(r.Rows(), 1u) << "type " << id;
        EXPECT_EQ(r.Text(0, 0), t["name"].get<std::string>());
        EXPECT_EQ(r.Int(0, 1), t["group_id"].get<Id>());
    }
    // every killmail's solar system, with its constellation and region (the universe came in too)
    for (Id kid : killmail_ids) {
        const Id system = p.Truth("killmail", kid)["killmail"]["solar_system_id"].get<Id>();
        if (p.Truth("solar-system", system).is_null()) continue;  // a sample killmail's real system
        EXPECT_EQ(p.Count("SELECT count(*) FROM solar_systems s JOIN constellations c USING (constellation_id) "
                          "JOIN regions r ON r.region_id = c.region_id WHERE s.system_id = $1",
                          {system}),
                  1)
            << "killmail " << kid << " system " << system;
    }
    // The web UI's tables: one filter row per killmail, located; kill stats as the rules count.
    const auto derived = ExpectedDerived(p, killmail_ids);
    {
        using store::testing::StatsTables;
        KR_EXPECT_DERIVED_EQ(store::testing::Actual(p.Db()), derived);
    }
    const auto universe = p.Get("/_admin/truth/regions").size() + p.Get("/_admin/truth/constellations").size() +
                          p.Get("/_admin/truth/solar-systems").size();
    EXPECT_EQ(p.Count("SELECT count(*) FROM solar_systems"),
              static_cast<std::int64_t>(p.Get("/_admin/truth/solar-systems").size()));
    ::testing::Test::RecordProperty("characters", static_cast<int>(characters.size()));
    ::testing::Test::RecordProperty("deleted", deleted);

    auto stats = p.Server().Stats();
    EXPECT_EQ(stats["error_limited_420"].get<std::int64_t>(), 0);
    EXPECT_EQ(stats["npc_character_requests"].get<std::int64_t>(), 0);
    // KNOWN GAP: two messages for one id held by one worker are settled together since
    // 2026-12-01 (info_worker_test TwoMessagesForOneIdHeldAtOnceMakeOneRequest), but a parent a
    // child's worker fetches (a region the constellation worker needs) can still be asked for by
    // its own worker at the same moment: one such repeat is tolerated.
    constexpr std::int64_t kKnownRepeats = 1;
    EXPECT_LE(stats["repeated_before_expires"].get<std::int64_t>(), kKnownRepeats) << stats["most_requested_url"];
    // one request per entity and killmail, nothing more (the universe: its entities, its three
    // lists and ESI's status once; user:add's name lookups)
    EXPECT_LE(stats["esi_requests"].get<std::int64_t>(),
              static_cast<std::int64_t>(killmail_ids.size() + characters.size() + corporations.size() +
                                        alliances.size() + types.size() + universe + 4 + history.size()) +
                  kKnownRepeats);

    // a second sync within Expires: no ESI request at all, nothing duplicated
    p.Server().ResetStats();
    p.Kr("queue:character");
    p.Kr("scan:entities");
    p.Kr("run --until-idle");
    EXPECT_EQ(p.Server().Stats()["esi_requests"].get<std::int64_t>(), 0);
    EXPECT_EQ(p.Count("SELECT count(*) FROM killmails"), static_cast<std::int64_t>(killmail_ids.size()));
    {
        using store::testing::StatsTables;  // the killmails delivered again counted nothing again
        KR_EXPECT_DERIVED_EQ(store::testing::Actual(p.Db()), ExpectedDerived(p, killmail_ids));
    }
}

/// The simulator changes data; a refresh run after Expires updates those rows, NULLs included.
inline void RefreshClearsStaleFields(Pipeline& p) {
    // a corporation in an alliance, an alliance with an executor, a character in an alliance
    Id corp = 0, alliance = 0, character = 0, corp_without_alliance = 0;
    for (const auto& id : p.Get("/_admin/truth/corporations")) {
        auto t = p.Truth("corporation", id.get<Id>());
        if (!corp && t.contains("alliance_id")) corp = id.get<Id>();
        if (!corp_without_alliance && !t.contains("alliance_id")) corp_without_alliance = id.get<Id>();
    }
    for (const auto& id : p.Get("/_admin/truth/alliances")) {
        if (!alliance && p.Truth("alliance", id.get<Id>()).contains("executor_corporation_id")) alliance = id.get<Id>();
    }
    for (const auto& id : p.Get("/_admin/truth/characters")) {
        auto t = p.Truth("character", id.get<Id>());
        if (!t.is_null() && t.contains("alliance_id") && t["corporation_id"].get<Id>() != corp) {
            character = id.get<Id>();
            break;
        }
    }
    ASSERT_TRUE(corp && alliance && character && corp_without_alliance);
    p.PublishEntities(kr::KindInfo(kr::EntityKind::kCorporation).queue, {corp});
    p.PublishEntities(kr::KindInfo(kr::EntityKind::kAlliance).queue, {alliance});
    p.PublishEntities(kr::KindInfo(kr::EntityKind::kCharacter).queue, {character});
    p.Kr("run --until-idle");
    ASSERT_FALSE(p.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {corp}).IsNull(0, 0));
    ASSERT_FALSE(p.Db().Exec("SELECT executor_corporation_id FROM alliances WHERE id = $1", {alliance}).IsNull(0, 0));
    ASSERT_FALSE(p.Db().Exec("SELECT alliance_id FROM characters WHERE id = $1", {character}).IsNull(0, 0));

    p.Post("/_admin/mutate/corporation/" + std::to_string(corp) + "/leave-alliance");
    p.Post("/_admin/mutate/alliance/" + std::to_string(alliance) + "/remove-executor");
    p.Post("/_admin/mutate/character/" + std::to_string(character) + "/move/" + std::to_string(corp_without_alliance));
    std::this_thread::sleep_for(std::chrono::milliseconds(2200));  // past the short Expires
    p.Server().ResetStats();
    p.PublishEntities(kr::KindInfo(kr::EntityKind::kCorporation).queue, {corp});
    p.PublishEntities(kr::KindInfo(kr::EntityKind::kAlliance).queue, {alliance});
    p.PublishEntities(kr::KindInfo(kr::EntityKind::kCharacter).queue, {character});
    p.Kr("run --until-idle");

    EXPECT_TRUE(p.Db().Exec("SELECT alliance_id FROM corporations WHERE id = $1", {corp}).IsNull(0, 0));
    EXPECT_TRUE(p.Db().Exec("SELECT executor_corporation_id FROM alliances WHERE id = $1", {alliance}).IsNull(0, 0));
    auto c = p.Db().Exec("SELECT corporation_id, alliance_id FROM characters WHERE id = $1", {character});
    EXPECT_EQ(c.Int(0, 0), corp_without_alliance);
    EXPECT_EQ(c.OptInt(0, 1), OptId(p.Truth("character", character), "alliance_id"));
    auto stats = p.Server().Stats();
    EXPECT_EQ(stats["conditional_requests"].get<std::int64_t>(), 3) << stats.dump();  // revalidated with ETags
}

/// SIGTERM while every ESI request hangs: exit 0 within 10 s, nothing lost (handed back).
inline void GracefulShutdownHandsBackInFlight(Pipeline& p) {
    auto ids = p.Get("/_admin/truth/characters");
    std::vector<Id> some;
    for (std::size_t i = 0; i < 20; ++i) some.push_back(ids[i].get<Id>());
    p.PublishEntities(kr::KindInfo(kr::EntityKind::kCharacter).queue, some);
    fakeesi::FaultConfig hang;
    hang.hang_share = 1.0;
    hang.hang_ms = 60000;
    p.Server().SetFaults(hang);
    auto r = RunCommand(p.Env() + KR_KILLREPORT_BIN
                        " worker:info:characters --concurrency 10 & pid=$!; sleep 2; "
                        "start=$(date +%s%N); kill -TERM $pid; wait $pid; rc=$?; "
                        "echo \"$rc $(( ($(date +%s%N) - start) / 1000000 ))\"");
    p.Server().ClearFaults();
    int rc = -1;
    long ms = -1;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "%d %ld", &rc, &ms), 2) << r.out << r.err;
    EXPECT_EQ(rc, 0) << r.err;
    EXPECT_LT(ms, 10000);
    // every message is still there: the 10 in flight were handed back, the rest never taken
    p.Kr("run --until-idle");
    for (Id id : some) {
        bool exists = p.Count("SELECT count(*) FROM characters WHERE id = $1", {id}) == 1;
        bool gone = p.Truth("character", id).is_null();
        EXPECT_TRUE(exists || gone) << id;
    }
}

}  // namespace kr::test
