#include "queue/amqp_admin.hpp"

#include <algorithm>

#include "queue/amqp_topology.hpp"

namespace kr::queue {

using detail::AmqpChannelError;
using detail::AmqpConnectionError;
using detail::RawMessage;

std::optional<detail::QueueCounts> AmqpAdmin::Counts(const std::string& name) {
    try {
        return pub_.Connection().DeclareQueue(name, {}, true);
    } catch (const AmqpChannelError& e) {
        if (e.Code() == AMQP_NOT_FOUND) return std::nullopt;  // channel reopened on next use
        throw;
    }
}

QueueStats AmqpAdmin::Stats(const std::string& queue) {
    QueueStats st;
    st.queue = queue;
    st.unacked = -1;
    pub_.With("stats", [&] {
        st.retrying = 0;
        if (auto c = Counts(queue)) {
            st.ready = c->messages;
            st.consumers = c->consumers;
        } else {
            st.ready = 0;
            st.consumers = 0;
        }
        for (auto t : amqp::RetryTiers()) {
            if (auto c = Counts(amqp::RetryQueueName(queue, t))) st.retrying += c->messages;
        }
        auto dead = Counts(amqp::DeadQueueName(queue));
        st.dead = dead ? dead->messages : 0;
    });
    return st;
}

std::vector<kr::queue::DeadLetter> AmqpAdmin::ListDead(const std::string& queue, std::size_t limit) {
    std::vector<kr::queue::DeadLetter> out;
    pub_.With("list dead letters", [&] {
        auto& conn = pub_.Connection();
        out.clear();
        std::uint64_t last = 0;
        try {
            // basic.get without ack, then one nack(multiple, requeue): the broker puts them back in
            // their original positions, so the order and the count are unchanged.
            while (out.size() < limit) {
                auto m = conn.Get(amqp::DeadQueueName(queue));
                if (!m) break;
                last = m->delivery_tag;
                kr::queue::DeadLetter dl;
                dl.queue = m->StringHeader(amqp::kQueueHeader).value_or(queue);
                dl.body = m->body;
                dl.priority = m->priority;
                dl.attempts = static_cast<int>(m->IntHeader(amqp::kAttemptsHeader).value_or(amqp::AttemptOf(*m) + 1));
                dl.reason = m->StringHeader(amqp::kReasonHeader).value_or("unknown");
                dl.last_error = m->StringHeader(amqp::kLastErrorHeader).value_or("");
                dl.dead_at = m->StringHeader(amqp::kDeadAtHeader).value_or("");
                out.push_back(std::move(dl));
            }
        } catch (const AmqpChannelError& e) {
            if (e.Code() == AMQP_NOT_FOUND) return;  // no dead-letter queue yet
            throw;
        }
        if (last) conn.Nack(last, true, true);
    });
    return out;
}

std::size_t AmqpAdmin::RetryDead(const std::string& queue) {
    auto& conn = pub_.Connection();
    const std::string dead = amqp::DeadQueueName(queue);
    std::int64_t total = pub_.With("count dead letters", [&]() -> std::int64_t {
        auto c = Counts(dead);
        return c ? c->messages : 0;
    });
    std::size_t moved = 0;
    while (static_cast<std::int64_t>(moved) < total) {
        std::vector<RawMessage> batch;
        std::uint64_t last = 0;
        std::uint64_t epoch = 0;
        pub_.With("read dead letters", [&] {
            batch.clear();
            epoch = conn.ChannelEpoch();
            auto want = std::min<std::int64_t>(1000, total - static_cast<std::int64_t>(moved));
            while (static_cast<std::int64_t>(batch.size()) < want) {
                auto m = conn.Get(dead);
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
        pub_.Publish(batch, [&] { pub_.EnsureWorkQueue(queue); });
        // The gets are acked only on the channel they came from; if it was replaced meanwhile the
        // broker has put them back into Q.dead and they will be moved again (at-least-once).
        if (conn.ChannelEpoch() == epoch && conn.IsOpen() && conn.ChannelOpen()) {
            try {
                conn.Ack(last, true);
            } catch (const AmqpConnectionError&) {
                conn.Close();
            } catch (const AmqpChannelError&) {}
        }
        moved += batch.size();
    }
    return moved;
}

void AmqpAdmin::DeleteAll(const std::string& queue) {
    pub_.With("delete", [&] {
        std::vector<std::string> names{queue, amqp::DeadQueueName(queue)};
        for (auto t : amqp::RetryTiers()) names.push_back(amqp::RetryQueueName(queue, t));
        for (const auto& n : names) {
            pub_.Connection().DeleteQueue(n);  // deleting a missing queue is not an error in RabbitMQ
            pub_.ForgetDeclared(n);
        }
    });
}

}  // namespace kr::queue
