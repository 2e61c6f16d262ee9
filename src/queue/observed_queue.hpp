#pragma once
// A Queue that tells someone how many messages each confirmed Publish put on which queue, and
// otherwise is the queue it wraps (the progress line of the queue:* scripts counts through it).
#include <functional>
#include <memory>
#include <string>

#include "queue/queue.hpp"

namespace kr::queue {

class ObservedQueue final : public Queue {
public:
    using OnPublished = std::function<void(const std::string& queue, std::size_t messages)>;
    ObservedQueue(std::unique_ptr<Queue> inner, OnPublished on_published);

    void Declare(const std::string& queue) override { inner_->Declare(queue); }
    /// Forwards; then, once the messages are confirmed, tells the observer.
    void Publish(const std::string& queue, const std::vector<OutMessage>& messages) override;
    void Consume(const std::string& queue, int prefetch) override { inner_->Consume(queue, prefetch); }
    std::vector<Delivery> Poll(std::chrono::milliseconds timeout, std::size_t max) override {
        return inner_->Poll(timeout, max);
    }
    void Ack(const Delivery& d) override { inner_->Ack(d); }
    void Retry(const Delivery& d, std::chrono::milliseconds delay, const std::string& error) override {
        inner_->Retry(d, delay, error);
    }
    void DeadLetter(const Delivery& d, const std::string& reason, const std::string& error) override {
        inner_->DeadLetter(d, reason, error);
    }
    void Release(const Delivery& d) override { inner_->Release(d); }
    void Cancel() override { inner_->Cancel(); }
    std::optional<Outage> CurrentOutage() const override { return inner_->CurrentOutage(); }
    QueueStats Stats(const std::string& queue) override { return inner_->Stats(queue); }
    std::vector<kr::queue::DeadLetter> ListDead(const std::string& queue, std::size_t limit) override {
        return inner_->ListDead(queue, limit);
    }
    std::size_t RetryDead(const std::string& queue) override { return inner_->RetryDead(queue); }

private:
    std::unique_ptr<Queue> inner_;
    OnPublished on_published_;
};

}  // namespace kr::queue
