// End to end: `run` against tools/fake-esi serves /metrics on KILLREPORT_METRICS_ADDR; once the
// synced characters' history is stored, a scrape (read as Prometheus reads it) has every family
// issue 16 lists, and its counts agree with the simulator's own request counts and the database.
#include <signal.h>

#include <chrono>
#include <regex>
#include <set>

#include <netinet/in.h>
#include <sys/socket.h>

#include "app/worker_commands.hpp"
#include "e2e/fault_harness.hpp"
#include "e2e/live_cases.hpp"
#include "e2e/pipeline_cases.hpp"
#include "esi/client_metrics.hpp"
#include "store/rows_written.hpp"
#include "support/prometheus_text.hpp"
#include "support/test_env.hpp"
#include "worker/process_metrics.hpp"
#include "worker/status_beat.hpp"

namespace kr::test {
namespace {

using Families = std::map<std::string, PromFamily>;

double Total(const Families& f, const std::string& family, const std::map<std::string, std::string>& match = {}) {
    auto it = f.find(family);
    return it == f.end() ? 0 : it->second.Sum(family, match);
}

TEST(MetricsE2e, RunServesEveryFamilyWithTheSimulatorsCounts) {
    TempDir dir;
    const std::string db = "sqlite://" + dir.Path() + "/kr.db";
    Pipeline p({db, ""}, SmallUniverse());
    auto history = p.Get("/_admin/truth/history-characters");
    ASSERT_TRUE(history.is_array() && history.size() == 2);
    for (const auto& id : history) p.Kr("user:add --name Pilot " + std::to_string(id.get<Id>()));  // no ESI lookup
    p.Kr("queue:character");

    // A real budget (so its limit and tokens are exported), port 0: a free one, logged.
    const std::string env = p.Env() + "ESI_RATE_LIMIT=400 LOG_LEVEL=info KILLREPORT_UNIVERSE_CHECK=0 ";
    faults::Proc run("run", "env " + env + KR_KILLREPORT_BIN " --metrics-addr 127.0.0.1:0 run", dir.Path() + "/log");
    run.Start();
    int port = 0;
    ASSERT_TRUE(faults::WaitFor([&] { return (port = faults::LoggedPort(run.Log(), "metrics")) > 0; },
                                std::chrono::seconds(30)))
        << run.LogTail();
    httplib::Client scraper("127.0.0.1", port);
    auto scrape = [&]() -> Families {
        auto res = scraper.Get("/metrics");
        if (!res || res->status != 200) return {};
        return ParsePrometheusText(res->body);  // throws (fails the test) on anything Prometheus rejects
    };

    // Done = the killmails stored, then nothing ready, unacked or retrying and no message settled
    // between three scrapes in a row.
    std::set<Id> killmail_ids;
    for (const auto& c : history) {
        for (const auto& km : p.Get("/_admin/truth/characters/" + std::to_string(c.get<Id>()) + "/killmails"))
            killmail_ids.insert(km.get<Id>());
    }
    ASSERT_TRUE(faults::WaitFor(
        [&] { return p.Count("SELECT count(*) FROM killmails") == static_cast<std::int64_t>(killmail_ids.size()); },
        std::chrono::seconds(180), std::chrono::milliseconds(250)))
        << run.LogTail();
    Families f;
    double last_settled = -1;
    int quiet = 0;
    ASSERT_TRUE(faults::WaitFor(
        [&] {
            f = scrape();
            const double waiting = Total(f, worker::metric::kQueueMessages, {{"state", "ready"}}) +
                                   Total(f, worker::metric::kQueueMessages, {{"state", "unacked"}}) +
                                   Total(f, worker::metric::kQueueMessages, {{"state", "retrying"}});
            const double settled = Total(f, worker::metric::kSettled);
            quiet = (!f.empty() && waiting == 0 && settled == last_settled) ? quiet + 1 : 0;
            last_settled = settled;
            return quiet >= 3;
        },
        std::chrono::seconds(180), std::chrono::milliseconds(500)))
        << run.LogTail();
    const auto truth = p.Get("/_admin/stats");

    // Every family of issue 16, item 1.
    for (const char* family :
         {worker::metric::kSettled, worker::metric::kQueueMessages, esi::metric::kEsiRequests, esi::metric::kEsiLatency,
          esi::metric::kEsiCache, esi::metric::kBudgetUsed, worker::metric::kBudgetLimit,
          worker::metric::kErrorLimitRemaining, worker::metric::kErrorLimitReset, worker::metric::kPauseRemaining,
          esi::metric::kPauses, store::kRowsWrittenMetric, esi::metric::kZkbPages, "process_cpu_seconds_total",
          "process_resident_memory_bytes", "process_start_time_seconds"}) {
        EXPECT_EQ(f.count(family), 1u) << family;
    }
    ASSERT_TRUE(f.count(esi::metric::kEsiRequests) && f.count(esi::metric::kZkbPages));

    // ESI: every answer the simulator gave is counted once, by status; the budget spent one token each.
    const double answered = Total(f, esi::metric::kEsiRequests);
    EXPECT_EQ(answered, truth["esi_requests"].get<double>());
    // By status: the simulator's ESI routes' answers (its zKillboard routes start with "zkb_").
    for (const char* status : {"200", "304", "404"}) {
        double esi_answers = 0;
        for (const auto& [route, r] : truth["routes"].items()) {
            if (route.rfind("zkb_", 0) != 0 && route != "admin") esi_answers += r["by_status"].value(status, 0.0);
        }
        EXPECT_EQ(Total(f, esi::metric::kEsiRequests, {{"status", status}}), esi_answers) << status;
    }
    EXPECT_GT(Total(f, esi::metric::kEsiRequests, {{"status", "200"}}), 0);
    EXPECT_EQ(Total(f, esi::metric::kBudgetUsed, {{"budget", "esi"}}), answered);
    EXPECT_EQ(f.at(esi::metric::kEsiLatency).Sum(std::string(esi::metric::kEsiLatency) + "_count"), answered);
    EXPECT_GT(f.at(esi::metric::kEsiLatency).Sum(std::string(esi::metric::kEsiLatency) + "_sum"), 0);
    EXPECT_GT(Total(f, esi::metric::kEsiRequests, {{"group", "killmail"}}), 0);  // the killmail route group
    EXPECT_EQ(Total(f, esi::metric::kEsiCache, {{"result", "not_modified"}}), truth["not_modified_304"].get<double>());
    // zKillboard: one page per request (no faults), each character's history ends with an empty page.
    EXPECT_EQ(Total(f, esi::metric::kZkbPages), truth["zkb_requests"].get<double>());
    EXPECT_EQ(Total(f, esi::metric::kZkbPages, {{"result", "end"}}), 2);
    EXPECT_EQ(Total(f, esi::metric::kBudgetUsed, {{"budget", "zkb"}}), truth["zkb_requests"].get<double>());
    // Rows: every stored killmail was written once; each entity table at least once per row.
    EXPECT_EQ(Total(f, store::kRowsWrittenMetric, {{"table", "killmails"}}), static_cast<double>(killmail_ids.size()));
    for (const char* table : {"characters", "corporations", "alliances"}) {
        const double rows = static_cast<double>(p.Count(std::string("SELECT count(*) FROM ") + table));
        EXPECT_GT(rows, 0) << table;
        EXPECT_GE(Total(f, store::kRowsWrittenMetric, {{"table", table}}), rows) << table;
    }
    // Messages: the zKillboard queue settled the two sync jobs' pages; nothing died; queues empty.
    EXPECT_GE(Total(f, worker::metric::kSettled, {{"queue", queue::kZkillboardCharacter}}), 0);
    EXPECT_GT(Total(f, worker::metric::kSettled, {{"queue", "esi_character_info_queue"}}), 0);
    EXPECT_EQ(Total(f, worker::metric::kSettled, {{"outcome", "dead"}}), 0);
    EXPECT_EQ(Total(f, worker::metric::kQueueMessages, {{"state", "dead"}}), 0);
    EXPECT_EQ(f.at(worker::metric::kQueueMessages).samples.size() % 4, 0u);  // 4 states per queue
    EXPECT_GE(f.at(worker::metric::kQueueMessages).samples.size() / 4, EntityKinds().size() + 2);
    // The budget and limits as configured and as the shared store holds them.
    EXPECT_EQ(f.at(worker::metric::kBudgetLimit).Value(worker::metric::kBudgetLimit, {{"budget", "esi"}}), 400);
    EXPECT_EQ(f.at(worker::metric::kBudgetLimit).Value(worker::metric::kBudgetLimit, {{"budget", "zkb"}}), 0);
    const double remain = f.at(worker::metric::kErrorLimitRemaining).Value(worker::metric::kErrorLimitRemaining);
    EXPECT_GE(remain, 0);
    EXPECT_LE(remain, 100);
    EXPECT_GE(f.at(worker::metric::kErrorLimitReset).Value(worker::metric::kErrorLimitReset), 0);
    EXPECT_EQ(f.at(worker::metric::kPauseRemaining)
                  .Value(worker::metric::kPauseRemaining, {{"budget", "esi"}, {"group", "killmail"}}),
              0);
    EXPECT_EQ(Total(f, esi::metric::kPauses), truth["rate_limited_429"].get<double>() +
                                                  truth["error_limited_420"].get<double>() +
                                                  truth["zkb_rate_limited_429"].get<double>());
    // The process: it has used CPU and memory, and started within the test.
    EXPECT_GT(f.at("process_cpu_seconds_total").Value("process_cpu_seconds_total"), 0);
    EXPECT_GT(f.at("process_resident_memory_bytes").Value("process_resident_memory_bytes"), 1e6);
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_NEAR(f.at("process_start_time_seconds").Value("process_start_time_seconds"), now, 600);

    // `status` (with its own ESI_RATE_LIMIT=0) sees the running process's workers and their limit.
    auto status = RunCommand(p.Env() + KR_KILLREPORT_BIN " status --json");
    EXPECT_EQ(status.exit_code, 0) << status.err;
    const auto st = nlohmann::json::parse(status.out);
    EXPECT_EQ(st["esi"]["limits_in_force"], nlohmann::json::array({400.0})) << status.out;
    EXPECT_EQ(st["workers"].size(), EntityKinds().size() + 2) << status.out;
    for (const auto& w : st["workers"]) EXPECT_EQ(w["state"], "running") << w.dump();
    EXPECT_EQ(st["workers_down"], 0);

    run.Kill(SIGTERM);
    EXPECT_EQ(run.Wait(std::chrono::seconds(60)), 0) << run.LogTail();
    // A clean stop is recorded: every worker "stopped", none down.
    const auto stopped = nlohmann::json::parse(RunCommand(p.Env() + KR_KILLREPORT_BIN " status --json").out);
    for (const auto& w : stopped["workers"]) EXPECT_EQ(w["state"], "stopped") << w.dump();
}

// `status`'s ESI tokens of the last minute are the shared budget's count of every request of every
// process — a one-shot queue script's too — i.e. what the simulator was asked.
TEST(MetricsE2e, StatusTokensOfTheLastMinuteAreTheRequestsTheSimulatorCounted) {
    TempDir dir;
    const std::string db = "sqlite://" + dir.Path() + "/kr.db";
    Pipeline p({db, ""}, SmallUniverse());
    const auto start = std::chrono::steady_clock::now();
    const std::string env = p.Env() + "ESI_RATE_LIMIT=500 ";  // the shared (database) budget
    auto queued = RunCommand(env + KR_KILLREPORT_BIN " queue:alliances");
    ASSERT_EQ(queued.exit_code, 0) << queued.err;
    auto worked = RunCommand(env + KR_KILLREPORT_BIN " worker:info:alliances --until-idle");
    ASSERT_EQ(worked.exit_code, 0) << worked.err;
    auto status = RunCommand(env + KR_KILLREPORT_BIN " status --json");
    const auto truth = p.Get("/_admin/stats");
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(55))
        GTEST_SKIP() << "the requests took longer than the minute `status` counts";
    const auto st = nlohmann::json::parse(status.out);
    EXPECT_GT(truth["esi_requests"].get<std::int64_t>(), 10);
    EXPECT_EQ(st["esi"]["tokens_last_minute"], truth["esi_requests"]) << status.out;
}

/// The worker:redisq entry of `status --json` (null when it lists none).
nlohmann::json RedisqStatus(const nlohmann::json& st) {
    for (const auto& w : st["workers"])
        if (w["worker"] == "worker:redisq") return w;
    return nullptr;
}

// worker:redisq is a long-running process like every worker: /metrics with the live feed's
// families, a heartbeat `status` reads, and "down" (exit code 1) once it is killed.
TEST(MetricsE2e, RedisqServesMetricsAndStatusSeesItGoDown) {
    TempDir dir;
    const std::string db = "sqlite://" + dir.Path() + "/kr.db";
    Pipeline p({db, ""}, LiveUniverse(30));
    faults::Proc live(
        "redisq", "env " + p.Env() + "LOG_LEVEL=info " KR_KILLREPORT_BIN " --metrics-addr 127.0.0.1:0 worker:redisq",
        dir.Path() + "/log");
    live.Start();
    int port = 0;
    ASSERT_TRUE(faults::WaitFor([&] { return (port = faults::LoggedPort(live.Log(), "metrics")) > 0; },
                                std::chrono::seconds(30)))
        << live.LogTail();
    // A feed never polled starts at its newest sequence: the rest is uploaded once it stands there.
    ASSERT_TRUE(
        faults::WaitFor([&] { return live.CountLines("feed starts at sequence") == 1; }, std::chrono::seconds(60)))
        << live.LogTail();
    Upload(p);
    httplib::Client scraper("127.0.0.1", port);
    auto scrape = [&]() -> Families {
        auto res = scraper.Get("/metrics");
        if (!res || res->status != 200) return {};
        return ParsePrometheusText(res->body);
    };
    // Every killmail of the feed stored, and every request the simulator answered counted.
    Families f;
    nlohmann::json truth;
    FeedTruth feed;
    ASSERT_TRUE(faults::WaitFor(
        [&] {
            feed = Feed(p);
            if (p.Count("SELECT count(*) FROM killmails") != static_cast<std::int64_t>(feed.killmails.size()))
                return false;
            f = scrape();
            truth = p.Get("/_admin/stats");
            return !f.empty() && Total(f, worker::metric::kLiveCursor) == static_cast<double>(feed.next) &&
                   Total(f, esi::metric::kR2z2Requests) == truth["r2z2_requests"].get<double>();
        },
        std::chrono::seconds(180), std::chrono::milliseconds(250)))
        << live.LogTail();
    for (const char* family :
         {worker::metric::kLiveStored, worker::metric::kLiveCursor, esi::metric::kR2z2Requests,
          esi::metric::kBudgetUsed, esi::metric::kPauses, worker::metric::kPauseRemaining, "process_cpu_seconds_total",
          "process_resident_memory_bytes", "process_start_time_seconds"}) {
        EXPECT_EQ(f.count(family), 1u) << family;
    }
    ASSERT_GT(feed.killmails.size(), 20u);
    EXPECT_EQ(Total(f, worker::metric::kLiveStored), static_cast<double>(feed.killmails.size()));
    EXPECT_EQ(Total(f, worker::metric::kLiveStored), static_cast<double>(p.Count("SELECT count(*) FROM killmails")));
    EXPECT_EQ(Total(f, esi::metric::kR2z2Requests, {{"status", "200"}}),
              truth["routes"]["r2z2_killmail"]["by_status"].value("200", 0.0) +
                  truth["routes"]["r2z2_sequence"]["by_status"].value("200", 0.0));
    EXPECT_GT(Total(f, esi::metric::kR2z2Requests, {{"status", "404"}}), 0);  // at the head
    EXPECT_EQ(Total(f, esi::metric::kBudgetUsed, {{"budget", "r2z2"}}), truth["r2z2_requests"].get<double>());
    EXPECT_EQ(Total(f, esi::metric::kPauses, {{"budget", "r2z2"}}), 0);
    EXPECT_EQ(f.at(worker::metric::kPauseRemaining)
                  .Value(worker::metric::kPauseRemaining, {{"budget", "r2z2"}, {"group", "all"}}),
              0);
    EXPECT_EQ(f.count(worker::metric::kQueueMessages), 0u);  // it consumes no queue

    // `status` lists it running, with the killmails it stored.
    auto status = RunCommand(p.Env() + KR_KILLREPORT_BIN " status --json");
    EXPECT_EQ(status.exit_code, 0) << status.err;
    auto w = RedisqStatus(nlohmann::json::parse(status.out));
    ASSERT_FALSE(w.is_null()) << status.out;
    EXPECT_EQ(w["state"], "running") << w.dump();
    EXPECT_EQ(w["pid"], live.Pid()) << w.dump();

    // Killed (no clean stop): once its heartbeat is older than StatusBeat::kDownAfter, `status` says
    // "down" and exits non-zero.
    live.Kill(SIGKILL);
    nlohmann::json st;
    ASSERT_TRUE(faults::WaitFor(
        [&] {
            status = RunCommand(p.Env() + KR_KILLREPORT_BIN " status --json");
            st = nlohmann::json::parse(status.out);
            return RedisqStatus(st)["state"] == "down";
        },
        worker::StatusBeat::kDownAfter + std::chrono::seconds(90), std::chrono::seconds(2)))
        << status.out;
    EXPECT_EQ(status.exit_code, 1);
    EXPECT_EQ(st["workers_down"], 1);
}

TEST(MetricsE2e, OneShotCommandsServeNothingAndABadAddressIsAClearError) {
    TempDir dir;
    const std::string db = "sqlite://" + dir.Path() + "/kr.db";
    Pipeline p({db, ""}, SmallUniverse());
    // A one-shot command ignores the address (it would be gone before a scrape).
    auto r = RunCommand(p.Env() + "LOG_LEVEL=info KILLREPORT_METRICS_ADDR=127.0.0.1:0 " KR_KILLREPORT_BIN
                                  " queue:character");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(faults::LoggedPort(r.err + r.out, "metrics"), 0) << r.err;
    auto bad = RunCommand(p.Env() + "KILLREPORT_METRICS_ADDR=nonsense " KR_KILLREPORT_BIN " config");
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("KILLREPORT_METRICS_ADDR='nonsense'"), std::string::npos) << bad.err;
}

// ---- the default /metrics addresses (issue 16: on by default for long-running processes) -------

/// A listening socket on 127.0.0.1:port while it lives (the port "in use"); -1 when it is taken.
class PortHolder {
public:
    explicit PortHolder(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        int yes = 1;  // as the metrics server: a port in TIME_WAIT (a scrape before) is free
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~PortHolder() {
        if (fd_ >= 0) ::close(fd_);
    }
    PortHolder(const PortHolder&) = delete;
    PortHolder& operator=(const PortHolder&) = delete;
    bool Held() const { return fd_ >= 0; }

private:
    int fd_;
};

/// worker:info:types on its own SQLite file, idle on an empty queue (no ESI request), with
/// KILLREPORT_METRICS_ADDR as `metrics` says ("unset" = not in its environment).
struct IdleWorker {
    TempDir dir;
    std::string env;
    std::unique_ptr<faults::Proc> proc;
    explicit IdleWorker(const std::string& metrics) {
        env = "DATABASE_URL='sqlite://" + dir.Path() +
              "/kr.db' ESI_BASE_URL=http://127.0.0.1:1 LOG_LEVEL=info KILLREPORT_UNIVERSE_CHECK=0 ";
        EXPECT_EQ(RunCommand(env + KR_KILLREPORT_BIN " db:migrate").exit_code, 0);
        const std::string set = metrics == "unset" ? "" : "KILLREPORT_METRICS_ADDR='" + metrics + "' ";
        proc = std::make_unique<faults::Proc>(
            "worker", "env -u KILLREPORT_METRICS_ADDR " + env + set + KR_KILLREPORT_BIN " worker:info:types",
            dir.Path() + "/log");
        proc->Start();
    }
    std::string last_status;
    /// `status` lists it running: it is past the point where /metrics starts.
    bool Running() {
        auto r = RunCommand(env + KR_KILLREPORT_BIN " status --json");
        last_status = r.out + r.err;
        if (r.out.empty()) return false;
        const auto st = nlohmann::json::parse(r.out);
        for (const auto& w : st["workers"])
            if (w["worker"] == "worker:info:types" && w["state"] == "running") return true;
        return false;
    }
};

int DefaultPort(const std::string& command) {
    for (const auto& [c, addr] : app::DefaultMetricsAddrs())
        if (c == command) return metrics::ParseListenAddress(addr).port;
    return 0;
}

TEST(MetricsDefaults, EachLongRunningCommandHasAPortOfItsOwnAndConfigListsThem) {
    const auto table = app::DefaultMetricsAddrs();
    ASSERT_EQ(table.size(), EntityKinds().size() + 4);  // run, every worker:*, worker:redisq
    EXPECT_EQ(table.front(), (std::pair<std::string, std::string>{"run", "127.0.0.1:9464"}));
    std::set<std::string> addrs;
    for (const auto& [command, addr] : table) addrs.insert(addr);
    EXPECT_EQ(addrs.size(), table.size());                // no two share one
    EXPECT_EQ(addrs.count(app::kDefaultStatusAddr), 0u);  // `status --serve` has its own
    for (const auto& k : EntityKinds()) EXPECT_GT(DefaultPort(k.command), 9465) << k.command;

    TempDir dir;
    const std::string env = "cd '" + dir.Path() + "' && DATABASE_URL='sqlite://" + dir.Path() + "/kr.db' ";
    auto unset = RunCommand("cd '" + dir.Path() + "' && env -u KILLREPORT_METRICS_ADDR DATABASE_URL='sqlite://" +
                            dir.Path() + "/kr.db' " KR_KILLREPORT_BIN " config");
    EXPECT_EQ(unset.exit_code, 0) << unset.err;
    for (const auto& [command, addr] : table)
        EXPECT_NE(unset.out.find(command + " " + addr), std::string::npos) << unset.out;
    auto help = RunCommand(env + KR_KILLREPORT_BIN " --help");
    EXPECT_NE(help.out.find("[/metrics 127.0.0.1:9464]"), std::string::npos) << help.out;
    auto off = RunCommand(env + "KILLREPORT_METRICS_ADDR= " KR_KILLREPORT_BIN " config");
    EXPECT_NE(off.out.find("KILLREPORT_METRICS_ADDR = (empty: off)  (environment)"), std::string::npos) << off.out;
    EXPECT_EQ(off.out.find("run 127.0.0.1:9464"), std::string::npos) << off.out;
}

TEST(MetricsDefaults, UnsetAWorkerServesOnItsDefaultPort) {
    const int port = DefaultPort("worker:info:types");
    {
        PortHolder probe(port);
        if (!probe.Held()) GTEST_SKIP() << "127.0.0.1:" << port << " is in use on this machine";
    }
    IdleWorker w("unset");
    const std::string taken = "cannot listen on 127.0.0.1:" + std::to_string(port);
    ASSERT_TRUE(faults::WaitFor(
        [&] { return faults::LoggedPort(w.proc->Log(), "metrics") > 0 || w.proc->CountLines(taken) > 0; },
        std::chrono::seconds(30)))
        << w.proc->LogTail();
    if (w.proc->CountLines(taken) > 0) GTEST_SKIP() << "another process took 127.0.0.1:" << port << " meanwhile";
    EXPECT_EQ(faults::LoggedPort(w.proc->Log(), "metrics"), port);
    httplib::Client scraper("127.0.0.1", port);
    auto res = scraper.Get("/metrics");
    ASSERT_TRUE(res && res->status == 200);
    EXPECT_EQ(ParsePrometheusText(res->body).count("process_cpu_seconds_total"), 1u);
    w.proc->Kill(SIGTERM);
    EXPECT_EQ(w.proc->Wait(std::chrono::seconds(60)), 0) << w.proc->LogTail();
}

TEST(MetricsDefaults, ADefaultPortInUseIsOneWarningAndTheWorkerRunsOn) {
    const int port = DefaultPort("worker:info:types");
    PortHolder taken(port);  // taken by us, or already by someone else: in use either way
    IdleWorker w("unset");
    ASSERT_TRUE(faults::WaitFor([&] { return w.Running(); }, std::chrono::seconds(60)))
        << w.proc->LogTail() << w.last_status;
    EXPECT_TRUE(w.proc->Running());
    EXPECT_EQ(w.proc->CountLines("cannot listen on 127.0.0.1:" + std::to_string(port)), 1) << w.proc->Log();
    EXPECT_EQ(w.proc->CountLines("warning"), 1) << w.proc->Log();
    EXPECT_EQ(faults::LoggedPort(w.proc->Log(), "metrics"), 0) << w.proc->Log();
    w.proc->Kill(SIGTERM);
    EXPECT_EQ(w.proc->Wait(std::chrono::seconds(60)), 0) << w.proc->LogTail();
}

TEST(MetricsDefaults, AnExplicitAddressInUseIsAFatalError) {
    // A port of our own, held: in use.
    int port = 0;
    std::unique_ptr<PortHolder> taken;
    for (int p = 39464; p < 39564 && !taken; ++p) {
        auto h = std::make_unique<PortHolder>(p);
        if (h->Held()) {
            taken = std::move(h);
            port = p;
        }
    }
    ASSERT_TRUE(taken);
    IdleWorker w("127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(w.proc->Wait(std::chrono::seconds(60)).has_value()) << w.proc->LogTail();
    EXPECT_NE(*w.proc->Poll(), 0);
    EXPECT_EQ(w.proc->CountLines("cannot listen on 127.0.0.1:" + std::to_string(port)), 1) << w.proc->Log();
}

TEST(MetricsDefaults, SetButEmptyTurnsItOff) {
    IdleWorker w("");
    ASSERT_TRUE(faults::WaitFor([&] { return w.Running(); }, std::chrono::seconds(60)))
        << w.proc->LogTail() << w.last_status;
    EXPECT_EQ(w.proc->CountLines("metrics"), 0) << w.proc->Log();
    w.proc->Kill(SIGTERM);
    EXPECT_EQ(w.proc->Wait(std::chrono::seconds(60)), 0) << w.proc->LogTail();
}

}  // namespace
}  // namespace kr::test
