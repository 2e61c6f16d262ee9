// `killreport demo`: starts tools/fake-esi on a free loopback port and runs the whole pipeline on
// the embedded default: user:add + queue:character → worker:zkillboard (killmails) → info workers
// (the entities those killmails reference) → scan:entities → info workers, then prints what was
// stored next to the simulator's ground truth and its request counters.
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "app/demo.hpp"
#include "core/errors.hpp"
#include "http/curl_http_client.hpp"
#include "log/log.hpp"
#include "worker/runtime.hpp"
#include "worker/scripts.hpp"
#include "worker/shutdown.hpp"

extern char** environ;

namespace kr::app {

namespace {

struct DemoFlags {
    int characters = 3;
    int history_kills = 450;
    int seed = 42;
    bool keep_db = false;
};

std::string FakeEsiBinary() {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto beside = self.parent_path() / "fake-esi";
        if (std::filesystem::exists(beside)) return beside.string();
    }
    if (std::filesystem::exists(KR_FAKE_ESI_BIN)) return KR_FAKE_ESI_BIN;
    throw FatalError("tools/fake-esi is not built (expected next to killreport); run scripts/build.sh");
}

/// The simulator as a child process, stopped when this goes out of scope.
class FakeEsiProcess {
public:
    FakeEsiProcess(const std::vector<std::string>& args) {
        char tmpl[] = "/tmp/killreport-demo-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        std::vector<std::string> argv = {FakeEsiBinary(), "--port", "0", "--port-file", dir_ + "/port", "--quiet"};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        if (posix_spawn(&pid_, cargv[0], nullptr, nullptr, cargv.data(), environ) != 0) {
            throw FatalError("cannot start " + argv[0]);
        }
        for (int i = 0; i < 200 && port_ == 0; ++i) {
            std::ifstream f(dir_ + "/port");
            if (!(f >> port_)) port_ = 0;
            if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        if (port_ == 0) throw FatalError("fake-esi did not start within 5 s");
    }
    ~FakeEsiProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::string Base() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    pid_t pid_ = -1;
    int port_ = 0;
    std::string dir_;
};

nlohmann::json GetJson(const std::string& url) {
    http::CurlHttpClient client;
    std::optional<http::HttpResponse> out;
    client.Start({"GET", url, {}, "", std::chrono::milliseconds(10000)},
                 [&](http::HttpResponse r) { out = std::move(r); });
    while (!out) client.Drive(std::chrono::milliseconds(50));
    if (!out->Ok() || out->status != 200) throw TransientError("GET " + url + " failed: " + out->error_message);
    return nlohmann::json::parse(out->body);
}

int CmdDemo(const Context& ctx_in, const DemoFlags& f) {
    auto stop = worker::InstallShutdownHandlers();
    Context ctx = ctx_in;
    auto& cfg = ctx.cfg;
    auto is_default = [&](const char* name) { return cfg.sources[name] == config::Source::kDefault; };
    std::string demo_db;
    if (is_default("DATABASE_URL")) {
        demo_db = (std::filesystem::current_path() / "killreport-demo.db").string();
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(demo_db + ext);
        cfg.database_url = "sqlite://" + demo_db;
    }
    // The simulator is ours: the demo spends a larger budget than real ESI would allow.
    if (is_default("ESI_RATE_LIMIT")) cfg.esi_rate_limit = 300;
    if (is_default("ZKILLBOARD_RATE_LIMIT")) cfg.zkillboard_rate_limit = 10;

    FakeEsiProcess fake({"--seed", std::to_string(f.seed), "--history-characters", std::to_string(f.characters),
                         "--history-kills", std::to_string(f.history_kills), "--zkb-rate",
                         std::to_string(static_cast<int>(cfg.zkillboard_rate_limit))});
    cfg.esi_base_url = fake.Base();
    cfg.zkillboard_base_url = fake.Base() + "/zkb/api";
    std::printf("demo: fake ESI + zKillboard on %s, database %s, ESI budget %.0f req/s\n", fake.Base().c_str(),
                db::MaskUrl(cfg.database_url).c_str(), cfg.esi_rate_limit);

    auto history = GetJson(fake.Base() + "/_admin/truth/history-characters");
    std::set<Id> expected_killmails;
    {
        worker::ProcessShared shared(cfg);
        worker::Runtime rt(shared, 4);
        for (const auto& id : history) {
            auto who = GetJson(fake.Base() + "/_admin/truth/character/" + std::to_string(id.get<Id>()));
            rt.Store().AddUser(id.get<Id>(), who.value("name", ""));
            for (const auto& km :
                 GetJson(fake.Base() + "/_admin/truth/characters/" + std::to_string(id.get<Id>()) + "/killmails")) {
                expected_killmails.insert(km.get<Id>());
            }
        }
        std::printf("demo: tracking %zu characters with %zu killmails on zKillboard\n", history.size(),
                    expected_killmails.size());
        worker::QueueUserCharacters(rt);
    }
    WorkerFlags run_flags;
    run_flags.until_idle = true;
    auto t0 = std::chrono::steady_clock::now();
    std::printf("demo: running every worker until the queues are empty…\n");
    RunAll(ctx, run_flags, stop);
    if (stop.stop_requested()) return 130;
    {
        worker::ProcessShared shared(cfg);
        worker::Runtime rt(shared, 4);
        auto r = worker::ScanEntities(rt, true);
        std::printf("demo: scan:entities queued %zu more entities\n", r.Total());
    }
    RunAll(ctx, run_flags, stop);
    if (stop.stop_requested()) return 130;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    auto stats = GetJson(fake.Base() + "/_admin/stats");
    auto store = store::OpenStore(cfg.database_url);
    auto stored = store->ExistingKillmailIds({expected_killmails.begin(), expected_killmails.end()});
    std::printf("\n=== demo summary (%.1f s) ===\n", secs);
    std::printf("killmails of the tracked characters stored: %zu of %zu\n", stored.size(), expected_killmails.size());
    for (const auto& [table, n] : store->Counts()) {
        std::printf("  %-28s %10lld rows\n", table.c_str(), static_cast<long long>(n));
    }
    std::printf("ESI requests: %lld (peak %lld in one second; budget %.0f/s), zKillboard requests: %lld\n",
                stats["esi_requests"].get<long long>(), stats["max_per_second"]["esi"].get<long long>(),
                cfg.esi_rate_limit, stats["zkb_requests"].get<long long>());
    std::printf(
        "420 error-limited: %lld, 429: %lld, requests for NPC characters: %lld, "
        "repeated before Expires: %lld\n",
        stats["error_limited_420"].get<long long>(), stats["rate_limited_429"].get<long long>(),
        stats["npc_character_requests"].get<long long>(),
        stats["repeated_before_expires_unconditional"].get<long long>());
    if (!demo_db.empty()) std::printf("the data is in %s (sqlite3 %s)\n", demo_db.c_str(), demo_db.c_str());
    return stored.size() == expected_killmails.size() ? 0 : 1;
}

}  // namespace

void RegisterDemo(const AddCommand& add, const Bind& bind) {
    static DemoFlags flags;
    auto* demo = add("demo", "offline end-to-end run against the bundled ESI/zKillboard simulator");
    demo->add_option("--characters", flags.characters, "tracked characters with a long zKillboard history");
    demo->add_option("--history-kills", flags.history_kills, "killmails per tracked character");
    demo->add_option("--seed", flags.seed, "the simulator's universe seed");
    bind(demo, [](const Context& c) { return CmdDemo(c, flags); });
}

}  // namespace kr::app
