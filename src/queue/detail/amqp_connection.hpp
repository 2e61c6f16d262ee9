#pragma once
// rabbitmq-c glue (private to the queue module). One AmqpConnection = one TCP connection with one
// channel (1). It owns the amqp_connection_state_t and is the ONE place where rabbitmq-c results
// (amqp_rpc_reply_t, int status codes, channel.close / connection.close from the broker) are
// translated into exceptions:
//   AmqpChannelError    (soft): the broker closed the channel (404, 406, …). close-ok is sent, the
//                        channel is reopened lazily by EnsureChannel(); the connection stays usable.
//   AmqpConnectionError (hard): socket error, heartbeat timeout, connection.close (320 on broker
//                        restart), RPC timeout. The connection is dead; the owner reconnects.
// Both derive from kr::TransientError. Not thread-safe (rabbitmq-c is not).
#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.hpp"

namespace kr::queue::detail {

struct AmqpUrl {
    std::string host;
    int port = 5672;
    std::string user;
    std::string password;
    std::string vhost;
    bool ssl = false;
};

/// Parses "amqp://user:pass@host:port/vhost" with amqp_parse_url. Throws kr::FatalError if malformed.
AmqpUrl ParseAmqpUrl(const std::string& url);

class AmqpChannelError : public kr::TransientError {
public:
    AmqpChannelError(int code, const std::string& what) : TransientError(what), code_(code) {}
    int Code() const { return code_; }  ///< AMQP reply code: 404 NOT_FOUND, 406 PRECONDITION_FAILED, …

private:
    int code_;
};

class AmqpConnectionError : public kr::TransientError {
public:
    using TransientError::TransientError;
};

/// One header value: integer or string (the only kinds we write).
struct HeaderValue {
    std::string key;
    bool is_int = false;
    std::int64_t i = 0;
    std::string s;
};

/// A message as we publish it: default exchange, routing key = queue, persistent, content-type
/// application/json.
struct RawMessage {
    std::string routing_key;
    std::string body;
    std::uint8_t priority = 0;
    std::vector<HeaderValue> headers;
    std::optional<std::int64_t> expiration_ms;  ///< per-message TTL (retry tiers)
};

/// A message read from the broker (delivery or basic.get).
struct ReceivedMessage {
    std::uint64_t delivery_tag = 0;
    bool redelivered = false;
    std::string consumer_tag;  ///< deliveries only
    std::string routing_key;
    std::string body;
    std::uint8_t priority = 0;
    std::vector<HeaderValue> headers;  ///< integer and string headers only (x-death etc. skipped)

    std::optional<std::int64_t> IntHeader(std::string_view key) const;
    std::optional<std::string> StringHeader(std::string_view key) const;
};

/// Queue arguments for queue.declare.
struct QueueArgs {
    std::optional<int> max_priority;
    std::optional<std::int64_t> message_ttl_ms;
    std::optional<std::string> dead_letter_exchange;
    std::optional<std::string> dead_letter_routing_key;
};

struct QueueCounts {
    std::int64_t messages = 0;
    std::int64_t consumers = 0;
};

/// A publisher confirm event (or a returned message) read from the channel.
struct ConfirmEvent {
    enum Kind { kAck, kNack, kReturn } kind = kAck;
    std::uint64_t tag = 0;  ///< ack/nack
    bool multiple = false;
    ReceivedMessage returned;  ///< kReturn: the message (body + headers)
};

/// Result of waiting for a delivery.
struct ConsumeResult {
    enum Kind { kDelivery, kTimeout } kind = kTimeout;
    ReceivedMessage message;
};

class AmqpConnection {
public:
    AmqpConnection() = default;
    ~AmqpConnection();
    AmqpConnection(const AmqpConnection&) = delete;
    AmqpConnection& operator=(const AmqpConnection&) = delete;

    /// Connects, logs in and opens channel 1. Throws AmqpConnectionError (unreachable, refused) or
    /// kr::FatalError (authentication failed, vhost missing).
    void Open(const AmqpUrl& url, std::chrono::milliseconds heartbeat, std::chrono::milliseconds rpc_timeout,
              const std::string& connection_name);
    /// Closes cleanly if possible (bounded by the RPC timeout) and frees everything.
    void Close() noexcept;
    bool IsOpen() const { return state_ != nullptr && !dead_; }

    /// Reopens the channel after a channel error (close-ok already sent). Re-enables confirms if
    /// they were on. Returns true if it had to reopen (delivery tags of the old channel are void).
    bool EnsureChannel();
    bool ChannelOpen() const { return channel_open_; }
    /// Changes whenever a channel is opened (also across reconnects): delivery tags of basic.get
    /// are only valid while it stays the same.
    std::uint64_t ChannelEpoch() const { return channel_epoch_; }

    void ConfirmSelect();
    QueueCounts DeclareQueue(const std::string& name, const QueueArgs& args, bool passive);
    void DeleteQueue(const std::string& name);
    void Qos(std::uint16_t prefetch);
    /// basic.consume with manual ack; returns the consumer tag.
    std::string Consume(const std::string& queue);
    /// basic.cancel: no new deliveries for this consumer; unacked ones stay ackable.
    void Cancel(const std::string& consumer_tag);

    /// Publishes without waiting; returns the publish sequence number (confirm tag).
    std::uint64_t Publish(const RawMessage& m, bool mandatory);
    std::uint64_t NextPublishSeq() const { return next_seq_; }
    /// Waits up to `timeout` (0 = poll) for a confirm/return. Returns nullopt on timeout.
    std::optional<ConfirmEvent> WaitConfirm(std::chrono::milliseconds timeout);

    /// Waits up to `timeout` for a delivery. Channel/connection closes are translated (thrown).
    ConsumeResult ConsumeOne(std::chrono::milliseconds timeout);
    /// basic.get (no_ack = false); nullopt when the queue is empty.
    std::optional<ReceivedMessage> Get(const std::string& queue);

    void Ack(std::uint64_t tag, bool multiple);
    void Reject(std::uint64_t tag, bool requeue);
    void Nack(std::uint64_t tag, bool multiple, bool requeue);

    /// Sends a heartbeat frame (keeps the broker happy while this connection's thread is busy).
    void SendHeartbeat() noexcept;

private:
    void CheckReply(const amqp_rpc_reply_t& r, std::string_view context);
    void CheckStatus(int status, std::string_view context);
    [[noreturn]] void HandleServerMethod(const amqp_method_t& m, std::string_view context);
    [[noreturn]] void Dead(const std::string& what);
    void Require(std::string_view context);
    ReceivedMessage FromMessage(const amqp_message_t& msg);
    void ReleaseBuffers();

    amqp_connection_state_t state_ = nullptr;
    bool dead_ = false;
    bool channel_open_ = false;
    bool confirms_ = false;
    std::uint64_t next_seq_ = 1;
    std::uint64_t channel_epoch_ = 0;
    std::chrono::milliseconds rpc_timeout_{10000};
};

}  // namespace kr::queue::detail
