#pragma once
// The one ISO-8601 formatter: unix milliseconds → "2026-11-28T12:00:00.123Z" (UTC), the format of
// the original's queuedAt, our stored created_at/updated_at (SQLite TEXT, PostgreSQL
// TIMESTAMP(3) input) and the migrator's applied_at (whole seconds).
#include <cstdint>
#include <string>

namespace kr {

enum class IsoPrecision { kSeconds, kMillis };

/// `unix_ms` as UTC ISO-8601 with a "Z" suffix; times before 1970 round down (floor).
std::string IsoUtc(std::int64_t unix_ms, IsoPrecision precision = IsoPrecision::kMillis);

}  // namespace kr
