#include "metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kr::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
    std::sort(bounds_.begin(), bounds_.end());
    for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // first bound ≥ value (le)
    buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<std::int64_t>(std::llround(value * 1e6)), std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::Collect(Exposition& out, const std::string& family, const std::string& help,
                        const Labels& labels) const {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        Labels l = labels;
        l.emplace_back("le", i < bounds_.size() ? Exposition::FormatValue(bounds_[i]) : "+Inf");
        out.Add(family, Type::kHistogram, help, l, static_cast<double>(cumulative), "_bucket");
    }
    // _count equals the +Inf bucket (read once above), as Prometheus expects.
    out.Add(family, Type::kHistogram, help, labels,
            static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6, "_sum");
    out.Add(family, Type::kHistogram, help, labels, static_cast<double>(cumulative), "_count");
}

}  // namespace kr::metrics
