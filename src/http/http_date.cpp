#include "http/http_date.hpp"

#include <cctype>
#include <charconv>
#include <ctime>
#include <string>

namespace kr::http {

std::optional<std::int64_t> ParseHttpDate(std::string_view text) {
    std::string s(text);
    static const char* const kFormats[] = {"%a, %d %b %Y %H:%M:%S", "%A, %d-%b-%y %H:%M:%S", "%a %b %d %H:%M:%S %Y"};
    for (const char* fmt : kFormats) {
        std::tm tm{};
        const char* end = strptime(s.c_str(), fmt, &tm);
        if (!end) continue;
        std::string_view rest(end);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        if (!rest.empty() && rest != "GMT" && rest != "UTC" && rest != "+0000") continue;
        time_t t = timegm(&tm);
        if (t == static_cast<time_t>(-1)) continue;
        return static_cast<std::int64_t>(t);
    }
    return std::nullopt;
}

namespace {
std::optional<std::int64_t> ParseInt(std::string_view v) {
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    if (!v.empty() && v.front() == '"' && v.back() == '"' && v.size() >= 2) v = v.substr(1, v.size() - 2);
    std::int64_t out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
    return out;
}
}  // namespace

std::optional<std::int64_t> CacheControlMaxAge(std::string_view value) {
    std::optional<std::int64_t> max_age, s_max_age;
    std::size_t pos = 0;
    while (pos <= value.size()) {
        std::size_t comma = value.find(',', pos);
        std::string_view d = value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        while (!d.empty() && std::isspace(static_cast<unsigned char>(d.front()))) d.remove_prefix(1);
        std::string lower;
        for (char c : d) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower.rfind("no-store", 0) == 0 || lower.rfind("no-cache", 0) == 0) return std::nullopt;
        if (lower.rfind("max-age=", 0) == 0) max_age = ParseInt(std::string_view(lower).substr(8));
        if (lower.rfind("s-maxage=", 0) == 0) s_max_age = ParseInt(std::string_view(lower).substr(9));
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    auto v = max_age ? max_age : s_max_age;
    if (v && *v < 0) return std::nullopt;
    return v;
}

std::optional<std::int64_t> ParseRetryAfter(std::string_view value, std::int64_t now_unix_s) {
    if (auto n = ParseInt(value)) return *n < 0 ? 0 : *n;
    if (auto t = ParseHttpDate(value)) return *t > now_unix_s ? *t - now_unix_s : 0;
    return std::nullopt;
}

}  // namespace kr::http
