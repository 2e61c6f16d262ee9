// Command-line parsing for the fake-esi executable (kept in the library so tests can use it).
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "server.hpp"

#ifndef KR_SAMPLES_DIR
#define KR_SAMPLES_DIR ""
#endif

namespace fakeesi {

std::string DefaultSamplesDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (const char* env = std::getenv("FAKE_ESI_SAMPLES"); env && *env) return env;
    if (fs::is_directory(KR_SAMPLES_DIR, ec)) return KR_SAMPLES_DIR;
    for (const char* rel : {"tests/fixtures/samples", "../shared/samples", "../../shared/samples", "shared/samples"})
        if (fs::is_directory(rel, ec)) return fs::absolute(rel, ec).string();
    return "";
}

std::string Usage() {
    return R"(usage: fake-esi [flags]        (flags take "--name value" or "--name=value")
server:
  --port N                     port on 127.0.0.1 (0 = any free port; default 0)
  --port-file PATH             write the chosen port here once listening
  --threads N                  worker threads (one per keep-alive connection; default 128)
  --keep-alive-seconds N       idle keep-alive timeout (default 10)
  --backlog N                  listen backlog (default 1024)
  --quiet                      do not print the "listening" line
  --self-bench                 run a local throughput benchmark and exit
  --bench-seconds S            (default 3)     --bench-connections N (default 8)
data (deterministic from the seed):
  --seed N (42)  --alliances N (50)  --corporations N (500)  --npc-corporations N (20)
  --characters N (5000)  --npc-characters N (50)  --types N (300)  --killmails N (20000)
  --history-characters N (5)   characters with a long zKillboard history ...
  --history-kills N (450)      ... each on this many extra killmails (450 = 3 pages of 200)
  --int32-ids                  every generated id below 2^31 (a database the original created)
  --regions N (4) --constellations-per-region N (3) --systems-per-constellation N (4)
                               the map (/universe/); the last region is wormhole space
  --samples DIR                real ESI samples served for their ids (env FAKE_ESI_SAMPLES;
                               default: the repository's tests/fixtures/samples)
  --no-samples
ESI manners:
  --cache-seconds N            cache time of every route (default: ESI's per-route times)
  --error-limit N (100)  --error-window-seconds N (60)
  --error-headers-everywhere   also send X-ESI-Error-Limit-* on the killmail (bucket) route
  --killmail-bucket-tokens N (3600)  --killmail-bucket-window-seconds N (900)
zKillboard (under /zkb/api):
  --zkb-format ids|full        ids = {killmail_id, zkb} (2018-2026), full = ESI killmail + zkb (2026)
  --zkb-page-size N (200)  --zkb-max-page N (100)  --zkb-rate R (req/s, 0 = off; default 1)
  --zkb-missing-slash-status N (403)
R2Z2 live feed (under /r2z2; also at runtime: POST /_admin/r2z2):
  --r2z2-first-sequence N (96000000)  --r2z2-backlog N (-1 = every killmail at start)
  --r2z2-kill-rate R (killmails uploaded per second after the backlog; 0)
  --r2z2-keep N (sequences kept, older ones expire; 0 = all)  --r2z2-rate R (req/s before a 429; 15)
zKillboard's per-day dumps (under /r2z2/history: totals.json, YYYYMMDD.json, raw/YYYYMMDD.json):
  --history-raw-from YYYYMMDD (first day with a raw dump; default every day)
  --history-ccp-verified-every N (every Nth killmail id's hash is "CCP VERIFIED"; 0 = none)
faults (also at runtime: POST /_admin/faults):
  --fault-error-share X  --fault-latency-ms N  --fault-latency-jitter-ms N
  --fault-hang-share X   --fault-hang-ms N (600000)  --fault-truncate-share X
  --fault-garbage-share X  --fault-scope all|esi|zkb|<route>  --storm-seconds N
)";
}

bool ParseArgs(int argc, const char* const* argv, Options& o, std::string& err, bool& help, bool& self_bench,
               double& bench_seconds, int& bench_connections) {
    help = false;
    self_bench = false;
    auto toi = [](const std::string& v) {
        std::size_t pos = 0;
        long long x = std::stoll(v, &pos);
        if (pos != v.size()) throw std::invalid_argument("not an integer: " + v);
        return x;
    };
    auto tod = [](const std::string& v) {
        std::size_t pos = 0;
        double x = std::stod(v, &pos);
        if (pos != v.size()) throw std::invalid_argument("not a number: " + v);
        return x;
    };
    auto share = [&](const std::string& v) {
        double x = tod(v);
        if (x < 0 || x > 1) throw std::invalid_argument("share must be in [0,1]: " + v);
        return x;
    };
    auto nonneg = [&](const std::string& v) {
        long long x = toi(v);
        if (x < 0 || x > 2000000000) throw std::invalid_argument("out of range: " + v);
        return static_cast<int>(x);
    };
    using Setter = std::function<void(const std::string&)>;
    std::map<std::string, Setter> with_value = {
        {"port", [&](auto& v) { o.port = nonneg(v); }},
        {"port-file", [&](auto& v) { o.port_file = v; }},
        {"host", [&](auto& v) { o.host = v; }},
        {"threads", [&](auto& v) { o.threads = nonneg(v); }},
        {"keep-alive-seconds", [&](auto& v) { o.keep_alive_seconds = nonneg(v); }},
        {"backlog", [&](auto& v) { o.listen_backlog = nonneg(v); }},
        {"bench-seconds", [&](auto& v) { bench_seconds = tod(v); }},
        {"bench-connections", [&](auto& v) { bench_connections = nonneg(v); }},
        {"seed", [&](auto& v) { o.universe.seed = static_cast<std::uint64_t>(toi(v)); }},
        {"alliances", [&](auto& v) { o.universe.alliances = nonneg(v); }},
        {"corporations", [&](auto& v) { o.universe.corporations = nonneg(v); }},
        {"npc-corporations", [&](auto& v) { o.universe.npc_corporations = nonneg(v); }},
        {"characters", [&](auto& v) { o.universe.characters = nonneg(v); }},
        {"npc-characters", [&](auto& v) { o.universe.npc_characters = nonneg(v); }},
        {"types", [&](auto& v) { o.universe.types = nonneg(v); }},
        {"killmails", [&](auto& v) { o.universe.killmails = nonneg(v); }},
        {"history-characters", [&](auto& v) { o.universe.history_characters = nonneg(v); }},
        {"history-kills", [&](auto& v) { o.universe.history_kills = nonneg(v); }},
        {"regions", [&](auto& v) { o.universe.regions = std::max(1, nonneg(v)); }},
        {"constellations-per-region", [&](auto& v) { o.universe.constellations_per_region = std::max(1, nonneg(v)); }},
        {"systems-per-constellation", [&](auto& v) { o.universe.systems_per_constellation = std::max(1, nonneg(v)); }},
        {"samples",
         [&](auto& v) {
             o.universe.samples_dir = v;
             o.load_samples = true;
         }},
        {"cache-seconds", [&](auto& v) { o.cache_seconds = nonneg(v); }},
        {"error-limit", [&](auto& v) { o.error_limit = nonneg(v); }},
        {"error-window-seconds", [&](auto& v) { o.error_window_seconds = std::max(1, nonneg(v)); }},
        {"killmail-bucket-tokens", [&](auto& v) { o.killmail_bucket_tokens = nonneg(v); }},
        {"killmail-bucket-window-seconds", [&](auto& v) { o.killmail_bucket_window_seconds = std::max(1, nonneg(v)); }},
        {"zkb-format",
         [&](auto& v) {
             if (v != "ids" && v != "full") throw std::invalid_argument("--zkb-format must be ids or full");
             o.zkb_format = v;
         }},
        {"zkb-page-size", [&](auto& v) { o.zkb_page_size = std::max(1, nonneg(v)); }},
        {"zkb-max-page", [&](auto& v) { o.zkb_max_page = std::max(1, nonneg(v)); }},
        {"zkb-rate", [&](auto& v) { o.zkb_rate = tod(v); }},
        {"zkb-missing-slash-status", [&](auto& v) { o.zkb_missing_slash_status = nonneg(v); }},
        {"r2z2-first-sequence", [&](auto& v) { o.r2z2.first_sequence = std::max<long long>(1, toi(v)); }},
        {"r2z2-backlog", [&](auto& v) { o.r2z2.backlog = static_cast<int>(std::max<long long>(-1, toi(v))); }},
        {"r2z2-kill-rate", [&](auto& v) { o.r2z2.kill_rate = tod(v); }},
        {"r2z2-keep", [&](auto& v) { o.r2z2.keep = nonneg(v); }},
        {"r2z2-rate", [&](auto& v) { o.r2z2.poll_rate = tod(v); }},
        {"history-raw-from", [&](auto& v) { o.history.raw_from = v; }},
        {"history-ccp-verified-every", [&](auto& v) { o.history.ccp_verified_every = nonneg(v); }},
        {"fault-error-share", [&](auto& v) { o.faults.error_share = share(v); }},
        {"fault-latency-ms", [&](auto& v) { o.faults.latency_ms = nonneg(v); }},
        {"fault-latency-jitter-ms", [&](auto& v) { o.faults.latency_jitter_ms = nonneg(v); }},
        {"fault-hang-share", [&](auto& v) { o.faults.hang_share = share(v); }},
        {"fault-hang-ms", [&](auto& v) { o.faults.hang_ms = nonneg(v); }},
        {"fault-truncate-share", [&](auto& v) { o.faults.truncate_share = share(v); }},
        {"fault-garbage-share", [&](auto& v) { o.faults.garbage_share = share(v); }},
        {"fault-scope", [&](auto& v) { o.faults.scope = v; }},
        {"storm-seconds", [&](auto& v) { o.storm_seconds = nonneg(v); }},
    };
    std::map<std::string, std::function<void()>> flags = {
        {"help", [&] { help = true; }},
        {"quiet", [&] { o.quiet = true; }},
        {"int32-ids", [&] { o.universe.int32_ids = true; }},
        {"self-bench", [&] { self_bench = true; }},
        {"no-samples",
         [&] {
             o.load_samples = false;
             o.universe.samples_dir.clear();
         }},
        {"error-headers-everywhere", [&] { o.error_headers_on_bucket_routes = true; }},
    };
    try {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "-h") a = "--help";
            if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument: " + a);
            a = a.substr(2);
            std::string value;
            bool has_value = false;
            if (auto eq = a.find('='); eq != std::string::npos) {
                value = a.substr(eq + 1);
                a = a.substr(0, eq);
                has_value = true;
            }
            if (auto f = flags.find(a); f != flags.end()) {
                if (has_value) throw std::invalid_argument("--" + a + " takes no value");
                f->second();
                continue;
            }
            auto w = with_value.find(a);
            if (w == with_value.end()) throw std::invalid_argument("unknown flag --" + a);
            if (!has_value) {
                if (i + 1 >= argc) throw std::invalid_argument("--" + a + " needs a value");
                value = argv[++i];
            }
            w->second(value);
        }
        if (o.host != "127.0.0.1" && o.host != "localhost")
            throw std::invalid_argument("--host: only 127.0.0.1 is allowed");
    } catch (const std::exception& e) {
        err = e.what();
        return false;
    }
    return true;
}

}  // namespace fakeesi
