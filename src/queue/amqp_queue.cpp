#include "queue/amqp_queue.hpp"

#include <algorithm>
#include <csignal>
#include <mutex>

#include "core/text.hpp"
#include "core/time_format.hpp"
#include "db/connection.hpp"
#include "queue/amqp_admin.hpp"
#include "queue/amqp_consumer.hpp"
#include "queue/amqp_publisher.hpp"
#include "queue/amqp_topology.hpp"
#include "queue/messages.hpp"

namespace kr::queue {

namespace {

using detail::RawMessage;
using std::chrono::milliseconds;

void IgnoreSigpipeOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        // rabbitmq-c writes with MSG_NOSIGNAL; this also covers any other write to a dead socket.
        struct sigaction current {};
        if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
    });
}

}  // namespace

struct AmqpQueue::Impl {
    Impl(const detail::AmqpUrl& url, const std::string& display_url, const QueueOptions& options)
        : clock(*options.clock), pub(url, display_url, options), sub(url, display_url, options), admin(pub) {
        // A long publish keeps the consumer connection alive (this thread does not poll meanwhile).
        pub.SetKeepAlive([this] { sub.KeepAlive(); });
    }

    kr::Clock& clock;
    AmqpPublisher pub;
    AmqpConsumer sub;
    AmqpAdmin admin;
};

AmqpQueue::AmqpQueue(const std::string& url, const QueueOptions& options) {
    IgnoreSigpipeOnce();
    impl_ = std::make_unique<Impl>(detail::ParseAmqpUrl(url), kr::db::MaskUrl(url), options);
}

AmqpQueue::~AmqpQueue() = default;

std::string AmqpQueue::DeadQueueName(const std::string& queue) { return amqp::DeadQueueName(queue); }

std::string AmqpQueue::RetryQueueName(const std::string& queue, milliseconds tier) {
    return amqp::RetryQueueName(queue, tier);
}

const std::vector<milliseconds>& AmqpQueue::RetryTiers() { return amqp::RetryTiers(); }

milliseconds AmqpQueue::TierFor(milliseconds delay) { return amqp::TierFor(delay); }

void AmqpQueue::Declare(const std::string& queue) {
    impl_->pub.With("declare", [&] {
        impl_->pub.ForgetDeclared(queue);  // an explicit Declare always asks the broker
        impl_->pub.EnsureWorkQueue(queue);
    });
}

void AmqpQueue::Publish(const std::string& queue, const std::vector<OutMessage>& messages) {
    std::vector<RawMessage> raw;
    raw.reserve(messages.size());
    for (const auto& m : messages) {
        RawMessage r;
        r.routing_key = queue;
        r.body = m.body;
        r.priority = ClampPriority(m.priority);
        if (m.attempt > 0) r.headers.push_back(amqp::IntHeader(amqp::kAttemptHeader, m.attempt));
        raw.push_back(std::move(r));
    }
    // Declaring first means a missing queue cannot swallow the messages (the original's producers
    // that never declared lost them silently on a fresh broker).
    impl_->pub.Publish(raw, [&] { impl_->pub.EnsureWorkQueue(queue); });
}

void AmqpQueue::Consume(const std::string& queue, int prefetch) {
    impl_->pub.With("declare", [&] { impl_->pub.EnsureWorkQueue(queue); });
    impl_->sub.Consume(queue, prefetch);
}

std::vector<Delivery> AmqpQueue::Poll(milliseconds timeout, std::size_t max) {
    impl_->pub.Service();
    return impl_->sub.Poll(timeout, max);
}

void AmqpQueue::Ack(const Delivery& d) { impl_->sub.Ack(d.tag); }

void AmqpQueue::Release(const Delivery& d) { impl_->sub.Release(d.tag); }

void AmqpQueue::Retry(const Delivery& d, milliseconds delay, const std::string& error) {
    if (!impl_->sub.IsLive(d.tag)) return;  // the broker redelivers it anyway
    delay = std::max(delay, milliseconds(0));
    auto tier = amqp::TierFor(delay);
    RawMessage m;
    m.routing_key = amqp::RetryQueueName(d.queue, tier);
    m.body = d.body;
    m.priority = d.priority;
    m.headers.push_back(amqp::IntHeader(amqp::kAttemptHeader, d.attempt + 1));
    m.headers.push_back(amqp::StrHeader(amqp::kLastErrorHeader, kr::Truncate(error, kMaxErrorText)));
    m.expiration_ms = std::min(delay, tier).count();
    impl_->pub.Publish({m}, [&] { impl_->pub.EnsureTier(d.queue, tier); });
    Ack(d);
}

void AmqpQueue::DeadLetter(const Delivery& d, const std::string& reason, const std::string& error) {
    if (!impl_->sub.IsLive(d.tag)) return;
    RawMessage m;
    m.routing_key = amqp::DeadQueueName(d.queue);
    m.body = d.body;
    m.priority = d.priority;
    m.headers.push_back(amqp::IntHeader(amqp::kAttemptHeader, d.attempt));
    m.headers.push_back(amqp::IntHeader(amqp::kAttemptsHeader, d.attempt + 1));
    m.headers.push_back(amqp::StrHeader(amqp::kReasonHeader, reason));
    m.headers.push_back(amqp::StrHeader(amqp::kLastErrorHeader, kr::Truncate(error, kMaxErrorText)));
    m.headers.push_back(amqp::StrHeader(amqp::kDeadAtHeader, kr::IsoUtc(impl_->clock.NowMs())));
    m.headers.push_back(amqp::StrHeader(amqp::kQueueHeader, d.queue));
    impl_->pub.Publish({m}, [&] { impl_->pub.EnsureDeclared(amqp::DeadQueueName(d.queue), {}); });
    Ack(d);
}

void AmqpQueue::Cancel() { impl_->sub.Cancel(); }

QueueStats AmqpQueue::Stats(const std::string& queue) { return impl_->admin.Stats(queue); }

std::vector<kr::queue::DeadLetter> AmqpQueue::ListDead(const std::string& queue, std::size_t limit) {
    return impl_->admin.ListDead(queue, limit);
}

std::size_t AmqpQueue::RetryDead(const std::string& queue) { return impl_->admin.RetryDead(queue); }

void AmqpQueue::DeleteAll(const std::string& queue) { impl_->admin.DeleteAll(queue); }

}  // namespace kr::queue
