// ReconnectingStore: an operation whose connection was dropped under it runs once more (the
// PostgreSQL side, with a real terminated backend: store_pgtest's
// WriteWhoseConnectionDropsIsDoneOnANewConnection); here the decisions, over a mock store.
#include "store/reconnecting_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/errors.hpp"

namespace kr::store {
namespace {

using ::testing::_;
using ::testing::Return;

class MockStore : public Store {
public:
    MOCK_METHOD(EntityBatchResult, ApplyEntityBatch, (const EntityBatch&), (override));
    MOCK_METHOD(std::unordered_set<Id>, ExistingIds, (EntityKind, const std::vector<Id>&), (override));
    MOCK_METHOD(std::vector<Id>, ListIds, (EntityKind, Id, std::size_t), (override));
    MOCK_METHOD((std::unordered_map<std::string, CacheEntry>), LoadHttpCache, (const std::vector<std::string>&),
                (override));
    MOCK_METHOD(void, SaveHttpCache, (const std::vector<CacheEntry>&), (override));
    MOCK_METHOD(std::unordered_set<Id>, ExistingKillmailIds, (const std::vector<Id>&), (override));
    MOCK_METHOD(DerivedCounts, RebuildDerived, (const std::optional<std::string>&), (override));
    MOCK_METHOD(StoreKillmailsResult, StoreKillmailPage,
                (std::span<const Killmail>, const PerKind<std::vector<Id>>&, const ZkbChainStep*), (override));
    MOCK_METHOD(std::optional<ZkbChainAt>, LoadZkbChain, (Id), (override));
    MOCK_METHOD(std::optional<LiveCursor>, LoadLiveCursor, (const std::string&), (override));
    MOCK_METHOD(LiveCursor, HoldLiveCursor, (const std::string&, const std::string&, std::int64_t), (override));
    MOCK_METHOD(bool, SetLiveCursor, (const std::string&, const std::string&, std::int64_t), (override));
    MOCK_METHOD(void, NoteLiveCursor, (const std::string&, const std::string&), (override));
    MOCK_METHOD(void, ReleaseLiveCursor, (const std::string&, const std::string&), (override));
    MOCK_METHOD(StoreKillmailsResult, StoreLivePage,
                (std::span<const Killmail>, const PerKind<std::vector<Id>>&, const LiveCursorStep&), (override));
    MOCK_METHOD(std::vector<Id>, ListEntityOutbox, (EntityKind, Id, std::size_t), (override));
    MOCK_METHOD(std::vector<ZkbNextPage>, UnpublishedZkbPages, (Id, std::size_t), (override));
    MOCK_METHOD(void, ClearPublished, (const PerKind<std::vector<Id>>&, const ZkbChainAt*), (override));
    MOCK_METHOD((std::unordered_map<std::string, ListSweep>), LoadListSweeps, (const std::vector<std::string>&),
                (override));
    MOCK_METHOD(void, SaveListSweep, (const ListSweep&, const std::optional<CacheEntry>&), (override));
    MOCK_METHOD(AllianceMembers, LoadAllianceMembers, (Id), (override));
    MOCK_METHOD(void, SaveAllianceList, (const AllianceList&, const std::optional<CacheEntry>&), (override));
    MOCK_METHOD(void, ExpireHttpCache, (const std::vector<std::string>&), (override));
    MOCK_METHOD(std::vector<Id>, ListExpired, (EntityKind, std::size_t), (override));
    MOCK_METHOD(std::vector<Id>, ApplyAffiliations, (const std::vector<CharacterAffiliation>&), (override));
    MOCK_METHOD(std::vector<Id>, CorporationsWithOtherAlliance,
                ((const std::vector<std::pair<Id, std::optional<Id>>>&)), (override));
    MOCK_METHOD(std::vector<Id>, CorporationsWithNewerOtherAlliance, (std::size_t), (override));
    MOCK_METHOD(std::int64_t, AddUser, (Id, const std::string&), (override));
    MOCK_METHOD((std::vector<std::pair<Id, std::string>>), ListUserCharacters, (), (override));
    MOCK_METHOD(std::vector<Id>, MissingReferencedIds, (EntityKind, Id, std::size_t, const ScanOptions&), (override));
    MOCK_METHOD(std::vector<Id>, FilterMissing, (EntityKind, const std::vector<Id>&, const ScanOptions&), (override));
    MOCK_METHOD(void, MarkPending, (EntityKind, const std::vector<Id>&), (override));
    MOCK_METHOD(bool, RemoveUser, (Id), (override));
    MOCK_METHOD(bool, ClaimRefresh, (const std::string&, std::int64_t, bool), (override));
    MOCK_METHOD(TableCounts, Counts, (), (override));
};

class ReconnectingStoreTest : public ::testing::Test {
protected:
    ReconnectingStoreTest() {
        auto mock = std::make_unique<::testing::StrictMock<MockStore>>();
        mock_ = mock.get();
        store_ = std::make_unique<ReconnectingStore>(std::move(mock), [this] { return lost_; });
    }
    bool lost_ = false;
    MockStore* mock_ = nullptr;
    std::unique_ptr<ReconnectingStore> store_;
};

TEST_F(ReconnectingStoreTest, AnOperationWhoseConnectionDroppedRunsOnceMore) {
    EXPECT_CALL(*mock_, ExistingKillmailIds(_))
        .WillOnce([this](auto&&) -> std::unordered_set<Id> {
            lost_ = true;
            throw TransientError("postgresql: exec: server closed the connection unexpectedly");
        })
        .WillOnce([this](auto&&) {
            lost_ = false;  // reconnected
            return std::unordered_set<Id>{42};
        });
    EXPECT_EQ(store_->ExistingKillmailIds({42, 43}), std::unordered_set<Id>{42});
}

TEST_F(ReconnectingStoreTest, OtherFailuresAreNotRepeated) {
    // Transient, but the connection is fine (a serialization failure, a deadlock): the caller's retry.
    EXPECT_CALL(*mock_, ApplyEntityBatch(_)).WillOnce([](auto&&) -> EntityBatchResult {
        throw TransientError("postgresql: deadlock detected");
    });
    EXPECT_THROW(store_->ApplyEntityBatch({}), TransientError);
    // Permanent: the data is refused, whatever the connection.
    EXPECT_CALL(*mock_, MarkPending(_, _)).WillOnce([this](auto&&...) {
        lost_ = true;
        throw PermanentError("db_data", "value out of range");
    });
    EXPECT_THROW(store_->MarkPending(EntityKind::kCharacter, {1}), PermanentError);
}

TEST_F(ReconnectingStoreTest, ADatabaseThatStaysDownFailsAsBefore) {
    // Lost on the first run and on both reruns: the failure is the caller's.
    EXPECT_CALL(*mock_, ClearPublished(_, _)).Times(3).WillRepeatedly([this](auto&&...) {
        lost_ = true;
        throw TransientError("postgresql: exec: server closed the connection unexpectedly");
    });
    EXPECT_THROW(store_->ClearPublished({}, nullptr), TransientError);
    // Lost before it started (the reconnect itself fails): not run twice.
    EXPECT_CALL(*mock_, LoadZkbChain(7)).WillOnce([](Id) -> std::optional<ZkbChainAt> {
        throw TransientError("postgresql: cannot connect to …");
    });
    EXPECT_THROW(store_->LoadZkbChain(7), TransientError);
}

TEST_F(ReconnectingStoreTest, APageWhoseLostCommitWasWrittenKeepsItsStep) {
    const ZkbChainStep step{{90000001, "chain-1", 3}, false, std::string("{\"page\":4}"), 5};
    StoreKillmailsResult again;
    again.already_present = 2;
    again.step_taken = false;  // the first run took it: the chain stands at this step already
    EXPECT_CALL(*mock_, StoreKillmailPage(_, _, &step))
        .WillOnce([this](auto&&...) -> StoreKillmailsResult {
            lost_ = true;
            throw TransientError("postgresql: exec: server closed the connection unexpectedly");
        })
        .WillOnce([this, again](auto&&...) {
            lost_ = false;
            return again;
        });
    EXPECT_CALL(*mock_, LoadZkbChain(90000001)).WillOnce(Return(ZkbChainAt{90000001, "chain-1", 3}));
    auto result = store_->StoreKillmailPage({}, {}, &step);
    EXPECT_TRUE(result.step_taken) << "its next page would never be published";
    EXPECT_EQ(result.already_present, 2u);
}

TEST_F(ReconnectingStoreTest, ALiveStepWhoseLostCommitWasWrittenIsNotLost) {
    LiveCursorStep step;
    step.feed = "r2z2";
    step.holder = "me";
    step.from = 10;
    step.to = 11;
    EXPECT_CALL(*mock_, StoreLivePage(_, _, _))
        .WillOnce([this](auto&&...) -> StoreKillmailsResult {
            lost_ = true;
            throw TransientError("postgresql: exec: server closed the connection unexpectedly");
        })
        .WillOnce([this](auto&&...) -> StoreKillmailsResult {
            lost_ = false;
            throw LiveCursorLost("not at 10");
        });
    LiveCursor at{"r2z2", 11, std::string("me"), 0, std::nullopt, 0};
    EXPECT_CALL(*mock_, LoadLiveCursor("r2z2")).WillOnce(Return(at));
    EXPECT_NO_THROW(store_->StoreLivePage({}, {}, step)) << "the first run moved the cursor: the step is ours";

    // Another process moved it: the loss is the caller's.
    EXPECT_CALL(*mock_, StoreLivePage(_, _, _))
        .WillOnce([this](auto&&...) -> StoreKillmailsResult {
            lost_ = true;
            throw TransientError("postgresql: exec: server closed the connection unexpectedly");
        })
        .WillOnce([this](auto&&...) -> StoreKillmailsResult {
            lost_ = false;
            throw LiveCursorLost("not at 10");
        });
    at.holder = "other";
    EXPECT_CALL(*mock_, LoadLiveCursor("r2z2")).WillOnce(Return(at));
    EXPECT_THROW(store_->StoreLivePage({}, {}, step), LiveCursorLost);
}

TEST_F(ReconnectingStoreTest, APageWhoseChainWentElsewhereDoesNotClaimTheStep) {
    const ZkbChainStep step{{90000001, "chain-1", 3}, false, std::string("{\"page\":4}"), 5};
    EXPECT_CALL(*mock_, StoreKillmailPage(_, _, &step))
        .WillOnce([this](auto&&...) -> StoreKillmailsResult {
            lost_ = true;
            throw TransientError("postgresql: exec: server closed the connection unexpectedly");
        })
        .WillOnce([this](auto&&...) {
            lost_ = false;
            return StoreKillmailsResult{};
        });
    // A newer sync holds the character (or this chain is at a later page): not this delivery's step.
    EXPECT_CALL(*mock_, LoadZkbChain(90000001)).WillOnce(Return(ZkbChainAt{90000001, "chain-2", 1}));
    EXPECT_FALSE(store_->StoreKillmailPage({}, {}, &step).step_taken);
}

}  // namespace
}  // namespace kr::store
