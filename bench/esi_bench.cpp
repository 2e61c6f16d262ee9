// ESI client benchmark against the in-process fake-esi:
//  1. paced: budget R req/s (default 50) with plenty of work queued -> share of the budget used and
//     the server-side maximum in any 1-s window (must be <= R). --db URL shares the budget through
//     a database (SQLite or PostgreSQL) instead of in-process.
//  2. unpaced: budget off -> requests/s through one client on one thread (client CPU reported).
//
// usage: esi_bench [--rate 50] [--paced 600] [--db URL] [--procs 1] [--unpaced 40000] [--conc 32]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "core/esi_paths.hpp"
#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "esi/esi_client.hpp"
#include "http/curl_http_client.hpp"
#include "server.hpp"

using namespace kr;
using namespace kr::esi;

namespace {

double ThreadCpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Run {
    int done = 0;
    int ok = 0;
    std::int64_t first_send_us = 0;
    std::int64_t last_send_us = 0;
};

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): a benchmark dies on an error
    double rate = 50;
    int paced = 600, unpaced = 40000, conc = 32;
    std::string db;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--rate")
            rate = std::stod(argv[i + 1]);
        else if (a == "--paced")
            paced = std::stoi(argv[i + 1]);
        else if (a == "--unpaced")
            unpaced = std::stoi(argv[i + 1]);
        else if (a == "--conc")
            conc = std::stoi(argv[i + 1]);
        else if (a == "--db")
            db = argv[i + 1];
    }
    fakeesi::Options so;
    so.quiet = true;
    so.universe.characters = 5000;
    so.universe.killmails = 2000;
    fakeesi::Server server(so);
    if (!server.Start()) {
        std::fprintf(stderr, "cannot start fake-esi\n");
        return 1;
    }
    auto chars = server.GetUniverse().AllCharacterIds();
    if (!db.empty()) {
        auto c = db::Open(db);
        db::Migrate(*c);
        c->Exec("DELETE FROM kr_rate_state WHERE key LIKE 'bench:%'");
    }

    // ---- 1. paced ----
    if (paced > 0) {
        auto budget = MakeBudget(db);
        http::CurlHttpClient http;
        EsiOptions o;
        o.base_url = server.EsiBaseUrl();
        o.rate_limit = rate;
        o.budget_key = "bench:paced";
        EsiClient esi(o, http, *budget);
        server.ResetStats();
        Run run;
        for (int i = 0; i < paced; ++i) {
            esi.Submit(
                {"GET", esi_paths::Character(chars[static_cast<std::size_t>(i) % chars.size()]), "", std::nullopt},
                [&](EsiResult r) {
                    ++run.done;
                    run.ok += r.outcome == Outcome::kOk;
                });
        }
        const auto t0 = std::chrono::steady_clock::now();
        while (!esi.Idle()) esi.Drive(std::chrono::milliseconds(50));
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        auto st = server.Stats();
        const int reqs = st["esi_requests"].get<int>();
        const int max1s = st["max_per_second"]["esi"].get<int>();
        // Budget share: requests over the time they took, relative to the budget (the first request
        // goes at t=0, so N requests need (N-1) intervals).
        const auto es = esi.Stats();
        const double span = static_cast<double>(es.last_send_us - es.first_send_us) / 1e6;
        const double used = static_cast<double>(reqs - 1) / (span * rate);
        std::printf(
            "paced: budget %.0f/s (%s), %d requests (%d ok); sends span %.2f s (wall %.2f s) -> %.1f%% of "
            "the budget; slots dropped %lld; server max in any 1-s window: %d (limit %.0f); 420s: %d\n",
            rate, db.empty() ? "in-process" : "database", reqs, run.ok, span, secs, used * 100,
            static_cast<long long>(es.slots_dropped), max1s, rate, st["error_limited_420"].get<int>());
    }

    // ---- 2. unpaced ----
    if (unpaced > 0) {
        auto budget = std::make_shared<InProcessBudget>();
        http::CurlOptions co;
        co.max_concurrency = conc;
        co.max_host_connections = conc;
        http::CurlHttpClient http(co);
        EsiOptions o;
        o.base_url = server.EsiBaseUrl();
        o.rate_limit = 0;
        o.max_concurrency = conc;
        o.budget_key = "bench:unpaced";
        EsiClient esi(o, http, *budget);
        // warm-up: open the connections
        for (int i = 0; i < conc; ++i)
            esi.Submit({"GET", esi_paths::Character(chars[static_cast<std::size_t>(i)]), "", std::nullopt}, nullptr);
        while (!esi.Idle()) esi.Drive(std::chrono::milliseconds(50));
        server.ResetStats();
        int ok = 0;
        const double cpu0 = ThreadCpuSeconds();
        const auto t0 = std::chrono::steady_clock::now();
        int submitted = 0;
        // keep ~4x concurrency queued so the client never starves
        while (submitted < unpaced || !esi.Idle()) {
            while (submitted < unpaced && esi.Pending() < static_cast<std::size_t>(conc) * 4) {
                esi.Submit({"GET", esi_paths::Character(chars[static_cast<std::size_t>(submitted) % chars.size()]), "",
                            std::nullopt},
                           [&](EsiResult r) { ok += r.outcome == Outcome::kOk; });
                ++submitted;
            }
            esi.Drive(std::chrono::milliseconds(20));
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = ThreadCpuSeconds() - cpu0;
        std::printf(
            "unpaced: %d requests (%d ok), concurrency %d: %.0f req/s; client thread CPU %.2f s "
            "(%.0f req per CPU-second); new connections: %ld\n",
            unpaced, ok, conc, unpaced / secs, cpu, unpaced / cpu, http.ConnectionsOpened());
    }
    server.Stop();
    return 0;
}
