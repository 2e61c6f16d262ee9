#include "faults.hpp"

#include <httplib.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "http_util.hpp"
#include "routes.hpp"
#include "universe.hpp"

namespace fakeesi {
namespace {

// deterministic per-request dice in [0, 1)
double Dice(std::uint64_t n, std::uint64_t salt) {
    return static_cast<double>(Mix64(n * 0x9e3779b97f4a7c15ULL ^ salt) >> 11) * (1.0 / 9007199254740992.0);
}

bool InScope(const FaultConfig& f, int route) {
    if (f.scope == "all" || f.scope.empty()) return true;
    if (f.scope == "esi") return !IsZkb(route);
    if (f.scope == "zkb") return IsZkb(route);
    return f.scope == RouteName(route);
}

}  // namespace

nlohmann::json FaultConfig::ToJson() const {
    return {{"error_share", error_share},
            {"latency_ms", latency_ms},
            {"latency_jitter_ms", latency_jitter_ms},
            {"hang_share", hang_share},
            {"hang_ms", hang_ms},
            {"truncate_share", truncate_share},
            {"garbage_share", garbage_share},
            {"scope", scope}};
}

void FaultConfig::Update(const nlohmann::json& j) {
    auto share = [&](const char* k, double& v) {
        if (!j.contains(k)) return;
        double x = j[k].get<double>();
        if (x < 0 || x > 1) throw std::invalid_argument(std::string(k) + " must be in [0,1]");
        v = x;
    };
    auto ms = [&](const char* k, int& v) {
        if (!j.contains(k)) return;
        int x = j[k].get<int>();
        if (x < 0) throw std::invalid_argument(std::string(k) + " must be >= 0");
        v = x;
    };
    share("error_share", error_share);
    share("hang_share", hang_share);
    share("truncate_share", truncate_share);
    share("garbage_share", garbage_share);
    ms("latency_ms", latency_ms);
    ms("latency_jitter_ms", latency_jitter_ms);
    ms("hang_ms", hang_ms);
    if (j.contains("scope")) scope = j["scope"].get<std::string>();
}

// ---- FaultInjector -----------------------------------------------------------------------------
void FaultInjector::Set(const FaultConfig& f) {
    std::lock_guard lk(mu_);
    config_ = f;
    active_ = f.error_share > 0 || f.latency_ms > 0 || f.latency_jitter_ms > 0 || f.hang_share > 0 ||
              f.truncate_share > 0 || f.garbage_share > 0;
}

FaultConfig FaultInjector::Get() const {
    std::lock_guard lk(mu_);
    return config_;
}

FaultInjector::Request FaultInjector::Begin(int route) { return Request(*this, route, next_request_++); }

void FaultInjector::ResetCounters() {
    for (Counter* c : {&errors_, &hangs_, &truncated_, &garbage_, &delayed_}) *c = 0;
}

nlohmann::json FaultInjector::CountersJson() const {
    return {{"5xx", errors_.load()},
            {"hang", hangs_.load()},
            {"truncated", truncated_.load()},
            {"garbage", garbage_.load()},
            {"delayed", delayed_.load()}};
}

// ---- one request -------------------------------------------------------------------------------
FaultInjector::Request::Request(FaultInjector& owner, int route, std::uint64_t n)
    : owner_(owner), route_(route), n_(n) {
    if (owner.active_.load(std::memory_order_relaxed)) {
        f_ = owner.Get();
        on_ = InScope(f_, route);
    }
}

bool FaultInjector::Request::Delay() {
    if (!on_ || (f_.latency_ms <= 0 && f_.latency_jitter_ms <= 0)) return false;
    ++owner_.delayed_;
    int ms = f_.latency_ms;
    if (f_.latency_jitter_ms > 0)
        ms += static_cast<int>(Mix64(n_) % static_cast<std::uint64_t>(f_.latency_jitter_ms + 1));
    owner_.stop_.SleepFor(ms);
    return true;
}

bool FaultInjector::Request::Hang(httplib::Response& res) {
    if (!on_ || !(f_.hang_share > 0 && Dice(n_, 0x4a4e) < f_.hang_share)) return false;
    ++owner_.hangs_;
    owner_.stop_.SleepFor(f_.hang_ms);
    res.status = 504;
    res.set_header("Connection", "close");
    return true;
}

int FaultInjector::Request::Fail(httplib::Response& res) {
    if (!on_ || !(f_.error_share > 0 && Dice(n_, 0x5e5e) < f_.error_share)) return 0;
    ++owner_.errors_;
    static const int kCodes[] = {500, 502, 503, 504};
    static const char* const kEsiMessages[] = {"Internal server error", "Bad gateway",
                                               "The datasource tranquility is temporarily unavailable",
                                               "Timeout contacting tranquility"};
    const auto k = static_cast<std::size_t>(Mix64(n_ ^ 0x77) % 4);
    const int status = kCodes[k];
    if (IsZkb(route_)) {
        res.status = status;
        res.set_content("<html><body><h1>" + std::to_string(status) + "</h1>cloudflare</body></html>", "text/html");
    } else {
        SetError(res, status, kEsiMessages[k]);
    }
    return status;
}

void FaultInjector::Request::Corrupt(httplib::Response& res, const char* content_type) {
    if (!on_) return;
    const std::string& body = res.body;
    if (f_.truncate_share > 0 && Dice(n_, 0x7401) < f_.truncate_share && body.size() > 1) {
        ++owner_.truncated_;
        auto shared = std::make_shared<std::string>(body);
        const std::size_t half = body.size() / 2;
        res.body.clear();  // otherwise httplib writes the body and ignores the provider
        res.set_content_provider(shared->size(), content_type,
                                 [shared, half](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                                     if (offset >= half) return false;  // abort: the connection is closed mid-body
                                     sink.write(shared->data() + offset, std::min(length, half - offset));
                                     return true;
                                 });
        res.set_header("Connection", "close");
        return;
    }
    if (f_.garbage_share > 0 && Dice(n_, 0x6a7b) < f_.garbage_share) {
        ++owner_.garbage_;
        if (n_ % 2 == 0) {
            res.set_content(
                "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
                "Gateway</h1></center><hr><center>nginx</center></body></html>",
                "text/html");
        } else {
            res.set_content(body.substr(0, body.size() / 2), content_type);
        }
    }
}

}  // namespace fakeesi
