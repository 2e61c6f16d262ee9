#include "app/arguments.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

namespace kr::app {

namespace {

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
/// neighbours each cost one.
std::size_t EditDistance(const std::string& a, const std::string& b) {
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
    for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[n][m];
}

std::string Lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

std::string Join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

}  // namespace

std::optional<std::int64_t> ParseWhole(const std::string& text, std::int64_t min, std::int64_t max) {
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
    return value;
}

CLI::Validator IdArgument(const std::string& what) {
    return CLI::Validator(
        [what](std::string& value) -> std::string {
            if (!ParseWhole(value, 1, kMaxIdArgument)) throw BadArgument("not a " + what + ": " + value);
            return {};
        },
        "");
}

CLI::Validator DayArgument(const std::string& flag) {
    return CLI::Validator(
        [flag](std::string& value) -> std::string {
            const bool shaped = value.size() == 10 && value[4] == '-' && value[7] == '-';
            const auto part = [&](std::size_t at, std::size_t n, std::int64_t max) {
                return ParseWhole(value.substr(at, n), 0, max);
            };
            const auto y = shaped ? part(0, 4, 9999) : std::nullopt;
            const auto m = shaped ? part(5, 2, 12) : std::nullopt;
            const auto d = shaped ? part(8, 2, 31) : std::nullopt;
            if (!y || !m || !d ||
                !std::chrono::year_month_day(std::chrono::year(static_cast<int>(*y)),
                                             std::chrono::month(static_cast<unsigned>(*m)),
                                             std::chrono::day(static_cast<unsigned>(*d)))
                     .ok()) {
                throw BadArgument(flag + ": not a day (YYYY-MM-DD): " + value);
            }
            return {};
        },
        "");
}

CLI::Validator WholeArgument(const std::string& flag, std::int64_t min, std::int64_t max) {
    return CLI::Validator(
        [flag, min, max](std::string& value) -> std::string {
            if (!ParseWhole(value, min, max)) {
                throw BadArgument(flag + ": not a whole number from " + std::to_string(min) + " to " +
                                  std::to_string(max) + ": " + value);
            }
            return {};
        },
        "");
}

CLI::Validator OneOf(const std::string& what, std::vector<std::string> known) {
    return CLI::Validator(
        [what, known = std::move(known)](std::string& value) -> std::string {
            if (std::find(known.begin(), known.end(), value) != known.end()) return {};
            std::string message = "unknown " + what + " '" + value + "'";
            if (auto near = Nearest(value, known)) message += "; did you mean " + *near + "?";
            throw BadArgument(message + " (known " + what + "s: " + Join(known) + ")");
        },
        "");
}

std::optional<std::string> Nearest(const std::string& typed, const std::vector<std::string>& candidates) {
    const std::string t = Lower(typed);
    if (t.empty()) return std::nullopt;
    std::optional<std::string> prefix_of;
    int prefixes = 0;
    std::optional<std::string> best;
    std::size_t best_distance = 0;
    for (const auto& c : candidates) {
        const std::string lc = Lower(c);
        // "worker:info:char" (an abbreviation), "esi_type_info_queue.dead" (a queue's companion).
        if (lc.rfind(t, 0) == 0 || t.rfind(lc + ".", 0) == 0) {
            ++prefixes;
            prefix_of = c;
        }
        const std::size_t d = EditDistance(t, lc);
        if (!best || d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    // A typo: about one edit per four characters ("queue:alliance", "stauts"), at least one.
    const std::size_t allowed = std::max<std::size_t>(1, std::min<std::size_t>(4, t.size() / 4));
    if (best && best_distance <= allowed) return best;
    if (prefixes == 1) return prefix_of;
    return std::nullopt;
}

}  // namespace kr::app
