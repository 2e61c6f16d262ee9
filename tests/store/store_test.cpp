// The shared store cases (store_cases.hpp) against SQLite: a fresh temp file per test.
#include <unistd.h>

#include <filesystem>

#include "store/derived_cases.hpp"
#include "store/sqlite_store.hpp"
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
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, DerivedCases, ::testing::Types<SqliteBackend>);

TEST(SqliteStoreTest, OpenStoreChoosesByScheme) {
    EXPECT_NE(dynamic_cast<SqliteStore*>(OpenStore("sqlite::memory:").get()), nullptr);
    EXPECT_THROW(OpenStore("mysql://x"), FatalError);
}

TEST(SqliteStoreTest, CountsEveryTableWeCreate) {
    SqliteBackend backend;
    const std::string url = backend.FreshUrl();
    db::Migrate(*db::Open(url));
    EXPECT_EQ(OpenStore(url)->Counts().size(), 26u);  // the original's sixteen + our ten
    backend.Release();
}

}  // namespace kr::store::testing
