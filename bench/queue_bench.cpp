// Queue throughput: confirmed/committed publishes per second and consume+ack per second, for
// RabbitMQ (a durable x-max-priority=10 queue like the original's, persistent messages) and the
// database queue on SQLite and PostgreSQL.
//
//   queue_bench [N [WINDOW]]   N messages per backend (default 100000; DB backends N/2),
//                              WINDOW = publisher-confirm window (default QueueOptions')
//   env: KR_TEST_AMQP_URL      RabbitMQ (skipped if unset)
//        KR_TEST_PG_DSN        PostgreSQL admin DSN (a temporary database is created and dropped)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
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

void Print(const char* name, int n, const Result& r) {
    std::printf("%-34s n=%-7d publish %9.0f msg/s   consume+ack %9.0f msg/s\n", name, n, r.publish_per_s,
                r.consume_per_s);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
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
