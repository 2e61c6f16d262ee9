#include "esi_cache.hpp"

namespace fakeesi {

void EsiCache::Clear() {
    for (auto& s : shards_) {
        std::lock_guard lk(s.mu);
        s.map.clear();
    }
}

void EsiCache::ResetHits() {
    for (auto& s : shards_) {
        std::lock_guard lk(s.mu);
        for (auto& [k, e] : s.map) e.hits = 0;
    }
}

EsiCache::HitSummary EsiCache::Hits() {
    HitSummary h;
    for (auto& s : shards_) {
        std::lock_guard lk(s.mu);
        for (auto& [k, e] : s.map) {
            if (e.hits == 0) continue;
            ++h.distinct_urls;
            if (e.hits > h.max_hits) {
                h.max_hits = e.hits;
                h.most_requested_url = k;
            }
        }
    }
    return h;
}

}  // namespace fakeesi
