// The store pool of `run`: many threads over KILLREPORT_DB_CONNECTIONS connections.
#include "store/pooled_store.hpp"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "db/migrator.hpp"
#include "support/store_helpers.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(PooledStore, ThreadsShareAFixedNumberOfConnections) {
    TempSqliteFile file;
    db::Migrate(*db::Open(file.Url()));
    auto pool = std::make_shared<store::StorePool>(file.Url(), 2);
    std::atomic<int> in_use{0}, max_in_use{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            store::PooledStore s(pool);
            for (int i = 0; i < 20; ++i) {
                {
                    auto lease = pool->Acquire();
                    int now = ++in_use;
                    int prev = max_in_use.load();
                    while (now > prev && !max_in_use.compare_exchange_weak(prev, now)) {}
                    --in_use;
                }
                Type type;
                type.id = t * 1000 + i + 1;
                type.name = "T" + std::to_string(type.id);
                type.group_id = 1;
                kr::test::UpsertTypes(s, {type});
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_LE(max_in_use.load(), 2);
    store::PooledStore s(pool);
    std::vector<Id> ids;
    for (int t = 0; t < 6; ++t) {
        for (int i = 0; i < 20; ++i) ids.push_back(t * 1000 + i + 1);
    }
    EXPECT_EQ(s.ExistingIds(kr::EntityKind::kType, ids).size(), 120u);
}

}  // namespace kr::test
