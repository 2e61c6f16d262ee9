#pragma once
// Store test cases shared by the SQLite (store_test.cpp) and PostgreSQL (store_pgtest.cpp)
// runs. A Backend provides:
//   static std::string FreshUrl();   // URL of an empty database for one test ("" = skip)
//   static void Release();           // after the test
#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "db/migrator.hpp"
#include "store/sample_killmails.hpp"
#include "store/samples.hpp"
#include "store/store.hpp"
#include "support/store_helpers.hpp"

namespace kr::store::testing {

/// Timestamps as both backends print them, normalised to "YYYY-MM-DD HH:MM:SS[.fff]".
inline std::string NormTs(std::string s) {
    for (auto& c : s) {
        if (c == 'T') c = ' ';
    }
    if (!s.empty() && s.back() == 'Z') s.pop_back();
    if (s.size() > 4 && s.compare(s.size() - 4, 4, ".000") == 0) s.resize(s.size() - 4);
    return s;
}

template <typename Backend>
class StoreCases : public ::testing::Test {
protected:
    void SetUp() override {
        url_ = Backend::FreshUrl();
        if (url_.empty()) {
            if (HasFailure()) GTEST_FAIL() << "the database for this backend is required";
            GTEST_SKIP() << "no database for this backend";
        }
        conn_ = db::Open(url_);
        db::Migrate(*conn_);
        store_ = OpenStore(url_, clock_);
    }
    void TearDown() override {
        store_.reset();
        conn_.reset();
        if (!url_.empty()) Backend::Release();
    }

    /// A connection of the test's own, beside the store's (checks and setup).
    db::Connection& Conn() { return *conn_; }
    bool IsPg() { return Conn().GetDialect() == db::Dialect::kPostgres; }
    std::int64_t Count(const std::string& table) { return Conn().Exec("SELECT count(*) FROM " + table).Int(0, 0); }
    db::Result Query(const std::string& sql, const std::vector<db::Param>& params = {}) {
        return Conn().Exec(sql, params);
    }
    /// The store's time moves on (updated_at must change).
    void Tick() { clock_.Advance(5'000); }
    std::int64_t NowMs() const { return clock_.NowMs(); }

    ManualClock clock_{SystemClock::Instance().NowUs()};  ///< the store's; starts at the real time
    std::string url_;
    std::unique_ptr<db::Connection> conn_;
    std::unique_ptr<Store> store_;
};

TYPED_TEST_SUITE_P(StoreCases);

TYPED_TEST_P(StoreCases, MigrateTwiceIsIdempotent) {
    auto again = db::Migrate(this->Conn());
    EXPECT_TRUE(again.applied.empty());
    EXPECT_TRUE(again.killreport_tables_existed);
    EXPECT_TRUE(db::PendingMigrations(this->Conn()).empty());
    for (const auto& [table, n] : this->store_->Counts()) {
        if (table == "kr_created_tables") continue;  // PostgreSQL: lists the 9 tables we created
        EXPECT_EQ(n, 0) << table;
    }
    // A third run from a new connection too.
    auto other = OpenStore(this->url_);
    EXPECT_TRUE(db::Migrate(*db::Open(this->url_)).applied.empty());
}

TYPED_TEST_P(StoreCases, CorporationLeavingAllianceGetsNullAllianceId) {
    auto corp = esi_json::ParseCorporation(98179071, ReadSample("esi_corporation_98179071.json"));
    ASSERT_EQ(corp.alliance_id, 150097440);
    auto c1 = kr::test::UpsertCorporations(*this->store_, {corp});
    EXPECT_EQ(c1.created, 1u);
    EXPECT_EQ(c1.updated, 0u);
    auto r1 = this->Query(
        "SELECT alliance_id, created_at, updated_at, name, member_count, tax_rate, shares, "
        "home_station_id, date_founded, url FROM corporations WHERE id = 98179071");
    ASSERT_EQ(r1.Rows(), 1u);
    EXPECT_EQ(r1.Int(0, 0), 150097440);
    EXPECT_EQ(r1.Text(0, 1), r1.Text(0, 2));  // created_at == updated_at on insert
    EXPECT_EQ(r1.Text(0, 3), "Omicron Project");
    EXPECT_EQ(r1.Int(0, 4), 22);
    EXPECT_DOUBLE_EQ(r1.Double(0, 5), 0.10000000149011612);
    EXPECT_EQ(r1.Int(0, 6), 1000);
    EXPECT_EQ(r1.Int(0, 7), 60003316);
    EXPECT_EQ(NormTs(r1.Text(0, 8)), "2013-02-22 21:36:06");
    EXPECT_EQ(r1.Text(0, 9), "");

    this->Tick();
    corp.alliance_id.reset();  // ESI leaves alliance_id out once the corporation left
    corp.url.reset();
    auto c2 = kr::test::UpsertCorporations(*this->store_, {corp});
    EXPECT_EQ(c2.created, 0u);
    EXPECT_EQ(c2.updated, 1u);
    auto r2 = this->Query("SELECT alliance_id, created_at, updated_at, url FROM corporations WHERE id = 98179071");
    EXPECT_TRUE(r2.IsNull(0, 0));
    EXPECT_TRUE(r2.IsNull(0, 3));
    EXPECT_EQ(r2.Text(0, 1), r1.Text(0, 1));                  // created_at unchanged
    EXPECT_GT(NormTs(r2.Text(0, 2)), NormTs(r1.Text(0, 2)));  // updated_at moved

    this->Tick();
    auto c3 = kr::test::UpsertCorporations(*this->store_, {corp});  // identical: not rewritten
    EXPECT_EQ(c3.unchanged, 1u);
    EXPECT_EQ(c3.updated + c3.created, 0u);
    auto r3 = this->Query("SELECT updated_at FROM corporations WHERE id = 98179071");
    EXPECT_EQ(r3.Text(0, 0), r2.Text(0, 2));
}

TYPED_TEST_P(StoreCases, AllianceLosesExecutor) {
    auto a = esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json"));
    a.faction_id = 500001;
    ASSERT_EQ(kr::test::UpsertAlliances(*this->store_, {a}).created, 1u);
    auto r1 = this->Query(
        "SELECT executor_corporation_id, faction_id, name, ticker, date_founded, "
        "creator_corporation_id, creator_id FROM alliances WHERE id = 99003214");
    EXPECT_EQ(r1.Int(0, 0), 98199293);
    EXPECT_EQ(r1.Int(0, 1), 500001);
    EXPECT_EQ(r1.Text(0, 2), "Brave Collective");
    EXPECT_EQ(r1.Text(0, 3), "BRAVE");
    EXPECT_EQ(NormTs(r1.Text(0, 4)), "2013-05-06 22:20:14");
    EXPECT_EQ(r1.Int(0, 5), 98199293);
    EXPECT_EQ(r1.Int(0, 6), 91432281);
    a.executor_corporation_id.reset();  // closed alliance
    a.faction_id.reset();
    EXPECT_EQ(kr::test::UpsertAlliances(*this->store_, {a}).updated, 1u);
    auto r2 = this->Query("SELECT executor_corporation_id, faction_id FROM alliances WHERE id = 99003214");
    EXPECT_TRUE(r2.IsNull(0, 0));
    EXPECT_TRUE(r2.IsNull(0, 1));
}

TYPED_TEST_P(StoreCases, CharacterLosesTitleAndAlliance) {
    auto c = esi_json::ParseCharacter(2118421377, ReadSample("esi_character_2118421377.json"));
    c.title = "Community Developer";
    c.faction_id = 500003;
    ASSERT_EQ(kr::test::UpsertCharacters(*this->store_, {c}).created, 1u);
    auto r1 = this->Query(
        "SELECT title, alliance_id, faction_id, corporation_id, gender, race_id, bloodline_id, "
        "security_status, birthday FROM characters WHERE id = 2118421377");
    EXPECT_EQ(r1.Text(0, 0), "Community Developer");
    EXPECT_EQ(r1.Int(0, 1), 434243723);
    EXPECT_EQ(r1.Int(0, 2), 500003);
    EXPECT_EQ(r1.Int(0, 3), 109299958);
    EXPECT_EQ(r1.Text(0, 4), "male");
    EXPECT_EQ(r1.Int(0, 5), 8);
    EXPECT_EQ(r1.Int(0, 6), 7);
    EXPECT_DOUBLE_EQ(r1.Double(0, 7), 1.4928743770000001);
    EXPECT_EQ(NormTs(r1.Text(0, 8)), "2021-03-11 14:06:59");
    c.title.reset();
    c.alliance_id.reset();
    c.faction_id.reset();
    c.corporation_id = 1000182;
    auto counts = kr::test::UpsertCharacters(*this->store_, {c});
    EXPECT_EQ(counts.updated, 1u);
    auto r2 =
        this->Query("SELECT title, alliance_id, faction_id, corporation_id FROM characters WHERE id = 2118421377");
    EXPECT_TRUE(r2.IsNull(0, 0));
    EXPECT_TRUE(r2.IsNull(0, 1));
    EXPECT_TRUE(r2.IsNull(0, 2));
    EXPECT_EQ(r2.Int(0, 3), 1000182);
}

TYPED_TEST_P(StoreCases, UpsertCountsAndDuplicatesInBatch) {
    std::vector<Character> chars;
    for (const char* f : {"esi_character_2115636466.json", "esi_character_2118421377.json"}) {
        std::string name(f);
        Id id = std::stoll(name.substr(name.find_last_of('_') + 1));
        chars.push_back(esi_json::ParseCharacter(id, ReadSample(f)));
    }
    auto gar = esi_json::ParseCharacter(3019582, ReadSample("esi_character_GarOrga.json"));
    chars.push_back(gar);
    auto first = kr::test::UpsertCharacters(*this->store_, chars);
    EXPECT_EQ(first.created, 3u);
    EXPECT_EQ(this->Count("characters"), 3);

    chars[0].security_status = -2.5;  // changed
    Character dup = chars[1];
    dup.name = "Renamed";  // duplicate id in the same batch: the last one wins
    chars.push_back(dup);
    auto second = kr::test::UpsertCharacters(*this->store_, chars);
    EXPECT_EQ(second.created, 0u);
    EXPECT_EQ(second.updated, 2u);    // security status, renamed duplicate
    EXPECT_EQ(second.unchanged, 2u);  // Gar Orga + the shadowed duplicate
    EXPECT_EQ(this->Query("SELECT name FROM characters WHERE id = 2118421377").Text(0, 0), "Renamed");
    EXPECT_DOUBLE_EQ(this->Query("SELECT security_status FROM characters WHERE id = 2115636466").Double(0, 0), -2.5);
    auto empty = kr::test::UpsertCharacters(*this->store_, {});
    EXPECT_EQ(empty.created + empty.updated + empty.unchanged, 0u);
}

TYPED_TEST_P(StoreCases, TypesFromSamples) {
    std::vector<Type> types;
    for (Id id : {189, 2046, 35832, 602, 645}) {
        types.push_back(esi_json::ParseType(id, ReadSample("esi_type_" + std::to_string(id) + ".json")));
    }
    EXPECT_EQ(kr::test::UpsertTypes(*this->store_, types).created, 5u);
    auto r =
        this->Query("SELECT id, group_id, published, icon_id, volume, capacity, mass, name FROM types ORDER BY id");
    ASSERT_EQ(r.Rows(), 5u);
    EXPECT_EQ(r.Int(0, 0), 189);
    EXPECT_EQ(r.Int(0, 1), 83);
    EXPECT_TRUE(r.Bool(0, 2));
    EXPECT_EQ(r.Int(0, 3), 1293);
    EXPECT_EQ(r.Int(4, 0), 35832);
    EXPECT_TRUE(r.IsNull(4, 3));  // the Astrahus has no icon_id
    EXPECT_EQ(r.Text(1, 7), "Kestrel");
    EXPECT_DOUBLE_EQ(r.Double(1, 5), 160);
    EXPECT_EQ(kr::test::UpsertTypes(*this->store_, types).unchanged, 5u);
}

TYPED_TEST_P(StoreCases, NamesWithMetacharactersRoundTrip) {
    const std::vector<std::string> names{
        "O'Brien \"The Hammer\"",
        "back\\slash\\\\ and {braces}, commas",
        "Robert'); DROP TABLE characters; --",
        "NULL",
        "",
        "tab\there\nnewline",
        "Ünïcødé ✈ 漢字 🚀",
        "$1 dollar $2",
    };
    std::vector<Character> chars;
    for (std::size_t i = 0; i < names.size(); ++i) {
        Character c;
        c.id = 2'100'000'000 + static_cast<Id>(i);
        c.name = names[i];
        c.corporation_id = 98000000;
        c.birthday = "2020-01-01T00:00:00Z";
        c.bloodline_id = 1;
        c.race_id = 1;
        c.gender = "female";
        c.description = names[names.size() - 1 - i];
        c.title = names[i];
        chars.push_back(c);
    }
    EXPECT_EQ(kr::test::UpsertCharacters(*this->store_, chars).created, names.size());
    auto r = this->Query("SELECT name, description, title FROM characters ORDER BY id");
    ASSERT_EQ(r.Rows(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(r.Text(i, 0), names[i]);
        ASSERT_FALSE(r.IsNull(i, 1)) << i;  // the string "NULL" is not SQL NULL
        EXPECT_EQ(r.Text(i, 1), names[names.size() - 1 - i]);
        EXPECT_EQ(r.Text(i, 2), names[i]);
    }
    EXPECT_EQ(kr::test::UpsertCharacters(*this->store_, chars).unchanged, names.size());
    // The users table and the cache go through other paths: check them too.
    for (std::size_t i = 0; i < names.size(); ++i) this->store_->AddUser(95000000 + static_cast<Id>(i), names[i]);
    auto users = this->store_->ListUserCharacters();
    ASSERT_EQ(users.size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(users[i].second, names[i]);
}

TYPED_TEST_P(StoreCases, IdsAbove2To31) {
    const Id big = 3'000'000'000LL;
    Alliance a;
    a.id = big;
    a.name = "Big";
    a.ticker = "BIG";
    a.date_founded = "2030-01-01T00:00:00Z";
    a.creator_corporation_id = big + 1;
    a.creator_id = big + 2;
    a.executor_corporation_id = big + 1;
    EXPECT_EQ(kr::test::UpsertAlliances(*this->store_, {a}).created, 1u);
    EXPECT_EQ(this->Query("SELECT executor_corporation_id FROM alliances WHERE id = $1", {big}).Int(0, 0), big + 1);
    EXPECT_EQ(this->store_->ExistingIds(EntityKind::kAlliance, {big, 1}), std::unordered_set<Id>{big});

    Killmail km = SyntheticKillmail(big + 5);
    km.victim.character_id = big + 10;
    km.attackers[0].alliance_id = big;
    auto res = this->store_->StoreKillmails({km});
    EXPECT_EQ(res.inserted, 1u);
    EXPECT_EQ(this->store_->ExistingKillmailIds({big + 5}).count(big + 5), 1u);
    EXPECT_EQ(this->Query("SELECT character_id FROM victims WHERE killmail_id = $1", {big + 5}).Int(0, 0), big + 10);
    EXPECT_EQ(this->store_->AddUser(big + 10, "Big Pilot"), this->store_->AddUser(big + 10, "Big Pilot"));
    EXPECT_EQ(this->store_->ListUserCharacters().at(0).first, big + 10);
}

TYPED_TEST_P(StoreCases, HttpCacheRoundTrip) {
    std::int64_t now = this->NowMs();
    std::vector<CacheEntry> entries{
        kr::test::EntityCache(EntityKind::kAlliance, 99003214, std::string("\"etag-1\""), now + 3'600'000, 200, now),
        kr::test::EntityCache(EntityKind::kCharacter, 5, std::nullopt, now + 3 * 86'400'000LL, 404, now),
        {"/alliances/", std::string("W/\"list\""), std::nullopt, now + 60'000, 200, 0, std::nullopt, 0},
    };
    entries[0].last_modified = "Sat, 28 Nov 2026 10:00:00 GMT";
    this->store_->SaveHttpCache(entries);
    auto loaded = this->store_->LoadHttpCache({"/alliances/99003214/", "/characters/5/", "/alliances/", "/nope/"});
    ASSERT_EQ(loaded.size(), 3u);
    const auto& a = loaded.at("/alliances/99003214/");
    EXPECT_EQ(a.etag, "\"etag-1\"");
    EXPECT_EQ(a.last_modified, "Sat, 28 Nov 2026 10:00:00 GMT");
    EXPECT_EQ(a.expires_at_ms, now + 3'600'000);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.checked_at_ms, now);
    const auto& c = loaded.at("/characters/5/");
    EXPECT_EQ(c.status, 404);
    EXPECT_EQ(c.entity_kind, EntityKind::kCharacter);
    EXPECT_EQ(c.entity_id, 5);
    EXPECT_EQ(a, entries[0]);  // one type from the table to the wire: the row comes back whole
    EXPECT_FALSE(c.etag.has_value());
    EXPECT_GT(loaded.at("/alliances/").checked_at_ms, 0);  // 0 = now
    // The entity columns come from the entry (none for a list).
    auto r = this->Query("SELECT entity_kind, entity_id FROM kr_http_cache ORDER BY path");
    EXPECT_TRUE(r.IsNull(0, 0));  // /alliances/ is a list
    EXPECT_EQ(r.Text(1, 0), "alliance");
    EXPECT_EQ(r.Int(1, 1), 99003214);
    EXPECT_EQ(r.Text(2, 0), "character");
    // A 304 refresh replaces expiry/check time, keeps what it is given.
    CacheEntry refreshed = entries[0];
    refreshed.expires_at_ms = now + 7'200'000;
    refreshed.checked_at_ms = now + 1;
    this->store_->SaveHttpCache({refreshed});
    auto again = this->store_->LoadHttpCache({"/alliances/99003214/"});
    EXPECT_EQ(again.at("/alliances/99003214/").expires_at_ms, now + 7'200'000);
    EXPECT_EQ(again.at("/alliances/99003214/").etag, "\"etag-1\"");
    EXPECT_EQ(this->Count("kr_http_cache"), 3);
    // A row saved without its entity keeps the stored one (the scan skips 404s by it).
    CacheEntry bare = entries[1];
    bare.entity_kind.reset();
    bare.entity_id = 0;
    bare.checked_at_ms = now + 2;
    this->store_->SaveHttpCache({bare});
    auto kept = this->store_->LoadHttpCache({"/characters/5/"}).at("/characters/5/");
    EXPECT_EQ(kept.entity_kind, EntityKind::kCharacter);
    EXPECT_EQ(kept.entity_id, 5);
    EXPECT_EQ(kept.checked_at_ms, now + 2);
    EXPECT_TRUE(this->store_->LoadHttpCache({}).empty());
}

TYPED_TEST_P(StoreCases, AllianceListsAreKeptBesideTheCorporationsStoredWithTheAlliance) {
    auto& s = *this->store_;
    const std::int64_t now = this->NowMs();
    auto members = s.LoadAllianceMembers(99003214);
    EXPECT_FALSE(members.listed.has_value());
    EXPECT_TRUE(members.stored.empty());
    // An empty list is a list (an alliance without corporations), not "none kept".
    s.SaveAllianceList({99003214, {}}, std::nullopt);
    EXPECT_EQ(s.LoadAllianceMembers(99003214).listed, std::vector<Id>{});
    CacheEntry list{
        "/alliances/99003214/corporations/", std::string("\"l\""), std::nullopt, now + 60'000, 200, 0, std::nullopt, 0};
    s.SaveAllianceList({99003214, {98000003, 98000001, 98000003}}, list);  // kept sorted and unique
    EXPECT_EQ(s.LoadAllianceMembers(99003214).listed, (std::vector<Id>{98000001, 98000003}));
    EXPECT_EQ(s.LoadHttpCache({list.path}).at(list.path).etag, "\"l\"");
    EXPECT_FALSE(s.LoadAllianceMembers(99000001).listed.has_value());

    EntityBatch corps;
    for (auto [id, alliance] : std::vector<std::pair<Id, std::optional<Id>>>{
             {98000002, 99003214}, {98000001, 99003214}, {98000005, 99000001}, {98000006, std::nullopt}}) {
        Corporation c;
        c.id = id;
        c.name = "c";
        c.ticker = "C";
        c.alliance_id = alliance;
        corps.entities.emplace_back(c);
        CacheEntry e = EntityCacheEntry(EntityKind::kCorporation, id);
        e.expires_at_ms = now + (id == 98000005 ? -1 : 3'600'000);
        corps.cache.push_back(e);
    }
    s.ApplyEntityBatch(corps);
    EXPECT_EQ(s.LoadAllianceMembers(99003214).stored, (std::vector<Id>{98000001, 98000002}));

    // Stale now, ETag kept; a row that is stale already keeps its time; unknown paths are ignored.
    s.ExpireHttpCache({"/corporations/98000002/", "/corporations/98000005/", "/corporations/1/"});
    auto rows = s.LoadHttpCache({"/corporations/98000001/", "/corporations/98000002/", "/corporations/98000005/"});
    EXPECT_EQ(rows.at("/corporations/98000001/").expires_at_ms, now + 3'600'000);
    EXPECT_EQ(rows.at("/corporations/98000002/").expires_at_ms, now);
    EXPECT_EQ(rows.at("/corporations/98000005/").expires_at_ms, now - 1);
    EXPECT_EQ(this->Count("kr_http_cache"), 5);
    s.ExpireHttpCache({});
}

TYPED_TEST_P(StoreCases, AffiliationsAreAppliedSetBasedAndTheChangedRowsReported) {
    auto& s = *this->store_;
    EntityBatch b;
    for (Id id : {90000002, 90000004, 90000006}) {
        Character c;
        c.id = id;
        c.name = "c";
        c.corporation_id = 98000001;
        c.alliance_id = 99000001;
        c.birthday = "2015-03-24T11:37:00Z";
        c.gender = "female";
        b.entities.emplace_back(c);
    }
    Corporation corp;
    corp.id = 98000001;
    corp.name = "c";
    corp.ticker = "C";
    corp.alliance_id = 99000001;
    b.entities.emplace_back(corp);
    s.ApplyEntityBatch(b);
    EXPECT_TRUE(s.ApplyAffiliations({}).empty());
    const auto changed = s.ApplyAffiliations({
        {90000006, 1000001, std::nullopt, std::nullopt},   // biomassed
        {90000002, 98000001, 99000001, std::nullopt},      // unchanged
        {90000004, 98000001, 99000001, 500001},            // joined a militia
        {90000008, 98000002, std::nullopt, std::nullopt},  // not stored: left alone
    });
    EXPECT_EQ(changed, (std::vector<Id>{90000004, 90000006}));
    auto r = this->Query("SELECT id, corporation_id, alliance_id, faction_id, name FROM characters ORDER BY id");
    ASSERT_EQ(r.Rows(), 3u);
    EXPECT_EQ(r.Int(0, 1), 98000001);
    EXPECT_EQ(r.Int(1, 1), 98000001);
    EXPECT_EQ(r.OptInt(1, 3), 500001);
    EXPECT_EQ(r.Int(2, 1), 1000001);
    EXPECT_TRUE(r.IsNull(2, 2));
    EXPECT_EQ(r.Text(2, 4), "c");  // the rest of the row is kept
    EXPECT_TRUE(s.ApplyAffiliations({{90000006, 1000001, std::nullopt, std::nullopt}}).empty());  // idempotent

    EXPECT_EQ(s.CorporationsWithOtherAlliance({{98000001, 99000002}, {98000009, std::nullopt}}),
              (std::vector<Id>{98000001}));
    EXPECT_TRUE(s.CorporationsWithOtherAlliance({{98000001, 99000001}}).empty());
    EXPECT_EQ(s.CorporationsWithOtherAlliance({{98000001, std::nullopt}}), (std::vector<Id>{98000001}));
}

TYPED_TEST_P(StoreCases, CorporationsWhoseMembersNewerAffiliationNamesAnotherAllianceAreListed) {
    auto& s = *this->store_;
    EntityBatch b;
    for (Id id : {90000002, 90000004}) {
        Character c;
        c.id = id;
        c.name = "c";
        c.corporation_id = id == 90000002 ? 98000001 : 98000002;
        c.alliance_id = 99000001;
        c.birthday = "2015-03-24T11:37:00Z";
        c.gender = "female";
        b.entities.emplace_back(c);
    }
    for (Id id : {98000001, 98000002}) {
        Corporation corp;
        corp.id = id;
        corp.name = "c";
        corp.ticker = "C";
        corp.alliance_id = 99000001;
        b.entities.emplace_back(corp);
    }
    s.ApplyEntityBatch(b);
    EXPECT_TRUE(s.CorporationsWithNewerOtherAlliance(0).empty());
    // A sweep: 98000001's member now says alliance 99000002 (its corporation moved).
    this->Tick();
    ASSERT_EQ(s.ApplyAffiliations({{90000002, 98000001, 99000002, std::nullopt}}), (std::vector<Id>{90000002}));
    EXPECT_EQ(s.CorporationsWithNewerOtherAlliance(0), (std::vector<Id>{98000001}));
    EXPECT_EQ(s.CorporationsWithNewerOtherAlliance(1), (std::vector<Id>{98000001}));
    // The corporation fetched since (in its new alliance): newer than its member, gone from the list.
    this->Tick();
    EntityBatch fetched;
    Corporation moved;
    moved.id = 98000001;
    moved.name = "c";
    moved.ticker = "C";
    moved.alliance_id = 99000002;
    fetched.entities.emplace_back(moved);
    s.ApplyEntityBatch(fetched);
    EXPECT_TRUE(s.CorporationsWithNewerOtherAlliance(0).empty());
    // A corporation stored after its member's (older, stale) affiliation is not listed.
    this->Tick();
    Corporation newer;
    newer.id = 98000002;
    newer.name = "c";
    newer.ticker = "C";
    newer.alliance_id = std::nullopt;  // left its alliance; the member's row still says 99000001
    EntityBatch later;
    later.entities.emplace_back(newer);
    s.ApplyEntityBatch(later);
    EXPECT_TRUE(s.CorporationsWithNewerOtherAlliance(0).empty());
}

TYPED_TEST_P(StoreCases, ApplyEntityBatchWritesEntitiesAndCacheAndClearsPending) {
    this->store_->MarkPending(EntityKind::kAlliance, {99003214, 1354830081});
    this->store_->MarkPending(EntityKind::kCharacter, {2115636466, 77777777});
    EntityBatch batch;
    batch.entities.push_back(esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json")));
    batch.entities.push_back(esi_json::ParseAlliance(1354830081, ReadSample("esi_alliance_1354830081.json")));
    batch.entities.push_back(esi_json::ParseCharacter(2115636466, ReadSample("esi_character_2115636466.json")));
    std::int64_t now = this->NowMs();
    batch.cache.push_back(
        kr::test::EntityCache(EntityKind::kAlliance, 99003214, std::string("e1"), now + 3'600'000, 200, now));
    batch.cache.push_back(
        kr::test::EntityCache(EntityKind::kAlliance, 1354830081, std::string("e2"), now + 3'600'000, 200, now));
    batch.cache.push_back(
        kr::test::EntityCache(EntityKind::kCharacter, 2115636466, std::string("e3"), now + 86'400'000, 200, now));
    batch.cache.push_back(
        kr::test::EntityCache(EntityKind::kCharacter, 77777777, std::nullopt, now + 7 * 86'400'000LL, 404, now));
    auto res = this->store_->ApplyEntityBatch(batch);
    EXPECT_EQ(res.counts[EntityKind::kAlliance].created, 2u);
    EXPECT_EQ(res.counts[EntityKind::kCharacter].created, 1u);
    EXPECT_EQ(res.Total().created, 3u);
    EXPECT_EQ(res.cache_saved, 4u);
    EXPECT_EQ(this->Count("alliances"), 2);
    EXPECT_EQ(this->Count("kr_http_cache"), 4);
    EXPECT_EQ(this->Count("kr_pending_entities"), 0);  // stored or known-missing now
    auto again = this->store_->ApplyEntityBatch(batch);
    EXPECT_EQ(again.Total().unchanged, 3u);
}

TYPED_TEST_P(StoreCases, ExistingIds) {
    auto a = esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json"));
    kr::test::UpsertAlliances(*this->store_, {a});
    EXPECT_EQ(this->store_->ExistingIds(EntityKind::kAlliance, {99003214, 1, 99003214, 5}),
              std::unordered_set<Id>{99003214});
    EXPECT_TRUE(this->store_->ExistingIds(EntityKind::kCharacter, {99003214}).empty());
    EXPECT_TRUE(this->store_->ExistingIds(EntityKind::kAlliance, {}).empty());
    std::vector<Id> many;
    for (Id i = 0; i < 5000; ++i) many.push_back(i);
    many.push_back(99003214);
    EXPECT_EQ(this->store_->ExistingIds(EntityKind::kAlliance, many).size(), 1u);
}

/// A small universe: region 10000002 ← constellation 20000020 ← systems 30000142 (Jita), 30000144.
inline std::vector<Entity> SmallUniverse() {
    Region forge{10000002, "The Forge", std::string("The heart of the Caldari State")};
    Constellation kimotoro{20000020, "Kimotoro", 10000002, {-1.1e17, 3.8e16, -8.3e16}};
    SolarSystem jita{30000142, "Jita", 20000020, 0.9459, std::string("B"), 40009077, {-1.29e17, 6.07e16, 1.17e17}};
    SolarSystem perimeter{30000144, "Perimeter", 20000020, 0.9, std::nullopt, std::nullopt, {1, 2, 3}};
    // Children before parents: ApplyEntityBatch writes by kind, parents first.
    return {jita, perimeter, kimotoro, forge};
}

TYPED_TEST_P(StoreCases, UniverseTablesAreTheOriginalsAndWrittenParentsFirst) {
    EntityBatch batch;
    batch.entities = SmallUniverse();
    auto r = this->store_->ApplyEntityBatch(batch);
    EXPECT_EQ(r.counts[EntityKind::kRegion].created, 1u);
    EXPECT_EQ(r.counts[EntityKind::kConstellation].created, 1u);
    EXPECT_EQ(r.counts[EntityKind::kSolarSystem].created, 2u);
    auto sys = this->Query(
        "SELECT name, constellation_id, security_status, security_class, star_id, position_x, position_y, position_z "
        "FROM solar_systems ORDER BY system_id");
    ASSERT_EQ(sys.Rows(), 2u);
    EXPECT_EQ(sys.Text(0, 0), "Jita");
    EXPECT_EQ(sys.Int(0, 1), 20000020);
    EXPECT_DOUBLE_EQ(sys.Double(0, 2), 0.9459);
    EXPECT_EQ(sys.OptText(0, 3), "B");
    EXPECT_EQ(sys.OptInt(0, 4), 40009077);
    EXPECT_DOUBLE_EQ(sys.Double(0, 5), -1.29e17);
    EXPECT_DOUBLE_EQ(sys.Double(0, 7), 1.17e17);
    EXPECT_TRUE(sys.IsNull(1, 3));  // security_class absent in ESI's answer: NULL
    EXPECT_TRUE(sys.IsNull(1, 4));
    auto con = this->Query("SELECT name, region_id, position_y FROM constellations WHERE constellation_id = 20000020");
    EXPECT_EQ(con.Text(0, 0), "Kimotoro");
    EXPECT_EQ(con.Int(0, 1), 10000002);
    EXPECT_DOUBLE_EQ(con.Double(0, 2), 3.8e16);
    EXPECT_EQ(this->Query("SELECT description FROM regions WHERE region_id = 10000002").Text(0, 0),
              "The heart of the Caldari State");
    // Keyed by their own key columns.
    EXPECT_EQ(this->store_->ExistingIds(EntityKind::kSolarSystem, {30000142, 30000143}),
              (std::unordered_set<Id>{30000142}));
    EXPECT_EQ(this->store_->ListIds(EntityKind::kSolarSystem, 30000142, 10), (std::vector<Id>{30000144}));
    auto f = this->store_->LookupFreshness(
        EntityKind::kRegion, {10000002, 10000043},
        {EntityPath(EntityKind::kRegion, 10000002), EntityPath(EntityKind::kRegion, 10000043)});
    EXPECT_EQ(f.existing, (std::unordered_set<Id>{10000002}));

    // The same again: unchanged; a renamed system: updated; a system moved to a missing
    // constellation: the foreign key refuses it.
    EXPECT_EQ(this->store_->ApplyEntityBatch(batch).Total().unchanged, 4u);
    SolarSystem renamed = std::get<SolarSystem>(batch.entities[0]);
    renamed.name = "Jita Prime";
    EntityBatch change;
    change.entities.push_back(renamed);
    EXPECT_EQ(this->store_->ApplyEntityBatch(change).counts[EntityKind::kSolarSystem].updated, 1u);
    EXPECT_EQ(this->Query("SELECT name FROM solar_systems WHERE system_id = 30000142").Text(0, 0), "Jita Prime");
    renamed.constellation_id = 20000021;
    change.entities = {renamed};
    EXPECT_THROW(this->store_->ApplyEntityBatch(change), PermanentError);
    EXPECT_EQ(this->Query("SELECT constellation_id FROM solar_systems WHERE system_id = 30000142").Int(0, 0), 20000020);
}

TYPED_TEST_P(StoreCases, LookupFreshnessAnswersExistenceAndCacheRowsTogether) {
    auto a = esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json"));
    kr::test::UpsertAlliances(*this->store_, {a});
    std::int64_t now = this->NowMs();
    this->store_->SaveHttpCache(
        {kr::test::EntityCache(EntityKind::kAlliance, 99003214, std::string("\"e1\""), now + 3'600'000, 200, now),
         kr::test::EntityCache(EntityKind::kAlliance, 5, std::nullopt, now + 86'400'000, 404, now)});
    std::vector<Id> ids{99003214, 5, 1354830081};
    std::vector<std::string> paths;
    for (Id id : ids) paths.push_back(EntityPath(EntityKind::kAlliance, id));
    auto f = this->store_->LookupFreshness(EntityKind::kAlliance, ids, paths);
    EXPECT_EQ(f.existing, std::unordered_set<Id>{99003214});
    ASSERT_EQ(f.cache.size(), 2u);
    EXPECT_EQ(f.cache.at(paths[0]).etag, "\"e1\"");
    EXPECT_EQ(f.cache.at(paths[0]).expires_at_ms, now + 3'600'000);
    EXPECT_EQ(f.cache.at(paths[1]).status, 404);
    EXPECT_FALSE(f.cache.at(paths[1]).etag.has_value());
    // another kind's table is not consulted
    EXPECT_TRUE(this->store_->LookupFreshness(EntityKind::kCorporation, {99003214}, {"/corporations/99003214/"})
                    .existing.empty());
    EXPECT_TRUE(this->store_->LookupFreshness(EntityKind::kAlliance, {}, {}).cache.empty());
}

TYPED_TEST_P(StoreCases, KillmailsAreIdempotent) {
    auto kms = AllSampleKillmails();
    std::size_t attackers = 0, items = 0;
    for (const auto& km : kms) {
        attackers += km.attackers.size();
        items += km.victim.items.size();
    }
    auto first = this->store_->StoreKillmails(kms);
    EXPECT_EQ(first.inserted, kms.size());
    EXPECT_EQ(first.already_present, 0u);
    EXPECT_TRUE(first.rejected.empty());
    std::vector<Id> ids, new_ids = first.new_ids;  // what is pushed after the commit
    for (const auto& km : kms) ids.push_back(km.killmail_id);
    std::sort(ids.begin(), ids.end());
    std::sort(new_ids.begin(), new_ids.end());
    EXPECT_EQ(new_ids, ids);
    auto counts = this->store_->Counts();
    EXPECT_EQ(this->Count("killmails"), static_cast<std::int64_t>(kms.size()));
    EXPECT_EQ(this->Count("victims"), static_cast<std::int64_t>(kms.size()));
    EXPECT_EQ(this->Count("attackers"), static_cast<std::int64_t>(attackers));
    EXPECT_EQ(this->Count("killmail_items"), static_cast<std::int64_t>(items));
    EXPECT_EQ(this->Count("kr_killmail_item_children"), 10);

    kms.push_back(kms[0]);  // a duplicate inside the batch as well
    auto second = this->store_->StoreKillmails(kms);
    EXPECT_EQ(second.inserted, 0u);
    EXPECT_EQ(second.already_present, kms.size());
    EXPECT_TRUE(second.new_ids.empty());        // stored a second time: no event
    EXPECT_EQ(this->store_->Counts(), counts);  // nothing duplicated

    // killmail row contents
    auto r = this->Query(
        "SELECT killmail_hash, killmail_time, solar_system_id, attacker_count, is_war_related, total_value, "
        "created_at, updated_at FROM killmails WHERE killmail_id = 115787551");
    EXPECT_EQ(r.Text(0, 0), "0123456789abcdef");
    EXPECT_EQ(r.Int(0, 2), kms[0].solar_system_id);
    EXPECT_EQ(r.Int(0, 3), 498);
    EXPECT_TRUE(r.Bool(0, 4));    // war_id 737702
    EXPECT_TRUE(r.IsNull(0, 5));  // no zkb values from ESI
    EXPECT_EQ(r.Text(0, 6), r.Text(0, 7));
    EXPECT_EQ(NormTs(r.Text(0, 1)), NormTs(kms[0].killmail_time));
    EXPECT_FALSE(this->Query("SELECT is_war_related FROM killmails WHERE killmail_id = 132467594").Bool(0, 0));
    EXPECT_EQ(this->store_->ExistingKillmailIds({115787551, 1, 132467594}),
              (std::unordered_set<Id>{115787551, 132467594}));
}

TYPED_TEST_P(StoreCases, NestedContainerItems) {
    Killmail km = SampleKillmail("killmail_119689329.json");
    std::size_t container = km.victim.items.size();
    for (std::size_t i = 0; i < km.victim.items.size(); ++i) {
        if (!km.victim.items[i].items.empty()) container = i;
    }
    ASSERT_LT(container, km.victim.items.size());
    ASSERT_EQ(this->store_->StoreKillmails({km}).inserted, 1u);
    EXPECT_EQ(this->Count("killmail_items"), 36);
    auto r = this->Query(
        "SELECT position, parent_position, parent_item_type_id, parent_flag, parent_child_position, depth, "
        "item_type_id, flag, quantity_destroyed, quantity_dropped, singleton FROM kr_killmail_item_children "
        "WHERE killmail_id = 119689329 ORDER BY position");
    const auto& children = km.victim.items[container].items;
    ASSERT_EQ(r.Rows(), children.size());
    ASSERT_EQ(r.Rows(), 10u);
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        EXPECT_EQ(r.Int(i, 0), static_cast<std::int64_t>(i));
        EXPECT_EQ(r.Int(i, 1), static_cast<std::int64_t>(container));
        EXPECT_EQ(r.Int(i, 2), 37456);
        EXPECT_EQ(r.Int(i, 3), 90);
        EXPECT_TRUE(r.IsNull(i, 4));
        EXPECT_EQ(r.Int(i, 5), 1);
        EXPECT_EQ(r.Int(i, 6), children[i].item_type_id);
        EXPECT_EQ(r.Int(i, 7), children[i].flag);
        EXPECT_EQ(r.OptInt(i, 8), children[i].quantity_destroyed);
        EXPECT_EQ(r.OptInt(i, 9), children[i].quantity_dropped);
        EXPECT_EQ(r.Int(i, 10), children[i].singleton);
    }
    EXPECT_EQ(r.Int(0, 6), 17559);
    // The container itself is a top-level row.
    EXPECT_EQ(this->Query("SELECT count(*) FROM killmail_items WHERE killmail_id = 119689329 AND item_type_id = 37456 "
                          "AND flag = 90")
                  .Int(0, 0),
              1);

    // Deeper nesting (a container in a container): parent_child_position links the levels.
    Killmail deep = SyntheticKillmail(5001);
    KillmailItem outer{3467, 5, std::nullopt, 1, 1, {}};
    KillmailItem inner{3465, 0, std::nullopt, 1, 1, {{34, 0, 100, std::nullopt, 0, {}}}};
    outer.items = {{35, 0, std::nullopt, 50, 0, {}}, inner};
    deep.victim.items = {{2046, 11, 1, std::nullopt, 1, {}}, outer};
    ASSERT_EQ(this->store_->StoreKillmails({deep}).inserted, 1u);
    auto d = this->Query(
        "SELECT position, parent_position, parent_item_type_id, parent_child_position, depth, item_type_id, "
        "quantity_dropped FROM kr_killmail_item_children WHERE killmail_id = 5001 ORDER BY position");
    ASSERT_EQ(d.Rows(), 3u);
    EXPECT_EQ(d.Int(0, 5), 35);
    EXPECT_EQ(d.Int(0, 1), 1);
    EXPECT_EQ(d.Int(0, 2), 3467);
    EXPECT_EQ(d.Int(0, 4), 1);
    EXPECT_EQ(d.Int(1, 5), 3465);
    EXPECT_EQ(d.Int(2, 5), 34);
    EXPECT_EQ(d.Int(2, 2), 3465);
    EXPECT_EQ(d.Int(2, 3), 1);  // parent = the row at position 1
    EXPECT_EQ(d.Int(2, 4), 2);
    EXPECT_EQ(d.Int(2, 6), 100);
}

TYPED_TEST_P(StoreCases, StructureVictimAndFactionOnlyAttacker) {
    Killmail structure = SampleKillmail("killmail_115787551.json");
    ASSERT_FALSE(structure.victim.character_id.has_value());
    Killmail npc = SampleKillmail("killmail_130734446.json");
    Killmail faction_only = SyntheticKillmail(6001);
    Attacker a;
    a.faction_id = 500021;
    a.damage_done = 10;
    faction_only.attackers = {a};
    auto res = this->store_->StoreKillmails({structure, npc, faction_only});
    EXPECT_EQ(res.inserted, 3u);
    auto v = this->Query(
        "SELECT character_id, corporation_id, ship_type_id, position_x FROM victims "
        "WHERE killmail_id = 115787551");
    EXPECT_TRUE(v.IsNull(0, 0));
    EXPECT_EQ(v.Int(0, 1), *structure.victim.corporation_id);
    EXPECT_EQ(v.Int(0, 2), structure.victim.ship_type_id);
    EXPECT_DOUBLE_EQ(v.Double(0, 3), structure.victim.position->x);
    auto at = this->Query(
        "SELECT character_id, corporation_id, alliance_id, faction_id, weapon_type_id, damage_done, "
        "final_blow, security_status FROM attackers WHERE killmail_id = 130734446");
    ASSERT_EQ(at.Rows(), 1u);
    EXPECT_TRUE(at.IsNull(0, 0));
    EXPECT_TRUE(at.IsNull(0, 1));
    EXPECT_TRUE(at.IsNull(0, 2));
    EXPECT_EQ(at.Int(0, 3), 500021);
    EXPECT_TRUE(at.IsNull(0, 4));
    EXPECT_EQ(at.Int(0, 5), 546940);
    EXPECT_TRUE(at.Bool(0, 6));
    EXPECT_DOUBLE_EQ(at.Double(0, 7), 0.0);
    auto f = this->Query(
        "SELECT character_id, ship_type_id, security_status, final_blow FROM attackers "
        "WHERE killmail_id = 6001");
    EXPECT_TRUE(f.IsNull(0, 0));
    EXPECT_TRUE(f.IsNull(0, 1));
    EXPECT_TRUE(f.IsNull(0, 2));
    EXPECT_FALSE(f.Bool(0, 3));
}

TYPED_TEST_P(StoreCases, ZkbValuesAndRejectedKillmails) {
    auto page = esi_json::ParseZkbPage(ReadSample("zkill_api_character_list_2017_fullformat.json"));
    ASSERT_EQ(page.size(), 2u);
    std::vector<Killmail> kms;
    for (auto& e : page) kms.push_back(*e.killmail);
    Killmail bad = SyntheticKillmail(7001);
    bad.victim.corporation_id.reset();
    kms.push_back(bad);
    auto res = this->store_->StoreKillmails(kms);
    EXPECT_EQ(res.inserted, 2u);
    ASSERT_EQ(res.rejected.size(), 1u);
    EXPECT_EQ(res.rejected[0].first, 7001);
    auto r = this->Query("SELECT killmail_hash, total_value, dropped_value FROM killmails WHERE killmail_id = $1",
                         {page[0].killmail_id});
    EXPECT_EQ(r.Text(0, 0), page[0].zkb.hash);
    EXPECT_DOUBLE_EQ(r.Double(0, 1), *page[0].zkb.total_value);
    EXPECT_EQ(r.OptDouble(0, 2), page[0].zkb.dropped_value);
}

TYPED_TEST_P(StoreCases, Users) {
    auto id1 = this->store_->AddUser(95465499, "CCP Falcon");
    auto id2 = this->store_->AddUser(90000001, "Someone");
    EXPECT_NE(id1, id2);
    EXPECT_EQ(this->store_->AddUser(95465499, "CCP Falcon (renamed)"), id1);
    auto users = this->store_->ListUserCharacters();
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(users[0], (std::pair<Id, std::string>{90000001, "Someone"}));
    EXPECT_EQ(users[1], (std::pair<Id, std::string>{95465499, "CCP Falcon (renamed)"}));
    auto r = this->Query("SELECT created_at, updated_at FROM users WHERE character_id = 95465499");
    EXPECT_FALSE(r.IsNull(0, 0));
    EXPECT_FALSE(r.IsNull(0, 1));
}

TYPED_TEST_P(StoreCases, MissingReferencedIds) {
    const Id big = (Id{1} << 31) + 5;
    auto with_chars = [](Id id, Id victim, std::vector<Id> attackers) {
        Killmail km = SyntheticKillmail(id);
        km.victim.character_id = victim;
        km.attackers.clear();
        for (Id a : attackers) {
            Attacker at;
            at.character_id = a;
            at.corporation_id = 98000002;
            at.damage_done = 1;
            km.attackers.push_back(at);
        }
        return km;
    };
    std::vector<Killmail> kms{
        with_chars(1, 90000001, {500, 3500000, 90000002}),  // NPCs: 500 (<1M), 3.5M (3M–4M)
        with_chars(2, 90000003, {90000001, 90000004, big}),
        with_chars(3, 90000005, {90000006, 4000000, 999999}),  // 4,000,000 is a player id
    };
    // nested item type
    kms[2].victim.items = {{3467, 5, std::nullopt, 1, 1, {{34, 0, 100, std::nullopt, 0, {}}}}};
    ASSERT_EQ(this->store_->StoreKillmails(kms).inserted, 3u);

    Character known;
    known.id = 90000001;
    known.name = "Known";
    known.corporation_id = 98000000;
    known.alliance_id = 99000001;
    known.birthday = "2020-01-01T00:00:00Z";
    known.gender = "male";
    kr::test::UpsertCharacters(*this->store_, {known});

    const std::int64_t now = this->NowMs();
    this->clock_.Set((now - 60'000) * 1000);
    this->store_->MarkPending(EntityKind::kCharacter, {90000002});  // fresh: skipped
    this->clock_.Set((now - 7 * 3'600'000LL) * 1000);
    this->store_->MarkPending(EntityKind::kCharacter, {90000003});  // stale: returned
    this->clock_.Set(now * 1000);
    this->store_->SaveHttpCache({kr::test::EntityCache(EntityKind::kCharacter, 90000004, std::nullopt, now + 86'400'000,
                                                       404, now),  // known missing
                                 kr::test::EntityCache(EntityKind::kCharacter, 90000005, std::nullopt, now - 1, 404,
                                                       now - 90'000'000),  // 404 expired
                                 kr::test::EntityCache(EntityKind::kCharacter, 90000006, std::string("e"),
                                                       now + 86'400'000, 200, now)});  // 200: no effect

    const std::vector<Id> expected{4000000, 90000003, 90000005, 90000006, big};
    EXPECT_EQ(this->store_->MissingReferencedIds(EntityKind::kCharacter, 0, 100), expected);
    // keyset paging, one at a time
    std::vector<Id> paged;
    Id after = 0;
    for (;;) {
        auto page = this->store_->MissingReferencedIds(EntityKind::kCharacter, after, 2);
        if (page.empty()) break;
        EXPECT_LE(page.size(), 2u);
        paged.insert(paged.end(), page.begin(), page.end());
        after = page.back();
    }
    EXPECT_EQ(paged, expected);
    // a shorter TTL makes the fresh pending id eligible again
    ScanOptions short_ttl;
    short_ttl.pending_ttl = std::chrono::seconds(30);
    auto with_fresh = this->store_->MissingReferencedIds(EntityKind::kCharacter, 0, 100, short_ttl);
    EXPECT_NE(std::find(with_fresh.begin(), with_fresh.end(), 90000002), with_fresh.end());
    // 'now' in the future: the 404 record has expired
    this->clock_.Set((now + 2 * 86'400'000LL) * 1000);
    auto after_expiry = this->store_->MissingReferencedIds(EntityKind::kCharacter, 0, 100);
    EXPECT_NE(std::find(after_expiry.begin(), after_expiry.end(), 90000004), after_expiry.end());
    this->clock_.Set(now * 1000);

    // the same filter over a given id set (what the zKillboard worker queues after a page)
    EXPECT_EQ(this->store_->FilterMissing(EntityKind::kCharacter, {big, 90000001, 90000002, 90000003, 90000004,
                                                                   90000005, 500, 3500000, 90000003, 4000000}),
              (std::vector<Id>{4000000, 90000003, 90000005, big}));
    EXPECT_TRUE(this->store_->FilterMissing(EntityKind::kCharacter, {}).empty());
    EXPECT_EQ(this->store_->ListIds(EntityKind::kCharacter, 0, 10), (std::vector<Id>{90000001}));
    EXPECT_TRUE(this->store_->ListIds(EntityKind::kCharacter, 90000001, 10).empty());

    // corporations: victims + attackers (+ characters.corporation_id)
    EXPECT_EQ(this->store_->MissingReferencedIds(EntityKind::kCorporation, 0, 100),
              (std::vector<Id>{98000000, 98000002}));
    ScanOptions only_killmails;
    only_killmails.sources = kFromKillmails;
    ScanOptions only_entities;
    only_entities.sources = kFromEntities;
    EXPECT_EQ(this->store_->MissingReferencedIds(EntityKind::kCorporation, 0, 100, only_entities),
              (std::vector<Id>{98000000}));
    // alliances: only characters.alliance_id references one here
    EXPECT_EQ(this->store_->MissingReferencedIds(EntityKind::kAlliance, 0, 100), (std::vector<Id>{99000001}));
    EXPECT_TRUE(this->store_->MissingReferencedIds(EntityKind::kAlliance, 0, 100, only_killmails).empty());
    // types: victim ship 587, nested 34, container 3467
    EXPECT_EQ(this->store_->MissingReferencedIds(EntityKind::kType, 0, 100), (std::vector<Id>{34, 587, 3467}));
    Type t;
    t.id = 587;
    t.name = "Rifter";
    t.group_id = 25;
    kr::test::UpsertTypes(*this->store_, {t});
    EXPECT_EQ(this->store_->MissingReferencedIds(EntityKind::kType, 0, 100), (std::vector<Id>{34, 3467}));
    EXPECT_EQ(this->store_->MissingReferencedIds(EntityKind::kType, 34, 100), (std::vector<Id>{3467}));
    EXPECT_TRUE(this->store_->MissingReferencedIds(EntityKind::kType, 0, 100, only_entities).empty());
}

TYPED_TEST_P(StoreCases, KillmailsReferenceSolarSystemsAndListSweepsRoundTrip) {
    auto kms = AllSampleKillmails();
    this->store_->StoreKillmails(kms);
    std::set<Id> systems;
    for (const auto& km : kms) systems.insert(km.solar_system_id);
    auto missing = this->store_->MissingReferencedIds(EntityKind::kSolarSystem, 0, 1000);
    EXPECT_EQ(std::set<Id>(missing.begin(), missing.end()), systems);
    // Regions and constellations are referenced by the universe tables only, not by killmails.
    ScanOptions from_killmails;
    from_killmails.sources = kFromKillmails;
    EXPECT_TRUE(this->store_->MissingReferencedIds(EntityKind::kConstellation, 0, 1000, from_killmails).empty());

    EXPECT_TRUE(this->store_->LoadListSweeps({"/universe/systems/"}).empty());
    ListSweep sweep{"/universe/systems/", std::string("2964217"), this->NowMs(), this->NowMs() + 86'400'000};
    CacheEntry list;
    list.path = "/universe/systems/";
    list.etag = "\"list-v1\"";
    list.expires_at_ms = this->NowMs() + 3'600'000;
    this->store_->SaveListSweep(sweep, list);
    auto loaded = this->store_->LoadListSweeps({"/universe/systems/", "/universe/regions/"});
    ASSERT_EQ(loaded.size(), 1u);
    EXPECT_EQ(loaded.at("/universe/systems/"), sweep);
    EXPECT_EQ(this->store_->LoadHttpCache({"/universe/systems/"}).at("/universe/systems/").etag, "\"list-v1\"");
    sweep.server_version.reset();
    sweep.checked_at_ms += 1;
    this->store_->SaveListSweep(sweep, std::nullopt);
    EXPECT_EQ(this->store_->LoadListSweeps({"/universe/systems/"}).at("/universe/systems/"), sweep);
}

TYPED_TEST_P(StoreCases, CountsCoverAllTables) {
    this->store_->StoreKillmails({SampleKillmail("killmail_119689329.json")});
    auto counts = this->store_->Counts();
    std::map<std::string, std::int64_t> m(counts.begin(), counts.end());
    for (const char* t :
         {"alliances", "corporations", "characters", "types", "users", "killmails", "victims", "attackers",
          "killmail_items", "kr_killmail_item_children", "kr_http_cache", "kr_pending_entities", "kr_entity_outbox",
          "kr_zkb_sync", "regions", "constellations", "solar_systems", "kr_list_sweeps", "kr_live_cursor"}) {
        EXPECT_EQ(m.count(t), 1u) << t;
    }
    EXPECT_EQ(m["killmails"], 1);
    EXPECT_EQ(m["victims"], 1);
    EXPECT_EQ(m["attackers"], 1);
    EXPECT_EQ(m["killmail_items"], 36);
    EXPECT_EQ(m["kr_killmail_item_children"], 10);
}

TYPED_TEST_P(StoreCases, AKillmailPageRecordsItsEnrichmentAndChainStepInItsTransaction) {
    auto& s = *this->store_;
    PerKind<std::vector<Id>> enrich;
    enrich[EntityKind::kCharacter] = {90000001, 91000000};
    enrich[EntityKind::kType] = {587};
    ZkbChainStep step{{77, "2026-01-01T00:00:00.000Z", 1}, true, std::string("{\"page\":2}"), 5};
    const std::vector<Killmail> page{SyntheticKillmail(1), SyntheticKillmail(2)};
    auto r = s.StoreKillmailPage(page, enrich, &step);
    EXPECT_EQ(r.inserted, 2u);
    EXPECT_TRUE(r.step_taken);
    EXPECT_EQ(s.ListEntityOutbox(EntityKind::kCharacter, 0, 10), (std::vector<Id>{90000001, 91000000}));
    EXPECT_EQ(s.ListEntityOutbox(EntityKind::kCharacter, 90000001, 10), (std::vector<Id>{91000000}));
    EXPECT_EQ(s.ListEntityOutbox(EntityKind::kType, 0, 10), (std::vector<Id>{587}));
    EXPECT_TRUE(s.ListEntityOutbox(EntityKind::kAlliance, 0, 10).empty());
    auto at = s.LoadZkbChain(77);
    ASSERT_TRUE(at);
    EXPECT_EQ(at->chain, "2026-01-01T00:00:00.000Z");
    EXPECT_EQ(at->page, 1);
    EXPECT_FALSE(s.LoadZkbChain(78));
    auto next = s.UnpublishedZkbPages(0, 10);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].at.character_id, 77);
    EXPECT_EQ(next[0].at.page, 1);
    EXPECT_EQ(next[0].job, "{\"page\":2}");
    EXPECT_EQ(next[0].priority, 5);
    EXPECT_TRUE(s.UnpublishedZkbPages(77, 10).empty());

    // A refused killmail rolls back the whole page: no killmail, no enrichment, no step.
    kr::test::RefuseKillmail(this->Conn(), 4);
    PerKind<std::vector<Id>> more;
    more[EntityKind::kAlliance] = {99000001};
    ZkbChainStep step2{{77, "2026-01-01T00:00:00.000Z", 2}, false, std::nullopt, 5};
    const std::vector<Killmail> refused{SyntheticKillmail(3), SyntheticKillmail(4)};
    EXPECT_THROW(s.StoreKillmailPage(refused, more, &step2), PermanentError);
    EXPECT_EQ(this->Count("killmails"), 2);
    EXPECT_TRUE(s.ListEntityOutbox(EntityKind::kAlliance, 0, 10).empty());
    EXPECT_EQ(s.LoadZkbChain(77)->page, 1);

    // Published: the ids and the next page are cleared; other rows stay.
    PerKind<std::vector<Id>> done;
    done[EntityKind::kCharacter] = {90000001};
    done[EntityKind::kType] = {587};
    s.ClearPublished(done, &next[0].at);
    EXPECT_EQ(s.ListEntityOutbox(EntityKind::kCharacter, 0, 10), (std::vector<Id>{91000000}));
    EXPECT_TRUE(s.ListEntityOutbox(EntityKind::kType, 0, 10).empty());
    EXPECT_TRUE(s.UnpublishedZkbPages(0, 10).empty());
}

TYPED_TEST_P(StoreCases, AChainStepIsTakenOncePerPageAndOnlyByTheChainHoldingTheCharacter) {
    auto& s = *this->store_;
    auto take = [&](const std::string& chain, int page, bool takeover) {
        ZkbChainStep step{{42, chain, page}, takeover, "next of " + chain + " " + std::to_string(page), 0};
        return s.StoreKillmailPage({}, {}, &step).step_taken;
    };
    EXPECT_TRUE(take("A", 1, true));    // a new sync: the first row
    EXPECT_FALSE(take("A", 1, true));   // the same first message again
    EXPECT_TRUE(take("A", 2, false));   // the chain goes on
    EXPECT_FALSE(take("A", 2, false));  // a duplicate of page 2
    EXPECT_FALSE(take("A", 1, false));  // an older page
    EXPECT_FALSE(take("B", 3, false));  // a page of a chain that does not hold the character
    EXPECT_TRUE(take("B", 1, true));    // a new sync takes over
    EXPECT_FALSE(take("A", 3, false));  // the old chain is stale now
    auto at = s.LoadZkbChain(42);
    ASSERT_TRUE(at);
    EXPECT_EQ(at->chain, "B");
    EXPECT_EQ(at->page, 1);
    auto next = s.UnpublishedZkbPages(0, 10);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].job, "next of B 1");
    // Clearing the next page of a step the chain has left does not clear the current one.
    ZkbChainAt old{42, "A", 2};
    s.ClearPublished({}, &old);
    EXPECT_EQ(s.UnpublishedZkbPages(0, 10).size(), 1u);
    s.ClearPublished({}, &next[0].at);
    EXPECT_TRUE(s.UnpublishedZkbPages(0, 10).empty());
}

TYPED_TEST_P(StoreCases, TheLiveCursorIsHeldByOneProcessAndMovesWithItsKillmails) {
    auto& s = *this->store_;
    EXPECT_FALSE(s.LoadLiveCursor("r2z2"));
    // The first holder creates the row, not started; a second process does not get it.
    auto a = s.HoldLiveCursor("r2z2", "host:1", 60000);
    EXPECT_EQ(a.holder, "host:1");
    EXPECT_FALSE(a.sequence);
    auto b = s.HoldLiveCursor("r2z2", "host:2", 60000);
    EXPECT_EQ(b.holder, "host:1") << "two processes must never hold the feed together";
    EXPECT_FALSE(s.SetLiveCursor("r2z2", "host:2", 500));
    EXPECT_TRUE(s.SetLiveCursor("r2z2", "host:1", 100));
    EXPECT_EQ(s.LoadLiveCursor("r2z2")->sequence, 100);

    // A killmail and the step over it: one transaction.
    PerKind<std::vector<Id>> enrich;
    enrich[EntityKind::kCharacter] = {90000001};
    const std::vector<Killmail> one{SyntheticKillmail(1)};
    LiveCursorStep step{"r2z2", "host:1", 100, 101, 60000, {}};
    auto r = s.StoreLivePage(one, enrich, step);
    EXPECT_EQ(r.inserted, 1u);
    EXPECT_EQ(s.LoadLiveCursor("r2z2")->sequence, 101);
    EXPECT_EQ(s.ListEntityOutbox(EntityKind::kCharacter, 0, 10), (std::vector<Id>{90000001}));

    // The same step again (a duplicate), or by a process that does not hold the feed: nothing is
    // written, not even the killmail.
    const std::vector<Killmail> two{SyntheticKillmail(2)};
    EXPECT_THROW(s.StoreLivePage(two, {}, step), LiveCursorLost);
    LiveCursorStep other{"r2z2", "host:2", 101, 102, 60000, {}};
    EXPECT_THROW(s.StoreLivePage(two, {}, other), LiveCursorLost);
    EXPECT_EQ(this->Count("killmails"), 1);
    EXPECT_EQ(s.LoadLiveCursor("r2z2")->sequence, 101);

    // A killmail stored already (by history sync) is not written twice; the step is taken.
    LiveCursorStep next{"r2z2", "host:1", 101, 102, 60000, {}};
    r = s.StoreLivePage(one, {}, next);
    EXPECT_EQ(r.inserted, 0u);
    EXPECT_EQ(r.already_present, 1u);
    EXPECT_EQ(s.LoadLiveCursor("r2z2")->sequence, 102);

    // sequence_updated: the stored killmail's values are rewritten with the step.
    Killmail revalued = SyntheticKillmail(1);
    revalued.total_value = 1234.5;
    revalued.destroyed_value = 1000.5;
    revalued.dropped_value = 234;
    const std::vector<Killmail> changed{revalued};
    LiveCursorStep update{"r2z2", "host:1", 102, 103, 60000, changed};
    s.StoreLivePage({}, {}, update);
    EXPECT_EQ(this->Conn().Exec("SELECT total_value FROM killmails WHERE killmail_id = 1").Double(0, 0), 1234.5);
    EXPECT_EQ(s.LoadLiveCursor("r2z2")->sequence, 103);

    // Released (a clean stop): the other process takes it at once; the first one's steps fail.
    s.NoteLiveCursor("r2z2", "403 from R2Z2");
    EXPECT_EQ(s.LoadLiveCursor("r2z2")->note, "403 from R2Z2");
    s.NoteLiveCursor("r2z2", "");
    EXPECT_FALSE(s.LoadLiveCursor("r2z2")->note);
    s.ReleaseLiveCursor("r2z2", "host:1");
    EXPECT_EQ(s.HoldLiveCursor("r2z2", "host:2", 60000).holder, "host:2");
    LiveCursorStep stale{"r2z2", "host:1", 103, 104, 60000, {}};
    EXPECT_THROW(s.StoreLivePage(two, {}, stale), LiveCursorLost);
    // An expired hold is taken over too.
    EXPECT_EQ(s.HoldLiveCursor("r2z2", "host:2", -1).holder, "host:2");
    EXPECT_EQ(s.HoldLiveCursor("r2z2", "host:3", 60000).holder, "host:3");
}

TYPED_TEST_P(StoreCases, ARefreshSweepIsClaimedOncePerCadence) {
    auto& s = *this->store_;
    const std::int64_t hour = 3600 * 1000;
    // Never run: due when the caller says so (`refresh`); otherwise its clock starts now (`run`).
    EXPECT_TRUE(s.ClaimRefresh("affiliations", this->NowMs() - hour, true));
    EXPECT_FALSE(s.ClaimRefresh("types", this->NowMs() - hour, false));
    EXPECT_EQ(this->Query("SELECT last_run_at FROM kr_refresh_runs WHERE sweep = 'types'").Int(0, 0), this->NowMs());
    // Within its cadence: nobody gets it again, whatever the flag.
    this->Tick();
    EXPECT_FALSE(s.ClaimRefresh("affiliations", this->NowMs() - hour, true));
    EXPECT_FALSE(s.ClaimRefresh("types", this->NowMs() - hour, true));
    // An hour later: exactly one claim wins and moves the last run.
    this->clock_.Advance(hour * 1000);
    EXPECT_TRUE(s.ClaimRefresh("affiliations", this->NowMs() - hour + 1, false));
    EXPECT_FALSE(s.ClaimRefresh("affiliations", this->NowMs() - hour + 1, false));
    EXPECT_EQ(this->Query("SELECT last_run_at FROM kr_refresh_runs WHERE sweep = 'affiliations'").Int(0, 0),
              this->NowMs());
    EXPECT_EQ(this->Count("kr_refresh_runs"), 2);
}

REGISTER_TYPED_TEST_SUITE_P(StoreCases, MigrateTwiceIsIdempotent, CorporationLeavingAllianceGetsNullAllianceId,
                            AllianceLosesExecutor, CharacterLosesTitleAndAlliance, UpsertCountsAndDuplicatesInBatch,
                            TypesFromSamples, NamesWithMetacharactersRoundTrip, IdsAbove2To31, HttpCacheRoundTrip,
                            AllianceListsAreKeptBesideTheCorporationsStoredWithTheAlliance,
                            AffiliationsAreAppliedSetBasedAndTheChangedRowsReported,
                            CorporationsWhoseMembersNewerAffiliationNamesAnotherAllianceAreListed,
                            ApplyEntityBatchWritesEntitiesAndCacheAndClearsPending, ExistingIds,
                            LookupFreshnessAnswersExistenceAndCacheRowsTogether, KillmailsAreIdempotent,
                            NestedContainerItems, StructureVictimAndFactionOnlyAttacker, ZkbValuesAndRejectedKillmails,
                            Users, MissingReferencedIds, CountsCoverAllTables,
                            UniverseTablesAreTheOriginalsAndWrittenParentsFirst,
                            KillmailsReferenceSolarSystemsAndListSweepsRoundTrip,
                            AKillmailPageRecordsItsEnrichmentAndChainStepInItsTransaction,
                            AChainStepIsTakenOncePerPageAndOnlyByTheChainHoldingTheCharacter,
                            TheLiveCursorIsHeldByOneProcessAndMovesWithItsKillmails,
                            ARefreshSweepIsClaimedOncePerCadence);

}  // namespace kr::store::testing
