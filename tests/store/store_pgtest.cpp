// The shared store cases (store_cases.hpp) against a real PostgreSQL (KR_TEST_PG_DSN), plus the
// PostgreSQL-only cases: migrating a database that already holds KillReport's tables, and batch
// atomicity. One database is created per run (kr_store_test_<pid>_<time>) and dropped at the
// end; each test starts from an empty `public` schema.
#include <unistd.h>

#include <ctime>

#include "store/derived_cases.hpp"
#include "store/store_cases.hpp"
#include "support/pg_faults.hpp"

namespace kr::store::testing {
namespace {

std::string AdminDsn() {
    const char* dsn = std::getenv("KR_TEST_PG_DSN");
    return dsn ? dsn : "";
}

bool RequireIntegration() {
    const char* v = std::getenv("KR_REQUIRE_INTEGRATION");
    return v && std::string(v) == "1";
}

/// The DSN with its database name replaced.
std::string WithDatabase(const std::string& dsn, const std::string& db) {
    auto scheme = dsn.find("://");
    auto slash = dsn.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    auto query = dsn.find('?');
    std::string base = slash == std::string::npos ? dsn.substr(0, query) : dsn.substr(0, slash);
    std::string rest = query == std::string::npos ? "" : dsn.substr(query);
    return base + "/" + db + rest;
}

class PgDatabase : public ::testing::Environment {
public:
    static PgDatabase*& Instance() {
        static PgDatabase* instance = nullptr;
        return instance;
    }
    const std::string& Url() {
        if (url_.empty() && !AdminDsn().empty()) {
            name_ = "kr_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(std::time(nullptr));
            auto admin = db::Open(AdminDsn());
            admin->Exec("CREATE DATABASE " + name_);
            url_ = WithDatabase(AdminDsn(), name_);
        }
        return url_;
    }
    void TearDown() override {
        if (name_.empty()) return;
        auto admin = db::Open(AdminDsn());
        admin->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    }

private:
    std::string name_, url_;
};

[[maybe_unused]] auto* const kEnv = [] {
    auto* env = new PgDatabase;
    PgDatabase::Instance() = env;
    ::testing::AddGlobalTestEnvironment(env);
    return env;
}();

/// A URL of the per-run database with an empty public schema; "" when there is no server.
std::string FreshPgUrl() {
    if (AdminDsn().empty()) {
        if (RequireIntegration()) ADD_FAILURE() << "KR_TEST_PG_DSN is not set but KR_REQUIRE_INTEGRATION=1";
        return "";
    }
    const std::string& url = PgDatabase::Instance()->Url();
    auto conn = db::Open(url);
    conn->ExecScript("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;");
    return url;
}

struct PgBackend {
    static std::string FreshUrl() { return FreshPgUrl(); }
    static void Release() {}
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreCases, ::testing::Types<PgBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, DerivedCases, ::testing::Types<PgBackend>);

class PgOnlyTest : public ::testing::Test {
protected:
    void SetUp() override {
        url_ = FreshPgUrl();
        if (url_.empty()) {
            if (HasFailure()) GTEST_FAIL() << "PostgreSQL is required (KR_REQUIRE_INTEGRATION=1)";
            GTEST_SKIP() << "KR_TEST_PG_DSN not set";
        }
    }
    std::string url_;
};

// KillReport's original tables (INT ids, as created by its Prisma migrations) already exist:
// migrating must keep them and their rows untouched and add only our tables.
TEST_F(PgOnlyTest, MigrateOnExistingKillReportDatabase) {
    auto conn = db::Open(url_);
    conn->ExecScript(R"SQL(
CREATE TABLE alliances (id INTEGER PRIMARY KEY, name TEXT NOT NULL, ticker TEXT NOT NULL,
  date_founded TIMESTAMP(3) NOT NULL, creator_corporation_id INTEGER NOT NULL, creator_id INTEGER NOT NULL,
  executor_corporation_id INTEGER, faction_id INTEGER, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL, corporation_count INTEGER NOT NULL DEFAULT 0, member_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE corporations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, ticker TEXT NOT NULL, member_count INTEGER NOT NULL,
  ceo_id INTEGER NOT NULL, creator_id INTEGER NOT NULL, date_founded TIMESTAMP(3), description TEXT, alliance_id INTEGER,
  faction_id INTEGER, home_station_id INTEGER, shares BIGINT, tax_rate DOUBLE PRECISION NOT NULL, url TEXT,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE characters (id INTEGER PRIMARY KEY, name TEXT NOT NULL, corporation_id INTEGER NOT NULL, alliance_id INTEGER,
  birthday TIMESTAMP(3) NOT NULL, bloodline_id INTEGER NOT NULL, race_id INTEGER NOT NULL, gender TEXT NOT NULL,
  security_status DOUBLE PRECISION, description TEXT, title TEXT, faction_id INTEGER,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE types (id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT, group_id INTEGER NOT NULL,
  published BOOLEAN NOT NULL DEFAULT true, volume DOUBLE PRECISION, capacity DOUBLE PRECISION, mass DOUBLE PRECISION,
  icon_id INTEGER, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE users (id SERIAL PRIMARY KEY, character_id INTEGER NOT NULL UNIQUE, character_name TEXT NOT NULL,
  access_token TEXT NOT NULL, refresh_token TEXT NOT NULL, expires_at TIMESTAMP(3) NOT NULL,
  last_killmail_id INTEGER, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE killmails (killmail_id INTEGER PRIMARY KEY, killmail_hash TEXT NOT NULL, killmail_time TIMESTAMP(3) NOT NULL,
  solar_system_id INTEGER NOT NULL, total_value DOUBLE PRECISION, destroyed_value DOUBLE PRECISION,
  dropped_value DOUBLE PRECISION, attacker_count INTEGER, related_campaign_id INTEGER,
  is_war_related BOOLEAN NOT NULL DEFAULT false, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE victims (killmail_id INTEGER PRIMARY KEY REFERENCES killmails (killmail_id) ON DELETE CASCADE,
  character_id INTEGER, corporation_id INTEGER NOT NULL, alliance_id INTEGER, faction_id INTEGER,
  ship_type_id INTEGER NOT NULL, damage_taken INTEGER NOT NULL, position_x DOUBLE PRECISION,
  position_y DOUBLE PRECISION, position_z DOUBLE PRECISION, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE attackers (id BIGSERIAL PRIMARY KEY, killmail_id INTEGER NOT NULL REFERENCES killmails (killmail_id)
  ON DELETE CASCADE, character_id INTEGER, corporation_id INTEGER, alliance_id INTEGER, faction_id INTEGER,
  ship_type_id INTEGER, weapon_type_id INTEGER, damage_done INTEGER NOT NULL, final_blow BOOLEAN NOT NULL,
  security_status DOUBLE PRECISION, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE killmail_items (id BIGSERIAL PRIMARY KEY, killmail_id INTEGER NOT NULL REFERENCES killmails (killmail_id)
  ON DELETE CASCADE, item_type_id INTEGER NOT NULL, flag INTEGER NOT NULL, quantity_dropped INTEGER,
  quantity_destroyed INTEGER, singleton INTEGER NOT NULL, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX killmails_solar_system_id_idx ON killmails (solar_system_id);
CREATE TABLE regions (region_id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT);
CREATE TABLE constellations (constellation_id INTEGER PRIMARY KEY, name TEXT NOT NULL, region_id INTEGER,
  position_x DOUBLE PRECISION, position_y DOUBLE PRECISION, position_z DOUBLE PRECISION);
CREATE TABLE solar_systems (system_id INTEGER PRIMARY KEY, name TEXT NOT NULL, constellation_id INTEGER,
  security_status DOUBLE PRECISION, security_class TEXT, star_id INTEGER, position_x DOUBLE PRECISION,
  position_y DOUBLE PRECISION, position_z DOUBLE PRECISION);
CREATE INDEX constellations_region_id_idx ON constellations (region_id);
CREATE INDEX solar_systems_constellation_id_idx ON solar_systems (constellation_id);
ALTER TABLE constellations ADD CONSTRAINT constellations_region_id_fkey FOREIGN KEY (region_id)
  REFERENCES regions (region_id) ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE solar_systems ADD CONSTRAINT solar_systems_constellation_id_fkey FOREIGN KEY (constellation_id)
  REFERENCES constellations (constellation_id) ON DELETE RESTRICT ON UPDATE CASCADE;
INSERT INTO regions (region_id, name) VALUES (10000002, 'The Forge');
INSERT INTO alliances (id, name, ticker, date_founded, creator_corporation_id, creator_id, updated_at, member_count)
  VALUES (99003214, 'Brave Collective', 'BRAVE', '2013-05-06 22:20:14', 98199293, 91432281, '2026-01-01 00:00:00', 4242);
INSERT INTO users (character_id, character_name, access_token, refresh_token, expires_at, updated_at)
  VALUES (95465499, 'CCP Falcon', 'tok', 'ref', '2030-01-01 00:00:00', '2026-01-01 00:00:00');
)SQL");
    auto columns_before = conn->Exec(
        "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') FROM "
        "information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position");
    auto indexes_before = conn->Exec("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'").Int(0, 0);

    auto report = db::Migrate(*conn);
    EXPECT_TRUE(report.killreport_tables_existed);
    EXPECT_FALSE(report.applied.empty());
    EXPECT_TRUE(db::Migrate(*conn).applied.empty());
    auto store = OpenStore(url_);

    auto columns_after = conn->Exec(
        "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') FROM "
        "information_schema.columns WHERE table_schema = 'public' AND table_name IN ('alliances', 'corporations', "
        "'characters', 'types', 'users', 'killmails', 'victims', 'attackers', 'killmail_items', 'regions', "
        "'constellations', 'solar_systems') ORDER BY table_name, ordinal_position");
    ASSERT_EQ(columns_after.Rows(), columns_before.Rows());
    for (std::size_t i = 0; i < columns_after.Rows(); ++i) {
        for (std::size_t c = 0; c < 5; ++c) EXPECT_EQ(columns_after.Text(i, c), columns_before.Text(i, c)) << i;
    }
    EXPECT_EQ(conn->Exec("SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND "
                         "table_name = 'killmails' AND column_name = 'killmail_id'")
                  .Text(0, 0),
              "integer");
    // no index added to their tables (killmails_solar_system_id_idx is theirs already)
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('alliances', "
                         "'corporations', 'characters', 'types', 'users', 'killmails', 'victims', 'attackers', "
                         "'killmail_items', 'regions', 'constellations', 'solar_systems')")
                  .Int(0, 0),
              indexes_before);
    // Their database predates the derived tables (store/6): those are the only ones we created.
    EXPECT_EQ(conn->Exec("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM kr_created_tables").Text(0, 0),
              "alliance_kill_stats,character_kill_stats,corporation_kill_stats,killmail_filters");
    auto row = conn->Exec("SELECT name, member_count, updated_at FROM alliances WHERE id = 99003214");
    ASSERT_EQ(row.Rows(), 1u);
    EXPECT_EQ(row.Text(0, 0), "Brave Collective");
    EXPECT_EQ(row.Int(0, 1), 4242);
    for (const char* t :
         {"kr_http_cache", "kr_pending_entities", "kr_killmail_item_children", "kr_schema_migrations"}) {
        EXPECT_TRUE(conn->Exec("SELECT to_regclass($1) IS NOT NULL", {std::string(t)}).Bool(0, 0)) << t;
    }

    // The store works on their schema: upsert keeps their corporation_count/member_count.
    auto a = esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json"));
    EXPECT_EQ(kr::test::UpsertAlliances(*store, {a}).updated, 1u);
    EXPECT_EQ(conn->Exec("SELECT member_count FROM alliances WHERE id = 99003214").Int(0, 0), 4242);
    EXPECT_EQ(store->StoreKillmails(AllSampleKillmails()).inserted, 7u);
    // Their users table has NOT NULL tokens: AddUser fills placeholders, keeps existing users.
    store->AddUser(90000001, "New Pilot");
    auto users = store->ListUserCharacters();
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(users[1].second, "CCP Falcon");
    EXPECT_EQ(conn->Exec("SELECT access_token FROM users WHERE character_id = 95465499").Text(0, 0), "tok");
    // The scanner works on their schema (no indexes of ours, INT columns).
    auto missing_types = store->MissingReferencedIds(EntityKind::kType, 0, 100000);
    EXPECT_FALSE(missing_types.empty());
    EXPECT_TRUE(std::is_sorted(missing_types.begin(), missing_types.end()));
    auto missing_chars = store->MissingReferencedIds(EntityKind::kCharacter, 0, 10);
    EXPECT_EQ(missing_chars.size(), 10u);
    EXPECT_EQ(store->MissingReferencedIds(EntityKind::kCharacter, missing_chars.back(), 100000).front() >
                  missing_chars.back(),
              true);
    EXPECT_TRUE(store->MissingReferencedIds(EntityKind::kAlliance, 0, 100000, {}).size() > 0);
    // Their universe tables (INT ids, foreign keys): a batch writes parents first.
    EntityBatch universe;
    Constellation kimotoro;
    kimotoro.id = 20000020;
    kimotoro.name = "Kimotoro";
    kimotoro.region_id = 10000002;
    SolarSystem jita;
    jita.id = 30000142;
    jita.name = "Jita";
    jita.constellation_id = 20000020;
    jita.security_status = 0.9459;
    jita.security_class = "B";
    universe.entities.push_back(jita);  // the child first: the store orders by kind
    universe.entities.push_back(kimotoro);
    auto written = store->ApplyEntityBatch(universe);
    EXPECT_EQ(written.counts[EntityKind::kSolarSystem].created, 1u);
    EXPECT_EQ(written.counts[EntityKind::kConstellation].created, 1u);
    EXPECT_EQ(store->ExistingIds(EntityKind::kRegion, {10000002, 10000043}), (std::unordered_set<Id>{10000002}));
    EXPECT_EQ(conn->Exec("SELECT name, security_class FROM solar_systems WHERE system_id = 30000142").Text(0, 0),
              "Jita");
    EXPECT_TRUE(store->MissingReferencedIds(EntityKind::kSolarSystem, 0, 100000).size() > 0);
    // A constellation whose region is not stored violates their foreign key.
    Constellation orphan = kimotoro;
    orphan.id = 20000021;
    orphan.region_id = 10000043;
    EntityBatch bad;
    bad.entities.push_back(orphan);
    EXPECT_THROW(store->ApplyEntityBatch(bad), PermanentError);
    // An id above 2^31 does not fit their INT column: a permanent error, nothing written.
    Killmail big = SyntheticKillmail(3'000'000'000LL);
    EXPECT_THROW(store->StoreKillmails({big, SyntheticKillmail(42)}), PermanentError);
    EXPECT_TRUE(store->ExistingKillmailIds({42}).empty());
}

TEST_F(PgOnlyTest, EntityBatchIsAtomic) {
    auto conn = db::Open(url_);
    db::Migrate(*conn);
    auto store = OpenStore(url_);
    EntityBatch batch;
    batch.entities.push_back(esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json")));
    Character bad = esi_json::ParseCharacter(2115636466, ReadSample("esi_character_2115636466.json"));
    bad.birthday = "not a timestamp";
    batch.entities.push_back(bad);
    batch.cache.push_back(kr::test::EntityCache(EntityKind::kAlliance, 99003214, std::string("e"),
                                                SystemClock::Instance().NowMs() + 1000, 200, 0));
    EXPECT_THROW(store->ApplyEntityBatch(batch), PermanentError);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM alliances").Int(0, 0), 0);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM kr_http_cache").Int(0, 0), 0);
    batch.entities.pop_back();
    // The failed batch left no transaction open on the store's connection: the next one commits.
    EXPECT_EQ(store->ApplyEntityBatch(batch).counts[EntityKind::kAlliance].created, 1u);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM alliances").Int(0, 0), 1);
}

// The connection is dropped under a write in flight (the server terminated it: a restart, a
// failover, pg_terminate_backend): the store runs the transaction again on a new connection
// instead of failing it, so the worker's messages neither spend an attempt nor throw away what
// they fetched (issue 12: a failed page store retries the store, not the page's fetches).
TEST_F(PgOnlyTest, WriteWhoseConnectionDropsIsDoneOnANewConnection) {
    auto conn = db::Open(url_);
    db::Migrate(*conn);
    auto store = OpenStore(url_);
    EXPECT_TRUE(store->ExistingIds(EntityKind::kAlliance, {1}).empty());  // connected
    EntityBatch batch;
    batch.entities.push_back(esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json")));
    auto applied = kr::test::TerminatedInFlight(url_, "LOCK TABLE alliances IN ACCESS EXCLUSIVE MODE",
                                                [&] { return store->ApplyEntityBatch(batch); });
    EXPECT_NO_THROW(applied.get());
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM alliances").Int(0, 0), 1);

    // A zKillboard page: its killmails, outbox and chain step, all in the retried transaction.
    PerKind<std::vector<Id>> enrich;
    enrich[EntityKind::kCharacter] = {90000001};
    ZkbChainStep step{{90000001, "chain-1", 1}, true, std::string("{\"characterId\":90000001,\"page\":2}"), 5};
    std::vector<Killmail> page{SyntheticKillmail(42), SyntheticKillmail(43)};
    auto stored = kr::test::TerminatedInFlight(url_, "LOCK TABLE killmails IN ACCESS EXCLUSIVE MODE",
                                               [&] { return store->StoreKillmailPage(page, enrich, &step); });
    StoreKillmailsResult result;
    EXPECT_NO_THROW(result = stored.get());
    EXPECT_EQ(result.inserted, 2u);
    EXPECT_TRUE(result.step_taken);
    EXPECT_EQ(store->ExistingKillmailIds({42, 43}).size(), 2u);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM kr_entity_outbox").Int(0, 0), 1);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM kr_zkb_sync WHERE character_id = 90000001 AND page = 1").Int(0, 0), 1);

    // Reads too (the info worker's lookup, the page's existence check).
    auto read = kr::test::TerminatedInFlight(url_, "LOCK TABLE killmails IN ACCESS EXCLUSIVE MODE", [&] {
        return store->ExistingKillmailIds({42, 43, 44});
    });
    std::unordered_set<Id> found;
    EXPECT_NO_THROW(found = read.get());
    EXPECT_EQ(found.size(), 2u);
}

TEST_F(PgOnlyTest, OurSchemaUsesBigintIdsAndScanIndexes) {
    auto conn = db::Open(url_);
    db::Migrate(*conn);
    auto& c = *conn;
    EXPECT_EQ(c.Exec("SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND "
                     "table_name = 'killmails' AND column_name = 'killmail_id'")
                  .Text(0, 0),
              "bigint");
    EXPECT_EQ(c.Exec("SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND "
                     "table_name = 'killmails' AND column_name = 'killmail_time'")
                  .Text(0, 0),
              "timestamp without time zone");
    EXPECT_EQ(c.Exec("SELECT count(*) FROM kr_created_tables").Int(0, 0), 16);  // + the 4 derived tables
    // The universe tables as the original's: INTEGER ids.
    EXPECT_EQ(c.Exec("SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND "
                     "table_name = 'solar_systems' AND column_name = 'system_id'")
                  .Text(0, 0),
              "integer");
    EXPECT_EQ(c.Exec("SELECT count(*) FROM pg_indexes WHERE indexname = 'killmails_solar_system_id_idx'").Int(0, 0), 1);
    EXPECT_EQ(c.Exec("SELECT count(*) FROM pg_indexes WHERE indexname = 'attackers_character_id_idx'").Int(0, 0), 1);
    EXPECT_EQ(c.Exec("SELECT is_nullable || coalesce(column_default, '-') FROM information_schema.columns WHERE "
                     "table_schema = 'public' AND table_name = 'killmails' AND column_name = 'updated_at'")
                  .Text(0, 0),
              "NO-");
}

}  // namespace kr::store::testing
