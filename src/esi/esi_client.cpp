#include "esi/esi_client.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "core/errors.hpp"
#include "core/esi_paths.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "esi/request_group.hpp"
#include "http/http_date.hpp"
#include "log/log.hpp"

#ifndef KR_VERSION
#define KR_VERSION "0.0.0"
#endif

namespace kr::esi {

using http::HttpResponse;

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kUsPerS = 1'000'000;
constexpr std::int64_t kDemandMarkEveryUs = 250'000;  ///< new work's demand is marked this often

std::optional<std::int64_t> HeaderInt(const HttpResponse& r, std::string_view name) {
    const std::string* v = r.Header(name);
    if (!v) return std::nullopt;
    try {
        std::size_t used = 0;
        long long n = std::stoll(*v, &used);
        return static_cast<std::int64_t>(n);
    } catch (...) {
        return std::nullopt;
    }
}

/// "3600/15m" → (3600, 900 s); units s, m, h.
std::optional<std::pair<std::int64_t, std::int64_t>> ParseLimit(const std::string& v) {
    auto slash = v.find('/');
    if (slash == std::string::npos || slash + 1 >= v.size()) return std::nullopt;
    try {
        std::int64_t tokens = std::stoll(v.substr(0, slash));
        std::string w = v.substr(slash + 1);
        char unit = w.back();
        std::int64_t mult = 1;
        if (unit == 'm')
            mult = 60;
        else if (unit == 'h')
            mult = 3600;
        else if (unit == 's')
            mult = 1;
        if (!std::isdigit(static_cast<unsigned char>(unit))) w.pop_back();
        std::int64_t n = std::stoll(w);
        return std::make_pair(tokens, n * mult * kUsPerS);
    } catch (...) {
        return std::nullopt;
    }
}

bool IsValidJson(const std::string& body) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    return parser.parse(body).get(doc) == simdjson::SUCCESS;
}

/// What an answer means, for the debug line: ok, not_modified, not_found, client_error,
/// error_limited, rate_limited, server_error, or the transport failure.
std::string AnswerOutcome(const HttpResponse& resp) {
    if (!resp.Ok()) return "transport_error:" + std::string(http::ToString(resp.transport));
    const long s = resp.status;
    if (s >= 200 && s < 300) return "ok";
    if (s == 304) return "not_modified";
    if (s == 404) return "not_found";
    if (s == 420) return "error_limited";
    if (s == 429) return "rate_limited";
    if (s >= 500) return "server_error";
    return "client_error";
}

}  // namespace

std::string_view ToString(Outcome o) {
    switch (o) {
        case Outcome::kFresh: return "fresh";
        case Outcome::kOk: return "ok";
        case Outcome::kNotModified: return "not_modified";
        case Outcome::kNotFound: return "not_found";
        case Outcome::kUnprocessable: return "unprocessable";
        case Outcome::kClientError: return "client_error";
        case Outcome::kFailed: return "failed";
    }
    return "failed";
}

std::string DefaultUserAgent() {
    return std::string("killreport-cpp/") + KR_VERSION + " (+set KILLREPORT_USER_AGENT to your contact)";
}

http::CurlOptions CurlOptionsFor(const EsiOptions& o) {
    http::CurlOptions c;
    c.connect_timeout_ms = static_cast<long>(o.connect_timeout.count());
    c.timeout_ms = static_cast<long>(o.timeout.count());
    c.max_concurrency = o.max_concurrency;
    c.max_host_connections = o.max_concurrency;
    c.user_agent = o.user_agent;
    c.verify_tls = true;
    return c;
}

void EsiResult::ThrowIfError(const std::string& context) const {
    switch (outcome) {
        case Outcome::kFailed: throw TransientError(context + ": " + error, retry_after);
        case Outcome::kUnprocessable: throw PermanentError("esi_422", context + ": " + error);
        case Outcome::kClientError: throw PermanentError("esi_" + std::to_string(status), context + ": " + error);
        default: return;
    }
}

struct EsiClient::Job {
    EsiRequest req;
    std::string route;         ///< RouteTemplate(path)
    std::string coalesce_key;  ///< "" = not coalesced
    std::vector<Waiter> waiters;
    int attempts = 0;
    std::int64_t not_before_us = 0;
    std::string group_key;  ///< rate-limit group at send time ("" = none)
    std::int64_t sent_at_us = 0;
    bool probe = false;        ///< the client's own GET /status/ while ESI is down (no waiters)
    std::int64_t permit = -1;  ///< the window guard's permit while in flight (-1 = none)
    bool refresh = false;      ///< refresh traffic (every waiter's request is; EsiRequest::refresh)
    bool on_wire = false;      ///< sent, not answered yet
};

std::string EsiClient::RouteTemplate(const std::string& path) {
    std::string out;
    std::size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            out += '/';
            ++i;
            continue;
        }
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string_view seg(path.data() + i, j - i);
        bool digits = std::all_of(seg.begin(), seg.end(), [](unsigned char c) { return std::isdigit(c); });
        bool hex =
            seg.size() >= 20 && std::all_of(seg.begin(), seg.end(), [](unsigned char c) { return std::isxdigit(c); });
        if (digits)
            out += "{id}";
        else if (hex)
            out += "{hash}";
        else
            out += seg;
        i = j;
    }
    return out;
}

EsiClient::EsiClient(EsiOptions options, http::HttpClient& http, RateBudget& budget, Clock& clock)
    : options_(std::move(options)),
      http_(http),
      budget_(budget),
      clock_(clock),
      pacer_(budget, clock, options_.budget_key, WithRate(options_.pacer, options_.rate_limit)),
      rng_(std::random_device{}()),
      metrics_(options_.budget_key, /*http_cache=*/true),
      hooks_(clock) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
    options_.max_attempts = std::max(1, options_.max_attempts);
    options_.max_concurrency = std::max(1, options_.max_concurrency);
    // Known groups (learned from headers anyway; seeding lets the first burst respect them).
    route_groups_["/killmails/{id}/{hash}/"] = options_.budget_key + ":group:killmail";
    route_groups_["/status/"] = options_.budget_key + ":group:status";
    alive_ = std::make_shared<int>(0);
}

EsiClient::~EsiClient() {
    if (unrecorded_spent_ > 0) RecordSpent(clock_.NowUs());
    if (held_permit_ < 0) return;
    try {
        budget_.ReleasePermit(WindowKey(), held_permit_, 0);  // never used: free at once
    } catch (const kr::Error&) {
        // it frees itself (MaxHoldUs)
    }
}

EsiStats EsiClient::Stats() const {
    EsiStats s = stats_;
    s.slots_dropped = pacer_.SlotsDropped();
    return s;
}

bool EsiClient::Idle() const { return ready_.empty() && in_flight_ == 0 && completions_.empty(); }

std::uint64_t EsiClient::Submit(EsiRequest request, EsiCallback callback) {
    ++pending_callbacks_;
    Waiter waiter{next_ticket_++, std::move(callback)};
    const std::uint64_t ticket = waiter.ticket;
    const bool get = request.method == "GET";
    const std::int64_t now_ms = clock_.NowUs() / 1000;
    if (get && request.cache && request.cache->FreshAt(now_ms)) {
        ++stats_.fresh;
        metrics_.Cache("fresh");
        EsiResult r;
        r.outcome = Outcome::kFresh;
        r.cache = request.cache;
        completions_.emplace_back(std::move(waiter), std::move(r));
        return ticket;
    }
    std::string key;
    if (get) key = request.path + '\n' + (request.cache ? request.cache->etag.value_or("") : std::string());
    const bool refresh = request.refresh || refresh_traffic_;
    if (!key.empty()) {
        auto it = coalesce_.find(key);
        if (it != coalesce_.end()) {
            ++stats_.coalesced;
            metrics_.Cache("coalesced");
            if (!refresh && it->second->refresh) {
                // New work waits for it now: it is new work (counted as such once on the wire).
                if (it->second->on_wire) ++new_in_flight_;
                it->second->refresh = false;
            }
            it->second->waiters.push_back(std::move(waiter));
            by_ticket_[ticket] = it->second;
            return ticket;
        }
    }
    auto job = std::make_shared<Job>();
    job->route = RouteTemplate(request.path);
    job->req = std::move(request);
    job->coalesce_key = key;
    job->refresh = refresh;
    job->waiters.push_back(std::move(waiter));
    by_ticket_[ticket] = job;
    if (!key.empty()) coalesce_[key] = job;
    ready_.push_back(std::move(job));
    return ticket;
}

bool EsiClient::Cancel(std::uint64_t ticket) {
    if (auto it = by_ticket_.find(ticket); it != by_ticket_.end()) {
        std::shared_ptr<Job> job = std::move(it->second);
        by_ticket_.erase(it);
        std::erase_if(job->waiters, [ticket](const Waiter& w) { return w.ticket == ticket; });
        --pending_callbacks_;
        if (job->waiters.empty()) {
            // Queued or waiting for a retry: never sent. (On the wire: its answer completes nobody.)
            if (auto r = std::find(ready_.begin(), ready_.end(), job); r != ready_.end()) {
                ready_.erase(r);
                if (auto c = coalesce_.find(job->coalesce_key); c != coalesce_.end() && c->second == job) {
                    coalesce_.erase(c);
                }
            }
        }
        return true;
    }
    auto done = std::find_if(completions_.begin(), completions_.end(),
                             [ticket](const auto& c) { return c.first.ticket == ticket; });
    if (done == completions_.end()) return false;
    completions_.erase(done);
    --pending_callbacks_;
    return true;
}

EsiClient::Shared& EsiClient::SharedFor(const std::string& key, std::int64_t now, bool refresh) {
    Shared& s = shared_[key];
    if (refresh && (s.loaded_at_us < 0 || now - s.loaded_at_us >= options_.shared_refresh.count() * 1000)) {
        try {
            s.state = budget_.Load(key);
        } catch (const kr::Error&) {
            // keep the last known state; the reservation path fails closed
        }
        s.loaded_at_us = now;
    }
    return s;
}

const std::string* EsiClient::GroupKeyFor(const Job& job) const {
    auto it = route_groups_.find(job.route);
    return it == route_groups_.end() ? nullptr : &it->second;
}

void EsiClient::LogPause(const std::string& key, std::int64_t until_us, const std::string& reason, std::int64_t now) {
    if (until_us <= now) return;
    auto [it, started] = pauses_logged_.try_emplace(key, PauseLog{now, until_us});
    if (!started) {
        it->second.until_us = std::max(it->second.until_us, until_us);  // extended: one line is enough
        return;
    }
    spdlog::warn("ESI: {} paused for {:.0f} s ({}), until {}",
                 metrics_.GroupLabel(key) == "all" ? "every request" : "route group " + metrics_.GroupLabel(key),
                 static_cast<double>(until_us - now) / 1e6, reason, IsoUtc(until_us / 1000));
}

void EsiClient::LogResumed(std::int64_t now) {
    for (auto it = pauses_logged_.begin(); it != pauses_logged_.end();) {
        if (it->second.until_us > now) {
            ++it;
            continue;
        }
        spdlog::info(
            "ESI: {} sending again after a {:.0f} s pause",
            metrics_.GroupLabel(it->first) == "all" ? "every request" : "route group " + metrics_.GroupLabel(it->first),
            static_cast<double>(now - it->second.started_us) / 1e6);
        it = pauses_logged_.erase(it);
    }
}

void EsiClient::RecordSpent(std::int64_t now) {
    spent_due_us_ = now + kUsPerS;
    try {
        budget_.Spend(options_.budget_key, unrecorded_spent_);
        unrecorded_spent_ = 0;
    } catch (const kr::Error&) {
        // the shared store is unavailable: counted with the next ones
    }
}

std::int64_t EsiClient::DispatchReady(std::int64_t now) {
    std::int64_t wake = kNever;
    if (unrecorded_spent_ > 0 && (now >= spent_due_us_ || (ready_.empty() && in_flight_ == 0))) RecordSpent(now);
    if (!pauses_logged_.empty()) LogResumed(now);
    MarkNewWork(now);
    if (ready_.empty()) return wake;
    Shared& g = SharedFor(options_.budget_key, now, true);
    // A pause this process waits on is logged here too: another process may have set it (the
    // shared store keeps no reason; what is known of the error limit says which one it was).
    const bool error_limited =
        g.state.remaining && g.state.reset_at_us > now && *g.state.remaining <= options_.error_limit_pause_at;
    const std::string error_limit = error_limited ? "error limit remain " + std::to_string(*g.state.remaining) : "";
    if (g.state.paused_until_us > now) {
        pacer_.Discard();
        // A downtime is not a pause of the shared budget: the gate (Gated) has lines of its own.
        LogPause(options_.budget_key, g.state.paused_until_us,
                 (error_limited ? error_limit : "HTTP 420 or 429") + ", from the shared budget", now);
        return g.state.paused_until_us;
    }
    int cap = options_.max_concurrency;
    // The downtime gate: while ESI is suspect or down for the deployment, nothing is sent but the
    // prober's GET /status/ (queued here when this client holds the lease).
    const bool gated = Gated(now, wake);
    if (gated) cap = 1;
    if (g.state.remaining && g.state.reset_at_us > now) {
        const std::int64_t rem = *g.state.remaining;
        if (rem <= options_.error_limit_pause_at) {
            pacer_.Discard();
            LogPause(options_.budget_key, g.state.reset_at_us + kUsPerS, error_limit + ", held until its reset", now);
            return g.state.reset_at_us + kUsPerS;
        }
        if (rem <= options_.error_limit_slow_at) {
            cap = std::min<int>(cap,
                                static_cast<int>(std::max<std::int64_t>(1, (rem - options_.error_limit_pause_at) / 2)));
        }
    }
    std::size_t i = 0;
    int sent = 0;
    bool refresh_denied = false;  // a refresh request found no permit of its share: the others wait too
    bool saw_new = false;         // a request that is not refresh traffic is ready
    while (i < ready_.size() && in_flight_ < cap) {
        auto job = ready_[i];
        if (!job->refresh) saw_new = true;
        if (gated && !job->probe) {
            ++i;  // waits for /status/
            continue;
        }
        if (job->not_before_us > now) {
            wake = std::min(wake, job->not_before_us);
            ++i;
            continue;
        }
        if (const std::string* gk = GroupKeyFor(*job)) {
            Shared& gs = SharedFor(*gk, now, true);
            if (gs.state.paused_until_us > now) {
                LogPause(*gk, gs.state.paused_until_us, "HTTP 429, from the shared budget", now);
                wake = std::min(wake, gs.state.paused_until_us);
                ++i;
                continue;
            }
            if (!gs.state.remaining && gs.in_flight > 0) {
                ++i;  // unknown bucket level: one request at a time until a response tells it
                continue;
            }
            if (gs.state.remaining) {
                const std::int64_t est = *gs.state.remaining - 2 * gs.in_flight;
                if (est - 2 < options_.bucket_reserve) {
                    // Hold the group; let one probe through per "2 tokens' worth" of window time.
                    const std::int64_t probe = (gs.state.limit > 0 && gs.state.window_us > 0)
                                                   ? gs.state.window_us * 2 / gs.state.limit
                                                   : kUsPerS;
                    const std::int64_t since = std::max(gs.last_sent_us, gs.state.observed_at_us);
                    if (gs.in_flight > 0 || now - since < probe) {
                        wake = std::min(wake, gs.in_flight > 0 ? now + probe : since + probe);
                        ++i;
                        continue;
                    }
                }
            }
        }
        if (pacer_.Enabled()) {
            // The window guard (rate_budget.hpp) first: no window, as any observer counts it, holds
            // more than the limit. A permit is held until a request goes out (a send slot, below), and
            // comes free a window after that request's answer. One held too long (near the time it
            // frees itself) is dropped, never used.
            if (held_permit_ >= 0 && now - held_permit_at_us_ > MaxHoldUs() / 2) held_permit_ = -1;
            // The refresh share: a permit taken for new work is not refresh traffic's, and once
            // refresh found none of its share, new work behind it still goes.
            if (job->refresh && (refresh_denied || (held_permit_ >= 0 && !held_permit_refresh_))) {
                ++i;
                continue;
            }
            if (held_permit_ < 0) {
                try {
                    const PermitGrant permit =
                        budget_.TakePermit(WindowKey(), WindowPermits(), MaxHoldUs(), ShareFor(*job));
                    if (!permit.permit) {
                        wake = std::min(wake, permit.retry_at_us);
                        if (job->refresh && ShareActive()) {
                            refresh_denied = true;
                            ++i;
                            continue;
                        }
                        break;
                    }
                    held_permit_ = *permit.permit;
                    held_permit_at_us_ = now;
                    held_permit_refresh_ = job->refresh;
                    held_permit_limited_ = permit.limited;
                } catch (const kr::Error&) {
                    budget_failing_ = true;  // fail closed: no request without a permit
                    wake = std::min(wake, now + kUsPerS);
                    break;
                }
            }
        }
        if (pacer_.Enabled()) {
            Pacer::Take take;
            try {
                // Held to the refresh share, one request at a time: a block of slots would go unused
                // (and be lost to everyone) while its next permits are taken.
                const int want = held_permit_limited_
                                     ? 1
                                     : static_cast<int>(std::min<std::size_t>(
                                           ready_.size() - i, static_cast<std::size_t>(cap - in_flight_)));
                take = pacer_.TryTake(want);
                budget_failing_ = false;
            } catch (const kr::Error&) {
                budget_failing_ = true;  // fail closed: no request without a slot
                wake = std::min(wake, now + kUsPerS);
                break;
            }
            const RateState& st = pacer_.LastState();
            if (pacer_.LastReserveAtUs() >= g.loaded_at_us) {
                g.state = st;
                g.loaded_at_us = pacer_.LastReserveAtUs();
            }
            if (g.state.paused_until_us > clock_.NowUs()) {
                pacer_.Discard();
                wake = std::min(wake, g.state.paused_until_us);
                break;
            }
            if (!take.taken) {
                wake = std::min(wake, take.at_us);
                break;
            }
            job->permit = held_permit_;
            held_permit_ = -1;
        }
        Send(job, clock_.NowUs());  // (if it throws, the request stays queued)
        ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(i));
        ++sent;
    }
    if (i >= ready_.size() && !saw_new && held_permit_ >= 0 && !held_permit_refresh_) {
        // Taken for new work that is gone (cancelled): refresh traffic may not use it.
        try {
            budget_.ReleasePermit(WindowKey(), held_permit_, 0);
        } catch (const kr::Error&) {
            // it frees itself (MaxHoldUs)
        }
        held_permit_ = -1;
    }
    // Put the requests on the wire now, at their slot time, not whenever the caller drives next
    // (responses finished meanwhile are queued for delivery, never run from here).
    if (sent > 0) http_.Drive(std::chrono::microseconds(0));
    return wake;
}

void EsiClient::Send(const std::shared_ptr<Job>& job, std::int64_t now) {
    http::HttpRequest hr;
    hr.method = job->req.method;
    hr.url = options_.base_url + job->req.path;
    hr.headers.emplace_back("User-Agent", options_.user_agent);
    if (!options_.compatibility_date.empty())
        hr.headers.emplace_back("X-Compatibility-Date", options_.compatibility_date);
    hr.headers.emplace_back("Accept", "application/json");
    if (job->req.method == "GET" && job->req.cache && job->req.cache->etag) {
        hr.headers.emplace_back("If-None-Match", *job->req.cache->etag);
    }
    if (job->req.method == "POST") {
        hr.headers.emplace_back("Content-Type", "application/json");
        hr.body = job->req.body;
    }
    hr.timeout = options_.timeout;
    std::weak_ptr<int> alive = alive_;
    http_.Start(std::move(hr), [this, alive, job](HttpResponse resp) {
        if (alive.expired()) return;
        OnResponse(job, std::move(resp));
    });
    // Counted once started (the callback never runs from Start): a Start that throws counts nothing.
    ++job->attempts;
    ++stats_.requests;
    ++unrecorded_spent_;
    metrics_.Sent();
    job->sent_at_us = now;
    job->on_wire = true;
    if (!job->refresh && !job->probe) ++new_in_flight_;
    if (stats_.first_send_us == 0) stats_.first_send_us = now;
    stats_.last_send_us = now;
    ++in_flight_;
    const std::string* gk = GroupKeyFor(*job);
    job->group_key = gk ? *gk : std::string();
    if (gk) {
        Shared& gs = shared_[*gk];
        ++gs.in_flight;
        gs.last_sent_us = now;
    }
}

CacheEntry EsiClient::EntryFromHeaders(const HttpResponse& resp, const EsiRequest& req, std::int64_t now) const {
    CacheEntry e = req.cache ? *req.cache : CacheEntry{};
    e.path = req.path;
    const std::int64_t now_ms = now / 1000;
    if (const std::string* v = resp.Header("etag")) e.etag = *v;
    if (const std::string* v = resp.Header("last-modified")) e.last_modified = *v;
    e.status = 200;  // a 2xx or a 304 (the entity as last fetched)
    e.checked_at_ms = now_ms;
    e.expires_at_ms = now_ms;
    std::optional<std::int64_t> expires;
    if (const std::string* v = resp.Header("expires")) expires = http::ParseHttpDate(*v);
    if (expires) {
        // Relative to the server's Date when given, so a skewed local clock does not matter.
        std::optional<std::int64_t> date;
        if (const std::string* d = resp.Header("date")) date = http::ParseHttpDate(*d);
        e.expires_at_ms = date ? now_ms + std::max<std::int64_t>(0, *expires - *date) * 1000 : *expires * 1000;
    } else if (const std::string* cc = resp.Header("cache-control")) {
        if (auto age = http::CacheControlMaxAge(*cc)) e.expires_at_ms = now_ms + *age * 1000;
    }
    return e;
}

void EsiClient::Learn(const std::shared_ptr<Job>& job, const HttpResponse& resp, std::int64_t now) {
    const long status = resp.status;
    // Legacy error limit (global): share lows, new windows and pauses.
    const auto remain = HeaderInt(resp, "x-esi-error-limit-remain");
    const auto reset = HeaderInt(resp, "x-esi-error-limit-reset");
    Shared& g = shared_[options_.budget_key];
    try {
        if (status == 420) {
            Observation o;
            o.remaining = remain ? remain : std::optional<std::int64_t>(0);
            o.reset_in_us = reset ? *reset * kUsPerS : options_.default_pause.count() * 1000;
            o.pause_for_us = o.reset_in_us + kUsPerS;
            g.state = budget_.Observe(options_.budget_key, o);
            g.loaded_at_us = now;
            pacer_.Discard();
            metrics_.Paused(options_.budget_key);
            LogPause(options_.budget_key, g.state.paused_until_us, "HTTP 420: error limited", now);
        } else if (remain && reset) {
            const bool low = *remain <= options_.error_limit_pause_at;
            if (!g.state.remaining || g.state.reset_at_us <= now || *remain < *g.state.remaining || low) {
                Observation o;
                o.remaining = remain;
                o.reset_in_us = std::max<std::int64_t>(1, *reset) * kUsPerS;
                if (low) o.pause_for_us = o.reset_in_us + kUsPerS;
                g.state = budget_.Observe(options_.budget_key, o);
                g.loaded_at_us = now;
                if (low) {
                    pacer_.Discard();
                    metrics_.Paused(options_.budget_key);
                    LogPause(options_.budget_key, g.state.paused_until_us,
                             "error limit remain " + std::to_string(*remain), now);
                }
            }
        }
        // Floating-window buckets.
        std::optional<std::int64_t> retry_after_us;
        if (status == 429) {
            std::int64_t secs = options_.default_pause.count() / 1000;
            if (const std::string* ra = resp.Header("retry-after")) {
                if (auto v = http::ParseRetryAfter(*ra, now / kUsPerS)) secs = *v;
            }
            retry_after_us = std::max<std::int64_t>(1, secs) * kUsPerS;
        }
        if (const std::string* group = resp.Header("x-ratelimit-group")) {
            const std::string key = options_.budget_key + ":group:" + *group;
            route_groups_[job->route] = key;
            Observation o;
            o.remaining = HeaderInt(resp, "x-ratelimit-remaining");
            if (const std::string* lim = resp.Header("x-ratelimit-limit")) {
                if (auto p = ParseLimit(*lim)) {
                    o.limit = p->first;
                    o.window_us = p->second;
                }
            }
            if (retry_after_us) o.pause_for_us = *retry_after_us;
            Shared& gs = shared_[key];
            gs.state = budget_.Observe(key, o);
            gs.loaded_at_us = now;
            if (retry_after_us) {
                metrics_.Paused(key);
                LogPause(key, gs.state.paused_until_us, "HTTP 429 with Retry-After", now);
            }
        } else if (retry_after_us) {
            // A 429 without group headers (EVE-server limiter): pause what we know the route belongs to,
            // else all of ESI.
            const std::string key = job->group_key.empty() ? options_.budget_key : job->group_key;
            Observation o;
            o.pause_for_us = *retry_after_us;
            Shared& s = shared_[key];
            s.state = budget_.Observe(key, o);
            s.loaded_at_us = now;
            if (key == options_.budget_key) pacer_.Discard();
            metrics_.Paused(key);
            LogPause(key, s.state.paused_until_us, "HTTP 429", now);
        }
    } catch (const kr::Error&) {
        // The shared store is unavailable: keep local knowledge (the next Load/Reserve retries).
    }
}

std::string EsiClient::WindowKey() const { return options_.budget_key + ":window"; }

bool EsiClient::ShareActive() const { return pacer_.Enabled() && options_.refresh_share < 1.0; }

PermitShare EsiClient::ShareFor(const Job& job) const {
    PermitShare share;
    if (!ShareActive()) return share;
    share.enabled = true;
    share.refresh = job.refresh;
    share.refresh_permits = std::clamp(
        static_cast<int>(std::floor(std::max(0.0, options_.refresh_share) * WindowPermits())), 0, WindowPermits());
    share.demand_key = options_.budget_key + ":new-work";
    return share;
}

void EsiClient::MarkNewWork(std::int64_t now) {
    if (!ShareActive() || now - demand_marked_us_ < kDemandMarkEveryUs) return;
    const bool waiting = new_in_flight_ > 0 || std::any_of(ready_.begin(), ready_.end(), [](const auto& job) {
                             return !job->refresh && !job->probe;
                         });
    if (!waiting) return;
    demand_marked_us_ = now;
    try {
        // Until a window from now: renewed every 250 ms while new work waits.
        budget_.MarkDemand(options_.budget_key + ":new-work", WindowUs());
    } catch (const kr::Error&) {
        // The budget's database is away: the permits (which fail closed) wait for it anyway.
    }
}

int EsiClient::WindowPermits() const { return std::max(1, static_cast<int>(std::floor(options_.rate_limit))); }

std::int64_t EsiClient::WindowUs() const { return kUsPerS + std::max<std::int64_t>(0, options_.pacer.margin_us_per_s); }

std::int64_t EsiClient::MaxHoldUs() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout).count() + 2 * WindowUs();
}

void EsiClient::ReleasePermit(Job& job) {
    if (job.permit < 0) return;
    try {
        budget_.ReleasePermit(WindowKey(), job.permit, WindowUs());
    } catch (const kr::Error& e) {
        // Not given back: it comes free by itself (MaxHoldUs after it was taken).
        spdlog::debug("ESI window guard: permit {} not given back: {}", job.permit, e.what());
    }
    job.permit = -1;
}

void EsiClient::OnResponse(const std::shared_ptr<Job>& job, HttpResponse resp) {
    const std::int64_t now = clock_.NowUs();
    --in_flight_;
    job->on_wire = false;
    if (!job->refresh && !job->probe) --new_in_flight_;
    ReleasePermit(*job);
    if (!job->group_key.empty()) --shared_[job->group_key].in_flight;
    Learn(job, resp, now);
    {
        // The group as learned from this answer (a first answer names its group).
        const std::string* gk = GroupKeyFor(*job);
        const std::int64_t latency_us = std::max<std::int64_t>(0, now - job->sent_at_us);
        metrics_.Answered(gk ? *gk : job->group_key, resp.Ok() ? resp.status : 0,
                          static_cast<double>(latency_us) / 1e6);
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("ESI: {} {} -> {} {} in {} ms (attempt {}{})", job->req.method, job->req.path,
                          resp.Ok() ? std::to_string(resp.status) : std::string("-"), AnswerOutcome(resp),
                          latency_us / 1000, job->attempts,
                          gk ? ", route group " + metrics_.GroupLabel(*gk) : std::string());
        }
    }
    if (job->probe) {  // answered and counted like any request (the metrics count what ESI saw)
        OnProbe(resp, now);
        return;
    }

    EsiResult res;
    res.status = resp.status;
    res.attempts = job->attempts;
    if (!resp.Ok()) {
        ++stats_.transport_errors;
        res.error = "transport error (" + std::string(http::ToString(resp.transport)) + "): " + resp.error_message;
        RetryOrFail(job, std::move(res), std::nullopt);
        return;
    }
    const long s = resp.status;
    res.headers = resp.headers;
    auto retry_after_header = [&]() -> std::optional<std::int64_t> {
        if (const std::string* v = resp.Header("retry-after")) {
            if (auto secs = http::ParseRetryAfter(*v, now / kUsPerS)) return *secs * kUsPerS;
        }
        return std::nullopt;
    };
    if (s == 420) {
        ++stats_.status_420;
        res.error = "HTTP 420 (error limited)";
        const RateState& st = shared_[options_.budget_key].state;
        RetryOrFail(job, std::move(res), std::max<std::int64_t>(0, st.paused_until_us - now));
        return;
    }
    if (s == 429) {
        ++stats_.status_429;
        res.error = "HTTP 429 (rate limited)";
        auto ra = retry_after_header();
        RetryOrFail(job, std::move(res), ra ? ra : std::optional<std::int64_t>(options_.default_pause.count() * 1000));
        return;
    }
    if (s >= 500) {
        ++stats_.status_5xx;
        res.error = "HTTP " + std::to_string(s);
        if ((s == 502 || s == 503 || s == 504) && Unavailable(*job, s, now)) {
            // It met an outage already known: it waits for ESI with every other caller, without
            // spending an attempt. (The answer that made ESI suspect spends one: a route that
            // fails on its own, while /status/ says ESI is up, still runs out of attempts.)
            --job->attempts;
        }
        RetryOrFail(job, std::move(res), retry_after_header());
        return;
    }
    if (s >= 200 && s < 300) {
        if (options_.validate_json && !IsValidJson(resp.body)) {
            ++stats_.bad_bodies;
            res.error = "bad_body: HTTP " + std::to_string(s) + " with a body that is not JSON (" +
                        std::to_string(resp.body.size()) + " bytes)";
            RetryOrFail(job, std::move(res), std::nullopt);
            return;
        }
        res.outcome = Outcome::kOk;
        res.body = std::move(resp.body);
        res.cache = EntryFromHeaders(resp, job->req, now);
    } else if (s == 304) {
        ++stats_.not_modified;
        metrics_.Cache("not_modified");
        res.outcome = Outcome::kNotModified;
        res.cache = EntryFromHeaders(resp, job->req, now);
    } else {
        res.outcome = s == 404 ? Outcome::kNotFound : s == 422 ? Outcome::kUnprocessable : Outcome::kClientError;
        res.error = "HTTP " + std::to_string(s) + ": " + kr::Truncate(resp.body, 200);
        res.body = std::move(resp.body);
    }
    Complete(job, std::move(res));
}

std::string EsiClient::OutageKey() const { return options_.budget_key; }

namespace {
/// /status/ says the server is up: a JSON object with `players` (and not in VIP mode).
bool StatusSaysUp(const std::string& body) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc) != simdjson::SUCCESS) return false;
    std::int64_t players = 0;
    if (doc["players"].get(players) != simdjson::SUCCESS) return false;
    bool vip = false;
    return doc["vip"].get(vip) != simdjson::SUCCESS || !vip;
}
}  // namespace

bool EsiClient::Gated(std::int64_t now, std::int64_t& wake) {
    if (!options_.downtime_gate) return false;
    const std::int64_t look_every_us = options_.shared_refresh.count() * 1000;
    if (outage_loaded_us_ < 0 || now - outage_loaded_us_ >= look_every_us) {
        try {
            outage_ = budget_.LoadOutage(OutageKey());
            // ESI's daily downtime window: until /status/ answered within it, the first caller asks
            // before anyone spends requests.
            constexpr std::int64_t kDayUs = 86'400 * kUsPerS;
            const std::int64_t window_at = now - now % kDayUs + options_.downtime_window_at.count() * 60 * kUsPerS;
            if (outage_.state == Availability::kUp && now >= window_at &&
                now < window_at + options_.downtime_window.count() * 60 * kUsPerS && outage_.up_at_us < window_at) {
                outage_ =
                    budget_.SuspectOutage(OutageKey(), "ESI's daily downtime window, /status/ asked first", window_at);
            }
        } catch (const kr::Error&) {
            // The shared state is away: keep the last known (the permits and slots fail closed).
        }
        outage_loaded_us_ = now;
    }
    if (outage_.state == Availability::kUp) {
        if (gate_waiting_since_us_ != 0) {
            spdlog::info("ESI answers again after {:.0f} s ({}); resuming",
                         static_cast<double>(now - gate_waiting_since_us_) / 1e6, gate_reason_);
            gate_waiting_since_us_ = 0;
        }
        if (probe_queued_) {
            // Someone else's probe said ESI is up: this one (not sent yet) is not needed.
            auto it = std::find_if(ready_.begin(), ready_.end(), [](const auto& job) { return job->probe; });
            if (it != ready_.end()) {
                ready_.erase(it);
                probe_queued_ = false;
            }
        }
        return false;
    }
    if (gate_waiting_since_us_ == 0) {
        gate_waiting_since_us_ = now;
        gate_reason_ = outage_.reason;
        ++stats_.downtimes;
        spdlog::warn(
            "ESI is unavailable ({}): every ESI caller of the deployment holds its requests; one of them asks "
            "GET /status/ until ESI answers",
            outage_.reason);
    }
    if (!probe_queued_ && now >= outage_.next_probe_us && now >= outage_.lease_until_us) {
        bool taken = false;
        try {
            // Held for longer than a request can take: a prober that died is replaced after it.
            taken = budget_.TakeProbeLease(
                OutageKey(),
                std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout).count() + 5 * kUsPerS);
        } catch (const kr::Error&) {
            // asked again at the next look
        }
        if (taken) {
            auto probe = std::make_shared<Job>();
            probe->req.path = esi_paths::Status();
            probe->route = RouteTemplate(probe->req.path);
            probe->probe = true;
            ready_.push_front(probe);
            probe_queued_ = true;
        }
    }
    wake = std::min(wake, now + look_every_us);  // another process's probe may clear it
    return true;
}

bool EsiClient::Unavailable(const Job& job, long status, std::int64_t now) {
    if (!options_.downtime_gate) return false;
    try {
        // Evidence unless /status/ said ESI is up after this request was sent.
        outage_ = budget_.SuspectOutage(OutageKey(),
                                        "HTTP " + std::to_string(status) + " from " + job.req.method + " " + job.route,
                                        job.sent_at_us);
        outage_loaded_us_ = now;
    } catch (const kr::Error&) {
        return false;
    }
    return outage_.state != Availability::kUp && !outage_.changed;
}

void EsiClient::OnProbe(const HttpResponse& resp, std::int64_t now) {
    probe_queued_ = false;
    ++stats_.status_probes;
    const bool ok = resp.Ok() && resp.status >= 200 && resp.status < 300;
    const bool down = !resp.Ok() || resp.status >= 500 || (ok && !StatusSaysUp(resp.body));
    try {
        outage_ = budget_.ProbeAnswered(OutageKey(), !down, options_.downtime_pause.count() * 1000,
                                        options_.downtime_pause_max.count() * 1000);
        outage_loaded_us_ = now;
    } catch (const kr::Error&) {
        outage_loaded_us_ = -1;  // not told: the lease runs out and a prober asks again
    }
}

std::int64_t EsiClient::BackoffUs(int attempt) {
    const std::int64_t base = options_.backoff_base.count() * 1000;
    const std::int64_t cap = options_.backoff_cap.count() * 1000;
    std::int64_t d = base;
    for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
    d = std::min(d, cap);
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return static_cast<std::int64_t>(static_cast<double>(d) * jitter(rng_));
}

void EsiClient::RetryOrFail(const std::shared_ptr<Job>& job, EsiResult result,
                            std::optional<std::int64_t> retry_after_us) {
    const std::int64_t now = clock_.NowUs();
    const std::int64_t backoff = BackoffUs(job->attempts);
    const std::int64_t delay = std::max(backoff, retry_after_us.value_or(0));
    if (job->attempts < options_.max_attempts) {
        ++stats_.retries;
        job->not_before_us = now + delay;
        ready_.push_front(job);
        return;
    }
    ++stats_.failed;
    result.outcome = Outcome::kFailed;
    result.retry_after = std::chrono::milliseconds((delay + 999) / 1000);
    Complete(job, std::move(result));
}

void EsiClient::Complete(const std::shared_ptr<Job>& job, EsiResult result) {
    if (!job->coalesce_key.empty()) {
        auto it = coalesce_.find(job->coalesce_key);
        if (it != coalesce_.end() && it->second == job) coalesce_.erase(it);
    }
    auto& waiters = job->waiters;
    for (const auto& w : waiters) by_ticket_.erase(w.ticket);
    if (!waiters.empty()) {
        // Every coalesced caller gets a copy; the last one gets the result itself.
        for (std::size_t i = 0; i + 1 < waiters.size(); ++i) completions_.emplace_back(std::move(waiters[i]), result);
        completions_.emplace_back(std::move(waiters.back()), std::move(result));
    }
    waiters.clear();
}

int EsiClient::Deliver() {
    // One at a time off the front: a callback that throws leaves the others due (and cancellable),
    // and one that cancels another's ticket is heeded.
    int delivered = 0;
    for (std::size_t due = completions_.size(); due > 0 && !completions_.empty(); --due) {
        auto [waiter, result] = std::move(completions_.front());
        completions_.pop_front();
        --pending_callbacks_;
        ++delivered;
        if (waiter.callback) waiter.callback(std::move(result));
    }
    return delivered;
}

int EsiClient::Drive(std::chrono::microseconds max_wait) {
    const std::int64_t deadline = clock_.NowUs() + std::max<std::int64_t>(0, max_wait.count());
    int delivered = Deliver();
    for (;;) {
        std::int64_t now = clock_.NowUs();
        const std::int64_t wake = DispatchReady(now);
        if (delivered > 0) break;
        now = clock_.NowUs();
        if (now >= deadline) break;
        const std::int64_t until = std::min(deadline, wake);
        http_.Drive(std::chrono::microseconds(std::max<std::int64_t>(0, until - now)));
        delivered += Deliver();
    }
    return delivered;
}

void EsiClient::Await(const std::function<bool()>& done) {
    while (!done()) {
        hooks_.Check("ESI");
        Drive(std::chrono::microseconds(WaitHooks::kSliceUs));
    }
}

EsiResult EsiClient::Fetch(EsiRequest request) {
    std::optional<EsiResult> out;
    RequestGroup one(*this);  // after `out`: leaving early (a throw) cancels the callback first
    one.Submit(std::move(request), [&out](EsiResult r) { out = std::move(r); });
    one.Wait();
    return std::move(*out);
}

}  // namespace kr::esi
