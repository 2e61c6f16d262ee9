#pragma once
// What the clients' blocking waits (EsiClient::Await and Fetch, ZkbClient::FetchPath) do besides
// waiting for a budget slot, a pause, a Retry-After or an answer:
//   - give up as soon as a stop is requested: kr::StoppedError, which the consume loop turns into
//     handing the delivery back (no attempt spent), so SIGTERM ends any wait within a slice;
//   - run an idle hook about once a second: the worker keeps its queue connection alive
//     (rabbitmq-c sends no heartbeats by itself; a database-queue lease needs renewing), however
//     long ESI or zKillboard make it wait.
// A wait calls Check() between slices of at most kSliceUs.
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string_view>

#include "core/clock.hpp"

namespace kr::esi {

class WaitHooks {
public:
    /// The longest a wait blocks between two checks (the worst-case delay before a stop is seen).
    static constexpr std::int64_t kSliceUs = 100'000;

    explicit WaitHooks(const Clock& clock) : clock_(clock) {}

    void SetStopToken(std::stop_token stop) { stop_ = std::move(stop); }
    /// Empty = none.
    void SetIdleHook(std::function<void()> hook) { idle_hook_ = std::move(hook); }

    /// Throws kr::StoppedError ("<what>: stopping …") once a stop is requested; otherwise runs the
    /// idle hook if it has not run for a second (clock time).
    void Check(std::string_view what);

private:
    const Clock& clock_;
    std::stop_token stop_;
    std::function<void()> idle_hook_;
    std::int64_t last_idle_us_ = 0;
};

}  // namespace kr::esi
