#pragma once
// The queue behaviour suite, run against every implementation (typed tests):
//   queue_db_test.cpp        DbQueue on a SQLite file
//   queue_db_pgtest.cpp      DbQueue on PostgreSQL (KR_TEST_PG_DSN)
//   queue_amqp_amqptest.cpp  AmqpQueue on RabbitMQ (KR_TEST_AMQP_URL)
// An Env provides: static std::optional<std::string> Missing() (the env var that is unset),
// void SetUp(), void TearDown(), std::unique_ptr<Queue> Open(QueueOptions), std::string name
// (a unique queue name) and a short lease for kill tests.
// The poison-message, malformed-body and graceful-stop tests run worker::RunWorker, the consume
// loop every worker runs, with TestWorker (a worker shaped like the production ones).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "core/errors.hpp"
#include "core/text.hpp"
#include "queue/consumer.hpp"
#include "queue/messages.hpp"
#include "queue/queue.hpp"
#include "support/test_env.hpp"
#include "worker/worker_loop.hpp"
#include "worker/worker_stats.hpp"

namespace kr::test {

using namespace std::chrono_literals;
using kr::queue::Delivery;
using kr::queue::OutMessage;
using kr::queue::Queue;
using kr::queue::QueueOptions;

/// Deterministic bodies (a fixed queuedAt), so tests compare them byte for byte.
inline std::string Entity(std::int64_t id) {
    kr::queue::EntityMessage m;
    m.entity_id = id;
    m.queued_at = "2026-07-08T22:00:01.123Z";
    m.source = "test";
    return kr::queue::BuildEntityMessage(m);
}

template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

/// Polls until `n` deliveries arrived (or the timeout), acking each; returns them.
inline std::vector<Delivery> Drain(Queue& q, std::size_t n, std::chrono::milliseconds timeout, bool ack = true) {
    std::vector<Delivery> got;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
        for (auto& d : q.Poll(200ms)) {
            if (ack) q.Ack(d);
            got.push_back(std::move(d));
        }
    }
    q.Poll(0ms);  // flushes batched acks
    return got;
}

/// A tiny backoff for tests.
inline kr::queue::RetryPolicy FastPolicy(int max_attempts) {
    kr::queue::RetryPolicy p;
    p.max_attempts = max_attempts;
    p.base = 20ms;
    p.factor = 2;
    p.cap = 200ms;
    return p;
}

/// A worker shaped like the production ones, to drive worker::RunWorker: Admit takes deliveries;
/// each one's "I/O" takes `work`, one after the other (as over one connection), and Pump
/// completes those that are due: `handle` runs, whatever it throws settles the delivery through
/// the Settler (worker::ForEachDelivery, as the workers do), and success acks. ReleaseAll hands
/// back what is still held.
class TestWorker final : public kr::worker::Worker {
public:
    using Clock = std::chrono::steady_clock;
    using Handle = std::function<void(const Delivery&)>;

    TestWorker(std::string queue, int concurrency, kr::worker::Settler& settler, Handle handle,
               std::chrono::milliseconds work)
        : queue_(std::move(queue)),
          concurrency_(concurrency),
          settler_(settler),
          handle_(std::move(handle)),
          work_(work) {}

    std::string Name() const override { return "test-worker"; }
    std::vector<std::string> Queues() const override { return {queue_}; }
    int Concurrency() const override { return concurrency_; }
    void Admit(std::vector<Delivery> deliveries) override {
        for (auto& d : deliveries) {
            busy_until_ = std::max(busy_until_, Clock::now()) + work_;
            held_.push_back({std::move(d), busy_until_});
        }
    }
    void Pump(std::chrono::milliseconds wait) override {
        if (held_.empty()) return;
        auto now = Clock::now();
        if (held_.front().due > now) {
            std::this_thread::sleep_for(std::min<Clock::duration>(wait, held_.front().due - now));
        }
        std::vector<Delivery> done;
        while (!held_.empty() && held_.front().due <= Clock::now()) {
            done.push_back(std::move(held_.front().delivery));
            held_.pop_front();
        }
        kr::worker::ForEachDelivery(settler_, done, [this](const Delivery& d) {
            handle_(d);
            settler_.Ack(d);
        });
    }
    std::size_t Held() const override { return held_.size(); }
    void ReleaseAll() override {
        for (const auto& h : held_) settler_.Release(h.delivery);
        held_.clear();
    }

private:
    struct InFlight {
        Delivery delivery;
        Clock::time_point due;  ///< when its "I/O" is done
    };
    std::string queue_;
    int concurrency_;
    kr::worker::Settler& settler_;
    Handle handle_;
    std::chrono::milliseconds work_;
    Clock::time_point busy_until_{};
    std::deque<InFlight> held_;
};

/// What RunTestWorker's Settler counted.
struct WorkerTally {
    std::int64_t processed = 0;  ///< acked, retried or dead-lettered
    std::int64_t retried = 0;
    std::int64_t dead = 0;
};

struct TestWorkerSpec {
    int concurrency = 1;
    kr::queue::RetryPolicy policy;
    TestWorker::Handle handle;
    std::chrono::milliseconds work{0};  ///< per delivery, see TestWorker
    kr::worker::LoopOptions loop;
};

/// Runs a TestWorker in worker::RunWorker on a queue connection of its own until `stop`.
template <typename Env>
WorkerTally RunTestWorker(Env& env, const TestWorkerSpec& spec, std::stop_token stop) {
    auto q = env.Open({});
    kr::worker::WorkerCounters counters;
    kr::worker::Settler settler(*q, spec.policy, counters);
    TestWorker w(env.name, spec.concurrency, settler, spec.handle, spec.work);
    kr::worker::SummaryLogger summary(w.Name(), counters);
    kr::worker::RunWorker(w, *q, summary, spec.loop, stop);
    return {counters.processed.load(), counters.retried.load(), counters.dead.load()};
}

/// A consumer in a child process: it opens a queue with `options`, consumes env.name with
/// prefetch `hold`, polls until it holds `hold` deliveries (never acked), sends their bodies
/// ('\n'-separated) to the parent and keeps polling until it is killed. Returns its pid and the
/// bodies (empty if it got none).
template <typename Env>
std::pair<pid_t, std::string> ForkHoldingConsumer(Env& env, const QueueOptions& options, std::size_t hold) {
    int fds[2];
    if (::pipe(fds) != 0) return {-1, {}};
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        try {
            auto cq = env.Open(options);
            cq->Consume(env.name, static_cast<int>(hold));
            std::string bodies;
            for (std::size_t held = 0; held < hold;) {
                for (const auto& d : cq->Poll(200ms, hold - held)) {  // "processing" … and never acked
                    bodies += (held++ ? "\n" : "") + d.body;
                }
            }
            (void)!::write(fds[1], bodies.data(), bodies.size());
            ::close(fds[1]);
            for (;;) cq->Poll(200ms);  // stay alive until killed
        } catch (...) {}
        ::_exit(3);
    }
    ::close(fds[1]);
    std::string bodies;
    char buf[4096];
    // The child closes its end once it wrote (or exits): read to the end.
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) bodies.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    return {pid, bodies};
}

/// SIGKILL, then reaps it; true if it died of the signal.
inline bool KillAndReap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status);
}

template <typename Env>
class QueueBehaviour : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto missing = Env::Missing()) {
            if (RequireIntegration()) FAIL() << *missing << " is not set";
            GTEST_SKIP() << *missing << " is not set (run the tests through scripts/test.sh)";
        }
        env_.SetUp();
    }
    void TearDown() override {
        if (!Env::Missing()) env_.TearDown();
    }
    Env env_;
};

TYPED_TEST_SUITE_P(QueueBehaviour);

TYPED_TEST_P(QueueBehaviour, PublishConsumeAck) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(1), 0, 0}, {Entity(2), 0, 0}, {Entity(3), 0, 0}});
    EXPECT_EQ(q->Stats(env.name).ready, 3);

    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 3, 10s);
    ASSERT_EQ(got.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(got[i].body, Entity(i + 1));  // body unchanged, FIFO
        EXPECT_EQ(got[i].queue, env.name);
        EXPECT_EQ(got[i].attempt, 0);
        EXPECT_FALSE(got[i].redelivered);
        EXPECT_EQ(kr::queue::ParseEntityMessage(got[i].body).entity_id, i + 1);
    }
    c.reset();  // closing after the acks: nothing may come back
    EXPECT_TRUE(WaitUntil([&] { return q->Stats(env.name).ready == 0; }, 3s));
    auto c2 = env.Open({});
    c2->Consume(env.name, 10);
    EXPECT_TRUE(c2->Poll(500ms).empty());
}

TYPED_TEST_P(QueueBehaviour, HigherPriorityFirstThenFifo) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    std::vector<OutMessage> msgs;
    const std::uint8_t prios[] = {0, 5, 9, 3, 5, 0, 9, 10};
    for (int i = 0; i < 8; ++i) msgs.push_back({Entity(i + 1), prios[i], 0});
    q->Publish(env.name, msgs);
    auto c = env.Open({});
    c->Consume(env.name, 100);
    auto got = Drain(*c, 8, 10s);
    ASSERT_EQ(got.size(), 8u);
    std::vector<std::int64_t> ids;
    for (auto& d : got) ids.push_back(kr::queue::ParseEntityMessage(d.body).entity_id);
    EXPECT_EQ(ids, (std::vector<std::int64_t>{8, 3, 7, 2, 5, 4, 1, 6}));
    EXPECT_EQ(got[0].priority, 10);
}

/// A child process takes one message and is killed with SIGKILL before acking: the message
/// comes back (flagged redelivered) and every message is processed once.
TYPED_TEST_P(QueueBehaviour, KilledConsumerMessageIsRedelivered) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    std::vector<OutMessage> msgs;
    for (int i = 1; i <= 5; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    QueueOptions o;
    o.lease = env.ShortLease();
    auto [pid, held] = ForkHoldingConsumer(env, o, 1);
    ASSERT_GT(pid, 0);
    ASSERT_FALSE(held.empty()) << "the child did not get a message";
    ASSERT_TRUE(KillAndReap(pid));

    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 5, 15s);
    std::map<std::string, int> seen;
    for (auto& d : got) {
        ++seen[d.body];
        if (d.body == held) {
            EXPECT_TRUE(d.redelivered);
            EXPECT_EQ(d.attempt, 0);  // a crash is not a failed attempt
        }
    }
    EXPECT_EQ(got.size(), 5u);
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(seen[Entity(i)], 1) << Entity(i);
    EXPECT_TRUE(c->Poll(300ms).empty());
}

/// A consumer process killed with SIGKILL while it holds messages under the default (5-minute)
/// lease: a consumer that starts afterwards gets them within seconds, flagged redelivered and
/// with no attempt spent (the broker sees the connection die; the database queue sees that the
/// lease owner's process is gone).
TYPED_TEST_P(QueueBehaviour, KilledConsumersMessagesAreBackWithinSeconds) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(1), 0, 0}, {Entity(2), 0, 0}, {Entity(3), 0, 0}});

    auto [pid, held] = ForkHoldingConsumer(env, QueueOptions{}, 3);  // the default lease
    ASSERT_GT(pid, 0);
    ASSERT_EQ(std::count(held.begin(), held.end(), '\n'), 2) << "the child did not get the messages: " << held;
    ASSERT_TRUE(KillAndReap(pid));

    auto t0 = std::chrono::steady_clock::now();
    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 3, 20s);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(got.size(), 3u);
    EXPECT_LT(took, 5s);
    std::set<std::string> bodies;
    for (auto& d : got) {
        bodies.insert(d.body);
        EXPECT_TRUE(d.redelivered);
        EXPECT_EQ(d.attempt, 0);  // a crash is not a failed attempt
    }
    EXPECT_EQ(bodies, (std::set<std::string>{Entity(1), Entity(2), Entity(3)}));
}

TYPED_TEST_P(QueueBehaviour, PoisonMessageIsDeadLetteredWhileOthersFlow) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    const std::string poison = Entity(666);
    std::vector<OutMessage> msgs{{poison, 0, 0}};
    for (int i = 1; i <= 20; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    std::mutex mu;
    std::map<std::string, int> ok;
    std::vector<int> poison_attempts;
    TestWorkerSpec spec;
    spec.concurrency = 5;
    spec.policy = FastPolicy(3);
    spec.handle = [&](const Delivery& d) {
        std::lock_guard lock(mu);
        if (d.body == poison) {
            poison_attempts.push_back(d.attempt);
            throw kr::TransientError("ESI 502 for entity 666");
        }
        ++ok[d.body];
    };
    WorkerTally tally;
    std::jthread worker([&](std::stop_token st) { tally = RunTestWorker(env, spec, st); });
    ASSERT_TRUE(WaitUntil([&] { return q->Stats(env.name).dead == 1; }, 20s));
    ASSERT_TRUE(WaitUntil(
        [&] {
            std::lock_guard lock(mu);
            return ok.size() == 20;
        },
        10s));
    worker.request_stop();
    worker.join();
    {
        std::lock_guard lock(mu);
        for (auto& [body, n] : ok) EXPECT_EQ(n, 1) << body;
        EXPECT_EQ(poison_attempts, (std::vector<int>{0, 1, 2}));
    }
    EXPECT_EQ(tally.processed, 23);  // 20 acked, the poison retried twice and dead-lettered
    EXPECT_EQ(tally.retried, 2);
    EXPECT_EQ(tally.dead, 1);
    auto dead = q->ListDead(env.name, 10);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].body, poison);
    EXPECT_EQ(dead[0].reason, "max_attempts");
    EXPECT_EQ(dead[0].attempts, 3);
    EXPECT_NE(dead[0].last_error.find("ESI 502"), std::string::npos);
    EXPECT_FALSE(dead[0].dead_at.empty());
    auto st = q->Stats(env.name);
    EXPECT_EQ(st.ready, 0);
    EXPECT_EQ(st.retrying, 0);
}

TYPED_TEST_P(QueueBehaviour, MalformedBodiesAreDeadLetteredAtOnce) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    std::map<std::string, std::string> bad = {
        {"not json at all", "bad_json"},
        {R"({"entityId":"99003214"})", "bad_field"},
        {R"([1,2,3])", "bad_field"},
        {R"({"queuedAt":"x"})", "bad_field"},
        {R"({"entityId":-5})", "id_out_of_range"},
        {R"({"entityId":0})", "id_out_of_range"},
        {R"({"entityId":9007199254740993})", "id_out_of_range"},
        {R"({"entityId":1e300})", "id_out_of_range"},
        {R"({"entityId":1.5})", "bad_field"},
        {"{\"entityId\":1,\"pad\":\"" + std::string(1 << 20, 'x') + "\"}", "too_large"},
    };
    std::vector<OutMessage> msgs;
    for (auto& [body, reason] : bad) msgs.push_back({body, 0, 0});
    for (int i = 1; i <= 3; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    std::atomic<int> good{0};
    TestWorkerSpec spec;
    spec.concurrency = 4;
    spec.policy = FastPolicy(5);
    spec.handle = [&](const Delivery& d) {
        kr::queue::ParseEntityMessage(d.body);
        ++good;
    };
    WorkerTally tally;
    std::jthread worker([&](std::stop_token st) { tally = RunTestWorker(env, spec, st); });
    ASSERT_TRUE(WaitUntil([&] { return q->Stats(env.name).dead == static_cast<std::int64_t>(bad.size()); }, 20s));
    ASSERT_TRUE(WaitUntil([&] { return good.load() == 3; }, 10s));
    worker.request_stop();
    worker.join();
    auto dead = q->ListDead(env.name, 100);
    ASSERT_EQ(dead.size(), bad.size());
    for (auto& d : dead) {
        ASSERT_TRUE(bad.count(d.body)) << d.body.substr(0, 80);
        EXPECT_EQ(d.reason, bad[d.body]) << d.body.substr(0, 80);
        EXPECT_EQ(d.attempts, 1);  // no retries for permanent errors
    }
    EXPECT_EQ(q->Stats(env.name).retrying, 0);
    EXPECT_EQ(tally.retried, 0);
    EXPECT_EQ(tally.dead, static_cast<std::int64_t>(bad.size()));
}

TYPED_TEST_P(QueueBehaviour, DeadListKeepsMessagesAndRetryPutsThemBack) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(1), 0, 0}, {Entity(2), 7, 2}, {Entity(3), 0, 0}});
    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 3, 10s, false);
    ASSERT_EQ(got.size(), 3u);
    std::map<std::string, std::string> reasons{
        {Entity(1), "bad_field"}, {Entity(2), "max_attempts"}, {Entity(3), "esi_422"}};
    // Dead-letter in a fixed order: 1, 3, 2.
    std::vector<Delivery> order;
    for (auto id : {1, 3, 2}) {
        for (auto& d : got) {
            if (d.body == Entity(id)) order.push_back(d);
        }
    }
    for (auto& d : order) c->DeadLetter(d, reasons[d.body], "error of " + d.body);
    c->Poll(0ms);
    for (int round = 0; round < 2; ++round) {  // listing twice: nothing lost, same order
        auto dead = q->ListDead(env.name, 100);
        ASSERT_EQ(dead.size(), 3u);
        EXPECT_EQ(dead[0].body, Entity(1));
        EXPECT_EQ(dead[1].body, Entity(3));
        EXPECT_EQ(dead[2].body, Entity(2));
        for (auto& d : dead) {
            EXPECT_EQ(d.reason, reasons[d.body]);
            EXPECT_EQ(d.last_error, "error of " + d.body);
            EXPECT_EQ(d.queue, env.name);
        }
        EXPECT_EQ(dead[2].attempts, 3);  // attempt 2 failed -> 3 attempts
        EXPECT_EQ(dead[2].priority, 7);
        EXPECT_EQ(q->Stats(env.name).dead, 3);
    }
    EXPECT_EQ(q->ListDead(env.name, 2).size(), 2u);
    EXPECT_EQ(q->Stats(env.name).dead, 3);

    EXPECT_EQ(q->RetryDead(env.name), 3u);
    EXPECT_EQ(q->Stats(env.name).dead, 0);
    EXPECT_TRUE(q->ListDead(env.name, 100).empty());
    auto back = Drain(*c, 3, 10s);
    ASSERT_EQ(back.size(), 3u);
    std::set<std::string> bodies;
    for (auto& d : back) {
        bodies.insert(d.body);
        EXPECT_EQ(d.attempt, 0);
    }
    EXPECT_EQ(bodies, (std::set<std::string>{Entity(1), Entity(2), Entity(3)}));
}

TYPED_TEST_P(QueueBehaviour, RetryIsDelayedAndCountsAttempts) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(42), 4, 0}});
    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 1, 10s, false);
    ASSERT_EQ(got.size(), 1u);
    auto t0 = std::chrono::steady_clock::now();
    c->Retry(got[0], 400ms, "timeout");
    auto st = q->Stats(env.name);
    EXPECT_EQ(st.retrying, 1);
    EXPECT_EQ(st.ready, 0);
    EXPECT_TRUE(c->Poll(250ms).empty());
    auto again = Drain(*c, 1, 10s);
    auto waited = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(again.size(), 1u);
    EXPECT_GE(waited, 380ms);
    EXPECT_LT(waited, 5s);
    EXPECT_EQ(again[0].body, Entity(42));
    EXPECT_EQ(again[0].attempt, 1);
    EXPECT_EQ(again[0].priority, 4);
}

/// A long error text with an invalid byte and a character across the budget: Retry and
/// DeadLetter keep whole characters within kMaxErrorText bytes, "…" included (PostgreSQL rejects
/// invalid UTF-8 in a text column, so a half character would make the dead letter fail).
TYPED_TEST_P(QueueBehaviour, LongErrorTextIsCutOnACharacterBoundary) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(1), 0, 0}});
    auto c = env.Open({});
    c->Consume(env.name, 10);
    // A byte cut at kMaxErrorText would end in half of the "é".
    const std::string error = "\xFF" + std::string(kr::queue::kMaxErrorText - 2, 'x') + "\xC3\xA9 and more";
    auto got = Drain(*c, 1, 10s, false);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NO_THROW(c->Retry(got[0], 0ms, error));
    got = Drain(*c, 1, 10s, false);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attempt, 1);
    EXPECT_NO_THROW(c->DeadLetter(got[0], "max_attempts", error));
    c->Poll(0ms);
    auto dead = q->ListDead(env.name, 10);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].last_error, kr::Truncate(error, kr::queue::kMaxErrorText));
    EXPECT_EQ(dead[0].last_error.size(), kr::queue::kMaxErrorText);  // U+FFFD, 1994 x, "…"
    EXPECT_EQ(dead[0].last_error.substr(0, 3), "\xEF\xBF\xBD");
}

/// A graceful stop in the middle of 10 messages: a TestWorker (concurrency 5) whose deliveries
/// take `work` each requests the stop once it has processed two.
struct StopRun {
    std::vector<std::string> processed;  ///< bodies, in the order they were done
    WorkerTally tally;
    std::chrono::steady_clock::duration stop_took{};  ///< from the stop request to RunWorker's return
};

template <typename Env>
StopRun StopAfterTwo(Env& env, std::chrono::milliseconds work, std::chrono::milliseconds drain_deadline) {
    auto q = env.Open({});
    q->Declare(env.name);
    std::vector<OutMessage> msgs;
    for (int i = 1; i <= 10; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    StopRun run;
    std::mutex mu;
    std::stop_source stop;
    std::chrono::steady_clock::time_point stopped_at;
    TestWorkerSpec spec;
    spec.concurrency = 5;
    spec.policy = FastPolicy(5);
    spec.work = work;
    spec.loop.drain_deadline = drain_deadline;
    spec.handle = [&](const Delivery& d) {
        std::lock_guard lock(mu);
        run.processed.push_back(d.body);
        if (run.processed.size() == 2) {
            stopped_at = std::chrono::steady_clock::now();
            stop.request_stop();
        }
    };
    std::thread worker([&] { run.tally = RunTestWorker(env, spec, stop.get_token()); });
    worker.join();
    run.stop_took = std::chrono::steady_clock::now() - stopped_at;
    return run;
}

/// After StopAfterTwo: the messages it did not process come back once each, as first attempts
/// (a hand-back is not a failed attempt), and nothing else does.
template <typename Env>
void ExpectTheRestOnce(Env& env, const std::vector<std::string>& processed) {
    const std::size_t total = 10;
    auto c = env.Open({});
    c->Consume(env.name, 20);
    auto rest = Drain(*c, total - processed.size(), 10s);
    std::set<std::string> all(processed.begin(), processed.end());
    for (auto& d : rest) {
        EXPECT_EQ(d.attempt, 0);
        EXPECT_TRUE(all.insert(d.body).second) << "duplicate " << d.body;
    }
    EXPECT_EQ(rest.size(), total - processed.size());
    EXPECT_EQ(all.size(), total);
    EXPECT_TRUE(c->Poll(300ms).empty());
}

/// Stop requested while deliveries are in flight, and the drain deadline passes before the next
/// one is done: the finished ones are acked, the rest handed back, and the loop returns promptly.
TYPED_TEST_P(QueueBehaviour, GracefulStopHandsBackInFlight) {
    // Each delivery is done 500 ms after the previous one: none within the 100 ms drain deadline.
    auto run = StopAfterTwo(this->env_, 500ms, 100ms);
    EXPECT_LT(run.stop_took, 10s);
    ASSERT_EQ(run.processed.size(), 2u);
    EXPECT_EQ(run.tally.processed, 2);  // acked
    EXPECT_EQ(run.tally.retried, 0);
    EXPECT_EQ(run.tally.dead, 0);
    ExpectTheRestOnce(this->env_, run.processed);
}

/// Stop requested while deliveries are in flight that finish within the drain deadline: they are
/// finished and acked, no new ones are taken, the rest stays on the queue.
TYPED_TEST_P(QueueBehaviour, GracefulStopFinishesInFlightWithinTheDeadline) {
    auto run = StopAfterTwo(this->env_, 100ms, 10s);
    EXPECT_GT(run.processed.size(), 2u);   // what was in flight at the stop was finished
    EXPECT_LT(run.processed.size(), 10u);  // and nothing new was taken
    EXPECT_EQ(run.tally.processed, static_cast<std::int64_t>(run.processed.size()));
    ExpectTheRestOnce(this->env_, run.processed);
}

REGISTER_TYPED_TEST_SUITE_P(QueueBehaviour, PublishConsumeAck, HigherPriorityFirstThenFifo,
                            KilledConsumerMessageIsRedelivered, KilledConsumersMessagesAreBackWithinSeconds,
                            PoisonMessageIsDeadLetteredWhileOthersFlow, MalformedBodiesAreDeadLetteredAtOnce,
                            DeadListKeepsMessagesAndRetryPutsThemBack, RetryIsDelayedAndCountsAttempts,
                            LongErrorTextIsCutOnACharacterBoundary, GracefulStopHandsBackInFlight,
                            GracefulStopFinishesInFlightWithinTheDeadline);

}  // namespace kr::test
