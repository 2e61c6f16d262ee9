#include "queue/amqp_topology.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "queue/queue.hpp"

namespace kr::queue::amqp {

using std::chrono::milliseconds;

std::string DeadQueueName(const std::string& queue) { return queue + ".dead"; }

std::string RetryQueueName(const std::string& queue, milliseconds tier) {
    return queue + ".retry." + std::to_string(tier.count()) + "ms";
}

const std::vector<milliseconds>& RetryTiers() {
    static const std::vector<milliseconds> tiers = [] {
        std::vector<milliseconds> t;
        for (long ms : {100L, 250L, 500L, 1000L, 2500L, 5000L, 10000L, 20000L, 40000L, 80000L, 160000L, 320000L,
                        640000L, 1280000L, 2560000L}) {
            t.emplace_back(ms);
        }
        return t;
    }();
    return tiers;
}

milliseconds TierFor(milliseconds delay) {
    for (auto t : RetryTiers()) {
        if (delay <= t) return t;
    }
    return RetryTiers().back();
}

detail::QueueArgs WorkQueueArgs() {
    detail::QueueArgs a;
    a.max_priority = kMaxPriority;  // the original's arguments, nothing else
    return a;
}

detail::QueueArgs RetryTierArgs(const std::string& queue, milliseconds tier) {
    detail::QueueArgs a;
    a.message_ttl_ms = tier.count();
    a.dead_letter_exchange = "";
    a.dead_letter_routing_key = queue;
    return a;
}

std::string CannotConnect(const std::string& display_url, milliseconds tried, const std::string& why) {
    // The connection's own text repeats the address: keep its reason only.
    std::string reason = why;
    if (reason.rfind("amqp: ", 0) == 0) reason = reason.substr(6);
    if (reason.rfind("cannot connect to ", 0) == 0) {
        if (auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    }
    const auto seconds = std::max<long long>(1, (tried.count() + 999) / 1000);
    return "cannot connect to RabbitMQ at " + display_url + " within " + std::to_string(seconds) +
           " s (RABBITMQ_URL): " + reason;
}

void DeclareQueue(detail::AmqpConnection& conn, const std::string& name, const detail::QueueArgs& args) {
    try {
        conn.DeclareQueue(name, args, false);
    } catch (const detail::AmqpChannelError& e) {
        if (e.Code() == AMQP_PRECONDITION_FAILED) {
            throw kr::FatalError("queue '" + name + "' already exists with different arguments; " +
                                 (args.max_priority ? "KillReport's queues are durable with x-max-priority=10 and "
                                                      "no other arguments"
                                                    : "our companion queues are durable") +
                                 ". Fix the other declarer or drain and re-create the queue. Broker: " + e.what());
        }
        if (e.Code() == AMQP_ACCESS_REFUSED) throw kr::FatalError(std::string("amqp: ") + e.what());
        throw;
    }
}

detail::HeaderValue IntHeader(const char* key, std::int64_t v) {
    detail::HeaderValue h;
    h.key = key;
    h.is_int = true;
    h.i = v;
    return h;
}

detail::HeaderValue StrHeader(const char* key, std::string v) {
    detail::HeaderValue h;
    h.key = key;
    h.s = std::move(v);
    return h;
}

int AttemptOf(const detail::ReceivedMessage& m) {
    auto a = m.IntHeader(kAttemptHeader);
    if (!a || *a < 0) return 0;
    return static_cast<int>(std::min<std::int64_t>(*a, 1'000'000));
}

}  // namespace kr::queue::amqp
