#include "store/rows_written.hpp"

#include <atomic>
#include <unordered_map>

#include "metrics/registry.hpp"

namespace kr::store {

void CountRowsWritten(const std::string& table, std::size_t rows) {
    if (rows == 0) return;
    thread_local std::unordered_map<std::string, std::atomic<std::int64_t>*> series;
    auto& c = series[table];
    if (!c) {
        c = &metrics::Registry::Default().Counter(kRowsWrittenMetric, "Rows created or changed, by table.",
                                                  {{"table", table}});
    }
    c->fetch_add(static_cast<std::int64_t>(rows), std::memory_order_relaxed);
}

}  // namespace kr::store
