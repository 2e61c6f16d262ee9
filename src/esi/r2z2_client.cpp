#include "esi/r2z2_client.hpp"

#include <algorithm>
#include <memory>
#include <optional>

#include "core/errors.hpp"
#include "core/text.hpp"
#include "http/http_date.hpp"

namespace kr::esi {

namespace {
constexpr std::int64_t kUsPerS = 1'000'000;
constexpr const char* kWhat = "R2Z2";
}  // namespace

R2z2Client::R2z2Client(R2z2Options options, http::HttpClient& http, RateBudget& budget, Clock& clock)
    : options_(std::move(options)),
      http_(http),
      budget_(budget),
      clock_(clock),
      pacer_(budget, clock, options_.budget_key, WithRate(options_.pacer, options_.rate_limit)),
      hooks_(clock),
      metrics_(std::make_shared<ClientMetrics>(options_.budget_key, /*http_cache=*/false)) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
}

void R2z2Client::Wait(std::chrono::milliseconds d) { WaitUs(d.count() * 1000); }

void R2z2Client::WaitUs(std::int64_t us) {
    const std::int64_t until = clock_.NowUs() + us;
    for (std::int64_t now = clock_.NowUs(); now < until; now = clock_.NowUs()) {
        hooks_.Check(kWhat);
        http_.Drive(std::chrono::microseconds(std::min(until - now, WaitHooks::kSliceUs)));
    }
    hooks_.Check(kWhat);
}

void R2z2Client::AwaitSlot() {
    hooks_.Check(kWhat);
    if (!pacer_.Enabled()) {
        // No pacing: the shared pause is what matters. A pause this process saw holds at once;
        // the budget (a database round trip) is asked at most every pause_check.
        const std::int64_t now = clock_.NowUs();
        if (now < local_pause_until_us_) WaitUs(local_pause_until_us_ - now);
        if (clock_.NowUs() < pause_checked_until_us_) return;
    }
    pacer_.AwaitSlot([this](std::int64_t us) { WaitUs(us); });
    pause_checked_until_us_ = clock_.NowUs() + options_.pause_check.count() * 1000;
}

void R2z2Client::Pause(std::int64_t us) {
    local_pause_until_us_ = std::max(local_pause_until_us_, clock_.NowUs() + us);
    try {
        Observation o;
        o.pause_for_us = us;
        budget_.Observe(options_.budget_key, o);
    } catch (const kr::Error&) {}  // the next Load fails too and waits; the answer says how long
    metrics_->Paused(options_.budget_key);
    pacer_.Discard();
}

R2z2Answer R2z2Client::FetchSequence() { return Get("/ephemeral/sequence.json"); }

R2z2Answer R2z2Client::FetchSequenceFile(std::int64_t sequence) {
    return Get("/ephemeral/" + std::to_string(sequence) + ".json");
}

R2z2Answer R2z2Client::FetchHistoryIndex(const std::string& day) { return Get("/history/" + day + ".json"); }

R2z2Answer R2z2Client::FetchHistoryRaw(const std::string& day) { return Get("/history/raw/" + day + ".json"); }

R2z2Answer R2z2Client::FetchSequenceFileAhead(std::int64_t sequence) {
    if (!window_.empty() && window_.front().sequence != sequence) DropWindow();
    // Ramp: one more request in flight per kRampStep answers of 200 in a row. A feed that answers
    // 429 after a few requests (a limit this process does not know) is thus polled one request at
    // a time, as before a window existed: one 429 per pause, not a window's worth.
    constexpr std::size_t kRampStep = 8;
    const std::size_t width = pacer_.Enabled() ? 1
                                               : std::clamp<std::size_t>(1 + ok_run_ / kRampStep, 1,
                                                                         std::max<std::size_t>(1, options_.window));
    std::int64_t next = window_.empty() ? sequence : window_.back().sequence + 1;
    while (window_.size() < width) {
        window_.push_back({next, Start("/ephemeral/" + std::to_string(next) + ".json")});
        ++next;
    }
    const Pending front = window_.front().response;
    window_.pop_front();
    R2z2Answer out = Await(front);
    if (out.status == R2z2Answer::Status::kOk) {
        ++ok_run_;
    } else {
        DropWindow();  // what follows a 404 / 429 / failure may be stale: ask again, one at a time
    }
    return out;
}

void R2z2Client::DropWindow() {
    window_.clear();
    ok_run_ = 0;
}

R2z2Client::Pending R2z2Client::Start(const std::string& path) {
    AwaitSlot();
    http::HttpRequest req;
    req.url = options_.base_url + path;
    req.headers = {{"User-Agent", options_.user_agent}, {"Accept", "application/json"}};
    req.timeout = options_.timeout;
    ++requests_;
    metrics_->Sent();
    // Held by the callback too: the transfer may finish after its answer is no longer wanted (a
    // stop, a dropped window) while the client is driven by someone else.
    auto holder = std::make_shared<std::optional<http::HttpResponse>>();
    http_.Start(req, [holder, metrics = metrics_](http::HttpResponse r) {
        metrics->Polled(r.Ok() ? r.status : 0);
        *holder = std::move(r);
    });
    return holder;
}

R2z2Answer R2z2Client::Await(const Pending& p) {
    while (!*p) {
        hooks_.Check(kWhat);
        http_.Drive(std::chrono::microseconds(WaitHooks::kSliceUs));
    }
    return Classify(std::move(**p));
}

R2z2Answer R2z2Client::Get(const std::string& path) { return Await(Start(path)); }

R2z2Answer R2z2Client::Classify(http::HttpResponse resp) {
    R2z2Answer out;
    out.http_status = resp.status;
    if (!resp.Ok()) {
        out.error = "transport error (" + std::string(http::ToString(resp.transport)) + "): " + resp.error_message;
        return out;
    }
    auto told = [&](std::chrono::milliseconds fallback) {
        std::int64_t secs = fallback.count() / 1000;
        if (const std::string* ra = resp.Header("retry-after")) {
            if (auto v = http::ParseRetryAfter(*ra, clock_.NowUs() / kUsPerS)) secs = *v;
        }
        return std::chrono::milliseconds(std::max<std::int64_t>(1, secs) * 1000);
    };
    switch (resp.status) {
        case 200:
            out.status = R2z2Answer::Status::kOk;
            out.body = std::move(resp.body);
            return out;
        case 404: out.status = R2z2Answer::Status::kNotFound; return out;
        case 429:
            out.status = R2z2Answer::Status::kRateLimited;
            out.retry_after = told(options_.default_retry_after);
            out.error = "HTTP 429 (polled too fast)";
            Pause(out.retry_after.count() * 1000);
            return out;
        case 403:
            out.status = R2z2Answer::Status::kBanned;
            out.retry_after = told(options_.ban_pause);
            out.error = "HTTP 403 (banned): " + kr::Truncate(resp.body, 200);
            Pause(out.retry_after.count() * 1000);
            return out;
        default: out.error = "HTTP " + std::to_string(resp.status) + ": " + kr::Truncate(resp.body, 200); return out;
    }
}

}  // namespace kr::esi
