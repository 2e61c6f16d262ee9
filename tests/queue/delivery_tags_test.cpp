// detail::DeliveryTags, AmqpConsumer's delivery tags (no broker): however many channels the
// consumer goes through, a live delivery's tag is found and a stale one never is.
#include "queue/detail/delivery_tags.hpp"

#include <limits>
#include <unordered_set>

#include <gtest/gtest.h>

namespace kr::test {

using kr::queue::detail::DeliveryTags;

/// The consumer reconnects every 5 s for days (the broker is gone): each new channel starts its
/// broker tags at 1 again. 200,000 channels is three times the 16-bit generation the tags used
/// to carry (which made every delivery stale after 65,536 of them).
TEST(DeliveryTags, LiveTagsStayLiveAcrossHundredsOfThousandsOfChannels) {
    DeliveryTags tags;
    std::uint64_t previous = 0;
    std::unordered_set<std::uint64_t> issued;
    for (int channel = 0; channel < 200000; ++channel) {
        tags.Reset();
        if (previous) {
            ASSERT_FALSE(tags.Find(previous)) << "stale tag live on channel " << channel;
        }
        std::uint64_t a = tags.Issue(1);
        std::uint64_t b = tags.Issue(2);
        ASSERT_TRUE(issued.insert(a).second) << "tag reused on channel " << channel;
        ASSERT_TRUE(issued.insert(b).second) << "tag reused on channel " << channel;
        ASSERT_EQ(tags.Find(a), std::optional<std::uint64_t>(1)) << "channel " << channel;
        ASSERT_EQ(tags.Take(b), std::optional<std::uint64_t>(2)) << "channel " << channel;
        ASSERT_FALSE(tags.Take(b)) << "settled twice on channel " << channel;
        previous = a;  // left outstanding: the next channel must forget it
    }
    EXPECT_EQ(tags.Outstanding(), 1u);
}

TEST(DeliveryTags, LowestOutstandingIsTheLowestUnsettledBrokerTag) {
    DeliveryTags tags;
    EXPECT_EQ(tags.LowestOutstanding(), std::numeric_limits<std::uint64_t>::max());
    std::uint64_t t5 = tags.Issue(5), t6 = tags.Issue(6), t7 = tags.Issue(7);
    EXPECT_EQ(tags.LowestOutstanding(), 5u);
    EXPECT_EQ(tags.Take(t6), std::optional<std::uint64_t>(6));
    EXPECT_EQ(tags.LowestOutstanding(), 5u);
    EXPECT_EQ(tags.Take(t5), std::optional<std::uint64_t>(5));
    EXPECT_EQ(tags.LowestOutstanding(), 7u);
    EXPECT_EQ(tags.Take(t7), std::optional<std::uint64_t>(7));
    EXPECT_EQ(tags.LowestOutstanding(), std::numeric_limits<std::uint64_t>::max());
    // After a new channel, the old tags are unknown and the broker's numbering restarts.
    std::uint64_t stale = tags.Issue(8);
    tags.Reset();
    std::uint64_t fresh = tags.Issue(1);
    EXPECT_FALSE(tags.Find(stale));
    EXPECT_EQ(tags.Find(fresh), std::optional<std::uint64_t>(1));
    EXPECT_EQ(tags.LowestOutstanding(), 1u);
}

}  // namespace kr::test
