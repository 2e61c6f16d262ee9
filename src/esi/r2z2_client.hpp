#pragma once
// R2Z2 client (zKillboard's live feed, https://r2z2.zkillboard.com): GET /ephemeral/sequence.json
// and GET /ephemeral/{N}.json, one request per call, with a User-Agent, timeouts and its own
// shared budget (key "r2z2", R2Z2_RATE_LIMIT requests/s for every process that shares the
// RateBudget, like ESI's). The answer's status is data: the worker decides what comes next.
// A 429 pauses the key for every process as long as Retry-After says (a default when it says
// nothing); so does a 403 (R2Z2 bans a client that polls too fast, for about an hour: without a
// Retry-After the key is paused for `ban_pause`). Every wait (the shared pause, the budget, the
// answer, Wait()) ends at once on a stop request (kr::StoppedError; see WaitHooks).
// Walking the feed (FetchSequenceFileAhead): with the rate limit off, up to `window` files after
// the one asked for are requested concurrently (a bounded window, answers handed out in sequence
// order), and the shared pause is read from the budget at most every `pause_check`, not per
// request (a 429 this process sees pauses it at once; another process's pause is seen within
// `pause_check`). With the rate limit on, requests stay one at a time, each through the budget.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "core/clock.hpp"
#include "esi/client_metrics.hpp"
#include "esi/esi_client.hpp"
#include "esi/pacer.hpp"
#include "esi/rate_budget.hpp"
#include "esi/wait_hooks.hpp"
#include "http/http_client.hpp"

namespace kr::esi {

struct R2z2Options {
    std::string base_url = "https://r2z2.zkillboard.com";
    double rate_limit = 10;  ///< requests/s for the whole deployment; 0 = off
    std::string user_agent = DefaultUserAgent();
    std::chrono::milliseconds timeout{30000};
    std::chrono::milliseconds default_retry_after{10000};  ///< a 429 without Retry-After
    std::chrono::milliseconds ban_pause{3600000};          ///< a 403 without Retry-After
    std::string budget_key = "r2z2";
    PacerOptions pacer;
    /// Files requested ahead while walking the feed with the rate limit off (catch-up); 1 = serial.
    std::size_t window = 16;
    /// With the rate limit off: how long a look at the shared pause stays good.
    std::chrono::milliseconds pause_check{1000};
};

struct R2z2Answer {
    enum class Status {
        kOk,           ///< 200: body
        kNotFound,     ///< 404: not uploaded yet (the head), or expired
        kRateLimited,  ///< 429: the key is paused for retry_after
        kBanned,       ///< 403: the key is paused for retry_after
        kFailed,       ///< transport error, 5xx, another status: try again later
    };
    Status status = Status::kFailed;
    long http_status = 0;
    std::string body;
    std::string error;
    std::chrono::milliseconds retry_after{0};
};

class R2z2Client {
public:
    R2z2Client(R2z2Options options, http::HttpClient& http, RateBudget& budget, Clock& clock = SystemClock::Instance());

    R2z2Answer FetchSequence();
    R2z2Answer FetchSequenceFile(std::int64_t sequence);
    /// The file of `sequence` while walking the feed: the answer FetchSequenceFile gives, with the
    /// files after it already asked for (see above). The window grows by one per eight 200s in a
    /// row (right after a 404 or a 429 only `sequence` itself is asked: one request per poll at the
    /// head, one 429 per pause when the feed limits what this process does not) and
    /// is dropped at any other answer, or when `sequence` is not the one after the last answer.
    R2z2Answer FetchSequenceFileAhead(std::int64_t sequence);
    /// Forgets the files asked ahead (their answers are discarded when they arrive).
    void DropWindow();
    std::size_t WindowInFlight() const { return window_.size(); }
    /// zKillboard's dumps of a UTC day (`day` = "YYYYMMDD"): /history/YYYYMMDD.json (killmail id →
    /// hash) and /history/raw/YYYYMMDD.json (id → ESI killmail); 404: not dumped (raw: not served).
    R2z2Answer FetchHistoryIndex(const std::string& day);
    R2z2Answer FetchHistoryRaw(const std::string& day);
    /// Waits `d` (driving the HTTP client); kr::StoppedError on a stop request.
    void Wait(std::chrono::milliseconds d);

    std::int64_t RequestsSent() const { return requests_; }
    const R2z2Options& Options() const { return options_; }
    void SetIdleHook(std::function<void()> hook) { hooks_.SetIdleHook(std::move(hook)); }
    void SetStopToken(std::stop_token stop) { hooks_.SetStopToken(std::move(stop)); }

private:
    using Pending = std::shared_ptr<std::optional<http::HttpResponse>>;
    struct Ahead {
        std::int64_t sequence = 0;
        Pending response;
    };
    R2z2Answer Get(const std::string& path);
    /// Waits for a slot, then starts the request; the response lands in the returned holder.
    Pending Start(const std::string& path);
    /// Drives the client until `p` holds the response; then classifies it (a 429/403 pauses the key).
    R2z2Answer Await(const Pending& p);
    R2z2Answer Classify(http::HttpResponse resp);
    void WaitUs(std::int64_t us);
    /// Waits for the shared pause to end and for a budget slot.
    void AwaitSlot();
    void Pause(std::int64_t us);

    R2z2Options options_;
    http::HttpClient& http_;
    RateBudget& budget_;
    Clock& clock_;
    Pacer pacer_;
    std::int64_t requests_ = 0;
    WaitHooks hooks_;
    /// /metrics: requests by status (every answer, one of a dropped window too: the transfer's
    /// callback holds it), budget tokens, pauses.
    std::shared_ptr<ClientMetrics> metrics_;
    std::deque<Ahead> window_;
    std::size_t ok_run_ = 0;                   ///< 200s in a row from FetchSequenceFileAhead
    std::int64_t pause_checked_until_us_ = 0;  ///< rate limit off: the shared pause was looked at
    std::int64_t local_pause_until_us_ = 0;    ///< a 429/403 this process saw
};

}  // namespace kr::esi
