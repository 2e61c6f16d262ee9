// The shared store cases (store_cases.hpp) against SQLite: a fresh temp file per test.
#include <unistd.h>

#include <filesystem>

#include "store/store_cases.hpp"

namespace kr::store::testing {
namespace {

struct SqliteBackend {
    static std::string& Path() {
        static std::string path;
        return path;
    }
    static std::string FreshUrl() {
        static int counter = 0;
        Path() = (std::filesystem::temp_directory_path() /
                  ("kr_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + ".db"))
                     .string();
        Remove();
        return "sqlite://" + Path();
    }
    static void Release() { Remove(); }
    static void Remove() {
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(Path() + suffix, ec);
    }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreCases, ::testing::Types<SqliteBackend>);

TEST(SqliteStoreTest, OpenStoreChoosesByScheme) {
    auto store = OpenStore("sqlite::memory:");
    EXPECT_EQ(store->Conn().GetDialect(), db::Dialect::kSqlite);
    store->Migrate();
    EXPECT_EQ(store->Counts().size(), 12u);
    EXPECT_THROW(OpenStore("mysql://x"), FatalError);
}

TEST(StorePathsTest, EntityPathRoundTrip) {
    for (auto kind : {EntityKind::kAlliance, EntityKind::kCorporation, EntityKind::kCharacter, EntityKind::kType}) {
        auto parsed = EntityFromPath(EntityPath(kind, 3'000'000'000LL));
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(parsed->first, kind);
        EXPECT_EQ(parsed->second, 3'000'000'000LL);
    }
    EXPECT_FALSE(EntityFromPath("/alliances/").has_value());
    EXPECT_FALSE(EntityFromPath("/alliances/1/corporations/").has_value());
    EXPECT_FALSE(EntityFromPath("/alliances/12").has_value());
    EXPECT_FALSE(EntityFromPath("/killmails/1/abc/").has_value());
    EXPECT_EQ(EntityPath(EntityKind::kType, 587), "/universe/types/587/");
}

}  // namespace kr::store::testing
