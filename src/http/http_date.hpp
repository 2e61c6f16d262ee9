#pragma once
// Parsing of HTTP caching headers: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", also the RFC 850
// and asctime forms) and Cache-Control max-age.
#include <cstdint>
#include <optional>
#include <string_view>

namespace kr::http {

/// Unix seconds, or nullopt when the text is not an HTTP date.
std::optional<std::int64_t> ParseHttpDate(std::string_view text);

/// The max-age (or s-maxage) of a Cache-Control value in seconds; nullopt if absent or no-store/no-cache.
std::optional<std::int64_t> CacheControlMaxAge(std::string_view value);

/// Retry-After: delay-seconds or an HTTP date (relative to now_unix_s). Result in seconds, ≥ 0.
std::optional<std::int64_t> ParseRetryAfter(std::string_view value, std::int64_t now_unix_s);

}  // namespace kr::http
