#include "esi/zkb_client.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "http/http_date.hpp"
#include "log/log.hpp"

namespace kr::esi {

namespace {
constexpr std::int64_t kUsPerS = 1'000'000;
}  // namespace

void ZkbPage::ThrowIfError(const std::string& context) const {
    if (status == Status::kFailed) throw TransientError(context + ": " + error, retry_after);
    if (status == Status::kClientError)
        throw PermanentError("zkb_" + std::to_string(http_status), context + ": " + error);
}

ZkbClient::ZkbClient(ZkbOptions options, http::HttpClient& http, RateBudget& budget, Clock& clock)
    : options_(std::move(options)),
      http_(http),
      budget_(budget),
      clock_(clock),
      pacer_(budget, clock, options_.budget_key, WithRate(options_.pacer, options_.rate_limit)),
      rng_(std::random_device{}()),
      metrics_(options_.budget_key, /*http_cache=*/false),
      hooks_(clock) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
    options_.max_attempts = std::max(1, options_.max_attempts);
}

void ZkbClient::WaitUs(std::int64_t us) {
    const std::int64_t until = clock_.NowUs() + us;
    // Drive the HTTP client as our sleep (keeps its connections serviced; a fake client advances
    // time), in short slices so that a stop is seen and the idle hook runs while we wait.
    for (std::int64_t now = clock_.NowUs(); now < until; now = clock_.NowUs()) {
        hooks_.Check("zKillboard");
        http_.Drive(std::chrono::microseconds(std::min(until - now, WaitHooks::kSliceUs)));
    }
}

http::HttpResponse ZkbClient::Request(const std::string& path) {
    http::HttpRequest req;
    req.url = options_.base_url + path;
    req.headers = {{"User-Agent", options_.user_agent}, {"Accept", "application/json"}};
    req.timeout = options_.timeout;
    ++requests_;
    // Held by the callback too: after a stop the transfer may still finish while the client is
    // driven by someone else, and must not write into this frame.
    auto resp = std::make_shared<std::optional<http::HttpResponse>>();
    http_.Start(req, [resp](http::HttpResponse r) { *resp = std::move(r); });
    while (!*resp) {
        hooks_.Check("zKillboard");
        http_.Drive(std::chrono::microseconds(WaitHooks::kSliceUs));
    }
    return std::move(**resp);
}

void ZkbClient::LogPause(std::int64_t until_us, const std::string& reason, std::int64_t now) {
    if (until_us <= now) return;
    if (paused_since_us_) {
        paused_until_us_ = std::max(paused_until_us_, until_us);  // extended: one line is enough
        return;
    }
    paused_since_us_ = now;
    paused_until_us_ = until_us;
    spdlog::warn("zKillboard: paused for {:.0f} s ({}), until {}", static_cast<double>(until_us - now) / 1e6, reason,
                 IsoUtc(until_us / 1000));
}

void ZkbClient::LogResumed(std::int64_t now) {
    if (!paused_since_us_) return;
    spdlog::info("zKillboard: sending again after a {:.0f} s pause",
                 static_cast<double>(now - *paused_since_us_) / 1e6);
    paused_since_us_.reset();
}

ZkbPage ZkbClient::FetchCharacterPage(Id character_id, int page) {
    return FetchPath(esi_paths::ZkbCharacterPage(character_id, page));
}

ZkbPage ZkbClient::FetchPath(const std::string& path) {
    ZkbPage out;
    std::optional<std::int64_t> retry_after_us;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
        // Shared pause (a 429 seen by any process) and the shared budget slot.
        hooks_.Check("zKillboard");
        pacer_.AwaitSlot(
            [this](std::int64_t us) {
                hooks_.Check("zKillboard");
                WaitUs(us);
            },
            [this](std::int64_t until_us, std::int64_t now) {
                LogPause(until_us, "the shared pause: a 429 seen by a process of the deployment", now);
            });
        LogResumed(clock_.NowUs());

        out.attempts = attempt;
        metrics_.Sent();
        http::HttpResponse resp = Request(path);

        out.http_status = resp.status;
        retry_after_us.reset();
        const std::int64_t now = clock_.NowUs();
        if (!resp.Ok()) {
            out.error = "transport error (" + std::string(http::ToString(resp.transport)) + "): " + resp.error_message;
        } else if (resp.status == 429) {
            std::int64_t secs = options_.default_retry_after.count() / 1000;
            if (const std::string* ra = resp.Header("retry-after")) {
                if (auto v = http::ParseRetryAfter(*ra, now / kUsPerS)) secs = *v;
            }
            retry_after_us = std::max<std::int64_t>(1, secs) * kUsPerS;
            out.error = "HTTP 429 (rate limited)";
            try {
                Observation o;
                o.pause_for_us = *retry_after_us;
                budget_.Observe(options_.budget_key, o);
            } catch (const kr::Error&) {}
            pacer_.Discard();
            metrics_.Paused(options_.budget_key);
            LogPause(now + *retry_after_us,
                     resp.Header("retry-after") ? "HTTP 429 with Retry-After" : "HTTP 429 without Retry-After", now);
        } else if (resp.status >= 500) {
            out.error = "HTTP " + std::to_string(resp.status);
        } else if (resp.status >= 200 && resp.status < 300) {
            // Only checked here (not built): the worker parses the page itself.
            const auto shape = esi_json::ClassifyArray(resp.body);
            if (shape != esi_json::ArrayShape::kNotArray) {
                out.status = ZkbPage::Status::kOk;
                out.end = shape == esi_json::ArrayShape::kEmptyArray;
                out.body = std::move(resp.body);
                out.error.clear();
                metrics_.Page(out.end ? "end" : "ok");
                return out;
            }
            out.error = "bad_body: HTTP " + std::to_string(resp.status) + " with a body that is not a JSON array (" +
                        std::to_string(resp.body.size()) + " bytes)";
        } else {
            out.status = ZkbPage::Status::kClientError;
            out.error = "HTTP " + std::to_string(resp.status) + ": " + kr::Truncate(resp.body, 200);
            metrics_.Page("client_error");
            return out;
        }
        // transient: back off (the last attempt's delay becomes the retry_after hint)
        std::int64_t d = options_.backoff_base.count() * 1000;
        for (int i = 1; i < attempt && d < options_.backoff_cap.count() * 1000; ++i) d *= 2;
        d = std::min<std::int64_t>(d, options_.backoff_cap.count() * 1000);
        d = static_cast<std::int64_t>(static_cast<double>(d) * std::uniform_real_distribution<double>(0.5, 1.0)(rng_));
        d = std::max(d, retry_after_us.value_or(0));
        if (attempt < options_.max_attempts) {
            const std::int64_t now = clock_.NowUs();
            LogPause(now + d,
                     "backing off after " + out.error + " (attempt " + std::to_string(attempt) + " of " +
                         std::to_string(options_.max_attempts) + ")",
                     now);
            WaitUs(d);
        } else {
            out.retry_after = std::chrono::milliseconds((d + 999) / 1000);
        }
    }
    out.status = ZkbPage::Status::kFailed;
    metrics_.Page("failed");
    return out;
}

}  // namespace kr::esi
