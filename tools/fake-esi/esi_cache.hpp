// ESI's response cache as fake-esi plays it: per canonical URL, the body (fixed until its
// Expires), its ETag and Last-Modified, and how often the URL was requested since the last
// stats reset. Sharded by URL so concurrent requests seldom share a lock.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace fakeesi {

struct CacheEntry {
    std::shared_ptr<const std::string> body;  // null for killmails (regenerated)
    std::string etag;
    std::int64_t last_modified_s = 0;
    std::int64_t expires_ms = 0;
    std::uint32_t hits = 0;
};

class EsiCache {
public:
    static constexpr std::size_t kShards = 64;
    struct Shard {
        std::mutex mu;
        std::unordered_map<std::string, CacheEntry> map;
    };
    Shard& For(const std::string& key) { return shards_[std::hash<std::string>{}(key) % kShards]; }

    void Clear();      // forget bodies and given Expires
    void ResetHits();  // keep the entries, zero their request counts

    struct HitSummary {
        std::uint64_t distinct_urls = 0;  // URLs requested since the last ResetHits
        std::uint64_t max_hits = 0;
        std::string most_requested_url;
    };
    HitSummary Hits();

private:
    std::array<Shard, kShards> shards_;
};

}  // namespace fakeesi
