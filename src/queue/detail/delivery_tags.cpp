#include "queue/detail/delivery_tags.hpp"

#include <limits>

namespace kr::queue::detail {

std::uint64_t DeliveryTags::Issue(std::uint64_t broker_tag) {
    std::uint64_t tag = next_++;
    outstanding_.emplace(tag, broker_tag);
    return tag;
}

std::optional<std::uint64_t> DeliveryTags::Find(std::uint64_t tag) const {
    auto it = outstanding_.find(tag);
    if (it == outstanding_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::uint64_t> DeliveryTags::Take(std::uint64_t tag) {
    auto it = outstanding_.find(tag);
    if (it == outstanding_.end()) return std::nullopt;
    std::uint64_t broker_tag = it->second;
    outstanding_.erase(it);
    return broker_tag;
}

std::uint64_t DeliveryTags::LowestOutstanding() const {
    return outstanding_.empty() ? std::numeric_limits<std::uint64_t>::max() : outstanding_.begin()->second;
}

}  // namespace kr::queue::detail
