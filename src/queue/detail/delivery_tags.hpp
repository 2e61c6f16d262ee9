#pragma once
// The tags AmqpConsumer hands out as Delivery::tag (private to the queue module). A broker
// delivery tag is only valid on the channel that delivered it; after a reconnect or a reopened
// channel the broker redelivers what was not acked, and a settle of a delivery from before must
// be ignored (its tag could name a different message on the new channel).
//
// Each delivery gets a fresh 64-bit tag from a counter that never restarts (2^64 deliveries do
// not happen), mapped to its broker tag while it is outstanding; a new channel forgets the whole
// map. So a stale tag can never be mistaken for a live one, however many channels the consumer
// goes through (the earlier scheme packed a 16-bit channel generation into the tag: after 65536
// reconnects, ~91 h of failing ones, every delivery looked stale and nothing was acked any more).
// Not thread-safe.
#include <cstdint>
#include <map>
#include <optional>

namespace kr::queue::detail {

class DeliveryTags {
public:
    /// A new tag for `broker_tag` on the current channel (outstanding until Take or Reset).
    std::uint64_t Issue(std::uint64_t broker_tag);
    /// The broker tag of an outstanding `tag`; nullopt when it is stale or settled.
    std::optional<std::uint64_t> Find(std::uint64_t tag) const;
    /// Like Find, and forgets `tag` (it is being settled).
    std::optional<std::uint64_t> Take(std::uint64_t tag);
    /// The lowest broker tag still outstanding (UINT64_MAX if none): every broker tag below it
    /// that was issued on this channel is settled.
    std::uint64_t LowestOutstanding() const;
    /// A new channel: every tag issued so far is stale.
    void Reset() { outstanding_.clear(); }
    std::size_t Outstanding() const { return outstanding_.size(); }

private:
    std::uint64_t next_ = 1;
    /// Our tag -> the broker's. Both grow with delivery order on one channel, so the first entry
    /// holds the lowest broker tag.
    std::map<std::uint64_t, std::uint64_t> outstanding_;
};

}  // namespace kr::queue::detail
