#pragma once
// AmqpQueue's administration: queue counts, the dead-letter list, moving dead letters back and
// deleting a queue with its companions. It runs on the publisher's connection (RabbitMQ has no
// other way to read a queue than passive declares and basic.get). Not thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue/amqp_publisher.hpp"
#include "queue/queue.hpp"

namespace kr::queue {

class AmqpAdmin {
public:
    explicit AmqpAdmin(AmqpPublisher& publisher) : pub_(publisher) {}

    QueueStats Stats(const std::string& queue);
    /// basic.get without ack, then one nack(multiple, requeue): order and count unchanged.
    std::vector<kr::queue::DeadLetter> ListDead(const std::string& queue, std::size_t limit);
    std::size_t RetryDead(const std::string& queue);
    /// Deletes Q, its retry tiers and Q.dead.
    void DeleteAll(const std::string& queue);

private:
    /// A passive declare: the counts of `name`, nullopt if it does not exist. Call inside With().
    std::optional<detail::QueueCounts> Counts(const std::string& name);

    AmqpPublisher& pub_;
};

}  // namespace kr::queue
