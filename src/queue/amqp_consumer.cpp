#include "queue/amqp_consumer.hpp"

#include <algorithm>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "queue/amqp_topology.hpp"

namespace kr::queue {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using detail::AmqpChannelError;
using detail::AmqpConnectionError;

constexpr std::size_t kAckBatch = 256;

milliseconds Left(Clock::time_point deadline) {
    return std::max(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()), milliseconds(0));
}

}  // namespace

AmqpConsumer::AmqpConsumer(detail::AmqpUrl url, std::string display_url, const QueueOptions& options)
    : url_(std::move(url)),
      display_url_(std::move(display_url)),
      options_(options),
      backoff_(amqp::kMinBackoff),
      last_keepalive_(Clock::now()) {}

AmqpConsumer::~AmqpConsumer() {
    try {
        FlushAcks();
    } catch (...) {  // NOLINT: a destructor must not throw; the broker redelivers what was not acked
    }
}

std::optional<std::uint64_t> AmqpConsumer::Live(std::uint64_t tag) const {
    if (!conn_.IsOpen() || !conn_.ChannelOpen()) return std::nullopt;
    return tags_.Find(tag);
}

std::optional<std::uint64_t> AmqpConsumer::TakeLive(std::uint64_t tag) {
    if (!Live(tag)) return std::nullopt;
    return tags_.Take(tag);
}

void AmqpConsumer::NewGeneration() {
    tags_.Reset();
    pending_acks_.clear();
    for (auto& c : consumed_) c.consumer_tag.clear();
}

void AmqpConsumer::Lost(const std::string& why) {
    spdlog::warn("amqp: consumer connection lost ({}); reconnecting", why);
    conn_.Close();
    NewGeneration();
    next_connect_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, amqp::kMaxBackoff);
}

void AmqpConsumer::Start(Consumed& c) {
    amqp::DeclareQueue(conn_, c.queue, amqp::WorkQueueArgs());
    conn_.Qos(static_cast<std::uint16_t>(std::clamp(c.prefetch, 1, 65535)));
    c.consumer_tag = conn_.Consume(c.queue);
}

void AmqpConsumer::SetUpConsumers() {
    for (auto& c : consumed_) Start(c);
}

void AmqpConsumer::Connect() {
    conn_.Open(url_, options_.heartbeat, amqp::kRpcTimeout, "killreport-consumer");
    NewGeneration();
    SetUpConsumers();
    backoff_ = amqp::kMinBackoff;
    ever_connected_ = true;
}

void AmqpConsumer::ConnectFirst() {
    const auto started = Clock::now();
    const auto deadline = started + options_.connect_timeout;
    for (;;) {
        try {
            Connect();
            return;
        } catch (const AmqpConnectionError& e) {
            conn_.Close();
            if (Clock::now() >= deadline) {
                consumed_.clear();
                throw kr::TransientError(amqp::CannotConnect(display_url_, options_.connect_timeout, e.what()));
            }
        }
        std::this_thread::sleep_until(std::min(Clock::now() + backoff_, deadline));
        backoff_ = std::min(backoff_ * 2, amqp::kMaxBackoff);
    }
}

void AmqpConsumer::RecoverChannel(const AmqpChannelError& e) {
    spdlog::warn("amqp: consumer channel closed ({}); reopening", e.what());
    NewGeneration();
    try {
        conn_.EnsureChannel();
        SetUpConsumers();
    } catch (const AmqpConnectionError& ce) {
        Lost(ce.what());
    } catch (const AmqpChannelError& ce) {
        Lost(ce.what());  // e.g. the queue was deleted and cannot be consumed: retry later
    }
}

template <typename F>
void AmqpConsumer::Guarded(F&& op) {
    try {
        op();
    } catch (const AmqpChannelError& e) {
        RecoverChannel(e);
    } catch (const AmqpConnectionError& e) {
        Lost(e.what());
    }
}

void AmqpConsumer::Consume(const std::string& queue, int prefetch) {
    cancelled_ = false;
    consumed_.push_back({queue, std::max(1, prefetch), {}});
    if (!ever_connected_) {
        ConnectFirst();  // sets up every consumer, this one included
        return;
    }
    if (!conn_.IsOpen()) {
        try {
            Connect();  // sets up every consumer, this one included
        } catch (const AmqpConnectionError& e) {
            Lost(e.what());  // Poll() keeps trying
        }
        return;
    }
    Guarded([&] { Start(consumed_.back()); });
}

void AmqpConsumer::Idle(Clock::time_point deadline) {
    if (!conn_.IsOpen()) {
        std::this_thread::sleep_until(deadline);
        return;
    }
    Guarded([&] {
        for (;;) {
            auto r = conn_.ConsumeOne(Left(deadline));
            if (r.kind == detail::ConsumeResult::kDelivery) {
                conn_.Reject(r.message.delivery_tag, true);  // arrived before cancel-ok
                continue;
            }
            if (Clock::now() >= deadline) break;
        }
    });
}

std::vector<Delivery> AmqpConsumer::Poll(milliseconds timeout, std::size_t max) {
    auto deadline = Clock::now() + timeout;
    FlushAcks();
    std::vector<Delivery> out;
    if (consumed_.empty() || cancelled_) {
        Idle(deadline);
        return out;
    }
    if (!conn_.IsOpen()) {
        if (Clock::now() < next_connect_) std::this_thread::sleep_until(std::min(deadline, next_connect_));
        if (Clock::now() < next_connect_) return out;
        try {
            Connect();
            spdlog::info("amqp: consumer reconnected to {}", display_url_);
        } catch (const AmqpConnectionError& e) {
            Lost(e.what());
            return out;
        } catch (const AmqpChannelError& e) {
            Lost(e.what());
            return out;
        }
    }
    std::size_t total_prefetch = 0;
    for (const auto& c : consumed_) total_prefetch += static_cast<std::size_t>(c.prefetch);
    std::size_t limit = max ? max : std::max<std::size_t>(1, total_prefetch);
    std::unordered_map<std::string, const std::string*> by_tag;
    for (const auto& c : consumed_) by_tag[c.consumer_tag] = &c.queue;
    Guarded([&] {
        while (out.size() < limit) {
            auto r = conn_.ConsumeOne(out.empty() ? Left(deadline) : milliseconds(0));
            if (r.kind != detail::ConsumeResult::kDelivery) {
                if (!out.empty() || Clock::now() >= deadline) break;
                continue;
            }
            auto& m = r.message;
            Delivery d;
            d.tag = tags_.Issue(m.delivery_tag);
            auto q = by_tag.find(m.consumer_tag);
            d.queue = q != by_tag.end() ? *q->second : m.routing_key;
            d.body = std::move(m.body);
            d.priority = m.priority;
            d.attempt = amqp::AttemptOf(m);
            d.redelivered = m.redelivered;
            out.push_back(std::move(d));
        }
    });
    // Deliveries read before a channel/connection loss in this call are stale: drop them (the
    // broker redelivers them).
    if (!out.empty() && !tags_.Find(out.front().tag)) out.clear();
    return out;
}

void AmqpConsumer::Ack(std::uint64_t tag) {
    auto live = TakeLive(tag);
    if (!live) return;  // stale or already settled
    pending_acks_.push_back(*live);
    if (pending_acks_.size() >= kAckBatch) FlushAcks();
}

void AmqpConsumer::Release(std::uint64_t tag) {
    auto live = TakeLive(tag);
    if (!live) return;
    Guarded([&] { conn_.Reject(*live, true); });
}

void AmqpConsumer::Cancel() {
    FlushAcks();
    cancelled_ = true;
    if (!conn_.IsOpen()) return;
    Guarded([&] {
        for (auto& c : consumed_) {
            if (!c.consumer_tag.empty()) conn_.Cancel(c.consumer_tag);
        }
    });
    consumed_.clear();
}

void AmqpConsumer::FlushAcks() {
    if (pending_acks_.empty() || !conn_.IsOpen()) return;
    std::sort(pending_acks_.begin(), pending_acks_.end());
    std::uint64_t lowest_open = tags_.LowestOutstanding();
    std::vector<std::uint64_t> acks;
    acks.swap(pending_acks_);
    Guarded([&] {
        // Everything below the lowest unsettled delivery goes in one ack with multiple=true.
        auto split = std::lower_bound(acks.begin(), acks.end(), lowest_open);
        if (split != acks.begin()) conn_.Ack(*(split - 1), split - acks.begin() > 1);
        for (auto it = split; it != acks.end(); ++it) conn_.Ack(*it, false);
    });
}

void AmqpConsumer::KeepAlive() {
    auto now = Clock::now();
    if (now - last_keepalive_ < std::chrono::seconds(2)) return;
    last_keepalive_ = now;
    conn_.SendHeartbeat();
}

}  // namespace kr::queue
