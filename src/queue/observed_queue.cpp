#include "queue/observed_queue.hpp"

#include <utility>

namespace kr::queue {

ObservedQueue::ObservedQueue(std::unique_ptr<Queue> inner, OnPublished on_published)
    : inner_(std::move(inner)), on_published_(std::move(on_published)) {}

void ObservedQueue::Publish(const std::string& queue, const std::vector<OutMessage>& messages) {
    inner_->Publish(queue, messages);
    if (on_published_ && !messages.empty()) on_published_(queue, messages.size());
}

}  // namespace kr::queue
