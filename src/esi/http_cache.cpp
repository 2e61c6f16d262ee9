#include "esi/http_cache.hpp"

#include "db/connection.hpp"

namespace kr::esi {

namespace {
constexpr std::string_view kGet =
    "SELECT etag, last_modified, expires_at FROM kr_http_cache WHERE path = $1";
constexpr std::string_view kPut =
    "INSERT INTO kr_http_cache (path, etag, last_modified, expires_at, status, checked_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (path) DO UPDATE SET etag = excluded.etag, "
    "last_modified = excluded.last_modified, expires_at = excluded.expires_at, status = excluded.status, "
    "checked_at = excluded.checked_at";

db::Param TextOrNull(const std::string& s) {
    if (s.empty()) return std::monostate{};
    return s;
}
}  // namespace

std::optional<CacheEntry> DbHttpCache::Get(const std::string& path) {
    auto r = conn_.Exec(kGet, {path});
    if (r.Rows() == 0) return std::nullopt;
    CacheEntry e;
    e.etag = r.OptText(0, 0).value_or("");
    e.last_modified = r.OptText(0, 1).value_or("");
    e.expires_at_ms = r.OptInt(0, 2).value_or(0);
    return e;
}

void DbHttpCache::Put(const std::string& path, const CacheEntry& entry, int status, std::int64_t checked_at_ms) {
    conn_.Exec(kPut, {path, TextOrNull(entry.etag), TextOrNull(entry.last_modified), entry.expires_at_ms,
                      std::int64_t{status}, checked_at_ms});
}

std::optional<CacheEntry> MemoryHttpCache::Get(const std::string& path) {
    std::lock_guard lock(mu_);
    auto it = rows_.find(path);
    if (it == rows_.end()) return std::nullopt;
    return it->second;
}

void MemoryHttpCache::Put(const std::string& path, const CacheEntry& entry, int, std::int64_t) {
    std::lock_guard lock(mu_);
    rows_[path] = entry;
}

std::size_t MemoryHttpCache::Size() const {
    std::lock_guard lock(mu_);
    return rows_.size();
}

}  // namespace kr::esi
