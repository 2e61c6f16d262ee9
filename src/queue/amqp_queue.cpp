#include "queue/amqp_queue.hpp"

#include "db/connection.hpp"

#include <algorithm>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "core/text.hpp"
#include "queue/detail/amqp_connection.hpp"
#include "queue/messages.hpp"

namespace kr::queue {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using detail::AmqpChannelError;
using detail::AmqpConnection;
using detail::AmqpConnectionError;
using detail::HeaderValue;
using detail::RawMessage;
using detail::ReceivedMessage;

constexpr const char* kAttemptHeader = "x-kr-attempt";
constexpr const char* kReasonHeader = "x-kr-reason";
constexpr const char* kLastErrorHeader = "x-kr-last-error";
constexpr const char* kAttemptsHeader = "x-kr-attempts";
constexpr const char* kDeadAtHeader = "x-kr-dead-at";
constexpr const char* kQueueHeader = "x-kr-queue";
constexpr std::uint64_t kTagBits = 48;
constexpr std::uint64_t kTagMask = (std::uint64_t{1} << kTagBits) - 1;
constexpr milliseconds kRpcTimeout{10000};
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{5000};
constexpr int kMaxPublishRounds = 8;

void IgnoreSigpipeOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        // rabbitmq-c writes with MSG_NOSIGNAL; this also covers any other write to a dead socket.
        struct sigaction current {};
        if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
    });
}

HeaderValue IntHeader(const char* key, std::int64_t v) {
    HeaderValue h;
    h.key = key;
    h.is_int = true;
    h.i = v;
    return h;
}

HeaderValue StrHeader(const char* key, std::string v) {
    HeaderValue h;
    h.key = key;
    h.s = std::move(v);
    return h;
}

int AttemptOf(const ReceivedMessage& m) {
    auto a = m.IntHeader(kAttemptHeader);
    if (!a || *a < 0) return 0;
    return static_cast<int>(std::min<std::int64_t>(*a, 1'000'000));
}

detail::QueueArgs WorkQueueArgs() {
    detail::QueueArgs a;
    a.max_priority = kMaxPriority;  // the original's arguments, nothing else
    return a;
}

}  // namespace

struct AmqpQueue::Impl {
    detail::AmqpUrl url;
    std::string display_url;
    QueueOptions options;

    // Publisher / admin connection.
    AmqpConnection pub;
    std::set<std::string> declared;  // names declared on the current publisher connection
    milliseconds pub_backoff{kMinBackoff};

    // Consumer connection.
    AmqpConnection sub;
    struct Consumed {
        std::string queue;
        int prefetch = 1;
        std::string consumer_tag;
    };
    std::vector<Consumed> consumed;
    bool cancelled = false;
    std::uint64_t gen = 1;                 // channel generation; part of every Delivery tag
    std::set<std::uint64_t> outstanding;   // delivered, not settled by the application
    std::vector<std::uint64_t> pending_acks;  // acked by the application, not sent yet
    Clock::time_point next_connect{};
    milliseconds sub_backoff{kMinBackoff};
    Clock::time_point last_keepalive = Clock::now();
    std::string last_sub_error;

    // ---- publisher side ------------------------------------------------------------------------

    void EnsurePub(Clock::time_point deadline) {
        while (!pub.IsOpen()) {
            try {
                pub.Open(url, options.heartbeat, kRpcTimeout, "killreport-publisher");
                pub.ConfirmSelect();
                declared.clear();
                pub_backoff = kMinBackoff;
                return;
            } catch (const AmqpConnectionError& e) {
                pub.Close();
                if (Clock::now() + pub_backoff > deadline) {
                    throw kr::TransientError("amqp: cannot connect to " + display_url + ": " + e.what());
                }
                std::this_thread::sleep_for(pub_backoff);
                pub_backoff = std::min(pub_backoff * 2, kMaxBackoff);
            }
        }
        pub.EnsureChannel();
    }

    /// Runs `op` on the publisher connection, reconnecting after connection errors until the
    /// deadline. Channel errors (other than those `op` handles) are rethrown.
    template <typename F>
    auto WithPub(const char* what, F&& op) {
        auto deadline = Clock::now() + options.publish_timeout;
        for (;;) {
            EnsurePub(deadline);
            try {
                return op();
            } catch (const AmqpConnectionError& e) {
                pub.Close();
                if (Clock::now() >= deadline) {
                    throw kr::TransientError(std::string("amqp: ") + what + " failed: " + e.what());
                }
            }
        }
    }

    void DeclareOn(AmqpConnection& c, const std::string& name, const detail::QueueArgs& args) {
        try {
            c.DeclareQueue(name, args, false);
        } catch (const AmqpChannelError& e) {
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

    void EnsureDeclaredPub(const std::string& name, const detail::QueueArgs& args) {
        if (declared.count(name)) return;
        DeclareOn(pub, name, args);
        declared.insert(name);
    }

    void EnsureWorkQueue(const std::string& queue) {
        EnsureDeclaredPub(queue, WorkQueueArgs());
        EnsureDeclaredPub(DeadQueueName(queue), {});
    }

    void EnsureTier(const std::string& queue, milliseconds tier) {
        detail::QueueArgs a;
        a.message_ttl_ms = tier.count();
        a.dead_letter_exchange = "";
        a.dead_letter_routing_key = queue;
        EnsureDeclaredPub(RetryQueueName(queue, tier), a);
    }

    /// Publishes with confirms in a window; republishes nacked/returned messages and everything
    /// unconfirmed after a lost connection; throws kr::TransientError when the deadline passes.
    /// `prepare` (re)declares what the messages are routed to on a fresh connection.
    template <typename Prepare>
    void PublishRaw(const std::vector<RawMessage>& msgs, Prepare&& prepare) {
        if (msgs.empty()) return;
        auto deadline = Clock::now() + options.publish_timeout;
        std::vector<std::size_t> todo(msgs.size());
        for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
        std::string last_error;
        int rounds = 0;
        const std::size_t window = std::max<std::size_t>(1, options.publish_window);
        while (!todo.empty()) {
            if (rounds > 0) {
                if (rounds > kMaxPublishRounds || Clock::now() >= deadline) {
                    throw kr::TransientError("amqp: " + std::to_string(todo.size()) + " of " +
                                             std::to_string(msgs.size()) + " messages to '" +
                                             msgs[todo.front()].routing_key + "' not confirmed after " +
                                             std::to_string(rounds) + " attempts: " + last_error);
                }
                std::this_thread::sleep_for(std::min<milliseconds>(milliseconds(50) * rounds, kMaxBackoff));
            }
            ++rounds;
            struct Entry {
                std::size_t index;
                bool returned;
            };
            std::map<std::uint64_t, Entry> unconfirmed;
            std::vector<std::size_t> failed;
            std::size_t next = 0;
            auto handle = [&](const detail::ConfirmEvent& ev) {
                if (ev.kind == detail::ConfirmEvent::kReturn) {
                    // basic.return carries no publish tag: match the first unconfirmed message with the
                    // same routing key and body (identical messages are interchangeable).
                    for (auto& [seq, e] : unconfirmed) {
                        const auto& m = msgs[e.index];
                        if (!e.returned && m.routing_key == ev.returned.routing_key && m.body == ev.returned.body) {
                            e.returned = true;
                            break;
                        }
                    }
                    last_error = "message returned as unroutable (queue '" + ev.returned.routing_key + "' missing?)";
                    declared.erase(ev.returned.routing_key);  // declare it again before the next round
                    return;
                }
                auto settle = [&](std::map<std::uint64_t, Entry>::iterator it) {
                    if (ev.kind == detail::ConfirmEvent::kNack || it->second.returned) failed.push_back(it->second.index);
                    return unconfirmed.erase(it);
                };
                if (ev.kind == detail::ConfirmEvent::kNack) last_error = "broker nacked the message";
                if (ev.multiple) {
                    for (auto it = unconfirmed.begin(); it != unconfirmed.end() && it->first <= ev.tag;) it = settle(it);
                } else if (auto it = unconfirmed.find(ev.tag); it != unconfirmed.end()) {
                    settle(it);
                }
            };
            auto wait_one = [&]() {
                auto ev = pub.WaitConfirm(kRpcTimeout);
                if (!ev) throw AmqpConnectionError("no publisher confirm within 10 s");
                handle(*ev);
            };
            try {
                EnsurePub(deadline);
                prepare();
                for (; next < todo.size(); ++next) {
                    while (unconfirmed.size() >= window) wait_one();
                    std::uint64_t seq = pub.Publish(msgs[todo[next]], true);
                    unconfirmed.emplace(seq, Entry{todo[next], false});
                    if ((next & 63) == 63) {
                        while (auto ev = pub.WaitConfirm(milliseconds(0))) handle(*ev);
                        KeepConsumerAlive();
                    }
                }
                while (!unconfirmed.empty()) wait_one();
                todo = std::move(failed);
            } catch (const AmqpChannelError& e) {
                last_error = e.what();  // the channel is reopened by EnsurePub on the next round
            } catch (const AmqpConnectionError& e) {
                last_error = e.what();
                pub.Close();
            }
            if (!unconfirmed.empty() || next < todo.size()) {
                // Interrupted: everything not confirmed goes again (at-least-once).
                std::vector<std::size_t> again = failed;
                for (auto& [seq, e] : unconfirmed) again.push_back(e.index);
                for (std::size_t i = next; i < todo.size(); ++i) again.push_back(todo[i]);
                std::sort(again.begin(), again.end());
                again.erase(std::unique(again.begin(), again.end()), again.end());
                todo = std::move(again);
            }
        }
    }

    // ---- consumer side -------------------------------------------------------------------------

    std::uint64_t MakeTag(std::uint64_t dtag) const { return (gen << kTagBits) | (dtag & kTagMask); }

    /// The broker tag if `tag` belongs to the current consumer channel, else nullopt (stale).
    std::optional<std::uint64_t> Live(std::uint64_t tag) const {
        if (!sub.IsOpen() || !sub.ChannelOpen() || (tag >> kTagBits) != gen) return std::nullopt;
        return tag & kTagMask;
    }

    void NewGeneration() {
        ++gen;
        outstanding.clear();
        pending_acks.clear();
        for (auto& c : consumed) c.consumer_tag.clear();
    }

    void SubLost(const std::string& why) {
        last_sub_error = why;
        spdlog::warn("amqp: consumer connection lost ({}); reconnecting", why);
        sub.Close();
        NewGeneration();
        next_connect = Clock::now() + sub_backoff;
        sub_backoff = std::min(sub_backoff * 2, kMaxBackoff);
    }

    void SetUpConsumers() {
        for (auto& c : consumed) {
            DeclareOn(sub, c.queue, WorkQueueArgs());
            sub.Qos(static_cast<std::uint16_t>(std::clamp(c.prefetch, 1, 65535)));
            c.consumer_tag = sub.Consume(c.queue);
        }
    }

    void ConnectSub() {
        sub.Open(url, options.heartbeat, kRpcTimeout, "killreport-consumer");
        NewGeneration();
        SetUpConsumers();
        sub_backoff = kMinBackoff;
    }

    /// After a channel error on the consumer channel: reopen it and consume again.
    void RecoverSubChannel(const AmqpChannelError& e) {
        spdlog::warn("amqp: consumer channel closed ({}); reopening", e.what());
        NewGeneration();
        try {
            sub.EnsureChannel();
            SetUpConsumers();
        } catch (const AmqpConnectionError& ce) {
            SubLost(ce.what());
        } catch (const AmqpChannelError& ce) {
            SubLost(ce.what());  // e.g. the queue was deleted and cannot be consumed: retry later
        }
    }

    template <typename F>
    void OnSub(F&& op) {
        try {
            op();
        } catch (const AmqpChannelError& e) {
            RecoverSubChannel(e);
        } catch (const AmqpConnectionError& e) {
            SubLost(e.what());
        }
    }

    void FlushAcks() {
        if (pending_acks.empty() || !sub.IsOpen()) return;
        std::sort(pending_acks.begin(), pending_acks.end());
        std::uint64_t lowest_open = outstanding.empty() ? UINT64_MAX : *outstanding.begin();
        std::vector<std::uint64_t> acks;
        acks.swap(pending_acks);
        OnSub([&] {
            // Everything below the lowest unsettled delivery goes in one ack with multiple=true.
            auto split = std::lower_bound(acks.begin(), acks.end(), lowest_open);
            if (split != acks.begin()) sub.Ack(*(split - 1), split - acks.begin() > 1);
            for (auto it = split; it != acks.end(); ++it) sub.Ack(*it, false);
        });
    }

    void KeepConsumerAlive() {
        auto now = Clock::now();
        if (now - last_keepalive < std::chrono::seconds(2)) return;
        last_keepalive = now;
        sub.SendHeartbeat();
    }

    void ServicePub() {
        if (!pub.IsOpen()) return;
        try {
            while (pub.WaitConfirm(milliseconds(0))) {
            }
        } catch (const AmqpChannelError&) {
        } catch (const AmqpConnectionError&) {
            pub.Close();
        }
    }
};

AmqpQueue::AmqpQueue(const std::string& url, const QueueOptions& options) : impl_(std::make_unique<Impl>()) {
    IgnoreSigpipeOnce();
    impl_->url = detail::ParseAmqpUrl(url);
    impl_->display_url = kr::db::MaskUrl(url);
    impl_->options = options;
}

AmqpQueue::~AmqpQueue() {
    try {
        impl_->FlushAcks();
    } catch (...) {  // NOLINT: a destructor must not throw; the broker redelivers what was not acked
    }
}

std::string AmqpQueue::DeadQueueName(const std::string& queue) { return queue + ".dead"; }

std::string AmqpQueue::RetryQueueName(const std::string& queue, milliseconds tier) {
    return queue + ".retry." + std::to_string(tier.count()) + "ms";
}

const std::vector<milliseconds>& AmqpQueue::RetryTiers() {
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

milliseconds AmqpQueue::TierFor(milliseconds delay) {
    for (auto t : RetryTiers()) {
        if (delay <= t) return t;
    }
    return RetryTiers().back();
}

void AmqpQueue::Declare(const std::string& queue) {
    impl_->WithPub("declare", [&] {
        impl_->declared.erase(queue);  // an explicit Declare always asks the broker
        impl_->EnsureWorkQueue(queue);
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
        if (m.attempt > 0) r.headers.push_back(IntHeader(kAttemptHeader, m.attempt));
        raw.push_back(std::move(r));
    }
    // Declaring first means a missing queue cannot swallow the messages (the original's producers
    // that never declared lost them silently on a fresh broker).
    impl_->PublishRaw(raw, [&] { impl_->EnsureWorkQueue(queue); });
}

void AmqpQueue::Consume(const std::string& queue, int prefetch) {
    impl_->WithPub("declare", [&] { impl_->EnsureWorkQueue(queue); });
    impl_->cancelled = false;
    impl_->consumed.push_back({queue, std::max(1, prefetch), {}});
    if (!impl_->sub.IsOpen()) {
        try {
            impl_->ConnectSub();
        } catch (const AmqpConnectionError& e) {
            impl_->SubLost(e.what());  // Poll() keeps trying
        }
        return;
    }
    impl_->OnSub([&] {
        auto& c = impl_->consumed.back();
        impl_->DeclareOn(impl_->sub, c.queue, WorkQueueArgs());
        impl_->sub.Qos(static_cast<std::uint16_t>(std::clamp(c.prefetch, 1, 65535)));
        c.consumer_tag = impl_->sub.Consume(c.queue);
    });
}

std::vector<Delivery> AmqpQueue::Poll(milliseconds timeout, std::size_t max) {
    auto& s = *impl_;
    auto deadline = Clock::now() + timeout;
    s.FlushAcks();
    s.ServicePub();
    std::vector<Delivery> out;
    if (s.consumed.empty() || s.cancelled) {
        // Nothing to consume: still service the connections (heartbeats) and honour the timeout.
        if (s.sub.IsOpen()) {
            s.OnSub([&] {
                for (;;) {
                    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
                    auto r = s.sub.ConsumeOne(std::max(left, milliseconds(0)));
                    if (r.kind == detail::ConsumeResult::kDelivery) {
                        s.sub.Reject(r.message.delivery_tag, true);  // arrived before cancel-ok
                        continue;
                    }
                    if (Clock::now() >= deadline) break;
                }
            });
        } else {
            std::this_thread::sleep_until(deadline);
        }
        return out;
    }
    if (!s.sub.IsOpen()) {
        if (Clock::now() < s.next_connect) std::this_thread::sleep_until(std::min(deadline, s.next_connect));
        if (Clock::now() < s.next_connect) return out;
        try {
            s.ConnectSub();
            spdlog::info("amqp: consumer reconnected to {}", s.display_url);
        } catch (const AmqpConnectionError& e) {
            s.SubLost(e.what());
            return out;
        } catch (const AmqpChannelError& e) {
            s.SubLost(e.what());
            return out;
        }
    }
    std::size_t total_prefetch = 0;
    for (const auto& c : s.consumed) total_prefetch += static_cast<std::size_t>(c.prefetch);
    std::size_t limit = max ? max : std::max<std::size_t>(1, total_prefetch);
    std::unordered_map<std::string, const std::string*> by_tag;
    for (const auto& c : s.consumed) by_tag[c.consumer_tag] = &c.queue;
    s.OnSub([&] {
        while (out.size() < limit) {
            auto left = out.empty() ? std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) : milliseconds(0);
            auto r = s.sub.ConsumeOne(std::max(left, milliseconds(0)));
            if (r.kind != detail::ConsumeResult::kDelivery) {
                if (!out.empty() || Clock::now() >= deadline) break;
                continue;
            }
            auto& m = r.message;
            Delivery d;
            d.tag = s.MakeTag(m.delivery_tag);
            auto q = by_tag.find(m.consumer_tag);
            d.queue = q != by_tag.end() ? *q->second : m.routing_key;
            d.body = std::move(m.body);
            d.priority = m.priority;
            d.attempt = AttemptOf(m);
            d.redelivered = m.redelivered;
            s.outstanding.insert(m.delivery_tag);
            out.push_back(std::move(d));
        }
    });
    // Deliveries read before a channel/connection loss in this call are stale: drop them (the
    // broker redelivers them).
    if (!out.empty() && (out.front().tag >> kTagBits) != s.gen) out.clear();
    return out;
}

void AmqpQueue::Ack(const Delivery& d) {
    auto tag = impl_->Live(d.tag);
    if (!tag || !impl_->outstanding.erase(*tag)) return;  // stale or already settled
    impl_->pending_acks.push_back(*tag);
    if (impl_->pending_acks.size() >= 256) impl_->FlushAcks();
}

void AmqpQueue::Release(const Delivery& d) {
    auto tag = impl_->Live(d.tag);
    if (!tag || !impl_->outstanding.erase(*tag)) return;
    impl_->OnSub([&] { impl_->sub.Reject(*tag, true); });
}

void AmqpQueue::Retry(const Delivery& d, milliseconds delay, const std::string& error) {
    if (!impl_->Live(d.tag)) return;  // the broker redelivers it anyway
    delay = std::max(delay, milliseconds(0));
    auto tier = TierFor(delay);
    RawMessage m;
    m.routing_key = RetryQueueName(d.queue, tier);
    m.body = d.body;
    m.priority = d.priority;
    m.headers.push_back(IntHeader(kAttemptHeader, d.attempt + 1));
    m.headers.push_back(StrHeader(kLastErrorHeader, kr::Truncate(error, kMaxErrorText)));
    m.expiration_ms = std::min(delay, tier).count();
    impl_->PublishRaw({m}, [&] { impl_->EnsureTier(d.queue, tier); });
    Ack(d);
}

void AmqpQueue::DeadLetter(const Delivery& d, const std::string& reason, const std::string& error) {
    if (!impl_->Live(d.tag)) return;
    RawMessage m;
    m.routing_key = DeadQueueName(d.queue);
    m.body = d.body;
    m.priority = d.priority;
    m.headers.push_back(IntHeader(kAttemptHeader, d.attempt));
    m.headers.push_back(IntHeader(kAttemptsHeader, d.attempt + 1));
    m.headers.push_back(StrHeader(kReasonHeader, reason));
    m.headers.push_back(StrHeader(kLastErrorHeader, kr::Truncate(error, kMaxErrorText)));
    m.headers.push_back(StrHeader(kDeadAtHeader, IsoTimestamp(std::chrono::system_clock::now())));
    m.headers.push_back(StrHeader(kQueueHeader, d.queue));
    impl_->PublishRaw({m}, [&] { impl_->EnsureDeclaredPub(DeadQueueName(d.queue), {}); });
    Ack(d);
}

void AmqpQueue::Cancel() {
    auto& s = *impl_;
    s.FlushAcks();
    s.cancelled = true;
    if (!s.sub.IsOpen()) return;
    s.OnSub([&] {
        for (auto& c : s.consumed) {
            if (!c.consumer_tag.empty()) s.sub.Cancel(c.consumer_tag);
        }
    });
    s.consumed.clear();
}

QueueStats AmqpQueue::Stats(const std::string& queue) {
    QueueStats st;
    st.queue = queue;
    st.unacked = -1;
    auto passive = [&](const std::string& name) -> std::optional<detail::QueueCounts> {
        try {
            return impl_->pub.DeclareQueue(name, {}, true);
        } catch (const AmqpChannelError& e) {
            if (e.Code() == AMQP_NOT_FOUND) return std::nullopt;  // channel reopened on next use
            throw;
        }
    };
    impl_->WithPub("stats", [&] {
        st.retrying = 0;
        if (auto c = passive(queue)) {
            st.ready = c->messages;
            st.consumers = c->consumers;
        } else {
            st.ready = 0;
            st.consumers = 0;
        }
        for (auto t : RetryTiers()) {
            if (auto c = passive(RetryQueueName(queue, t))) st.retrying += c->messages;
        }
        auto dead = passive(DeadQueueName(queue));
        st.dead = dead ? dead->messages : 0;
    });
    return st;
}

std::vector<kr::queue::DeadLetter> AmqpQueue::ListDead(const std::string& queue, std::size_t limit) {
    std::vector<kr::queue::DeadLetter> out;
    impl_->WithPub("list dead letters", [&] {
        out.clear();
        std::uint64_t last = 0;
        try {
            // basic.get without ack, then one nack(multiple, requeue): the broker puts them back in
            // their original positions, so the order and the count are unchanged.
            while (out.size() < limit) {
                auto m = impl_->pub.Get(DeadQueueName(queue));
                if (!m) break;
                last = m->delivery_tag;
                kr::queue::DeadLetter dl;
                dl.queue = m->StringHeader(kQueueHeader).value_or(queue);
                dl.body = m->body;
                dl.priority = m->priority;
                dl.attempts = static_cast<int>(m->IntHeader(kAttemptsHeader).value_or(AttemptOf(*m) + 1));
                dl.reason = m->StringHeader(kReasonHeader).value_or("unknown");
                dl.last_error = m->StringHeader(kLastErrorHeader).value_or("");
                dl.dead_at = m->StringHeader(kDeadAtHeader).value_or("");
                out.push_back(std::move(dl));
            }
        } catch (const AmqpChannelError& e) {
            if (e.Code() == AMQP_NOT_FOUND) return;  // no dead-letter queue yet
            throw;
        }
        if (last) impl_->pub.Nack(last, true, true);
    });
    return out;
}

std::size_t AmqpQueue::RetryDead(const std::string& queue) {
    auto& s = *impl_;
    const std::string dead = DeadQueueName(queue);
    std::int64_t total = s.WithPub("count dead letters", [&]() -> std::int64_t {
        try {
            return s.pub.DeclareQueue(dead, {}, true).messages;
        } catch (const AmqpChannelError& e) {
            if (e.Code() == AMQP_NOT_FOUND) return 0;
            throw;
        }
    });
    std::size_t moved = 0;
    while (static_cast<std::int64_t>(moved) < total) {
        std::vector<RawMessage> batch;
        std::uint64_t last = 0;
        std::uint64_t epoch = 0;
        s.WithPub("read dead letters", [&] {
            batch.clear();
            epoch = s.pub.ChannelEpoch();
            auto want = std::min<std::int64_t>(1000, total - static_cast<std::int64_t>(moved));
            while (static_cast<std::int64_t>(batch.size()) < want) {
                auto m = s.pub.Get(dead);
                if (!m) break;
                last = m->delivery_tag;
                RawMessage r;
                r.routing_key = queue;
                r.body = std::move(m->body);
                r.priority = m->priority;  // attempt reset to 0: no header
                batch.push_back(std::move(r));
            }
        });
        if (batch.empty()) break;
        s.PublishRaw(batch, [&] { s.EnsureWorkQueue(queue); });
        // The gets are acked only on the channel they came from; if it was replaced meanwhile the
        // broker has put them back into Q.dead and they will be moved again (at-least-once).
        if (s.pub.ChannelEpoch() == epoch && s.pub.IsOpen() && s.pub.ChannelOpen()) {
            try {
                s.pub.Ack(last, true);
            } catch (const AmqpConnectionError&) {
                s.pub.Close();
            } catch (const AmqpChannelError&) {
            }
        }
        moved += batch.size();
    }
    return moved;
}

void AmqpQueue::DeleteAll(const std::string& queue) {
    impl_->WithPub("delete", [&] {
        std::vector<std::string> names{queue, DeadQueueName(queue)};
        for (auto t : RetryTiers()) names.push_back(RetryQueueName(queue, t));
        for (const auto& n : names) {
            impl_->pub.DeleteQueue(n);  // deleting a missing queue is not an error in RabbitMQ
            impl_->declared.erase(n);
        }
    });
}

}  // namespace kr::queue
