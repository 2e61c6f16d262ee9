#pragma once
// zKillboard API client: GET <base>/characterID/{id}/page/{p}/ (trailing slash, no query string),
// with a User-Agent, gzip, timeouts, its own shared budget (key "zkb", default 1 request/s, shared
// through the same RateBudget as ESI) and bounded retries with backoff for transport errors, 5xx,
// 429 (Retry-After, which pauses the key for every process) and 200s whose body is not a JSON array.
//
// An HTTP error is never "end of history": only a 200 with an empty JSON array is (`end`).
// Blocking: the sync worker walks pages one by one. Every wait (the shared pause, the budget,
// backoff, the answer) ends at once on a stop request (kr::StoppedError; see WaitHooks).
#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <stop_token>
#include <string>

#include "core/clock.hpp"
#include "core/model.hpp"
#include "esi/client_metrics.hpp"
#include "esi/esi_client.hpp"
#include "esi/pacer.hpp"
#include "esi/rate_budget.hpp"
#include "esi/wait_hooks.hpp"
#include "http/http_client.hpp"

namespace kr::esi {

struct ZkbOptions {
    std::string base_url = "https://zkillboard.com/api";
    double rate_limit = 1;  ///< requests/s for the whole deployment; 0 = off
    std::string user_agent = DefaultUserAgent();
    std::chrono::milliseconds timeout{30000};
    int max_attempts = 3;
    std::chrono::milliseconds backoff_base{2000};
    std::chrono::milliseconds backoff_cap{60000};
    std::chrono::milliseconds default_retry_after{60000};  ///< 429 without Retry-After
    std::string budget_key = "zkb";
    PacerOptions pacer;
};

struct ZkbPage {
    enum class Status {
        kOk,           ///< body is a JSON array (`end` when empty)
        kClientError,  ///< 4xx other than 429 (e.g. 403 blocked / query string, 404): don't retry soon
        kFailed,       ///< transient failure after the bounded retries; see retry_after
    };
    Status status = Status::kFailed;
    long http_status = 0;
    std::string body;  ///< the raw page (kOk); parse with kr ParseZkbPage
    bool end = false;  ///< kOk and the array is empty: no more history
    std::string error;
    std::optional<std::chrono::milliseconds> retry_after;
    int attempts = 0;

    /// kFailed → TransientError(retry_after); kClientError → PermanentError("zkb_<status>").
    void ThrowIfError(const std::string& context) const;
};

class ZkbClient {
public:
    ZkbClient(ZkbOptions options, http::HttpClient& http, RateBudget& budget, Clock& clock = SystemClock::Instance());

    /// Throws kr::StoppedError when a stop is requested before the page is there.
    ZkbPage FetchCharacterPage(Id character_id, int page);
    /// Any path relative to base_url (must end with '/').
    ZkbPage FetchPath(const std::string& path);

    std::int64_t RequestsSent() const { return requests_; }

    /// Called about once a second while a fetch waits (a shared 429 pause, the budget, backoff, a
    /// slow answer): the caller's chance to keep its queue connection alive — rabbitmq-c sends no
    /// heartbeats by itself, and a zKillboard pause can last minutes. Empty = none.
    void SetIdleHook(std::function<void()> hook) { hooks_.SetIdleHook(std::move(hook)); }
    /// The stop request every wait watches (the worker thread's; none by default).
    void SetStopToken(std::stop_token stop) { hooks_.SetStopToken(std::move(stop)); }

private:
    void WaitUs(std::int64_t us);
    /// Starts the request and waits for its answer.
    http::HttpResponse Request(const std::string& path);
    /// A pause (a 429's Retry-After, the shared pause, a backoff) is logged once when it starts
    /// (warning: reason, length, until when; an extension is not logged again) and once when the
    /// next request goes out after it (info: how long it lasted).
    void LogPause(std::int64_t until_us, const std::string& reason, std::int64_t now);
    void LogResumed(std::int64_t now);

    ZkbOptions options_;
    http::HttpClient& http_;
    RateBudget& budget_;
    Clock& clock_;
    Pacer pacer_;
    std::mt19937_64 rng_;
    ClientMetrics metrics_;
    std::int64_t requests_ = 0;
    WaitHooks hooks_;
    std::optional<std::int64_t> paused_since_us_;  ///< a pause logged as started
    std::int64_t paused_until_us_ = 0;
};

}  // namespace kr::esi
