// fake-esi's /_admin endpoints (stats, timeline, resets, faults, storms, runtime config, the
// expected "truth" records, mutations), and the same operations for Server's in-process API.
// Never rate-limited, never faulted.
#pragma once

#include <httplib.h>

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fakeesi {

struct ServerState;

class Admin {
public:
    explicit Admin(ServerState& st) : st_(st) {}
    void Handle(const httplib::Request& req, httplib::Response& res, bool post);

    nlohmann::json Stats() const;     // GET /_admin/stats
    nlohmann::json Timeline() const;  // GET /_admin/timeline
    nlohmann::json Config() const;    // GET /_admin/config
    // POST /_admin/config: applies the keys present; throws on bad values.
    void UpdateConfig(const nlohmann::json& j);
    void ResetStats();
    void ResetLimits();  // error window, killmail bucket, zKillboard limiter, storm
    void StartStorm(double seconds);

private:
    using Segments = std::vector<std::string_view>;
    void Truth(const httplib::Request& req, httplib::Response& res, const Segments& seg) const;
    void Mutate(const httplib::Request& req, httplib::Response& res, const Segments& seg);

    ServerState& st_;
};

}  // namespace fakeesi
