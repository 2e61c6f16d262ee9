#pragma once
// The ESI client used by the workers: one instance per event loop (not thread-safe); the budget it
// shares (RateBudget) is what makes all threads/processes one ESI citizen.
//
//   EsiClient esi(options, http, budget);
//   esi.Submit({"GET", kr::esi_paths::Alliance(id), "", cached_entry}, [](kr::esi::EsiResult r) {…});
//   while (!esi.Idle()) esi.Drive(50ms);      // or interleave with other work
//   EsiResult r = esi.Fetch({…});             // blocking, for one-shot commands
//
// Pipeline per request: cache (Expires still in the future → kFresh, no request) → coalescing of
// identical GETs → global pause (error limit / 420; shared) → error-limit slow-down → rate-limit
// group hold/pause (X-Ratelimit-*, 429; shared) → concurrency cap → budget slot (shared, spaced)
// → HTTP. Transient failures (transport errors, timeouts, 5xx, 420, 429, unparsable 200 bodies)
// are retried with capped exponential backoff and jitter up to max_attempts, then reported as
// kFailed with a retry_after hint. 4xx answers are results and are never retried.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/cache_entry.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"
#include "esi/client_metrics.hpp"
#include "esi/pacer.hpp"
#include "esi/rate_budget.hpp"
#include "esi/wait_hooks.hpp"
#include "http/curl_http_client.hpp"
#include "http/http_client.hpp"

namespace kr::esi {

enum class Outcome {
    kFresh,          ///< the known cache entry has not expired: no request was made
    kOk,             ///< 200 (or other 2xx): body + new cache entry
    kNotModified,    ///< 304 after If-None-Match: no body, new cache entry (new expiry)
    kNotFound,       ///< 404
    kUnprocessable,  ///< 422 (e.g. a wrong killmail hash)
    kClientError,    ///< another 4xx (not 420/429): never retried
    kFailed,         ///< transient failure after the bounded retries; see retry_after
};
std::string_view ToString(Outcome o);

struct EsiRequest {
    std::string method = "GET";  ///< GET or POST
    std::string path;            ///< e.g. "/alliances/99000001/" (kr::esi_paths)
    std::string body;            ///< POST body (JSON)
    /// What the caller holds for this path (GET): fresh → kFresh without a request; its ETag is
    /// sent as If-None-Match. The result's entry is this one updated (path, entity kept).
    std::optional<CacheEntry> cache;
    /// Refresh traffic (a sweep's revalidation), not new work: held to EsiOptions::refresh_share
    /// of the budget while new work waits anywhere in the deployment.
    bool refresh = false;
};

struct EsiResult {
    Outcome outcome = Outcome::kFailed;
    long status = 0;                  ///< HTTP status of the last attempt (0: none / transport error)
    std::string body;                 ///< kOk only (also the error body of 4xx answers)
    std::optional<CacheEntry> cache;  ///< kOk / kNotModified (kFresh: the entry given)
    std::string error;                ///< what went wrong (kFailed, 4xx)
    std::optional<std::chrono::milliseconds> retry_after;  ///< kFailed: try again no earlier
    int attempts = 0;                                      ///< HTTP requests made for this result
    http::Headers headers;                                 ///< of the last response

    bool Failed() const { return outcome == Outcome::kFailed; }
    /// kFailed → TransientError(retry_after); kUnprocessable → PermanentError("esi_422");
    /// kClientError → PermanentError("esi_4xx"). kNotFound is left to the caller.
    void ThrowIfError(const std::string& context) const;
};

using EsiCallback = std::function<void(EsiResult)>;

/// "killreport-cpp/<version> (+set KILLREPORT_USER_AGENT to your contact)".
std::string DefaultUserAgent();

/// ESI's daily downtime: when it starts (after midnight UTC) and how long it usually lasts. The
/// downtime gate's window and the refresh scheduler's type sweep both derive from these.
inline constexpr std::chrono::minutes kDailyDowntimeAt{11 * 60};
inline constexpr std::chrono::minutes kDailyDowntimeLength{10};

struct EsiOptions {
    std::string base_url = "https://esi.evetech.net";
    double rate_limit = 50;  ///< requests/s for the whole deployment (shared budget); 0 = off
    std::string user_agent = DefaultUserAgent();
    std::string compatibility_date = "2025-08-26";
    std::chrono::milliseconds timeout{30000};         ///< total per request
    std::chrono::milliseconds connect_timeout{5000};  ///< used by CurlOptionsFor()
    int max_attempts = 3;
    int max_concurrency = 20;  ///< requests in flight from this client
    std::chrono::milliseconds backoff_base{500};
    std::chrono::milliseconds backoff_cap{30000};
    int error_limit_pause_at = 10;  ///< pause all ESI traffic until the reset when remain ≤ this
    int error_limit_slow_at = 50;   ///< below this, cap requests in flight to (remain − pause_at) / 2
    std::chrono::milliseconds default_pause{60000};  ///< 420/429 without Reset/Retry-After
    int bucket_reserve = 10;                         ///< hold a rate-limit group when its tokens would fall below this
    bool validate_json = true;                       ///< a 2xx body that is not JSON is a transient failure
    /// The downtime gate (ESI's daily downtime at 11:00 UTC, or an unplanned one), deployment-wide
    /// through the shared budget (RateBudget::SuspectOutage …): the first 502/503/504 from any route
    /// but /status/ makes ESI "suspect" for every process sharing the budget, and every caller holds
    /// its next request; one prober of the deployment (a lease in the shared state, expiring after
    /// the request timeout + 5 s) asks GET /status/: 200 with players clears it, a 5xx or a timeout
    /// makes it "down" and the next probe waits `downtime_pause`, doubled after each further failed
    /// probe up to `downtime_pause_max` (a lone 5xx of a flaky ESI costs a short wait, a real
    /// downtime a few probes in its first minute, then one a minute). In the
    /// daily window (`downtime_window_at` after midnight UTC, for `downtime_window`) callers first
    /// check the shared state: until /status/ answered within the window, the first caller probes
    /// before anyone spends requests. A request that met an outage already known spends no attempt;
    /// the wait is logged once when it starts and once when it ends. false = off.
    bool downtime_gate = true;
    std::chrono::milliseconds downtime_pause{1000};
    std::chrono::milliseconds downtime_pause_max{60000};
    std::chrono::minutes downtime_window_at = kDailyDowntimeAt;
    std::chrono::minutes downtime_window = kDailyDowntimeLength;
    /// KILLREPORT_REFRESH_SHARE: while new work waits (a request that is not refresh traffic is
    /// ready or in flight in any client sharing the budget, marked in it), refresh traffic takes at
    /// most ⌊share · limit⌋ of the window guard's permits — at most that many requests in any window
    /// — and with no new work every spare permit (rate_budget.hpp PermitShare). ≥ 1 = no share.
    double refresh_share = 0.2;
    std::string budget_key = "esi";
    std::chrono::milliseconds shared_refresh{250};  ///< re-read shared pause/limit state this often
    PacerOptions pacer;                             ///< margin, late tolerance, block size (rate comes from rate_limit)
};

struct EsiStats {
    std::int64_t requests = 0;   ///< HTTP requests sent
    std::int64_t fresh = 0;      ///< answered from the cache entry without a request
    std::int64_t coalesced = 0;  ///< submissions that joined an identical request in flight
    std::int64_t retries = 0;
    std::int64_t not_modified = 0;
    std::int64_t status_420 = 0;
    std::int64_t status_429 = 0;
    std::int64_t status_5xx = 0;
    std::int64_t transport_errors = 0;
    std::int64_t bad_bodies = 0;
    std::int64_t failed = 0;         ///< results delivered as kFailed
    std::int64_t slots_dropped = 0;  ///< budget slots not used in time (wasted budget)
    std::int64_t downtimes = 0;      ///< waits for the downtime gate (EsiOptions::downtime_gate)
    std::int64_t status_probes = 0;  ///< GET /status/ asked by this client as the deployment's prober
    std::int64_t first_send_us = 0;  ///< clock time of the first / last request sent
    std::int64_t last_send_us = 0;
};

class EsiClient {
public:
    /// http, budget and clock must outlive the client. Cache rows are the caller's: a GET carries
    /// what the caller holds (EsiRequest::cache) and the result carries it updated.
    EsiClient(EsiOptions options, http::HttpClient& http, RateBudget& budget, Clock& clock = SystemClock::Instance());
    ~EsiClient();
    EsiClient(const EsiClient&) = delete;
    EsiClient& operator=(const EsiClient&) = delete;

    /// Queue a request; the callback runs from a later Drive() (never from Submit itself).
    /// Returns a ticket for Cancel(). A caller whose callback refers to its own frame submits
    /// through a RequestGroup, which cancels what is pending when the frame is left.
    std::uint64_t Submit(EsiRequest request, EsiCallback callback);
    /// The callback of `ticket` will not run (false: it ran already, or was cancelled). A request
    /// left without callbacks is dropped unless it is on the wire (its answer still teaches the
    /// limits; an identical GET submitted meanwhile joins it).
    bool Cancel(std::uint64_t ticket);
    /// Dispatch, wait up to max_wait (also when idle) and deliver finished results; returns early
    /// once at least one callback ran. Returns the number of callbacks run.
    int Drive(std::chrono::microseconds max_wait);
    /// Nothing queued, in flight or waiting for delivery.
    bool Idle() const;
    /// Submitted requests whose callbacks have not run yet.
    std::size_t Pending() const { return pending_callbacks_; }
    /// Blocking: Submit + Drive until this result is there (drives other requests too). Throws
    /// kr::StoppedError when a stop is requested first.
    EsiResult Fetch(EsiRequest request);
    /// Blocking: drives until `done()` (checked after each callback run). Every slice it gives up
    /// on a stop request (kr::StoppedError: a pause, the budget or a hung answer never hold a
    /// stopping process) and runs the idle hook about once a second.
    void Await(const std::function<bool()>& done);

    /// Called about once a second while a blocking call waits (an error-limit pause, a 429, the
    /// budget): the caller keeps its queue connection alive. Empty = none.
    void SetIdleHook(std::function<void()> hook) { hooks_.SetIdleHook(std::move(hook)); }
    /// The stop request blocking calls watch (the worker thread's; none by default).
    void SetStopToken(std::stop_token stop) { hooks_.SetStopToken(std::move(stop)); }
    /// Every request submitted from now on is refresh traffic (EsiRequest::refresh): the client
    /// of the refresh schedule and of the sweep commands.
    void SetRefreshTraffic(bool on) { refresh_traffic_ = on; }

    EsiStats Stats() const;
    const EsiOptions& Options() const { return options_; }

    /// "/killmails/123/abc…/" → "/killmails/{id}/{hash}/": how requests are mapped to rate-limit groups.
    static std::string RouteTemplate(const std::string& path);

    struct Job;
    /// A submitted callback and its ticket.
    struct Waiter {
        std::uint64_t ticket = 0;
        EsiCallback callback;
    };

private:
    struct Shared {
        RateState state;
        std::int64_t loaded_at_us = -1;
        int in_flight = 0;
        std::int64_t last_sent_us = 0;
    };

    std::int64_t DispatchReady(std::int64_t now);
    void Send(const std::shared_ptr<Job>& job, std::int64_t now);
    void OnResponse(const std::shared_ptr<Job>& job, http::HttpResponse resp);
    /// The window guard (rate_budget.hpp) of this client's budget key: its key, its permits (the
    /// requests the limit allows in one window), the window (1 s + the pacer's margin) and how long
    /// a permit not given back stays taken.
    std::string WindowKey() const;
    int WindowPermits() const;
    std::int64_t WindowUs() const;
    std::int64_t MaxHoldUs() const;
    /// Gives the job's permit back (free a window from now).
    void ReleasePermit(Job& job);
    /// The refresh share (EsiOptions::refresh_share) applies: a rate limit and a share below 1.
    bool ShareActive() const;
    /// How a permit for `job` is taken (rate_budget.hpp PermitShare).
    PermitShare ShareFor(const Job& job) const;
    /// Marks new work's demand in the shared budget (at most every 250 ms) while a request that
    /// is not refresh traffic is ready or in flight.
    void MarkNewWork(std::int64_t now);
    /// The answer of a /status/ probe: ESI is up (2xx with players), down (5xx, a transport error),
    /// or no news of an outage (any other answer: up; its own pauses apply).
    void OnProbe(const http::HttpResponse& resp, std::int64_t now);
    /// The downtime gate: true while every request but the prober's /status/ waits (queues that
    /// probe when this client takes the lease); lowers `wake` to when to look again.
    bool Gated(std::int64_t now, std::int64_t& wake);
    /// A 502/503/504 from a route: evidence of an outage for the whole deployment. True when ESI
    /// was already known to be unavailable (the request spends no attempt).
    bool Unavailable(const Job& job, long status, std::int64_t now);
    std::string OutageKey() const;
    void Complete(const std::shared_ptr<Job>& job, EsiResult result);
    void RetryOrFail(const std::shared_ptr<Job>& job, EsiResult result, std::optional<std::int64_t> retry_after_us);
    int Deliver();
    Shared& SharedFor(const std::string& key, std::int64_t now, bool refresh);
    void Learn(const std::shared_ptr<Job>& job, const http::HttpResponse& resp, std::int64_t now);
    /// The request's cache entry (or a new one for its path) updated from a 2xx/304 answer.
    CacheEntry EntryFromHeaders(const http::HttpResponse& resp, const EsiRequest& req, std::int64_t now) const;
    std::int64_t BackoffUs(int attempt);
    /// A pause of `key` (the budget's or a route group's) is logged once when it starts (warn, with
    /// its reason and length) and once when it is over (info, with how long it lasted).
    void LogPause(const std::string& key, std::int64_t until_us, const std::string& reason, std::int64_t now);
    void LogResumed(std::int64_t now);
    struct PauseLog {
        std::int64_t started_us = 0, until_us = 0;
    };
    std::map<std::string, PauseLog> pauses_logged_;
    const std::string* GroupKeyFor(const Job& job) const;
    /// Adds the requests sent since the last time to the budget's count (RateBudget::Spend): at most
    /// once a second while busy, at once when the client goes idle, and at its end.
    void RecordSpent(std::int64_t now);
    std::int64_t unrecorded_spent_ = 0;
    std::int64_t spent_due_us_ = 0;

    EsiOptions options_;
    http::HttpClient& http_;
    RateBudget& budget_;
    Clock& clock_;
    Pacer pacer_;
    std::deque<std::shared_ptr<Job>> ready_;
    std::unordered_map<std::string, std::shared_ptr<Job>> coalesce_;
    std::deque<std::pair<Waiter, EsiResult>> completions_;
    std::unordered_map<std::uint64_t, std::shared_ptr<Job>> by_ticket_;  ///< waiters not completed yet
    std::uint64_t next_ticket_ = 1;
    std::map<std::string, Shared> shared_;
    std::unordered_map<std::string, std::string> route_groups_;  ///< route template → group key
    int in_flight_ = 0;
    std::size_t pending_callbacks_ = 0;
    bool budget_failing_ = false;
    OutageState outage_;                      ///< the downtime gate's shared state as last read
    std::int64_t outage_loaded_us_ = -1;      ///< when (-1 = never)
    std::int64_t gate_waiting_since_us_ = 0;  ///< this client waits for the gate since (0 = not)
    std::string gate_reason_;
    bool probe_queued_ = false;      ///< this client's /status/ probe is waiting or in flight
    std::int64_t held_permit_ = -1;  ///< the window guard's permit taken for the next request
    std::int64_t held_permit_at_us_ = 0;
    bool held_permit_refresh_ = false;  ///< taken for refresh traffic (new work may use it too)
    bool held_permit_limited_ = false;  ///< … and held to the refresh share: one slot at a time
    bool refresh_traffic_ = false;      ///< SetRefreshTraffic
    int new_in_flight_ = 0;             ///< requests on the wire that are not refresh traffic
    std::int64_t demand_marked_us_ = 0;
    std::mt19937_64 rng_;
    std::shared_ptr<int> alive_;  ///< callbacks from the HttpClient check it (client destroyed first)
    EsiStats stats_;
    ClientMetrics metrics_;
    WaitHooks hooks_;
};

/// libcurl settings matching the ESI options (user agent, timeouts, concurrency, per-host cap).
http::CurlOptions CurlOptionsFor(const EsiOptions& o);

// ---- bulk endpoints -------------------------------------------------------------------------------

struct UniverseName {
    std::int64_t id = 0;
    std::string name;
    std::string category;
};

using CharacterAffiliation = kr::CharacterAffiliation;  ///< core/model.hpp

template <typename T>
struct BulkResult {
    std::vector<T> items;                  ///< answers for the good ids
    std::vector<std::int64_t> bad_ids;     ///< isolated by splitting failed batches (404/400/422)
    std::vector<std::int64_t> failed_ids;  ///< transient failures (retry later)
};

/// POST /universe/names/ in batches of ≤ 1000 unique ids, run concurrently. A batch failing with
/// 404/400/422 is split in halves until the bad ids are isolated. Blocking (drives the client).
BulkResult<UniverseName> ResolveNames(EsiClient& esi, const std::vector<std::int64_t>& ids, std::size_t batch = 1000);
/// POST /characters/affiliation/, same batching and splitting.
BulkResult<CharacterAffiliation> ResolveAffiliations(EsiClient& esi, const std::vector<std::int64_t>& ids,
                                                     std::size_t batch = 1000);

}  // namespace kr::esi
