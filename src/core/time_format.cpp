#include "core/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace kr {

std::string IsoUtc(std::int64_t unix_ms, IsoPrecision precision) {
    std::int64_t secs = unix_ms / 1000;
    int millis = static_cast<int>(unix_ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (precision == IsoPrecision::kMillis) n += std::snprintf(buf + n, sizeof buf - n, ".%03d", millis);
    std::snprintf(buf + n, sizeof buf - n, "Z");
    return buf;
}

}  // namespace kr
