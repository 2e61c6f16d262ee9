#pragma once
// Scripted HttpClient for unit tests. A handler computes each response (or scripted responses are
// consumed in order); every request is recorded with the clock time it was started. Responses
// complete after `latency_us` of clock time; Drive() advances a ManualClock instead of sleeping.
#include <deque>
#include <functional>
#include <map>
#include <optional>

#include "core/clock.hpp"
#include "http/http_client.hpp"

namespace kr::http {

struct FakeReply {
    HttpResponse response;
    std::int64_t latency_us = 1000;
};

class FakeHttpClient final : public HttpClient {
public:
    using Handler = std::function<FakeReply(const HttpRequest&)>;

    explicit FakeHttpClient(Clock& clock) : clock_(clock) {}

    /// Computes every response not covered by Script(). Default: 500 "no handler".
    void SetHandler(Handler h) { handler_ = std::move(h); }
    /// Queue a reply for the next request whose URL ends with `url_suffix` (FIFO per suffix).
    void Script(const std::string& url_suffix, FakeReply reply) { scripted_[url_suffix].push_back(std::move(reply)); }

    struct Recorded {
        HttpRequest request;
        std::int64_t started_us = 0;
    };
    const std::vector<Recorded>& Requests() const { return requests_; }
    std::size_t CountRequests(const std::string& url_suffix) const;

    /// Runs `action` from Drive once the clock reaches `at_us` (Drive wakes up for it): something
    /// that happens in the middle of a wait, e.g. a stop request.
    void At(std::int64_t at_us, std::function<void()> action) { events_.emplace_back(at_us, std::move(action)); }

    void Start(HttpRequest request, HttpCallback callback) override;
    int Drive(std::chrono::microseconds max_wait) override;
    std::size_t InFlight() const override { return inflight_.size(); }

    /// Helpers to build replies.
    static FakeReply Reply(long status, std::string body = {}, Headers headers = {}, std::int64_t latency_us = 1000);
    static FakeReply Transport(TransportError e, std::int64_t latency_us = 1000);

private:
    struct Flight {
        std::int64_t done_at_us;
        std::uint64_t seq;
        HttpResponse response;
        HttpCallback callback;
    };
    Clock& clock_;
    Handler handler_;
    std::map<std::string, std::deque<FakeReply>> scripted_;
    std::vector<Recorded> requests_;
    std::vector<Flight> inflight_;
    std::vector<std::pair<std::int64_t, std::function<void()>>> events_;
    std::uint64_t seq_ = 0;
};

}  // namespace kr::http
