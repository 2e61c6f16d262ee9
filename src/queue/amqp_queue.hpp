#pragma once
// AmqpQueue: the Queue over RabbitMQ (rabbitmq-c 0.11), wire-compatible with KillReport.
//
// Topology per work queue Q (all durable, not exclusive, not auto-delete):
//   Q                 the original's queue: arguments {x-max-priority: 10} and nothing else.
//   Q.retry.<ms>ms    our delayed-retry tiers: x-message-ttl=<ms>, x-dead-letter-exchange="",
//                     x-dead-letter-routing-key=Q. A retried message is published there with a
//                     per-message expiration = its exact (jittered) delay <= the tier's TTL; when it
//                     expires the broker moves it back onto Q. Tiers are a geometric ladder (see
//                     RetryTiers()), so a message can wait behind a longer-delayed one at the head of
//                     its tier by at most the tier's width (per-message TTLs only expire at the head).
//   Q.dead            our dead letters (no arguments). Headers: x-kr-reason, x-kr-last-error,
//                     x-kr-attempts, x-kr-dead-at, x-kr-queue.
// Messages: default exchange, routing key = queue, persistent, priority, content-type
// application/json, body unchanged; attempt count in header x-kr-attempt (absent = 0).
//
// Two connections: a publisher (AmqpPublisher: confirm mode; AmqpAdmin runs declarations, stats
// and dead-letter administration on it too) and a consumer (AmqpConsumer: basic.qos = prefetch
// per consumer, manual ack). Poll() services heartbeats on both and reconnects the consumer with
// backoff (100 ms -> 5 s). Names, arguments and headers: amqp_topology.hpp.
#include <memory>
#include <string>
#include <vector>

#include "queue/queue.hpp"

namespace kr::queue {

class AmqpQueue final : public Queue {
public:
    /// Connects lazily (the first Declare/Publish/Consume). Throws kr::FatalError on a malformed URL.
    explicit AmqpQueue(const std::string& url, const QueueOptions& options = {});
    ~AmqpQueue() override;
    AmqpQueue(const AmqpQueue&) = delete;
    AmqpQueue& operator=(const AmqpQueue&) = delete;

    void Declare(const std::string& queue) override;
    void Publish(const std::string& queue, const std::vector<OutMessage>& messages) override;
    void Consume(const std::string& queue, int prefetch) override;
    std::vector<Delivery> Poll(std::chrono::milliseconds timeout, std::size_t max = 0) override;
    void Ack(const Delivery& d) override;
    void Retry(const Delivery& d, std::chrono::milliseconds delay, const std::string& error) override;
    void DeadLetter(const Delivery& d, const std::string& reason, const std::string& error) override;
    void Release(const Delivery& d) override;
    void Cancel() override;
    QueueStats Stats(const std::string& queue) override;
    std::vector<kr::queue::DeadLetter> ListDead(const std::string& queue, std::size_t limit) override;
    std::size_t RetryDead(const std::string& queue) override;

    /// Deletes Q, its retry tiers and Q.dead (tests and tooling only).
    void DeleteAll(const std::string& queue);

    static std::string DeadQueueName(const std::string& queue);
    static std::string RetryQueueName(const std::string& queue, std::chrono::milliseconds tier);
    /// The retry tiers (queue-level TTLs), ascending.
    static const std::vector<std::chrono::milliseconds>& RetryTiers();
    /// The tier a delay goes to: the smallest tier >= delay (the largest if none).
    static std::chrono::milliseconds TierFor(std::chrono::milliseconds delay);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kr::queue
