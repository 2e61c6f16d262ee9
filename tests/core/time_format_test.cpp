// IsoUtc: the one ISO-8601 formatter (queuedAt, stored timestamps, the migrator's applied_at).
#include "core/time_format.hpp"

#include <gtest/gtest.h>

namespace {

using kr::IsoPrecision;
using kr::IsoUtc;

TEST(IsoUtc, MillisecondsByDefault) {
    EXPECT_EQ(IsoUtc(1'783'548'001'123), "2026-07-08T22:00:01.123Z");
    EXPECT_EQ(IsoUtc(1'783'548'001'000), "2026-07-08T22:00:01.000Z");
    EXPECT_EQ(IsoUtc(1'783'548'001'007), "2026-07-08T22:00:01.007Z");
}

TEST(IsoUtc, WholeSeconds) {
    EXPECT_EQ(IsoUtc(1'783'548'001'999, IsoPrecision::kSeconds), "2026-07-08T22:00:01Z");  // truncated
}

TEST(IsoUtc, TheEpochAndBefore) {
    EXPECT_EQ(IsoUtc(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(IsoUtc(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(IsoUtc(-1000, IsoPrecision::kSeconds), "1969-12-31T23:59:59Z");
}

TEST(IsoUtc, LeapDayAndYearEnd) {
    EXPECT_EQ(IsoUtc(1'709'208'000'000), "2024-02-29T12:00:00.000Z");
    EXPECT_EQ(IsoUtc(1'735'689'599'999), "2024-12-31T23:59:59.999Z");
}

}  // namespace
