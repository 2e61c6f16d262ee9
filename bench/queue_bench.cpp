// Queue throughput: confirmed/committed publishes per second and consume+ack per second, for
// RabbitMQ (a durable x-max-priority=10 queue like the original's, persistent messages) and the
// database queue on SQLite and PostgreSQL.
//
//   queue_bench [N [WINDOW]]   N messages per backend (default 100000; DB backends N/2),
//                              WINDOW = publisher-confirm window (default QueueOptions')
//   queue_bench --confirm-ceiling N1,N2,… [WINDOW,…]
//                              RabbitMQ only: the broker's confirmed-publish ceiling for
//                              scan:entities — N1, N2, … persistent messages of the scan's size and
//                              priority to as many queues, each on its own connection and thread,
//                              confirms pipelined in a window (each of 200,1000,5000 by default,
//                              the fastest counts): the wall time until the last confirm (what
//                              bench/run's scan scenario compares the scan with)
//   env: KR_TEST_AMQP_URL      RabbitMQ (skipped if unset)
//        KR_TEST_PG_DSN        PostgreSQL admin DSN (a temporary database is created and dropped)
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/entity_kind.hpp"
#include "core/time_format.hpp"
#include "db/connection.hpp"
#include "queue/amqp_queue.hpp"
#include "queue/db_queue.hpp"
#include "queue/detail/amqp_connection.hpp"
#include "queue/messages.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using kr::queue::OutMessage;
using kr::queue::Queue;

const std::string kQueuedAt = kr::IsoUtc(kr::SystemClock::Instance().NowMs());

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

struct Result {
    double publish_per_s = 0;
    double consume_per_s = 0;
};

Result Run(const std::function<std::unique_ptr<Queue>()>& open, const std::string& queue, int n, int prefetch) {
    Result r;
    {
        auto q = open();
        q->Declare(queue);
        std::vector<OutMessage> batch;
        auto t0 = Clock::now();
        for (int i = 0; i < n; ++i) {
            batch.push_back({kr::queue::BuildEntityMessage(90000000 + i, "bench", kQueuedAt),
                             static_cast<std::uint8_t>(i % 10), 0});
            if (batch.size() == 10000 || i + 1 == n) {
                q->Publish(queue, batch);  // returns when every message is confirmed / committed
                batch.clear();
            }
        }
        r.publish_per_s = n / Seconds(t0);
    }
    {
        auto q = open();
        q->Consume(queue, prefetch);
        int got = 0;
        auto t0 = Clock::now();
        auto deadline = Clock::now() + 300s;
        while (got < n && Clock::now() < deadline) {
            for (auto& d : q->Poll(500ms)) {
                q->Ack(d);
                ++got;
            }
        }
        q->Cancel();
        r.consume_per_s = got / Seconds(t0);
        if (got < n) std::fprintf(stderr, "  only %d of %d consumed\n", got, n);
    }
    return r;
}

/// The broker's ceiling on this machine right now: publish without confirms and wait until the
/// broker has enqueued everything (passive declare). Confirmed throughput cannot beat it.
double BrokerCeiling(const std::string& url, const std::string& queue, int n) {
    namespace d = kr::queue::detail;
    d::AmqpConnection c;
    c.Open(d::ParseAmqpUrl(url), 30s, 60s, "kr-bench-baseline");
    d::AmqpConnection probe;  // a separate connection: a declare behind 100k publishes would wait for them
    probe.Open(d::ParseAmqpUrl(url), 30s, 60s, "kr-bench-probe");
    d::QueueArgs args;
    args.max_priority = kr::queue::kMaxPriority;
    c.DeclareQueue(queue, args, false);
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        d::RawMessage m;
        m.routing_key = queue;
        m.body = kr::queue::BuildEntityMessage(90000000 + i, "bench", kQueuedAt);
        m.priority = static_cast<std::uint8_t>(i % 10);
        c.Publish(m, false);
    }
    while (probe.DeclareQueue(queue, {}, true).messages < n) std::this_thread::sleep_for(5ms);
    double rate = n / Seconds(t0);
    probe.DeleteQueue(queue);
    return rate;
}

/// One queue of the ceiling: `n` messages like the scan's (an entity message, source
/// killmail_scan, priority 5, persistent, mandatory) on its own connection, at most `window`
/// unconfirmed. Waits for `go` after declaring; returns when the last one is confirmed.
void PublishConfirmed(const std::string& url, const std::string& queue, int n, std::size_t window,
                      const std::atomic<bool>& go, std::atomic<int>& ready, std::atomic<int>& nacked) {
    namespace d = kr::queue::detail;
    d::AmqpConnection c;
    c.Open(d::ParseAmqpUrl(url), 30s, 60s, "kr-bench-ceiling");
    c.ConfirmSelect();
    d::QueueArgs args;
    args.max_priority = kr::queue::kMaxPriority;
    c.DeclareQueue(queue, args, false);
    std::vector<d::RawMessage> msgs(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& m = msgs[static_cast<std::size_t>(i)];
        m.routing_key = queue;
        m.body = kr::queue::BuildEntityMessage(2100000000 + i, "killmail_scan", kQueuedAt);
        m.priority = kr::queue::kNewWorkPriority;
    }
    ++ready;
    while (!go) std::this_thread::sleep_for(100us);
    std::deque<std::uint64_t> unconfirmed;  // in publish order
    auto settle = [&](const d::ConfirmEvent& ev) {
        if (ev.kind == d::ConfirmEvent::kReturn) return;
        if (ev.kind == d::ConfirmEvent::kNack) ++nacked;
        if (ev.multiple) {
            while (!unconfirmed.empty() && unconfirmed.front() <= ev.tag) unconfirmed.pop_front();
        } else if (!unconfirmed.empty() && unconfirmed.front() == ev.tag) {
            unconfirmed.pop_front();
        } else {
            std::erase(unconfirmed, ev.tag);
        }
    };
    auto wait_one = [&] {
        auto ev = c.WaitConfirm(10s);
        if (!ev) throw std::runtime_error("no publisher confirm within 10 s");
        settle(*ev);
    };
    for (const auto& m : msgs) {
        while (unconfirmed.size() >= window) wait_one();
        unconfirmed.push_back(c.Publish(m, true));
        if ((unconfirmed.back() & 63) == 0) {
            while (auto ev = c.WaitConfirm(0ms)) settle(*ev);
        }
    }
    while (!unconfirmed.empty()) wait_one();
    c.DeleteQueue(queue);
}

/// The ceiling: every queue at once (PublishConfirmed each); wall seconds from the start to the
/// last confirm.
double ConfirmCeiling(const std::string& url, const std::vector<int>& counts, std::size_t window) {
    std::atomic<bool> go{false};
    std::atomic<int> ready{0}, nacked{0};
    std::vector<std::exception_ptr> errors(counts.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        threads.emplace_back([&, i] {
            try {
                const std::string queue = "kr_ceiling_" + std::to_string(::getpid()) + "_" + std::to_string(i);
                PublishConfirmed(url, queue, counts[i], window, go, ready, nacked);
            } catch (...) {
                errors[i] = std::current_exception();
                ++ready;
            }
        });
    }
    while (ready < static_cast<int>(counts.size())) std::this_thread::sleep_for(1ms);
    const auto t0 = Clock::now();
    go = true;
    for (auto& t : threads) t.join();
    const double wall = Seconds(t0);
    for (const auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }
    if (nacked > 0) std::fprintf(stderr, "  %d message(s) nacked\n", nacked.load());
    return wall;
}

void Print(const char* name, int n, const Result& r) {
    std::printf("%-34s n=%-7d publish %9.0f msg/s   consume+ack %9.0f msg/s\n", name, n, r.publish_per_s,
                r.consume_per_s);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "--confirm-ceiling") {
        const char* url = std::getenv("KR_TEST_AMQP_URL");
        if (!url || !*url || argc < 3) {
            std::fprintf(stderr, "usage: KR_TEST_AMQP_URL=amqp://… queue_bench --confirm-ceiling N1,N2,… [WINDOW,…]\n");
            return 2;
        }
        std::vector<int> counts;
        std::stringstream list(argv[2]);
        int total = 0;
        for (std::string item; std::getline(list, item, ',');) {
            counts.push_back(std::atoi(item.c_str()));
            total += counts.back();
        }
        // "Best settings": the broker's credit flow favours neither small nor large windows on
        // every machine, so each window is tried once and the fastest counts.
        std::vector<std::size_t> windows;
        std::stringstream wl(argc > 3 ? argv[3] : "200,1000,5000");
        for (std::string item; std::getline(wl, item, ',');)
            windows.push_back(static_cast<std::size_t>(std::atoi(item.c_str())));
        try {
            double best = 0;
            std::size_t best_window = 0;
            for (std::size_t w : windows) {
                const double wall = ConfirmCeiling(url, counts, std::max<std::size_t>(1, w));
                std::printf("  window %zu: %.3f s\n", w, wall);
                if (best_window == 0 || wall < best) {
                    best = wall;
                    best_window = w;
                }
            }
            std::printf(
                "confirmed-publish ceiling: %d messages to %zu queues (a connection each, best window %zu) in "
                "%.3f s = %.0f msg/s\n",
                total, counts.size(), best_window, best, total / best);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "queue_bench: %s\n", e.what());
            return 1;
        }
        return 0;
    }
    int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    int n_db = std::max(1, n / 2);
    kr::queue::QueueOptions options;
    if (argc > 2) options.publish_window = static_cast<std::size_t>(std::atoi(argv[2]));
    std::string suffix = std::to_string(::getpid());
    try {
        if (const char* url = std::getenv("KR_TEST_AMQP_URL"); url && *url) {
            std::string queue = "kr_bench_" + suffix;
            auto open = [&] { return std::make_unique<kr::queue::AmqpQueue>(url, options); };
            auto r = Run(open, queue, n, 200);
            kr::queue::AmqpQueue(url).DeleteAll(queue);
            Print("RabbitMQ (durable, x-max-priority)", n, r);
            std::printf("%-34s n=%-7d enqueued without confirms %9.0f msg/s (broker ceiling now)\n", "  baseline", n,
                        BrokerCeiling(url, queue + "_baseline", n));
        } else {
            std::printf("RabbitMQ: skipped (KR_TEST_AMQP_URL unset)\n");
        }
        {
            auto dir = std::filesystem::temp_directory_path() / ("kr_bench_" + suffix);
            std::filesystem::create_directories(dir);
            std::string url = "sqlite://" + (dir / "queue.db").string();
            auto open = [&] { return std::make_unique<kr::queue::DbQueue>(url); };
            auto r = Run(open, kr::KindInfo(kr::EntityKind::kAlliance).queue, n_db, 200);
            std::filesystem::remove_all(dir);
            Print("DbQueue SQLite (WAL)", n_db, r);
        }
        if (const char* dsn = std::getenv("KR_TEST_PG_DSN"); dsn && *dsn) {
            std::string db = "kr_bench_" + suffix;
            auto admin = kr::db::Open(dsn);
            admin->ExecScript("CREATE DATABASE " + db);
            std::string admin_dsn = dsn;
            std::string url = admin_dsn.substr(0, admin_dsn.rfind('/') + 1) + db;
            Result r;
            {
                auto open = [&] { return std::make_unique<kr::queue::DbQueue>(url); };
                r = Run(open, kr::KindInfo(kr::EntityKind::kAlliance).queue, n_db, 200);
            }
            admin->ExecScript("DROP DATABASE " + db + " WITH (FORCE)");
            Print("DbQueue PostgreSQL", n_db, r);
        } else {
            std::printf("PostgreSQL: skipped (KR_TEST_PG_DSN unset)\n");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "queue_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
