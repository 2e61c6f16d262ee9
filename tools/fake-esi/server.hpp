// fakeesi::Server: an in-process ESI + zKillboard simulator on 127.0.0.1 (cpp-httplib).
//
//   fakeesi::Options o;                 // or fakeesi::ParseArgs(argc, argv, o, err)
//   o.universe.killmails = 1000;
//   fakeesi::Server s(o);
//   s.Start();                          // listening when it returns; serves on background threads
//   s.EsiBaseUrl();                     // "http://127.0.0.1:PORT"
//   s.ZkbBaseUrl();                     // "http://127.0.0.1:PORT/zkb/api"
//   s.Stats();                          // the same JSON as GET /_admin/stats
//   s.Stop();
//
// See README.md next to this file for routes, admin endpoints and the stats JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "history_days.hpp"
#include "r2z2_feed.hpp"
#include "universe.hpp"

namespace fakeesi {

// Faults injected into ESI and zKillboard responses (never into /_admin). Shares are 0..1.
struct FaultConfig {
    double error_share = 0;     // answered 500/502/503/504 (round robin-ish), counts as an ESI error
    int latency_ms = 0;         // added to every request in scope
    int latency_jitter_ms = 0;  // plus uniform 0..jitter
    double hang_share = 0;      // never answered: held open for hang_ms, then the connection is closed
    int hang_ms = 600000;
    double truncate_share = 0;  // 200 whose body is cut off mid-transfer (Content-Length says more)
    double garbage_share = 0;   // 200 whose body is not valid JSON (HTML or cut JSON, consistent length)
    std::string scope = "all";  // "all" | "esi" | "zkb" | a route name (see README), e.g. "killmail"

    nlohmann::json ToJson() const;
    // Applies the fields present in j; throws std::invalid_argument on bad values.
    void Update(const nlohmann::json& j);
};

struct Options {
    std::string host = "127.0.0.1";  // loopback only; anything else is refused by Start()
    int port = 0;                    // 0 = any free port
    std::string port_file;           // written (atomically) once listening
    int threads = 128;               // cpp-httplib pool: one thread per keep-alive connection
    int keep_alive_seconds = 10;
    int listen_backlog = 1024;
    bool quiet = false;  // no "listening on" line from the executable

    UniverseParams universe;
    bool load_samples = true;  // universe.samples_dir empty -> DefaultSamplesDir()

    int cache_seconds = -1;  // -1 = ESI's per-route cache times; otherwise all routes use this
    int error_limit = 100;
    int error_window_seconds = 60;
    bool error_headers_on_bucket_routes = false;  // ESI: the two header sets are mutually exclusive
    int killmail_bucket_tokens = 3600;
    int killmail_bucket_window_seconds = 900;

    std::string zkb_format = "ids";  // "ids": {killmail_id, zkb}; "full": ESI killmail + zkb (2026)
    int zkb_page_size = 200;
    int zkb_max_page = 100;
    double zkb_rate = 1.0;  // requests per second; 0 = unlimited
    int zkb_missing_slash_status = 403;

    R2z2Options r2z2;        // the live feed under /r2z2 (r2z2_feed.hpp)
    HistoryOptions history;  // the per-day dumps under /r2z2/history (history_days.hpp)

    FaultConfig faults;
    int storm_seconds = 0;  // start with the error limit exhausted for N seconds
};

// Parses command-line flags into o (see Usage()). Returns false with err set on bad input;
// sets help=true for --help. Also honours FAKE_ESI_SAMPLES (samples dir) from the environment.
bool ParseArgs(int argc, const char* const* argv, Options& o, std::string& err, bool& help, bool& self_bench,
               double& bench_seconds, int& bench_connections);
std::string Usage();
std::string DefaultSamplesDir();

class Server {
public:
    explicit Server(Options opts);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    bool Start();  // false if the port cannot be bound
    void Stop();   // idempotent; also wakes hung requests
    void Wait();   // blocks until Stop() (from another thread or a signal handler thread)
    int Port() const;
    std::string BaseUrl() const;  // http://127.0.0.1:PORT  (ESI base URL)
    std::string EsiBaseUrl() const { return BaseUrl(); }
    std::string ZkbBaseUrl() const { return BaseUrl() + "/zkb/api"; }
    std::string R2z2BaseUrl() const { return BaseUrl() + "/r2z2"; }

    Universe& GetUniverse();
    const Options& GetOptions() const;

    nlohmann::json Stats() const;
    nlohmann::json Timeline() const;  // the same JSON as GET /_admin/timeline
    void ResetStats();
    void ResetLimits();  // error window, killmail bucket, zKillboard limiter, storm
    void SetFaults(const FaultConfig& f);
    FaultConfig Faults() const;
    void ClearFaults() { SetFaults(FaultConfig{}); }
    void StartErrorStorm(double seconds);        // 420 on every ESI route for that long
    void UpdateConfig(const nlohmann::json& j);  // same keys as POST /_admin/config
    nlohmann::json Config() const;
    void InvalidateCache();  // forget cached bodies and given Expires

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Starts a server and hammers it with `connections` keep-alive clients for `seconds`.
// Prints and returns requests/second.
double RunSelfBench(Options o, double seconds, int connections);

}  // namespace fakeesi
