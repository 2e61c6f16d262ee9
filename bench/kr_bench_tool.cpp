// Queue tooling for bench/run: pre-load a queue with work and clear it between runs, through the
// same kr::queue::OpenQueue the workers use (RABBITMQ_URL set → RabbitMQ, else the database queue
// in DATABASE_URL), so the benchmark does not depend on the queue:* commands.
//
//   kr_bench_tool publish QUEUE IDS_FILE          entity messages {"entityId":…} (priority 0)
//   kr_bench_tool publish-zkb IDS_FILE            zKillboard jobs onto zkillboard_character_queue
//   kr_bench_tool purge QUEUE...                  delete every message (RabbitMQ: the queue, its
//                                                 retry tiers and dead letters)
//   kr_bench_tool stats QUEUE...                  one JSON line per queue
//   kr_bench_tool watch DATABASE_URL SQL MS       runs SQL (one integer) every MS ms until killed and
//                                                 prints "<CLOCK_MONOTONIC s> <value>" on each change
//   kr_bench_tool measure FILE -- CMD ARGS...     runs CMD, forwards SIGTERM/SIGINT to it, writes
//                                                 "rc wall_s cpu_s maxrss_kb" of CMD alone to FILE
//
// Why `measure` exists: Linux carries a process's RSS high-water mark across execve, so a child
// spawned by a big parent (python) reports the parent's RSS as its own peak when the parent reads
// wait4(). Forked from this small tool, CMD's peak is its own.
//
// IDS_FILE: integers separated by whitespace or commas. Prints what it did on stdout.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>

#include "core/clock.hpp"
#include "core/time_format.hpp"
#include "db/connection.hpp"
#include "queue/amqp_queue.hpp"
#include "queue/db_queue.hpp"
#include "queue/messages.hpp"
#include "queue/queue.hpp"

namespace {

const std::string kQueuedAt = kr::IsoUtc(kr::SystemClock::Instance().NowMs());

std::optional<std::string> Env(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == 0) return std::nullopt;
    return std::string(v);
}

std::vector<std::int64_t> ReadIds(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<std::int64_t> ids;
    std::string tok;
    char ch;
    auto flush = [&] {
        if (!tok.empty()) ids.push_back(std::stoll(tok));
        tok.clear();
    };
    while (in.get(ch)) {
        if ((ch >= '0' && ch <= '9') || ch == '-')
            tok += ch;
        else
            flush();
    }
    flush();
    return ids;
}

void PublishAll(kr::queue::Queue& q, const std::string& queue, const std::vector<std::string>& bodies) {
    q.Declare(queue);
    std::vector<kr::queue::OutMessage> batch;
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < bodies.size(); ++i) {
        batch.push_back({bodies[i], 0, 0});
        if (batch.size() == 5000 || i + 1 == bodies.size()) {
            q.Publish(queue, batch);
            batch.clear();
        }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("published %zu messages to %s in %.2f s\n", bodies.size(), queue.c_str(), s);
}

volatile pid_t g_child = 0;

void Forward(int sig) {
    if (g_child > 0) ::kill(g_child, sig);
}

int Measure(const char* file, char** cmd) {
    const auto t0 = std::chrono::steady_clock::now();
    struct sigaction sa {};
    sa.sa_handler = Forward;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("kr_bench_tool: fork");
        return 1;
    }
    if (pid == 0) {
        ::execvp(cmd[0], cmd);
        std::perror("kr_bench_tool: exec");
        ::_exit(127);
    }
    g_child = pid;
    int status = 0;
    rusage ru{};
    while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {}
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::FILE* f = std::fopen(file, "w")) {
        std::fprintf(f, "%d %.6f %.6f %ld\n", rc, wall, cpu, ru.ru_maxrss);
        std::fclose(f);
    }
    return rc;
}

/// When did a worker finish? The time its last row committed, seen from outside (the same clock as
/// python's time.monotonic()), without the idle-detection tail of --until-idle.
int Watch(const std::string& url, const std::string& sql, int interval_ms) {
    auto conn = kr::db::Open(url);
    std::int64_t last = -1;
    for (;;) {
        try {
            std::int64_t v = conn->Exec(sql).Int(0, 0);
            if (v != last) {
                timespec ts{};
                ::clock_gettime(CLOCK_MONOTONIC, &ts);
                std::printf("%.6f %lld\n", static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9,
                            static_cast<long long>(v));
                std::fflush(stdout);
                last = v;
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "kr_bench_tool watch: %s\n", e.what());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 5 && std::string(argv[1]) == "watch") return Watch(argv[2], argv[3], std::atoi(argv[4]));
    if (argc >= 5 && std::string(argv[1]) == "measure" && std::string(argv[3]) == "--") {
        return Measure(argv[2], argv + 4);
    }
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: kr_bench_tool publish QUEUE IDS_FILE | publish-zkb IDS_FILE | purge QUEUE... | "
                     "stats QUEUE... | watch URL SQL MS | measure FILE -- CMD...\n  env: DATABASE_URL, RABBITMQ_URL\n");
        return 2;
    }
    const std::string cmd = argv[1];
    const auto amqp = Env("RABBITMQ_URL");
    const auto db = Env("DATABASE_URL");
    if (!amqp && !db) {
        std::fprintf(stderr, "kr_bench_tool: set RABBITMQ_URL or DATABASE_URL\n");
        return 2;
    }
    try {
        auto q = kr::queue::OpenQueue(amqp, db.value_or(""));
        if (cmd == "publish" && argc == 4) {
            std::vector<std::string> bodies;
            for (auto id : ReadIds(argv[3])) bodies.push_back(kr::queue::BuildEntityMessage(id, "bench", kQueuedAt));
            PublishAll(*q, argv[2], bodies);
        } else if (cmd == "publish-zkb" && argc == 3) {
            std::vector<std::string> bodies;
            for (auto id : ReadIds(argv[2])) {
                kr::queue::ZkillboardJob job;
                job.character_id = id;
                job.character_name = "Character_" + std::to_string(id);
                job.queued_at = kQueuedAt;
                bodies.push_back(kr::queue::BuildZkillboardJob(job));
            }
            PublishAll(*q, kr::queue::kZkillboardCharacter, bodies);
        } else if (cmd == "purge") {
            for (int i = 2; i < argc; ++i) {
                if (auto* a = dynamic_cast<kr::queue::AmqpQueue*>(q.get()))
                    a->DeleteAll(argv[i]);
                else if (auto* d = dynamic_cast<kr::queue::DbQueue*>(q.get()))
                    d->Purge(argv[i]);
                std::printf("purged %s\n", argv[i]);
            }
        } else if (cmd == "stats") {
            for (int i = 2; i < argc; ++i) {
                q->Declare(argv[i]);
                auto s = q->Stats(argv[i]);
                std::printf("{\"queue\":\"%s\",\"ready\":%lld,\"unacked\":%lld,\"retrying\":%lld,\"dead\":%lld}\n",
                            s.queue.c_str(), static_cast<long long>(s.ready), static_cast<long long>(s.unacked),
                            static_cast<long long>(s.retrying), static_cast<long long>(s.dead));
            }
        } else {
            std::fprintf(stderr, "kr_bench_tool: bad arguments for %s\n", cmd.c_str());
            return 2;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kr_bench_tool: %s\n", e.what());
        return 1;
    }
    return 0;
}
