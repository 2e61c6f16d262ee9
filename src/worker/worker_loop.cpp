#include "worker/worker_loop.hpp"

#include "core/clock.hpp"
#include "core/errors.hpp"
#include "core/text.hpp"
#include "log/log.hpp"
#include "worker/drain_watch.hpp"

namespace kr::worker {

namespace {

/// " in 12 ms" since the delivery was received; empty when it was not stamped.
std::string Latency(const queue::Delivery& d) {
    if (d.received == std::chrono::steady_clock::time_point{}) return {};
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - d.received).count();
    return fmt::format(" in {:.1f} ms", static_cast<double>(us) / 1000.0);
}

const char* SettledName(queue::Settled s) {
    switch (s) {
        case queue::Settled::kAcked: return "acked";
        case queue::Settled::kRetried: return "retried";
        case queue::Settled::kDeadLettered: return "dead-lettered";
        case queue::Settled::kReleased: return "handed back";
    }
    return "settled";
}

}  // namespace

void Settler::Ack(const queue::Delivery& d, std::string_view outcome, long http_status) {
    q_.Ack(d);
    if (spdlog::should_log(spdlog::level::debug)) {
        spdlog::debug("{}: {} -> {}{}{}", d.queue, d.body, outcome,
                      http_status ? fmt::format(" (HTTP {})", http_status) : std::string(), Latency(d));
    }
    ++c_.processed;
}

void Settler::Fail(const queue::Delivery& d, std::exception_ptr error) {
    auto settled = queue::Settle(q_, d, error, policy_);  // rethrows FatalError
    switch (settled) {
        case queue::Settled::kAcked: ++c_.processed; break;
        case queue::Settled::kRetried:
            ++c_.processed;
            ++c_.retried;
            break;
        case queue::Settled::kDeadLettered:
            ++c_.processed;
            ++c_.dead;
            break;
        case queue::Settled::kReleased: break;
    }
    if (settled == queue::Settled::kRetried || settled == queue::Settled::kDeadLettered ||
        spdlog::should_log(spdlog::level::debug)) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            if (settled == queue::Settled::kRetried || settled == queue::Settled::kDeadLettered) {
                c_.RecordError(kr::Truncate(e.what(), 500), SystemClock::Instance().NowMs());  // for `status`
            }
            spdlog::debug("{}: {} -> {}: {}{}", d.queue, d.body, SettledName(settled), e.what(), Latency(d));
        } catch (...) {}
    }
}

void Settler::Release(const queue::Delivery& d) { q_.Release(d); }

void Settler::KeepAlive() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_keepalive_ < std::chrono::seconds(1)) return;
    last_keepalive_ = now;
    for (const auto& extra : q_.Poll(std::chrono::milliseconds(0), 1)) q_.Release(extra);
    GiveUpOnOutage(q_, outage_limit_, "worker");
}

void GiveUpOnOutage(const queue::Queue& q, std::optional<std::chrono::milliseconds> limit, std::string_view who) {
    if (!limit) return;
    auto outage = q.CurrentOutage();
    if (!outage) return;
    const auto lasted = std::chrono::steady_clock::now() - outage->since;
    if (lasted <= *limit) return;
    throw FatalError(fmt::format("{}: the database has refused writes for {} s ({}); giving up (--until-idle)", who,
                                 std::chrono::duration_cast<std::chrono::seconds>(lasted).count(), outage->error));
}

void RunWorker(Worker& w, queue::Queue& q, SummaryLogger& summary, const LoopOptions& options, std::stop_token stop) {
    WorkerCounters unused;
    Settler keepalive(q, {}, unused);
    using Clock = std::chrono::steady_clock;
    const auto queues = w.Queues();
    for (const auto& name : queues) {
        q.Declare(name);
        q.Consume(name, w.Concurrency());
    }
    // Only now: with RabbitMQ, Consume returns once the broker has the consumer (or throws).
    std::string names;
    for (const auto& name : queues) names += (names.empty() ? "" : ", ") + name;
    spdlog::info("{}: consuming {} (concurrency {}){}", w.Name(), names, w.Concurrency(),
                 options.until_idle ? ", until idle" : "");
    const auto conc = static_cast<std::size_t>(w.Concurrency());
    bool cancelled = false;
    Clock::time_point deadline{};
    Clock::time_point last_probe{};
    DrainWatch drain(w.Name(), queues, 2);
    for (;;) {
        if (stop.stop_requested() && !cancelled) {
            q.Cancel();
            cancelled = true;
            deadline = Clock::now() + options.drain_deadline;
            spdlog::info("{}: stopping; finishing {} in-flight message(s)", w.Name(), w.Held());
        }
        std::size_t held = w.Held();
        std::size_t got = 0;
        if (!cancelled && held < conc) {
            auto ds = q.Poll(held ? std::chrono::milliseconds(0) : std::chrono::milliseconds(200), conc - held);
            got = ds.size();
            const auto received = Clock::now();
            for (auto& d : ds) d.received = received;
            if (got) w.Admit(std::move(ds));
        } else if (held > 0) {
            keepalive.KeepAlive();  // the window is full (e.g. ESI paused): heartbeats, leases
        }
        if (w.Held() > 0) {
            w.Pump(std::chrono::milliseconds(5));
        } else if (cancelled) {
            break;
        }
        if (cancelled && Clock::now() > deadline) {
            spdlog::warn("{}: drain deadline reached; handing back {} message(s)", w.Name(), w.Held());
            w.ReleaseAll();
            break;
        }
        if (!cancelled) {
            try {
                GiveUpOnOutage(q, options.outage_limit, w.Name());
            } catch (const FatalError&) {
                w.ReleaseAll();  // written when the database takes writes again, else at the next start
                throw;
            }
        }
        bool idle = w.Held() == 0 && got == 0;
        if (options.idle_flag) options.idle_flag->store(idle);
        summary.Tick();
        if (options.until_idle && !cancelled) {
            if (!idle) {
                drain.Reset();
            } else if (Clock::now() - last_probe > std::chrono::milliseconds(300)) {
                last_probe = Clock::now();
                if (drain.Probe(q)) break;
            }
        }
    }
    summary.Final();
}

}  // namespace kr::worker
