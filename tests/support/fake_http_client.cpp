#include "support/fake_http_client.hpp"

#include <algorithm>

namespace kr::http {

std::size_t FakeHttpClient::CountRequests(const std::string& url_suffix) const {
    return static_cast<std::size_t>(std::count_if(requests_.begin(), requests_.end(), [&](const Recorded& r) {
        const auto& u = r.request.url;
        return u.size() >= url_suffix.size() &&
               u.compare(u.size() - url_suffix.size(), url_suffix.size(), url_suffix) == 0;
    }));
}

FakeReply FakeHttpClient::Reply(long status, std::string body, Headers headers, std::int64_t latency_us) {
    FakeReply r;
    r.response.status = status;
    r.response.body = std::move(body);
    r.response.headers = std::move(headers);
    for (auto& [k, v] : r.response.headers) {
        std::transform(k.begin(), k.end(), k.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    r.latency_us = latency_us;
    return r;
}

FakeReply FakeHttpClient::Transport(TransportError e, std::int64_t latency_us) {
    FakeReply r;
    r.response.transport = e;
    r.response.error_message = std::string("fake ") + std::string(ToString(e));
    r.latency_us = latency_us;
    return r;
}

void FakeHttpClient::Start(HttpRequest request, HttpCallback callback) {
    requests_.push_back({request, clock_.NowUs()});
    std::optional<FakeReply> reply;
    for (auto& [suffix, q] : scripted_) {
        const auto& u = request.url;
        if (!q.empty() && u.size() >= suffix.size() &&
            u.compare(u.size() - suffix.size(), suffix.size(), suffix) == 0) {
            reply = std::move(q.front());
            q.pop_front();
            break;
        }
    }
    if (!reply) reply = handler_ ? handler_(request) : Reply(500, "{\"error\":\"no handler\"}");
    if (reply->response.transport != TransportError::kNone) reply->response.status = 0;
    reply->response.elapsed_us = reply->latency_us;
    inflight_.push_back({clock_.NowUs() + reply->latency_us, seq_++, std::move(reply->response), std::move(callback)});
}

int FakeHttpClient::Drive(std::chrono::microseconds max_wait) {
    const std::int64_t now = clock_.NowUs();
    std::int64_t next = now + std::max<std::int64_t>(0, max_wait.count());
    for (const auto& f : inflight_) next = std::min(next, f.done_at_us);
    for (const auto& e : events_) next = std::min(next, std::max(now, e.first));
    if (next > now) clock_.SleepFor(next - now);
    const std::int64_t t = clock_.NowUs();
    // Events first (an action may add more): what happens at t precedes the answers due at t.
    auto later = std::stable_partition(events_.begin(), events_.end(), [t](const auto& e) { return e.first > t; });
    std::vector<std::pair<std::int64_t, std::function<void()>>> due(std::make_move_iterator(later),
                                                                    std::make_move_iterator(events_.end()));
    events_.erase(later, events_.end());
    for (auto& [at, action] : due) action();
    std::vector<Flight> done;
    for (auto it = inflight_.begin(); it != inflight_.end();) {
        if (it->done_at_us <= t) {
            done.push_back(std::move(*it));
            it = inflight_.erase(it);
        } else {
            ++it;
        }
    }
    std::sort(done.begin(), done.end(), [](const Flight& a, const Flight& b) {
        return a.done_at_us != b.done_at_us ? a.done_at_us < b.done_at_us : a.seq < b.seq;
    });
    for (auto& f : done) f.callback(std::move(f.response));
    return static_cast<int>(done.size());
}

}  // namespace kr::http
