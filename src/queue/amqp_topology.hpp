#pragma once
// What AmqpQueue's publisher, consumer and admin share: the queue names and arguments of the
// topology (see amqp_queue.hpp), our message headers, the declaration that turns a mismatch into
// a clear kr::FatalError, and the connection timings. Private to the queue module.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "queue/detail/amqp_connection.hpp"

namespace kr::queue::amqp {

// ---- names and arguments -------------------------------------------------------------------------

/// Q.dead: our dead letters.
std::string DeadQueueName(const std::string& queue);
/// Q.retry.<ms>ms: a delayed-retry tier.
std::string RetryQueueName(const std::string& queue, std::chrono::milliseconds tier);
/// The retry tiers (queue-level TTLs), ascending.
const std::vector<std::chrono::milliseconds>& RetryTiers();
/// The tier a delay goes to: the smallest tier >= delay (the largest if none).
std::chrono::milliseconds TierFor(std::chrono::milliseconds delay);

/// The original's arguments for a work queue: {x-max-priority: 10} and nothing else.
detail::QueueArgs WorkQueueArgs();
/// A retry tier of `queue`: its TTL, dead-lettered back onto `queue`.
detail::QueueArgs RetryTierArgs(const std::string& queue, std::chrono::milliseconds tier);

/// queue.declare on `conn`. A queue that exists with other arguments (PRECONDITION_FAILED) or a
/// refused access is a kr::FatalError that says what to fix; other channel errors are rethrown.
void DeclareQueue(detail::AmqpConnection& conn, const std::string& name, const detail::QueueArgs& args);

// ---- headers ---------------------------------------------------------------------------------------

inline constexpr const char* kAttemptHeader = "x-kr-attempt";  ///< absent = 0
inline constexpr const char* kReasonHeader = "x-kr-reason";
inline constexpr const char* kLastErrorHeader = "x-kr-last-error";
inline constexpr const char* kAttemptsHeader = "x-kr-attempts";
inline constexpr const char* kDeadAtHeader = "x-kr-dead-at";
inline constexpr const char* kQueueHeader = "x-kr-queue";

detail::HeaderValue IntHeader(const char* key, std::int64_t v);
detail::HeaderValue StrHeader(const char* key, std::string v);
/// The attempt a message carries (x-kr-attempt; absent or negative = 0).
int AttemptOf(const detail::ReceivedMessage& m);

// ---- connection timings ------------------------------------------------------------------------------

/// The one message for a broker that could not be reached: "cannot connect to RabbitMQ at
/// amqp://u:****@h:5672/ within 5 s (RABBITMQ_URL): connection refused".
std::string CannotConnect(const std::string& display_url, std::chrono::milliseconds tried, const std::string& why);

inline constexpr std::chrono::milliseconds kRpcTimeout{10000};
/// Reconnect backoff: doubles from kMinBackoff up to kMaxBackoff.
inline constexpr std::chrono::milliseconds kMinBackoff{100};
inline constexpr std::chrono::milliseconds kMaxBackoff{5000};

}  // namespace kr::queue::amqp
