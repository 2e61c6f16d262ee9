// `killreport demo`: starts tools/fake-esi on a free loopback port and runs the whole pipeline on
// the embedded default: user:add + queue:character → worker:zkillboard (killmails) → info workers
// (the entities those killmails reference) → scan:entities → info workers, then prints what was
// stored next to the simulator's ground truth and its request counters.
//
// It never touches the configured database or broker (DATABASE_URL, RABBITMQ_URL and their global
// flags): it writes killreport-demo.db in the current directory (replaced on each run) with the
// queue in it, unless its own --database / --rabbitmq say otherwise.
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

#include "app/arguments.hpp"
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
    std::string database;  ///< a SQLite file or a database URL; empty: ./killreport-demo.db, made anew
    std::string rabbitmq;  ///< amqp://…; empty: the queue in the demo's database
};

/// The demo's own database and queue in `cfg`; returns the SQLite file it made anew (or "").
std::string UseDemoStorage(config::Config& cfg, const DemoFlags& f) {
    auto configured = [&](const char* name) {
        auto it = cfg.sources.find(name);
        return it != cfg.sources.end() && it->second != config::Source::kDefault;
    };
    if (configured("DATABASE_URL") || configured("RABBITMQ_URL")) {
        std::printf("demo: DATABASE_URL and RABBITMQ_URL are left alone (the demo's own: --database, --rabbitmq)\n");
    }
    std::string fresh_file;
    const std::string& d = f.database;
    if (d.empty()) {
        fresh_file = (std::filesystem::current_path() / "killreport-demo.db").string();
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(fresh_file + ext);
        cfg.database_url = "sqlite://" + fresh_file;
    } else if (d.rfind("postgresql://", 0) == 0 || d.rfind("postgres://", 0) == 0 || d.rfind("sqlite:", 0) == 0) {
        cfg.database_url = d;
    } else {
        cfg.database_url = "sqlite://" + std::filesystem::absolute(d).string();
    }
    cfg.rabbitmq_url.reset();
    if (!f.rabbitmq.empty()) {
        if (f.rabbitmq.rfind("amqp://", 0) != 0) throw FatalError("demo --rabbitmq: not an amqp:// URL");
        cfg.rabbitmq_url = f.rabbitmq;
        // As config::Load: the broker's ack is not in the SQLite file, a commit is synced before it.
        if (!cfg.UsesPostgres() && cfg.database_url.find('?') == std::string::npos) {
            cfg.database_url += "?synchronous=full";
        }
    }
    cfg.sources["DATABASE_URL"] = config::Source::kFlag;
    cfg.sources["RABBITMQ_URL"] = config::Source::kFlag;
    return fresh_file;
}

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
        // It builds its universe first (seconds on a slow or sanitizer build); a child that died is
        // not waited for.
        for (int i = 0; i < 1200 && port_ == 0; ++i) {
            std::ifstream f(dir_ + "/port");
            if (!(f >> port_)) port_ = 0;
            if (port_ != 0) break;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = 0;
                throw FatalError("fake-esi exited before it listened (status " + std::to_string(status) + ")");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        if (port_ == 0) {
            ::kill(pid_, SIGTERM);  // (a constructor that throws runs no destructor)
            ::waitpid(pid_, nullptr, 0);
            throw FatalError("fake-esi did not start within 30 s");
        }
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
    const std::string demo_db = UseDemoStorage(cfg, f);
    // The simulator is ours: the demo spends a larger budget than real ESI would allow.
    if (is_default("ESI_RATE_LIMIT")) cfg.esi_rate_limit = 300;
    if (is_default("ZKILLBOARD_RATE_LIMIT")) cfg.zkillboard_rate_limit = 10;

    FakeEsiProcess fake({"--seed", std::to_string(f.seed), "--history-characters", std::to_string(f.characters),
                         "--history-kills", std::to_string(f.history_kills), "--zkb-rate",
                         std::to_string(static_cast<int>(cfg.zkillboard_rate_limit))});
    cfg.esi_base_url = fake.Base();
    cfg.zkillboard_base_url = fake.Base() + "/zkb/api";
    std::printf("demo: fake ESI + zKillboard on %s, database %s, queue %s, ESI budget %.0f req/s\n",
                fake.Base().c_str(), db::MaskUrl(cfg.database_url).c_str(),
                cfg.rabbitmq_url ? db::MaskUrl(*cfg.rabbitmq_url).c_str() : "in the database", cfg.esi_rate_limit);

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
    demo->add_option("--characters", flags.characters, "tracked characters with a long zKillboard history")
        ->type_name("N")
        ->check(WholeArgument("--characters", 1, 1000));
    demo->add_option("--history-kills", flags.history_kills, "killmails per tracked character")
        ->type_name("N")
        ->check(WholeArgument("--history-kills", 1, 1000000));
    demo->add_option("--seed", flags.seed, "the simulator's universe seed")
        ->type_name("N")
        ->check(WholeArgument("--seed", 0, 2147483647));
    demo->add_option("--database", flags.database,
                     "its database: a SQLite file or a postgresql:// URL, used as it is (default: "
                     "killreport-demo.db here, made anew; never DATABASE_URL)")
        ->type_name("FILE|URL");
    demo->add_option("--rabbitmq", flags.rabbitmq,
                     "its broker (default: the queue in its database; never RABBITMQ_URL)")
        ->type_name("URL");
    bind(demo, [](const Context& c) { return CmdDemo(c, flags); });
}

}  // namespace kr::app
