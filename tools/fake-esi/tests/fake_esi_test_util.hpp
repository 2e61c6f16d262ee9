// Shared helpers for the fake-esi tests (not a test itself).
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server.hpp"

namespace fakeesi::testing {

using json = nlohmann::json;

// A small universe so that tests start fast.
inline Options SmallOptions() {
    Options o;
    o.universe.seed = 7;
    o.universe.alliances = 10;
    o.universe.corporations = 60;
    o.universe.characters = 600;
    o.universe.types = 100;
    o.universe.killmails = 1500;
    o.universe.history_characters = 3;
    o.universe.history_kills = 120;
    o.zkb_rate = 0;
    o.threads = 16;
    o.quiet = true;
    return o;
}

inline std::unique_ptr<Server> Start(const Options& o) {
    auto s = std::make_unique<Server>(o);
    if (!s->Start()) return nullptr;
    return s;
}

inline std::unique_ptr<httplib::Client> Client(const Server& s, int read_timeout_ms = 10000) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", s.Port());
    c->set_keep_alive(true);
    c->set_read_timeout(read_timeout_ms / 1000, (read_timeout_ms % 1000) * 1000);
    return c;
}

inline json Body(const httplib::Result& r) { return json::parse(r->body); }

inline std::string KillmailUrl(Server& s, std::int64_t id) {
    return "/killmails/" + std::to_string(id) + "/" + *s.GetUniverse().KillmailHash(id) + "/";
}

// Sleep until the wall clock passes an HTTP Expires/Reset second boundary plus a margin.
inline void SleepSeconds(double s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(s * 1000)));
}

inline std::int64_t ParseHttpDate(const std::string& v) {
    std::tm tm{};
    if (!strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return -1;
    return static_cast<std::int64_t>(timegm(&tm));
}

inline std::int64_t NowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Sleeps until the given epoch second has passed (plus a small margin).
inline void SleepUntilEpoch(std::int64_t epoch_s) {
    auto target = std::chrono::system_clock::time_point(std::chrono::seconds(epoch_s)) + std::chrono::milliseconds(50);
    std::this_thread::sleep_until(target);
}

}  // namespace fakeesi::testing
