// The command line's own checks (app/arguments.hpp): whole numbers, ids, names and the nearest
// name for a typo.
#include "app/arguments.hpp"

#include <gtest/gtest.h>

namespace kr::test {

using app::Nearest;
using app::ParseWhole;

TEST(Arguments, WholeNumbersAreDigitsInRange) {
    EXPECT_EQ(ParseWhole("42", 1, 100), 42);
    EXPECT_EQ(ParseWhole("9007199254740991", 1, app::kMaxIdArgument), app::kMaxIdArgument);
    for (const char* bad : {"", "abc", "4x", "1.5", " 4", "4 ", "+4", "0", "101", "-3", "99999999999999999999999"}) {
        EXPECT_FALSE(ParseWhole(bad, 1, 100)) << bad;
    }
    EXPECT_EQ(ParseWhole("-3", -5, 5), -3);
}

TEST(Arguments, ValidatorsSayWhatIsWrongInPlainWords) {
    auto check = [](const CLI::Validator& v, std::string value) -> std::string {
        try {
            return v(value);
        } catch (const app::BadArgument& e) {
            return e.what();
        }
    };
    EXPECT_EQ(check(app::IdArgument("character id"), "abc"), "not a character id: abc");
    EXPECT_EQ(check(app::IdArgument("character id"), "0"), "not a character id: 0");
    EXPECT_EQ(check(app::IdArgument("character id"), "95465499"), "");
    EXPECT_EQ(check(app::WholeArgument("--limit", 1, 10), "11"), "--limit: not a whole number from 1 to 10: 11");
    EXPECT_EQ(check(app::DayArgument("--from"), "2025-01-31"), "");
    EXPECT_EQ(check(app::DayArgument("--from"), "2024-02-29"), "");
    for (const char* bad : {"2025-02-29", "2025-13-01", "2025-1-01", "20250101", "yesterday", "2025-01-01T00:00"}) {
        EXPECT_EQ(check(app::DayArgument("--from"), bad), std::string("--from: not a day (YYYY-MM-DD): ") + bad);
    }
    EXPECT_EQ(check(app::OneOf("queue", {"a_queue", "b_queue"}), "a_queue"), "");
    EXPECT_EQ(check(app::OneOf("queue", {"a_queue", "b_queue"}), "a_queeu"),
              "unknown queue 'a_queeu'; did you mean a_queue? (known queues: a_queue, b_queue)");
    EXPECT_EQ(check(app::OneOf("queue", {"a_queue", "b_queue"}), "zzz"),
              "unknown queue 'zzz' (known queues: a_queue, b_queue)");
}

TEST(Arguments, NearestIsATypoOrAnAbbreviationAwayElseNothing) {
    const std::vector<std::string> commands = {"status",
                                               "queue:alliances",
                                               "queue:alliance-corporations",
                                               "queue:character",
                                               "worker:info:characters",
                                               "worker:info:types",
                                               "run"};
    EXPECT_EQ(Nearest("queue:alliance", commands), "queue:alliances");
    EXPECT_EQ(Nearest("queue:alliances-corporations", commands), "queue:alliance-corporations");
    EXPECT_EQ(Nearest("stauts", commands), "status");  // a transposition is one edit
    EXPECT_EQ(Nearest("STATUS", commands), "status");
    EXPECT_EQ(Nearest("queue:characters", commands), "queue:character");
    EXPECT_EQ(Nearest("worker:info:char", commands), "worker:info:characters");  // an abbreviation
    EXPECT_EQ(Nearest("rnu", commands), "run");
    EXPECT_EQ(Nearest("xyzzy", commands), std::nullopt);
    EXPECT_EQ(Nearest("queue:", commands), std::nullopt);  // ambiguous and far from each
    EXPECT_EQ(Nearest("", commands), std::nullopt);
    EXPECT_EQ(Nearest("esi_type_info_queue.dead", {"esi_alliance_info_queue", "esi_type_info_queue"}),
              "esi_type_info_queue");
}

}  // namespace kr::test
