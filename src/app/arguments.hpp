#pragma once
// The command line's own checks, with messages an operator reads at a glance: numeric arguments
// ("not a character id: abc", not CLI11's "Value abc not in range 1 to 9007199254740991"), the
// names of queues, and the nearest command or queue name for a typo ("did you mean …?").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace kr::app {

/// A bad argument found while parsing: its message is printed as it is (exit code 2). Thrown by
/// the validators below; CLI11 lets it through (it would prefix a ValidationError with the
/// option's name).
class BadArgument : public CLI::ParseError {
public:
    explicit BadArgument(std::string message)
        : CLI::ParseError("BadArgument", std::move(message), CLI::ExitCodes::ValidationError) {}
};

/// The largest id an argument takes: 2^53 - 1 (exact in a JSON number, as the original's messages).
inline constexpr std::int64_t kMaxIdArgument = 9007199254740991;

/// `text` as a whole number in [min, max], or nullopt (signs, spaces, fractions and overflow
/// included).
std::optional<std::int64_t> ParseWhole(const std::string& text, std::int64_t min, std::int64_t max);

/// An entity id: "not a character id: abc" (what = "character id").
CLI::Validator IdArgument(const std::string& what);
/// A whole number in [min, max]: "--concurrency: not a whole number from 1 to 100000: abc".
CLI::Validator WholeArgument(const std::string& flag, std::int64_t min, std::int64_t max);
/// A calendar day written YYYY-MM-DD: "--from: not a day (YYYY-MM-DD): 2025-13-01".
CLI::Validator DayArgument(const std::string& flag);
/// One of `known`: "unknown queue 'x'; did you mean y? (known queues: a, b, …)".
CLI::Validator OneOf(const std::string& what, std::vector<std::string> known);

/// The candidate nearest to `typed` by edit distance (a transposition counts as one edit), if it
/// is near enough to be a typo of it, or `typed` is an unambiguous abbreviation of it or it with a
/// ".suffix" ("esi_type_info_queue.dead").
std::optional<std::string> Nearest(const std::string& typed, const std::vector<std::string>& candidates);

}  // namespace kr::app
