#include "queue/amqp_publisher.hpp"

#include <algorithm>
#include <map>
#include <thread>

#include "queue/amqp_topology.hpp"

namespace kr::queue {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using detail::AmqpChannelError;
using detail::AmqpConnectionError;
using detail::RawMessage;

constexpr int kMaxPublishRounds = 8;

}  // namespace

AmqpPublisher::AmqpPublisher(detail::AmqpUrl url, std::string display_url, const QueueOptions& options)
    : url_(std::move(url)), display_url_(std::move(display_url)), options_(options), backoff_(amqp::kMinBackoff) {}

void AmqpPublisher::EnsureOpen(Clock::time_point deadline) {
    const auto started = Clock::now();
    // Never connected yet: most likely a wrong RABBITMQ_URL or a broker that is down; say so soon.
    if (!ever_open_) deadline = std::min(deadline, started + options_.connect_timeout);
    while (!conn_.IsOpen()) {
        try {
            conn_.Open(url_, options_.heartbeat, amqp::kRpcTimeout, "killreport-publisher");
            conn_.ConfirmSelect();
            declared_.clear();
            backoff_ = amqp::kMinBackoff;
            ever_open_ = true;
            return;
        } catch (const AmqpConnectionError& e) {
            conn_.Close();
            if (Clock::now() >= deadline) {
                throw kr::TransientError(amqp::CannotConnect(
                    display_url_, std::chrono::duration_cast<milliseconds>(deadline - started), e.what()));
            }
            std::this_thread::sleep_until(std::min(Clock::now() + backoff_, deadline));
            backoff_ = std::min(backoff_ * 2, amqp::kMaxBackoff);
        }
    }
    conn_.EnsureChannel();
}

void AmqpPublisher::EnsureDeclared(const std::string& name, const detail::QueueArgs& args) {
    if (declared_.count(name)) return;
    amqp::DeclareQueue(conn_, name, args);
    declared_.insert(name);
}

void AmqpPublisher::EnsureWorkQueue(const std::string& queue) {
    EnsureDeclared(queue, amqp::WorkQueueArgs());
    EnsureDeclared(amqp::DeadQueueName(queue), {});
}

void AmqpPublisher::EnsureTier(const std::string& queue, milliseconds tier) {
    EnsureDeclared(amqp::RetryQueueName(queue, tier), amqp::RetryTierArgs(queue, tier));
}

void AmqpPublisher::Publish(const std::vector<RawMessage>& msgs, const std::function<void()>& prepare) {
    if (msgs.empty()) return;
    auto deadline = Clock::now() + options_.publish_timeout;
    std::vector<std::size_t> todo(msgs.size());
    for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
    std::string last_error;
    int rounds = 0;
    const std::size_t window = std::max<std::size_t>(1, options_.publish_window);
    while (!todo.empty()) {
        if (rounds > 0) {
            if (rounds > kMaxPublishRounds || Clock::now() >= deadline) {
                throw kr::TransientError("amqp: " + std::to_string(todo.size()) + " of " + std::to_string(msgs.size()) +
                                         " messages to '" + msgs[todo.front()].routing_key + "' not confirmed after " +
                                         std::to_string(rounds) + " attempts: " + last_error);
            }
            std::this_thread::sleep_for(std::min<milliseconds>(milliseconds(50) * rounds, amqp::kMaxBackoff));
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
                declared_.erase(ev.returned.routing_key);  // declare it again before the next round
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
            auto ev = conn_.WaitConfirm(amqp::kRpcTimeout);
            if (!ev) throw AmqpConnectionError("no publisher confirm within 10 s");
            handle(*ev);
        };
        try {
            EnsureOpen(deadline);
            prepare();
            for (; next < todo.size(); ++next) {
                while (unconfirmed.size() >= window) wait_one();
                std::uint64_t seq = conn_.Publish(msgs[todo[next]], true);
                unconfirmed.emplace(seq, Entry{todo[next], false});
                if ((next & 63) == 63) {
                    while (auto ev = conn_.WaitConfirm(milliseconds(0))) handle(*ev);
                    if (keep_alive_) keep_alive_();
                }
            }
            while (!unconfirmed.empty()) wait_one();
            todo = std::move(failed);  // the round is settled: what the broker refused goes again
            continue;
        } catch (const AmqpChannelError& e) {
            last_error = e.what();  // the channel is reopened by EnsureOpen on the next round
        } catch (const AmqpConnectionError& e) {
            last_error = e.what();
            conn_.Close();
        }
        {
            // Interrupted: everything not confirmed goes again (at-least-once).
            std::vector<std::size_t> again = std::move(failed);
            for (auto& [seq, e] : unconfirmed) again.push_back(e.index);
            for (std::size_t i = next; i < todo.size(); ++i) again.push_back(todo[i]);
            std::sort(again.begin(), again.end());
            again.erase(std::unique(again.begin(), again.end()), again.end());
            todo = std::move(again);
        }
    }
}

void AmqpPublisher::Service() {
    if (!conn_.IsOpen()) return;
    try {
        while (conn_.WaitConfirm(milliseconds(0))) {}
    } catch (const AmqpChannelError&) {
    } catch (const AmqpConnectionError&) {
        conn_.Close();
    }
}

}  // namespace kr::queue
