// kr::Truncate: a byte budget that never splits a UTF-8 character (no servers).
#include "core/text.hpp"

#include <string>

#include <gtest/gtest.h>

namespace kr::test {

namespace {

const std::string kEllipsis = "\xE2\x80\xA6";     // U+2026
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
const std::string kE2 = "\xC3\xA9";               // é, 2 bytes
const std::string kE3 = "\xE2\x82\xAC";           // €, 3 bytes
const std::string kE4 = "\xF0\x9F\x98\x80";       // 😀, 4 bytes

}  // namespace

TEST(Truncate, AsciiFitsOrIsCutWithAnEllipsisInsideTheBudget) {
    EXPECT_EQ(Truncate("", 0), "");
    EXPECT_EQ(Truncate("", 10), "");
    EXPECT_EQ(Truncate("abc", 10), "abc");
    EXPECT_EQ(Truncate("abcdef", 5), "ab" + kEllipsis);  // 2 + 3 bytes
    EXPECT_EQ(Truncate("abcdef", 3), kEllipsis);
    EXPECT_EQ(Truncate(std::string(5000, 'x'), 2000), std::string(1997, 'x') + kEllipsis);
    EXPECT_EQ(Truncate(std::string(5000, 'x'), 2000).size(), 2000u);
}

TEST(Truncate, ExactFitIsNotCut) {
    EXPECT_EQ(Truncate("abcde", 5), "abcde");
    EXPECT_EQ(Truncate("a" + kE2, 3), "a" + kE2);
    EXPECT_EQ(Truncate(kE3 + kE4, 7), kE3 + kE4);
    EXPECT_EQ(Truncate(std::string(2000, 'x'), 2000), std::string(2000, 'x'));
}

TEST(Truncate, BudgetBelowTheEllipsisCutsWithoutOne) {
    EXPECT_EQ(Truncate("abc", 0), "");
    EXPECT_EQ(Truncate("abc", 2), "ab");
    EXPECT_EQ(Truncate(kE2 + "x", 2), kE2);
    EXPECT_EQ(Truncate("a" + kE2, 2), "a");  // never half of é
}

TEST(Truncate, TwoByteCharacterAtTheBoundaryIsKeptWholeOrDropped) {
    const std::string text = "a" + kE2 + kE2 + kE2;       // 7 bytes
    EXPECT_EQ(Truncate(text, 6), "a" + kE2 + kEllipsis);  // room 3: "a" + é
    EXPECT_EQ(Truncate(text, 5), "a" + kEllipsis);        // room 2 would split é
    EXPECT_EQ(Truncate(text, 4), "a" + kEllipsis);
}

TEST(Truncate, ThreeByteCharacterAtTheBoundaryIsKeptWholeOrDropped) {
    const std::string text = "x" + kE3 + kE3 + kE3;       // 10 bytes
    EXPECT_EQ(Truncate(text, 9), "x" + kE3 + kEllipsis);  // room 6: "x€" + 2 bytes of €
    EXPECT_EQ(Truncate(text, 8), "x" + kE3 + kEllipsis);
    EXPECT_EQ(Truncate(text, 7), "x" + kE3 + kEllipsis);  // room 4: exactly "x€"
    EXPECT_EQ(Truncate(text, 6), "x" + kEllipsis);
}

TEST(Truncate, FourByteCharacterAtTheBoundaryIsKeptWholeOrDropped) {
    const std::string text = kE4 + kE4 + kE4;  // 12 bytes
    EXPECT_EQ(Truncate(text, 11), kE4 + kE4 + kEllipsis);
    EXPECT_EQ(Truncate(text, 10), kE4 + kEllipsis);
    EXPECT_EQ(Truncate(text, 7), kE4 + kEllipsis);
    EXPECT_EQ(Truncate(text, 6), kEllipsis);
}

/// Every budget on mixed text: never over the budget, always valid UTF-8 (which Truncate itself
/// checks: valid text passes through unchanged), a prefix of the text plus "…" when cut.
TEST(Truncate, EveryBudgetGivesAWholeCharacterPrefix) {
    const std::string text = "a" + kE2 + kE3 + kE4 + "b" + kE4 + kE3 + kE2 + "c";
    for (std::size_t budget = 0; budget <= text.size() + 2; ++budget) {
        const std::string out = Truncate(text, budget);
        EXPECT_LE(out.size(), budget);
        EXPECT_EQ(Truncate(out, out.size()), out) << "not valid UTF-8 at budget " << budget;
        if (budget >= text.size()) {
            EXPECT_EQ(out, text);
        } else if (budget >= kEllipsis.size()) {
            ASSERT_GE(out.size(), kEllipsis.size());
            EXPECT_EQ(out.substr(out.size() - kEllipsis.size()), kEllipsis);
            const std::string kept = out.substr(0, out.size() - kEllipsis.size());
            EXPECT_EQ(text.compare(0, kept.size(), kept), 0) << "budget " << budget;
            EXPECT_GT(kept.size() + 4, budget - kEllipsis.size()) << "cut more than one character early";
        }
    }
}

TEST(Truncate, InvalidUtf8BecomesReplacementCharacters) {
    EXPECT_EQ(Truncate("a\xFF"
                       "b",
                       100),
              "a" + kReplacement + "b");
    EXPECT_EQ(Truncate("\x80", 100), kReplacement);                              // stray continuation byte
    EXPECT_EQ(Truncate("ab\xE2\x82", 100), "ab" + kReplacement + kReplacement);  // sequence cut short
    EXPECT_EQ(Truncate("\xC3"
                       "x",
                       100),
              kReplacement + "x");                                      // lead byte without continuation
    EXPECT_EQ(Truncate("\xC0\xAF", 100), kReplacement + kReplacement);  // overlong '/'
    EXPECT_EQ(Truncate("\xE0\x80\xAF", 100), kReplacement + kReplacement + kReplacement);  // overlong
    EXPECT_EQ(Truncate("\xED\xA0\x80", 100), kReplacement + kReplacement + kReplacement);  // surrogate
    EXPECT_EQ(Truncate("\xF4\x90\x80\x80", 100),                                           // above U+10FFFF
              kReplacement + kReplacement + kReplacement + kReplacement);
    EXPECT_EQ(Truncate(std::string("a\0b", 3), 100),
              "a\xEF\xBF\xBD"
              "b");  // NUL: PostgreSQL text rejects it
    // A replacement takes 3 bytes of the budget like any character.
    EXPECT_EQ(Truncate("\xFF\xFF\xFF", 9), kReplacement + kReplacement + kReplacement);
    EXPECT_EQ(Truncate("\xFF\xFF\xFF", 8), kReplacement + kEllipsis);
    EXPECT_EQ(Truncate("ab\xFF", 4), "a" + kEllipsis);
}

}  // namespace kr::test
