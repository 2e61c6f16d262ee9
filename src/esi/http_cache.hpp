#pragma once
// Validators of cached ESI responses (no bodies): ETag, Last-Modified and when the response
// expires. Callers that store an entity persist these next to it (the store's kr_http_cache, in the
// entity's transaction); callers that want the EsiClient to manage them give it an HttpCache.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace kr::db {
class Connection;
}

namespace kr::esi {

struct CacheEntry {
    std::string etag;             ///< sent back verbatim as If-None-Match ("" = none)
    std::int64_t expires_at_ms = 0;  ///< unix ms, in the local clock; do not request before
    std::string last_modified;
    bool FreshAt(std::int64_t now_ms) const { return expires_at_ms > now_ms; }
    bool operator==(const CacheEntry&) const = default;
};

class HttpCache {
public:
    virtual ~HttpCache() = default;
    virtual std::optional<CacheEntry> Get(const std::string& path) = 0;
    virtual void Put(const std::string& path, const CacheEntry& entry, int status, std::int64_t checked_at_ms) = 0;
};

/// Table kr_http_cache (path PK, etag, last_modified, expires_at unix ms, status, checked_at unix ms;
/// created by the store module's migrations). Uses the given connection (not owned; one thread).
class DbHttpCache final : public HttpCache {
public:
    explicit DbHttpCache(db::Connection& conn) : conn_(conn) {}
    std::optional<CacheEntry> Get(const std::string& path) override;
    void Put(const std::string& path, const CacheEntry& entry, int status, std::int64_t checked_at_ms) override;

private:
    db::Connection& conn_;
};

/// In-memory, thread-safe (tests, one-shot tools).
class MemoryHttpCache final : public HttpCache {
public:
    std::optional<CacheEntry> Get(const std::string& path) override;
    void Put(const std::string& path, const CacheEntry& entry, int status, std::int64_t checked_at_ms) override;
    std::size_t Size() const;

private:
    mutable std::mutex mu_;
    std::map<std::string, CacheEntry> rows_;
};

}  // namespace kr::esi
