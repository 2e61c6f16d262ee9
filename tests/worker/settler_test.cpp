// worker::Settler / queue::Settle when the queue fails while recording a failure (no servers):
// whatever the retry or dead letter throws, the delivery is handed back and the worker goes on;
// only a fatal error of the processing itself stops it (after handing back).
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "queue/consumer.hpp"
#include "queue/queue.hpp"
#include "worker/worker_loop.hpp"
#include "worker/worker_stats.hpp"

namespace kr::test {

namespace {

using kr::queue::Delivery;

/// A queue that records the settle calls and throws what a test tells it to.
class RecordingQueue final : public kr::queue::Queue {
public:
    std::vector<std::string> calls;  ///< "ack 7", "retry 7", "dead 7", "release 7"
    std::function<void()> on_retry, on_dead, on_release;

    void Declare(const std::string&) override {}
    void Publish(const std::string&, const std::vector<kr::queue::OutMessage>&) override {}
    void Consume(const std::string&, int) override {}
    std::vector<Delivery> Poll(std::chrono::milliseconds, std::size_t) override { return {}; }
    void Ack(const Delivery& d) override { Record("ack", d, nullptr); }
    void Retry(const Delivery& d, std::chrono::milliseconds, const std::string&) override {
        Record("retry", d, on_retry);
    }
    void DeadLetter(const Delivery& d, const std::string&, const std::string&) override { Record("dead", d, on_dead); }
    void Release(const Delivery& d) override { Record("release", d, on_release); }
    void Cancel() override {}
    kr::queue::QueueStats Stats(const std::string&) override { return {}; }
    std::vector<kr::queue::DeadLetter> ListDead(const std::string&, std::size_t) override { return {}; }
    std::size_t RetryDead(const std::string&) override { return 0; }

private:
    void Record(const char* what, const Delivery& d, const std::function<void()>& fail) {
        calls.push_back(std::string(what) + " " + std::to_string(d.tag));
        if (fail) fail();
    }
};

Delivery Msg(std::uint64_t tag) {
    Delivery d;
    d.tag = tag;
    d.queue = "esi_character_info_queue";
    d.body = R"({"entityId":1})";
    return d;
}

template <typename E>
std::exception_ptr Ex(E e) {
    return std::make_exception_ptr(e);
}

}  // namespace

/// PostgreSQL rejects the retry's last_error (a data error, 22xxx -> PermanentError): the worker
/// must not die of it; the delivery is handed back instead.
TEST(Settler, AFailedRetryHandsTheDeliveryBackInsteadOfThrowing) {
    RecordingQueue q;
    q.on_retry = [] { throw kr::PermanentError("db_data", "invalid byte sequence for encoding UTF8"); };
    kr::worker::WorkerCounters c;
    kr::worker::Settler settler(q, {}, c);
    EXPECT_NO_THROW(settler.Fail(Msg(7), Ex(kr::TransientError("ESI 502"))));
    EXPECT_EQ(q.calls, (std::vector<std::string>{"retry 7", "release 7"}));
    EXPECT_EQ(c.processed.load(), 0);  // handed back, not settled
    EXPECT_EQ(c.retried.load(), 0);
}

TEST(Settler, AFatalErrorWhileDeadLetteringHandsTheDeliveryBack) {
    RecordingQueue q;
    q.on_dead = [] { throw kr::FatalError("relation kr_queue_dead does not exist"); };
    kr::worker::WorkerCounters c;
    kr::worker::Settler settler(q, {}, c);
    EXPECT_NO_THROW(settler.Fail(Msg(8), Ex(kr::PermanentError("bad_json", "not json"))));
    EXPECT_EQ(q.calls, (std::vector<std::string>{"dead 8", "release 8"}));
    EXPECT_EQ(c.dead.load(), 0);
}

TEST(Settler, NeitherRecordingNorHandingBackWorksAndTheWorkerStillGoesOn) {
    RecordingQueue q;
    q.on_retry = [] { throw kr::TransientError("server closed the connection unexpectedly"); };
    q.on_release = [] { throw std::runtime_error("still down"); };
    kr::worker::WorkerCounters c;
    kr::worker::Settler settler(q, {}, c);
    EXPECT_NO_THROW(settler.Fail(Msg(9), Ex(std::out_of_range("bug"))));
    EXPECT_EQ(q.calls, (std::vector<std::string>{"retry 9", "release 9"}));
    EXPECT_EQ(kr::queue::Settle(q, Msg(10), Ex(kr::TransientError("again")), {}), kr::queue::Settled::kReleased);
}

/// A fatal error of the processing stops the worker with that error, after handing back — even
/// when the hand-back fails.
TEST(Settler, AFatalProcessingErrorStillStopsAfterHandingBack) {
    RecordingQueue q;
    kr::worker::WorkerCounters c;
    kr::worker::Settler settler(q, {}, c);
    EXPECT_THROW(settler.Fail(Msg(11), Ex(kr::FatalError("bad configuration"))), kr::FatalError);
    EXPECT_EQ(q.calls, (std::vector<std::string>{"release 11"}));

    q.on_release = [] { throw kr::PermanentError("db_data", "rejected"); };
    try {
        settler.Fail(Msg(12), Ex(kr::FatalError("bad configuration")));
        ADD_FAILURE() << "no exception";
    } catch (const kr::FatalError& e) {
        EXPECT_STREQ(e.what(), "bad configuration");
    }
    EXPECT_EQ(q.calls.back(), "release 12");
}

}  // namespace kr::test
