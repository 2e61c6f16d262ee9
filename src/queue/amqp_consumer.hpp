#pragma once
// AmqpQueue's consumer connection: basic.qos = prefetch per consumer, manual ack, acks batched
// until the next Poll/Cancel (or a full batch). Poll() reconnects with backoff (100 ms -> 5 s)
// after a lost connection and reopens the channel after a channel error (e.g. its queue was
// deleted); deliveries from before either are stale and their tags are ignored (the broker
// redelivers them): Delivery tags are detail::DeliveryTags, forgotten with the channel. Not
// thread-safe.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue/detail/amqp_connection.hpp"
#include "queue/detail/delivery_tags.hpp"
#include "queue/queue.hpp"

namespace kr::queue {

class AmqpConsumer {
public:
    /// Connects lazily (the first Consume). `display_url` (password masked) is for log lines.
    AmqpConsumer(detail::AmqpUrl url, std::string display_url, const QueueOptions& options);
    /// Sends the acks still batched; the broker redelivers whatever was not acked.
    ~AmqpConsumer();
    AmqpConsumer(const AmqpConsumer&) = delete;
    AmqpConsumer& operator=(const AmqpConsumer&) = delete;

    /// Starts consuming `queue` (which the caller has declared). The first connection is tried for
    /// QueueOptions::connect_timeout, then kr::TransientError; once it was up, a connection failure
    /// is retried by Poll().
    void Consume(const std::string& queue, int prefetch);
    /// Queue::Poll: waits up to `timeout` for deliveries, at most `max` (0 = total prefetch).
    std::vector<Delivery> Poll(std::chrono::milliseconds timeout, std::size_t max);
    /// Settles a delivery by its tag; stale or already settled tags are ignored.
    void Ack(std::uint64_t tag);
    void Release(std::uint64_t tag);
    /// Whether `tag` belongs to the current channel (it can still be settled).
    bool IsLive(std::uint64_t tag) const { return Live(tag).has_value(); }
    /// basic.cancel for every consumer: no new deliveries; the delivered ones stay ackable.
    void Cancel();
    void FlushAcks();
    /// A heartbeat at most every 2 s, for when the thread is busy elsewhere (a long publish).
    void KeepAlive();

private:
    struct Consumed {
        std::string queue;
        int prefetch = 1;
        std::string consumer_tag;
    };

    /// The broker's tag if `tag` is outstanding on the current channel, else nullopt (stale or
    /// settled).
    std::optional<std::uint64_t> Live(std::uint64_t tag) const;
    /// Takes `tag` out of the outstanding ones if it is live; returns its broker tag.
    std::optional<std::uint64_t> TakeLive(std::uint64_t tag);
    void NewGeneration();
    void Lost(const std::string& why);
    /// Declares c.queue on this connection, sets the prefetch and starts consuming it.
    void Start(Consumed& c);
    void SetUpConsumers();
    void Connect();
    /// Connect(), retried with backoff until connect_timeout; throws kr::TransientError.
    void ConnectFirst();
    void RecoverChannel(const detail::AmqpChannelError& e);
    /// Runs `op`; a channel error reopens the channel, a connection error schedules a reconnect.
    template <typename F>
    void Guarded(F&& op);
    /// Nothing to consume (none yet, or cancelled): still services the connection until `deadline`.
    void Idle(std::chrono::steady_clock::time_point deadline);

    detail::AmqpUrl url_;
    std::string display_url_;
    QueueOptions options_;
    detail::AmqpConnection conn_;
    std::vector<Consumed> consumed_;
    bool cancelled_ = false;
    detail::DeliveryTags tags_;                ///< delivered, not settled by the application
    std::vector<std::uint64_t> pending_acks_;  ///< acked by the application, not sent yet
    std::chrono::steady_clock::time_point next_connect_{};
    std::chrono::milliseconds backoff_;
    bool ever_connected_ = false;
    std::chrono::steady_clock::time_point last_keepalive_;
};

}  // namespace kr::queue
