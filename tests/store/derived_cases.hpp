#pragma once
// The derived tables (killmail_filters, character/corporation/alliance_kill_stats) on both
// backends: written with the killmails, counted once however often a killmail is delivered,
// located once the solar system is known, rebuilt by RebuildDerived — always compared with
// values the test computes itself from the killmails it stored (derived_expect.hpp).
// Instantiated by store_test.cpp (SQLite) and store_pgtest.cpp (PostgreSQL) with their Backend.
#include "store/derived_expect.hpp"
#include "store/store_cases.hpp"

namespace kr::store::testing {

template <typename Backend>
class DerivedCases : public StoreCases<Backend> {
protected:
    Derived Stored() { return Actual(this->Conn()); }
    /// The derived tables' indexes as the database defines them (a whole rebuild drops and
    /// builds them again: they must come back exactly).
    std::vector<std::string> Indexes() {
        auto r = this->Conn().Exec(
            this->IsPg() ? "SELECT indexdef FROM pg_indexes WHERE tablename IN ('killmail_filters', "
                           "'character_kill_stats', 'corporation_kill_stats', 'alliance_kill_stats') ORDER BY 1"
                         : "SELECT coalesce(sql, name) FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                           "('killmail_filters', 'character_kill_stats', 'corporation_kill_stats', "
                           "'alliance_kill_stats') ORDER BY 1");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Text(i, 0));
        return out;
    }
    /// Makes writing character_kill_stats fail (a broken derived table) until AllowKillStats.
    void RefuseKillStats() {
        if (this->IsPg()) {
            this->Conn().ExecScript(
                "CREATE FUNCTION kr_test_refuse_stats() RETURNS trigger AS $f$ BEGIN RAISE EXCEPTION 'refused' "
                "USING ERRCODE = '22003'; END $f$ LANGUAGE plpgsql;"
                "CREATE TRIGGER kr_test_refuse_stats BEFORE INSERT ON character_kill_stats FOR EACH ROW "
                "EXECUTE FUNCTION kr_test_refuse_stats();");
        } else {
            this->Conn().ExecScript(
                "CREATE TRIGGER kr_test_refuse_stats BEFORE INSERT ON character_kill_stats BEGIN SELECT "
                "RAISE(ABORT, 'refused'); END;");
        }
    }
    void AllowKillStats() {
        this->Conn().ExecScript(this->IsPg() ? "DROP TRIGGER kr_test_refuse_stats ON character_kill_stats"
                                             : "DROP TRIGGER kr_test_refuse_stats");
    }
};

TYPED_TEST_SUITE_P(DerivedCases);

TYPED_TEST_P(DerivedCases, OneFilterRowAndKillStatsPerNewKillmail) {
    // Two of the samples' systems and one of the synthetic ones are known; the others are not.
    const Universe universe =
        StoreUniverse(*this->store_, {{30000186, std::string("C")}, {30002537, std::nullopt}, {30000142, "B"}});
    std::vector<Killmail> all = AllSampleKillmails();
    const auto tricky = TrickyKillmails();
    all.insert(all.end(), tricky.begin(), tricky.end());
    // Two pages, as worker:zkillboard stores them (the second with its outbox).
    const std::vector<Killmail> first(all.begin(), all.begin() + 5), second(all.begin() + 5, all.end());
    EXPECT_EQ(this->store_->StoreKillmails(first).inserted, first.size());
    PerKind<std::vector<Id>> enrich;
    enrich[EntityKind::kCharacter] = {91000000};
    EXPECT_EQ(this->store_->StoreKillmailPage(second, enrich, nullptr).inserted, second.size());

    const Derived expected = Expect(all, universe);
    KR_EXPECT_DERIVED_EQ(this->Stored(), expected);
    // Spot checks of the rules themselves (the expectation is computed, these are by hand).
    const Derived stored = this->Stored();
    const auto& row = stored.filters.at(900001);
    EXPECT_EQ(row.attacker_count, 4);                                       // attacker rows, duplicates included
    EXPECT_EQ(row.attacker_ids[1], (std::vector<Id>{91000000, 91000003}));  // characters: deduplicated, no NULL
    EXPECT_EQ(row.attacker_ids[3], (std::vector<Id>{99000001}));
    EXPECT_EQ(row.security_class, "B");
    EXPECT_EQ(row.region_id, 10000002);
    EXPECT_FALSE(stored.filters.at(900003).region_id.has_value());  // 30000144 is not stored
    EXPECT_TRUE(stored.filters.at(900004).attacker_ids[1].empty());
    // 91000000 attacks twice in each of 900001 and 900002 (2025-01-02) and in 900003 (2025-01-03).
    EXPECT_EQ(stored.stats[0].at({"2025-01-02", 91000000}), 2);
    EXPECT_EQ(stored.stats[0].at({"2025-01-03", 91000000}), 1);
}

TYPED_TEST_P(DerivedCases, SameKillmailsDeliveredTwiceCountOnce) {
    const auto tricky = TrickyKillmails();
    std::vector<Killmail> samples = AllSampleKillmails();
    std::vector<Killmail> a(samples.begin(), samples.begin() + 4);
    a.insert(a.end(), tricky.begin(), tricky.begin() + 2);
    std::vector<Killmail> b = samples;  // overlaps a
    b.insert(b.end(), tricky.begin() + 1, tricky.end());
    b.push_back(tricky.front());  // and a duplicate inside the page
    EXPECT_EQ(this->store_->StoreKillmails(a).inserted, a.size());
    EXPECT_EQ(this->store_->StoreKillmails(a).inserted, 0u);  // redelivered as it was
    const auto again = this->store_->StoreKillmails(b);
    EXPECT_EQ(again.inserted, samples.size() - 4 + tricky.size() - 2);
    std::vector<Killmail> all = a;
    all.insert(all.end(), b.begin(), b.end());
    KR_EXPECT_DERIVED_EQ(this->Stored(), Expect(all, {}));
    EXPECT_EQ(this->Stored().stats[0].at({"2025-01-02", 91000000}), 2);  // 900001 and 900002, once each
}

TYPED_TEST_P(DerivedCases, LocationFilledWhenTheSolarSystemArrives) {
    const auto tricky = TrickyKillmails();
    ASSERT_EQ(this->store_->StoreKillmails(tricky).inserted, tricky.size());
    KR_EXPECT_DERIVED_EQ(this->Stored(), Expect(tricky, {}));  // no system known: NULL location
    // The solar-system worker stores Jita (and its constellation, region) later.
    const Universe universe = StoreUniverse(*this->store_, {{30000142, "B"}});
    KR_EXPECT_DERIVED_EQ(this->Stored(), Expect(tricky, universe));
    // The other system arrives in another constellation and region.
    Universe more = StoreUniverse(*this->store_, {{30000144, std::nullopt}}, 20000021, 10000043);
    more.insert(universe.begin(), universe.end());
    KR_EXPECT_DERIVED_EQ(this->Stored(), Expect(tricky, more));
}

TYPED_TEST_P(DerivedCases, RebuildReproducesTheDerivedTables) {
    const Universe universe = StoreUniverse(*this->store_, {{30000142, "B"}, {30002537, std::nullopt}});
    std::vector<Killmail> all = AllSampleKillmails();
    const auto tricky = TrickyKillmails();
    all.insert(all.end(), tricky.begin(), tricky.end());
    ASSERT_EQ(this->store_->StoreKillmails(all).inserted, all.size());
    const Derived expected = Expect(all, universe);
    // Holes and wrong counts, as the original leaves them (errors only logged).
    this->Conn().ExecScript(
        "DELETE FROM killmail_filters WHERE killmail_id IN (900001, 115787551);"
        "UPDATE character_kill_stats SET kill_count = kill_count + 5;"
        "DELETE FROM alliance_kill_stats;"
        "INSERT INTO corporation_kill_stats (kill_date, corporation_id, kill_count) VALUES ('2020-01-01', 1, 7);");
    const auto indexes = this->Indexes();
    ASSERT_GE(indexes.size(), 18u);  // killmail_filters' 15 B-tree, one per kill-stats table (+ GIN, keys)
    const auto counts = this->store_->RebuildDerived(std::nullopt);
    EXPECT_EQ(this->Indexes(), indexes);
    EXPECT_EQ(counts.filters, static_cast<std::int64_t>(all.size()));
    EXPECT_EQ(counts.kill_stats, static_cast<std::int64_t>(expected.stats[0].size() + expected.stats[1].size() +
                                                           expected.stats[2].size()));
    KR_EXPECT_DERIVED_EQ(this->Stored(), expected);
    // From a day on: only those days are rebuilt; earlier rows stay as they are.
    this->Conn().ExecScript(
        "UPDATE character_kill_stats SET kill_count = kill_count + 5;"
        "DELETE FROM killmail_filters;");
    this->store_->RebuildDerived(std::string("2025-01-03"));
    const Derived partly = this->Stored();
    for (const auto& [key, n] : expected.stats[0]) {
        EXPECT_EQ(partly.stats[0].at(key), key.first >= "2025-01-03" ? n : n + 5) << key.first << " " << key.second;
    }
    for (const auto& [id, row] : expected.filters) {
        EXPECT_EQ(partly.filters.count(id), row.killmail_time >= "2025-01-03" ? 1u : 0u) << id;
    }
    this->store_->RebuildDerived(std::nullopt);
    KR_EXPECT_DERIVED_EQ(this->Stored(), expected);
    EXPECT_EQ(this->Indexes(), indexes);
}

TYPED_TEST_P(DerivedCases, WithoutDeriveTheKillmailsAreStoredAndARebuildDerivesThem) {
    // KILLREPORT_DERIVE=0: the operator's switch; the killmails and their rows as always.
    StoreOptions off;
    off.derive = false;
    auto store = OpenStore(this->url_, this->clock_, off);
    std::vector<Killmail> all = AllSampleKillmails();
    const auto tricky = TrickyKillmails();
    all.insert(all.end(), tricky.begin(), tricky.end());
    ASSERT_EQ(store->StoreKillmails(all).inserted, all.size());
    EXPECT_EQ(this->Count("killmails"), static_cast<std::int64_t>(all.size()));
    EXPECT_GT(this->Count("attackers"), 0);
    EXPECT_EQ(this->Count("killmail_filters"), 0);
    EXPECT_EQ(this->Count("character_kill_stats"), 0);
    store->RebuildDerived(std::nullopt);
    KR_EXPECT_DERIVED_EQ(this->Stored(), Expect(all, {}));
}

TYPED_TEST_P(DerivedCases, AFailedDerivationFailsTheWholeBatch) {
    const auto tricky = TrickyKillmails();
    this->RefuseKillStats();
    EXPECT_THROW(this->store_->StoreKillmails(tricky), Error);
    // Nothing of the batch was written: the killmails will be stored (and derived) on the retry.
    EXPECT_EQ(this->Count("killmails"), 0);
    EXPECT_EQ(this->Count("killmail_filters"), 0);
    EXPECT_EQ(this->Count("corporation_kill_stats"), 0);
    this->AllowKillStats();
    EXPECT_EQ(this->store_->StoreKillmails(tricky).inserted, tricky.size());
    KR_EXPECT_DERIVED_EQ(this->Stored(), Expect(tricky, {}));
}

REGISTER_TYPED_TEST_SUITE_P(DerivedCases, OneFilterRowAndKillStatsPerNewKillmail, SameKillmailsDeliveredTwiceCountOnce,
                            LocationFilledWhenTheSolarSystemArrives, RebuildReproducesTheDerivedTables,
                            AFailedDerivationFailsTheWholeBatch,
                            WithoutDeriveTheKillmailsAreStoredAndARebuildDerivesThem);

}  // namespace kr::store::testing
