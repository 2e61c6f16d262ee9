#pragma once
// AmqpQueue's publisher connection: confirm mode, the declarations made on it, and publishing
// with confirms in a window (republishing what was nacked, returned or left unconfirmed by a lost
// connection, until QueueOptions::publish_timeout). The admin side (AmqpAdmin) runs its
// declarations, stats and dead-letter reads on this connection too. Not thread-safe.
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "queue/detail/amqp_connection.hpp"
#include "queue/queue.hpp"

namespace kr::queue {

class AmqpPublisher {
public:
    /// Connects lazily. `display_url` (password masked) is for messages.
    AmqpPublisher(detail::AmqpUrl url, std::string display_url, const QueueOptions& options);

    /// Called between messages of a long publish (every 64), so the owner can keep its other
    /// connections alive meanwhile (rabbitmq-c sends no heartbeats on its own).
    void SetKeepAlive(std::function<void()> keep_alive) { keep_alive_ = std::move(keep_alive); }

    /// Runs `op` on the connection, reconnecting after connection errors until the publish
    /// timeout, then throws kr::TransientError. Channel errors (other than those `op` handles)
    /// are rethrown.
    template <typename F>
    auto With(const char* what, F&& op) {
        auto deadline = std::chrono::steady_clock::now() + options_.publish_timeout;
        for (;;) {
            EnsureOpen(deadline);
            try {
                return op();
            } catch (const detail::AmqpConnectionError& e) {
                conn_.Close();
                if (std::chrono::steady_clock::now() >= deadline) {
                    throw kr::TransientError(std::string("amqp: ") + what + " failed: " + e.what());
                }
            }
        }
    }

    /// Publishes durably: returns when the broker confirmed every message; throws
    /// kr::TransientError when that did not happen within the publish timeout. `prepare`
    /// (re)declares what the messages are routed to, on each fresh connection.
    void Publish(const std::vector<detail::RawMessage>& msgs, const std::function<void()>& prepare);

    /// Declares `name` unless it was declared on this connection already (inside With/Publish).
    void EnsureDeclared(const std::string& name, const detail::QueueArgs& args);
    /// Q (the original's arguments) and Q.dead.
    void EnsureWorkQueue(const std::string& queue);
    void EnsureTier(const std::string& queue, std::chrono::milliseconds tier);
    /// The next EnsureDeclared of `name` asks the broker again.
    void ForgetDeclared(const std::string& name) { declared_.erase(name); }

    /// Reads pending confirms (and so heartbeats) without blocking.
    void Service();

    /// The connection, for the admin's reads inside With().
    detail::AmqpConnection& Connection() { return conn_; }

private:
    void EnsureOpen(std::chrono::steady_clock::time_point deadline);

    detail::AmqpUrl url_;
    std::string display_url_;
    QueueOptions options_;
    detail::AmqpConnection conn_;
    std::set<std::string> declared_;  ///< names declared on the current connection
    std::chrono::milliseconds backoff_;
    bool ever_open_ = false;  ///< the first connection is tried for QueueOptions::connect_timeout only
    std::function<void()> keep_alive_;
};

}  // namespace kr::queue
