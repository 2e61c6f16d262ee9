// Fault injection for fake-esi: the one implementation behind FaultConfig, used by the ESI and
// the zKillboard handlers alike (never by /_admin).
//
//   auto fault = faults.Begin(route);        // numbers the request
//   if (fault.Delay()) now = NowMs();        // latency_ms + jitter
//   if (fault.Hang(res)) return;             // held for hang_ms, then 504 + Connection: close
//   if (int st = fault.Fail(res)) ...        // 500/502/503/504
//   fault.Corrupt(res, content_type);        // on a 200: truncated or garbage body
//
// Which faults hit a request is a pure function of its number (one sequence for ESI and
// zKillboard), so a run with the same requests in the same order sees the same faults.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include <nlohmann/json.hpp>

#include "server.hpp"
#include "stop_signal.hpp"

namespace fakeesi {

class FaultInjector {
public:
    explicit FaultInjector(StopSignal& stop) : stop_(stop) {}

    void Set(const FaultConfig& f);
    FaultConfig Get() const;

    // The faults of one request. Every step does nothing unless faults are on and the route is
    // in FaultConfig::scope.
    class Request {
    public:
        bool Delay();  // sleeps latency_ms (+ jitter); true if it did
        // Holds the request for hang_ms (Stop() ends it early), then 504 + Connection: close;
        // true if it did.
        bool Hang(httplib::Response& res);
        // 500/502/503/504 with ESI's JSON error body, or an HTML page on zKillboard routes;
        // returns the status, 0 if this request is not failed.
        int Fail(httplib::Response& res);
        // Only for a 200 whose body is res.body: cut it off mid-transfer or replace it with
        // garbage (an nginx page or half the JSON).
        void Corrupt(httplib::Response& res, const char* content_type);

    private:
        friend class FaultInjector;
        Request(FaultInjector& owner, int route, std::uint64_t n);
        FaultInjector& owner_;
        FaultConfig f_;
        bool on_ = false;
        int route_;
        std::uint64_t n_;
    };
    Request Begin(int route);

    void ResetCounters();
    nlohmann::json CountersJson() const;  // the stats' "faults" object

private:
    using Counter = std::atomic<std::uint64_t>;
    StopSignal& stop_;
    mutable std::mutex mu_;
    FaultConfig config_;
    std::atomic<bool> active_{false};
    Counter next_request_{0};
    Counter errors_{0}, hangs_{0}, truncated_{0}, garbage_{0}, delayed_{0};
};

}  // namespace fakeesi
