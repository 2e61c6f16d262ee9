#pragma once
// The process's metrics: counters and histograms looked up once (under a lock) and then updated
// with relaxed atomic adds, plus collectors that add scrape-time values (gauges read from the
// queue, the shared budget, /proc) when the endpoint is scraped.
//
//   auto& sent = metrics::Registry::Default().Counter("killreport_x_total", "help", {{"queue", q}});
//   sent.fetch_add(1, std::memory_order_relaxed);          // hot path: no lock
//
// Counter families use Prometheus naming: the name given is the sample's name (`…_total`).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/exposition.hpp"
#include "metrics/histogram.hpp"

namespace kr::metrics {

class Registry {
public:
    using Collector = std::function<void(Exposition&)>;

    /// The series `name{labels}`, created at 0 on first use; the reference stays valid as long as
    /// the registry.
    std::atomic<std::int64_t>& Counter(const std::string& name, const std::string& help, const Labels& labels = {});
    /// The histogram series `name{labels}` with `bounds` (those of its first creation).
    metrics::Histogram& Histogram(const std::string& name, const std::string& help, const Labels& labels,
                                  const std::vector<double>& bounds);
    /// Label values `label` takes in the series of counter `name` (e.g. every route group seen).
    std::vector<std::string> LabelValues(const std::string& name, const std::string& label) const;

    /// Runs at every scrape until removed (by the handle's destruction).
    class CollectorHandle {
    public:
        CollectorHandle() = default;
        CollectorHandle(Registry* r, std::uint64_t id) : r_(r), id_(id) {}
        CollectorHandle(CollectorHandle&& o) noexcept : r_(o.r_), id_(o.id_) { o.r_ = nullptr; }
        CollectorHandle& operator=(CollectorHandle&& o) noexcept;
        CollectorHandle(const CollectorHandle&) = delete;
        CollectorHandle& operator=(const CollectorHandle&) = delete;
        ~CollectorHandle();

    private:
        Registry* r_ = nullptr;
        std::uint64_t id_ = 0;
    };
    [[nodiscard]] CollectorHandle AddCollector(Collector c);

    /// Every series and every collector's, in the text format.
    std::string Scrape() const;

    /// The process's registry (what `/metrics` serves).
    static Registry& Default();

private:
    struct Family {
        std::string help;
        std::map<Labels, std::unique_ptr<std::atomic<std::int64_t>>> counters;
        std::map<Labels, std::unique_ptr<metrics::Histogram>> histograms;
    };
    void Remove(std::uint64_t id);

    mutable std::mutex mu_;
    /// Held while collectors run: removing one waits until no scrape uses it.
    mutable std::mutex scrape_mu_;
    std::map<std::string, Family> families_;
    std::map<std::uint64_t, std::shared_ptr<Collector>> collectors_;
    std::uint64_t next_id_ = 1;
};

/// Upper bounds (seconds) for request latencies.
const std::vector<double>& LatencyBuckets();

}  // namespace kr::metrics
