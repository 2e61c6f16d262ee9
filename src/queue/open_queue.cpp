// OpenQueue: RABBITMQ_URL set -> AmqpQueue, otherwise the database queue.
#include "queue/amqp_queue.hpp"
#include "queue/db_queue.hpp"

namespace kr::queue {

std::unique_ptr<Queue> OpenQueue(const std::optional<std::string>& amqp_url, const std::string& database_url,
                                 const QueueOptions& options) {
    if (amqp_url && !amqp_url->empty()) return std::make_unique<AmqpQueue>(*amqp_url, options);
    return std::make_unique<DbQueue>(database_url, options);
}

}  // namespace kr::queue
