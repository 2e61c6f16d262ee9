#pragma once
// A histogram with fixed bucket bounds: Observe() is a few relaxed atomic adds, no lock.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "metrics/exposition.hpp"

namespace kr::metrics {

class Histogram {
public:
    /// `bounds` ascending upper bounds (the +Inf bucket is implicit).
    explicit Histogram(std::vector<double> bounds);
    void Observe(double value);
    /// The `_bucket` (cumulative), `_sum` and `_count` samples of this series.
    void Collect(Exposition& out, const std::string& family, const std::string& help, const Labels& labels) const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  ///< per bound, not cumulative; last = +Inf
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::int64_t> sum_micros_{0};  ///< the sum in millionths (exact adds without a CAS loop)
};

}  // namespace kr::metrics
