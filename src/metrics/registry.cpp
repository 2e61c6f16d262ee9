#include "metrics/registry.hpp"

#include <algorithm>

#include "log/log.hpp"

namespace kr::metrics {

std::atomic<std::int64_t>& Registry::Counter(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard lock(mu_);
    Family& f = families_[name];
    if (f.help.empty()) f.help = help;
    auto& slot = f.counters[labels];
    if (!slot) slot = std::make_unique<std::atomic<std::int64_t>>(0);
    return *slot;
}

metrics::Histogram& Registry::Histogram(const std::string& name, const std::string& help, const Labels& labels,
                                        const std::vector<double>& bounds) {
    std::lock_guard lock(mu_);
    Family& f = families_[name];
    if (f.help.empty()) f.help = help;
    auto& slot = f.histograms[labels];
    if (!slot) slot = std::make_unique<metrics::Histogram>(bounds);
    return *slot;
}

std::vector<std::string> Registry::LabelValues(const std::string& name, const std::string& label) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    auto it = families_.find(name);
    if (it == families_.end()) return out;
    for (const auto& [labels, c] : it->second.counters) {
        for (const auto& [k, v] : labels) {
            if (k == label && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
        }
    }
    return out;
}

Registry::CollectorHandle& Registry::CollectorHandle::operator=(CollectorHandle&& o) noexcept {
    if (this != &o) {
        if (r_) r_->Remove(id_);
        r_ = o.r_;
        id_ = o.id_;
        o.r_ = nullptr;
    }
    return *this;
}

Registry::CollectorHandle::~CollectorHandle() {
    if (r_) r_->Remove(id_);
}

Registry::CollectorHandle Registry::AddCollector(Collector c) {
    std::lock_guard lock(mu_);
    const std::uint64_t id = next_id_++;
    collectors_[id] = std::make_shared<Collector>(std::move(c));
    return CollectorHandle(this, id);
}

void Registry::Remove(std::uint64_t id) {
    std::lock_guard scraping(scrape_mu_);
    std::lock_guard lock(mu_);
    collectors_.erase(id);
}

std::string Registry::Scrape() const {
    std::lock_guard scraping(scrape_mu_);
    Exposition out;
    std::vector<std::shared_ptr<Collector>> collectors;
    {
        std::lock_guard lock(mu_);
        for (const auto& [name, f] : families_) {
            for (const auto& [labels, c] : f.counters) {
                out.Add(name, Type::kCounter, f.help, labels, static_cast<double>(c->load(std::memory_order_relaxed)));
            }
            for (const auto& [labels, h] : f.histograms) h->Collect(out, name, f.help, labels);
        }
        for (const auto& [id, c] : collectors_) collectors.push_back(c);
    }
    // Collectors run outside the lock: they may query the database or the broker.
    for (const auto& c : collectors) {
        try {
            (*c)(out);
        } catch (const std::exception& e) {
            spdlog::debug("metrics: a collector failed: {}", e.what());
        }
    }
    return out.Text();
}

Registry& Registry::Default() {
    static Registry* r = new Registry();  // never destroyed: threads may update it during exit
    return *r;
}

const std::vector<double>& LatencyBuckets() {
    static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    return b;
}

}  // namespace kr::metrics
