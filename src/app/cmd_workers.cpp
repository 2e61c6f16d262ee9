// The spec's queue scripts and workers, `run`, `status`, `user:add`, `dead:list`, `dead:retry`.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "app/arguments.hpp"
#include "app/demo.hpp"
#include "app/status_page.hpp"
#include "app/worker_commands.hpp"
#include "core/errors.hpp"
#include "log/log.hpp"
#include "log/progress.hpp"
#include "metrics/metrics_server.hpp"
#include "worker/affiliation_sweep.hpp"
#include "worker/alliance_corporations_worker.hpp"
#include "worker/backfill.hpp"
#include "worker/drain_watch.hpp"
#include "worker/executor.hpp"
#include "worker/info_worker.hpp"
#include "worker/live_worker.hpp"
#include "worker/process_metrics.hpp"
#include "worker/refresh.hpp"
#include "worker/runtime.hpp"
#include "worker/scripts.hpp"
#include "worker/shutdown.hpp"
#include "worker/static_data.hpp"
#include "worker/status_beat.hpp"
#include "worker/zkillboard_worker.hpp"

namespace kr::app {

namespace {

/// Commits of a worker on a second connection (worker/executor.hpp).
using Committer = worker::Executor<store::Store>;

/// A worker command: what `worker:*` runs and what `run` runs on one of its threads.
struct WorkerSpec {
    std::string command;
    std::string help;
    std::string queue;
    int default_concurrency = 1;
    /// ESI client room: a zKillboard page fans out into up to 200 ESI killmail requests.
    int min_esi_concurrency = 0;
    /// Committers (connections of their own that commit while the worker goes on) in a process
    /// of its own on PostgreSQL.
    int committers = 0;
    std::function<std::unique_ptr<worker::Worker>(int concurrency, worker::Runtime&, worker::Settler&,
                                                  const config::Config&, const std::vector<Committer*>&)>
        make;
};

/// "esi_character_info_queue → ESI → characters (default concurrency 10, NPCs skipped)".
std::string InfoHelp(const EntityKindInfo& k) {
    return std::string(k.queue) + " → ESI " + k.esi_prefix + "{id}/ → " + k.table + " (default concurrency " +
           std::to_string(k.default_concurrency) + (k.never_fetched.empty() ? "" : ", NPCs skipped") + ")";
}

/// Every worker: the info worker of each entity kind, then alliance corporations and zKillboard
/// (the order of `status`, `dead:list` and the help; `run` starts a thread for each).
const std::vector<WorkerSpec>& Workers() {
    static const std::vector<WorkerSpec> workers = [] {
        std::vector<WorkerSpec> out;
        for (const auto& k : EntityKinds()) {
            out.push_back(
                {k.command, InfoHelp(k), k.queue, k.default_concurrency, 0, 1,
                 [kind = k.kind](int concurrency, worker::Runtime& rt, worker::Settler& settler,
                                 const config::Config& cfg,
                                 const std::vector<Committer*>& committers) -> std::unique_ptr<worker::Worker> {
                     worker::InfoWorkerOptions o;
                     o.kind = kind;
                     o.concurrency = concurrency;
                     o.max_age_ms = cfg.max_age_seconds * 1000;
                     return std::make_unique<worker::InfoWorker>(o, rt.Store(), rt.Esi(), settler, rt.Clock(),
                                                                 committers.empty() ? nullptr : committers.front());
                 }});
        }
        out.push_back({"worker:alliance-corporations",
                       "esi_alliance_corporations_queue → /alliances/{id}/corporations/ → esi_corporation_info_queue",
                       queue::kAllianceCorporations, 5, 0, 0,
                       [](int concurrency, worker::Runtime& rt, worker::Settler& settler, const config::Config&,
                          const std::vector<Committer*>&) -> std::unique_ptr<worker::Worker> {
                           return std::make_unique<worker::AllianceCorporationsWorker>(concurrency, rt.Store(),
                                                                                       rt.Esi(), settler, rt.Clock());
                       }});
        out.push_back({"worker:zkillboard",
                       "zkillboard_character_queue: a character's zKillboard history page by page → killmails",
                       queue::kZkillboardCharacter, 1, 32, 2,
                       [](int concurrency, worker::Runtime& rt, worker::Settler& settler, const config::Config&,
                          const std::vector<Committer*>& committers) -> std::unique_ptr<worker::Worker> {
                           worker::ZkillboardWorkerOptions o;
                           o.concurrency = concurrency;
                           return std::make_unique<worker::ZkillboardWorker>(o, rt.Store(), rt.Esi(), rt.Zkb(), settler,
                                                                             rt.Clock(), committers,
                                                                             rt.Shared().Events());
                       }});
        return out;
    }();
    return workers;
}

/// The command's default /metrics address (DefaultMetricsAddrs; "" = none: a one-shot command).
std::string DefaultMetricsAddr(const std::string& command) {
    for (const auto& [c, addr] : DefaultMetricsAddrs())
        if (c == command) return addr;
    return "";
}

/// " [/metrics 127.0.0.1:9465]": the default address in a command's help.
std::string MetricsNote(const std::string& command) { return " [/metrics " + DefaultMetricsAddr(command) + "]"; }

std::vector<std::string> AllQueues() {
    std::vector<std::string> out;
    for (const auto& w : Workers()) out.push_back(w.queue);
    return out;
}

/// One worker on this thread until stop (or idle with until_idle).
/// `counted`: the worker's counters live there (`run --until-idle`'s progress reads them), else here.
void RunOne(worker::ProcessShared& shared, worker::StatusBeat& beat, const WorkerSpec& spec, int concurrency,
            const worker::LoopOptions& loop, std::stop_token stop, bool pooled = false,
            worker::WorkerCounters* counted = nullptr) {
    if (concurrency <= 0) concurrency = spec.default_concurrency;
    worker::Runtime rt(shared, std::max(concurrency, spec.min_esi_concurrency), pooled);
    rt.SetStopToken(stop);  // a worker blocked in a fetch (a pause, a Retry-After) hands back on stop
    worker::WorkerCounters own;
    worker::WorkerCounters& counters = counted ? *counted : own;
    auto exported = worker::ExportCounters(spec.queue, counters);      // on /metrics while the worker runs
    auto beating = beat.Register(spec.command, spec.queue, counters);  // kr_worker_status, for `status`
    worker::Settler settler(rt.Queue(), shared.Policy(), counters);
    settler.SetOutageLimit(loop.outage_limit);  // also inside a worker's long waits
    // An info or zKillboard worker process on PostgreSQL commits on connections of its own while
    // it keeps fetching (a commit is several network round trips; a zKillboard page's takes about
    // twice as long as fetching the next page, so that worker has two — no more than the pages it
    // holds at once, its concurrency). Not in `run` (its threads share a small pool) and not on
    // SQLite (one writer at a time).
    std::vector<std::unique_ptr<Committer>> owned;
    std::vector<Committer*> committers;
    if (!pooled && shared.Cfg().UsesPostgres()) {
        for (int i = 0; i < std::min(spec.committers, concurrency); ++i) {
            owned.push_back(std::make_unique<Committer>(
                store::OpenStore(shared.Cfg().database_url, shared.Clock(), worker::StoreOptionsOf(shared.Cfg()))));
            committers.push_back(owned.back().get());
        }
    }
    auto w = spec.make(concurrency, rt, settler, shared.Cfg(), committers);
    worker::SummaryLogger summary(w->Name(), counters);
    worker::RunWorker(*w, rt.Queue(), summary, loop, stop);
}

int RunWorkerCommand(const Context& ctx, const WorkerSpec& spec, const WorkerFlags& flags) {
    auto stop = worker::InstallShutdownHandlers();
    worker::ProcessShared shared(ctx.cfg);
    worker::ProcessMetrics metrics(shared, {spec.queue});
    metrics.Serve(DefaultMetricsAddr(spec.command));
    worker::StatusBeat beat(shared.Cfg());
    worker::LoopOptions loop;
    loop.until_idle = flags.until_idle;
    if (flags.until_idle) loop.outage_limit = std::chrono::seconds(ctx.cfg.outage_limit_seconds);
    RunOne(shared, beat, spec, flags.concurrency, loop, stop);
    return 0;
}

template <typename F>
int RunScript(const Context& ctx, const char* name, F&& fn, bool progress = true) {
    worker::ProcessShared shared(ctx.cfg);
    worker::Runtime rt(shared, 8);
    // The messages published so far (a terminal's line in place, else a line every
    // KILLREPORT_PROGRESS_EVERY s); a script with its own progress line (the sweep) goes without.
    std::optional<log::Progress> published;
    if (progress) {
        published.emplace(name, -1, "messages published", log::Progress::ForStderr(ctx.cfg.progress_every_seconds));
        rt.CountPublishesIn(*published);
    }
    std::size_t n = fn(rt);
    if (published) published->Finish();
    std::printf("%s: %zu message(s) published\n", name, n);
    return 0;
}

/// worker:redisq's own flags.
struct LiveFlags {
    std::int64_t from = 0;  ///< 0 = not given
    bool from_now = false;
    bool until_idle = false;
};

/// The live feed (worker/live_worker.hpp) on this thread until stop. `idle` as LiveWorker::Run.
/// Its heartbeat goes into `beat` (kr_worker_status, for `status`), its counters onto /metrics.
void RunLive(worker::ProcessShared& shared, worker::StatusBeat& beat, const LiveFlags& f, std::stop_token stop,
             bool pooled, std::atomic<bool>* idle) {
    worker::Runtime rt(shared, 1, pooled);
    rt.SetStopToken(stop);
    worker::LiveWorkerOptions o;
    if (f.from > 0) o.from = f.from;
    o.from_now = f.from_now;
    worker::Backfill gap_repair(rt.Store(), rt.Queue(), rt.R2z2(), rt.Esi(), rt.Clock(), shared.Events());
    // Catching up, a batch commits on a second connection while the next one is fetched (not in
    // `run`'s pool). On SQLite too: its writers take turns (BEGIN IMMEDIATE, WAL, a busy timeout),
    // and what this thread writes meanwhile (a hold renewal, the ids published) is small.
    std::unique_ptr<Committer> committer;
    if (!pooled) {
        committer = std::make_unique<Committer>(store::OpenStore(shared.Cfg().database_url, shared.Clock()));
    }
    worker::LiveWorker w(o, rt.Store(), rt.Queue(), rt.R2z2(), rt.Clock(), shared.Events(), &gap_repair,
                         committer.get());
    auto exported = worker::ExportLive(w);
    auto beating = beat.Register("worker:redisq", o.feed, w.Counters());
    w.Run(stop, idle);
}

int RunLiveCommand(const Context& ctx, const LiveFlags& f) {
    auto outer = worker::InstallShutdownHandlers();
    worker::ProcessShared shared(ctx.cfg);
    worker::ProcessMetrics metrics(shared, {});  // it consumes no queue
    metrics.Serve(DefaultMetricsAddr("worker:redisq"));
    worker::StatusBeat beat(shared.Cfg());
    std::stop_source stop;
    std::stop_callback forward(outer, [&] { stop.request_stop(); });
    std::atomic<bool> idle{false};
    std::exception_ptr failure;
    std::jthread t([&] {
        try {
            RunLive(shared, beat, f, stop.get_token(), false, &idle);
        } catch (...) {
            failure = std::current_exception();
            stop.request_stop();
        }
    });
    // --until-idle: at the feed's head (three looks in a row) with everything published.
    for (int idle_looks = 0; !stop.stop_requested();) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        idle_looks = idle.load() ? idle_looks + 1 : 0;
        if (f.until_idle && idle_looks >= 3) {
            spdlog::info("worker:redisq: the feed is at its head; stopping");
            stop.request_stop();
        }
    }
    t.join();
    if (failure) std::rethrow_exception(failure);
    return 0;
}

struct BackfillFlags {
    std::string from;
    std::string to;
};

/// backfill --from DATE [--to DATE] (worker/backfill.hpp): day after day, logged as it goes.
int RunBackfillCommand(const Context& ctx, const BackfillFlags& f) {
    const auto days = worker::Backfill::Days(f.from, f.to.empty() ? f.from : f.to);
    auto stop = worker::InstallShutdownHandlers();
    worker::ProcessShared shared(ctx.cfg);
    worker::Runtime rt(shared, 16);
    rt.SetStopToken(stop);
    worker::Backfill backfill(rt.Store(), rt.Queue(), rt.R2z2(), rt.Esi(), rt.Clock(), shared.Events());
    for (const auto& day : days) {
        if (stop.stop_requested()) return 1;
        const auto d = backfill.Day(day);
        if (!d.dumped) {
            spdlog::warn("backfill: {}: no dump for this day (not yet, or before zKillboard's history)", day);
            continue;
        }
        spdlog::info(
            "backfill: {}: {} killmail(s) listed, {} already stored, {} stored ({} from ESI; the {}), {} "
            "unfetchable (CCP VERIFIED), {} failed",
            day, d.listed, d.already, d.stored, d.from_esi, d.raw ? "raw dump served" : "index only", d.unfetchable,
            d.failed);
    }
    return 0;
}

}  // namespace

std::vector<std::string> KnownQueues() { return AllQueues(); }

std::vector<std::pair<std::string, std::string>> DefaultMetricsAddrs() {
    std::vector<std::pair<std::string, std::string>> out;
    int port = config::kDefaultMetricsPort;
    auto add = [&](const std::string& command) { out.emplace_back(command, "127.0.0.1:" + std::to_string(port++)); };
    add("run");
    if (port == metrics::ParseListenAddress(kDefaultStatusAddr).port) ++port;  // `status --serve`'s
    for (const auto& w : Workers()) add(w.command);
    add("worker:redisq");
    return out;
}

namespace {

/// `run`'s sync of static data (the universe), on a runtime of its own; errors other than fatal
/// ones are logged (the next check tries again).
class StaticDataSync {
public:
    StaticDataSync(worker::ProcessShared& shared, std::stop_token stop) : shared_(shared), stop_(std::move(stop)) {}
    bool Enabled() const { return shared_.Cfg().universe_check_seconds > 0; }
    void Run() {
        if (!Enabled()) return;
        try {
            if (!rt_) {
                rt_ = std::make_unique<worker::Runtime>(shared_, 4);
                rt_->SetStopToken(stop_);  // SIGTERM ends an ESI pause here too
            }
            worker::StaticSyncOptions o;
            o.check_interval = std::chrono::seconds(shared_.Cfg().universe_check_seconds);
            worker::SyncStaticData(*rt_, o);
        } catch (const FatalError&) {
            throw;
        } catch (const StoppedError&) {
            return;  // stopping: the next run checks again
        } catch (const std::exception& e) {
            spdlog::warn("run: the universe was not checked: {}", e.what());
            rt_.reset();  // a new connection next time
        }
        next_ = std::chrono::steady_clock::now() + Period();
    }
    bool Due() const { return Enabled() && std::chrono::steady_clock::now() >= next_; }

private:
    /// Whether a check is due is the database's (kr_list_sweeps): asking it costs a query, not a
    /// request; a patch is noticed within this long of the list's next check.
    std::chrono::seconds Period() const {
        return std::min<std::chrono::seconds>(std::chrono::seconds(shared_.Cfg().universe_check_seconds),
                                              std::chrono::minutes(10));
    }
    worker::ProcessShared& shared_;
    std::stop_token stop_;
    std::unique_ptr<worker::Runtime> rt_;
    std::chrono::steady_clock::time_point next_{};
};

/// The refresh schedule's options from the configuration.
worker::RefreshOptions RefreshOptionsFor(const config::Config& cfg, bool first_is_due) {
    worker::RefreshOptions o;
    o.first_is_due = first_is_due;
    o.affiliations.max_age_ms = cfg.max_age_seconds * 1000;
    return o;
}

}  // namespace

int RunAll(const Context& ctx, const WorkerFlags& flags, std::stop_token outer) {
    worker::ProcessShared shared(ctx.cfg);
    worker::ProcessMetrics metrics(shared, AllQueues());
    metrics.Serve(DefaultMetricsAddr("run"));
    // The status page on the same server (its sources are opened when first looked at).
    std::unique_ptr<StatusPage> page;
    if (auto* server = metrics.Server()) {
        page = std::make_unique<StatusPage>(*server, ctx.cfg);
        spdlog::info("status page: serving {}", page->Url());
    }
    worker::StatusBeat beat(shared.Cfg());
    const auto& workers = Workers();
    std::stop_source stop;
    std::stop_callback forward(outer, [&] { stop.request_stop(); });
    // The queue first: an unreachable broker is one clear error within its connect timeout, before
    // anything asks ESI (the universe check below retries for seconds when ESI is unreachable too).
    {
        auto q = queue::OpenQueue(ctx.cfg.rabbitmq_url, ctx.cfg.database_url);
        for (const auto& name : AllQueues()) q->Declare(name);
    }
    // Static data first (before the workers start, so `--until-idle` waits for what it queues).
    StaticDataSync universe(shared, stop.get_token());
    universe.Run();
    // The refresh schedule (worker/refresh.hpp): what is due now first, for the same reason.
    worker::RefreshScheduler refresh(shared, stop.get_token(), RefreshOptionsFor(ctx.cfg, /*first_is_due=*/false));
    refresh.Run();
    // The live feed (R2Z2) on a thread of its own, its idle flag after the workers'.
    const bool live = ctx.cfg.live && !flags.no_live;
    std::vector<std::atomic<bool>> idle(workers.size() + (live ? 1 : 0));
    std::mutex mu;
    std::exception_ptr failure;
    std::vector<std::jthread> threads;
    if (live) {
        threads.emplace_back([&] {
            try {
                RunLive(shared, beat, {}, stop.get_token(), /*pooled=*/true, &idle.back());
            } catch (...) {
                std::lock_guard lock(mu);
                if (!failure) failure = std::current_exception();
                stop.request_stop();
            }
        });
    }
    std::vector<std::unique_ptr<worker::WorkerCounters>> counters;
    for (std::size_t i = 0; i < workers.size(); ++i) counters.push_back(std::make_unique<worker::WorkerCounters>());
    for (std::size_t i = 0; i < workers.size(); ++i) {
        threads.emplace_back([&, i] {
            worker::LoopOptions loop;
            loop.idle_flag = &idle[i];
            if (flags.until_idle) loop.outage_limit = std::chrono::seconds(ctx.cfg.outage_limit_seconds);
            try {
                RunOne(shared, beat, workers[i], flags.concurrency, loop, stop.get_token(), /*pooled=*/true,
                       counters[i].get());
            } catch (...) {
                std::lock_guard lock(mu);
                if (!failure) failure = std::current_exception();
                stop.request_stop();
            }
        });
    }
    if (flags.until_idle) {
        // Idle = every worker holds nothing and every queue is drained (nothing ready, leased by
        // anyone — a dead process's leases until the workers take them over — or waiting for a
        // retry), three probes in a row (a worker may be about to publish what the next one
        // consumes).
        auto probe_queue = queue::OpenQueue(ctx.cfg.rabbitmq_url, ctx.cfg.database_url);
        const auto queues = AllQueues();
        for (const auto& q : queues) probe_queue->Declare(q);
        worker::DrainWatch drain("run", queues, 3);
        // Progress: messages settled by this run of what is settled + still waiting in the queues.
        log::Progress progress("run --until-idle", -1, "messages settled",
                               log::Progress::ForStderr(ctx.cfg.progress_every_seconds));
        auto next_progress = std::chrono::steady_clock::now();
        while (!stop.stop_requested()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            if (std::chrono::steady_clock::now() >= next_progress) {
                next_progress = std::chrono::steady_clock::now() + std::chrono::seconds(1);
                std::int64_t settled = 0, waiting = 0;
                for (const auto& c : counters) settled += c->processed.load();
                try {
                    for (const auto& q : queues) {
                        const auto st = probe_queue->Stats(q);
                        waiting += std::max<std::int64_t>(0, st.ready) + std::max<std::int64_t>(0, st.unacked) +
                                   std::max<std::int64_t>(0, st.retrying);
                    }
                    progress.Set(settled, settled + waiting);
                } catch (const std::exception& e) {
                    spdlog::debug("run: no progress: {}", e.what());  // the drain probe reports its own errors
                }
            }
            bool all_idle = true;
            for (auto& f : idle) all_idle = all_idle && f.load();
            if (!all_idle) {
                drain.Reset();
            } else if (drain.Probe(*probe_queue)) {
                std::int64_t settled = 0;
                for (const auto& c : counters) settled += c->processed.load();
                progress.Set(settled, settled);  // the last line says it all
                progress.Finish();
                spdlog::info("run: every queue is empty and nothing is in flight; stopping");
                stop.request_stop();
            }
        }
    } else {
        // Running for good: look at the universe again when its check is due (a day by default),
        // and at the refresh schedule every minute.
        while (!stop.stop_requested()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            if (!universe.Due() && !refresh.Due()) continue;
            try {
                if (universe.Due()) universe.Run();
                if (refresh.Due()) refresh.Run();
            } catch (...) {
                std::lock_guard lock(mu);
                if (!failure) failure = std::current_exception();
                stop.request_stop();
            }
        }
    }
    threads.clear();  // join
    if (failure) std::rethrow_exception(failure);
    return 0;
}

namespace {

/// The character's name from ESI (POST /universe/names/: one request under the shared budget, a
/// route of its own, so worker:character's fetch of the character is not a repeat). An id ESI
/// does not know, or one that is no character, is refused; when ESI cannot answer, the name is a
/// placeholder (a label only: the sync does not need it).
std::string LookUpCharacterName(worker::ProcessShared& shared, Id character_id) {
    const std::string placeholder = "Character_" + std::to_string(character_id);
    const auto options = worker::EsiOptionsFrom(shared.Cfg(), 1);
    http::CurlHttpClient http(esi::CurlOptionsFor(options));
    esi::EsiClient esi(options, http, shared.Budget(), shared.Clock());
    const auto names = esi::ResolveNames(esi, {character_id}, 1);
    const std::string who = "character " + std::to_string(character_id);
    for (const auto& n : names.items) {
        if (n.id != character_id) continue;
        if (n.category != "character")
            throw FatalError(std::to_string(character_id) + " is a " + n.category + " (\"" + n.name +
                             "\"), not a character: not added");
        return n.name;
    }
    if (!names.bad_ids.empty()) {
        throw FatalError("ESI knows no " + who + " (deleted, or not a character id): not added");
    }
    spdlog::warn(
        "user:add: ESI did not answer for {}: added as \"{}\" (user:remove and user:add it again, or pass "
        "--name, to name it)",
        who, placeholder);
    return placeholder;
}

}  // namespace

int CmdUserAdd(const Context& ctx, Id character_id, const std::string& name) {
    worker::ProcessShared shared(ctx.cfg);
    auto store = store::OpenStore(ctx.cfg.database_url);
    for (const auto& [tracked, tracked_name] : store->ListUserCharacters()) {
        if (tracked != character_id) continue;
        std::printf(
            "character %lld is already tracked as \"%s\": left as it is (user:remove it first to add it anew)\n",
            static_cast<long long>(character_id), tracked_name.c_str());
        return 0;
    }
    const std::string stored_name = name.empty() ? LookUpCharacterName(shared, character_id) : name;
    auto id = store->AddUser(character_id, stored_name);
    std::printf("user %lld tracks character %lld\n", static_cast<long long>(id), static_cast<long long>(character_id));
    return 0;
}

int CmdDeadList(const Context& ctx, const std::string& queue_name, std::size_t limit) {
    RequireDatabase(ctx.cfg);
    worker::ProcessShared shared(ctx.cfg);
    auto q = queue::OpenQueue(ctx.cfg.rabbitmq_url, ctx.cfg.database_url);
    std::vector<std::string> queues = queue_name.empty() ? AllQueues() : std::vector<std::string>{queue_name};
    std::size_t total = 0;
    for (const auto& name : queues) {
        q->Declare(name);
        auto stats = q->Stats(name);
        if (stats.dead == 0 && !queue_name.empty()) std::printf("%s: no dead letters\n", name.c_str());
        if (stats.dead == 0) continue;
        auto dead = q->ListDead(name, limit);
        std::map<std::string, int> reasons;
        for (const auto& d : dead) ++reasons[d.reason];
        std::printf("%s: %lld dead letter(s)", name.c_str(), static_cast<long long>(stats.dead));
        for (const auto& [reason, n] : reasons) std::printf("  %s=%d", reason.c_str(), n);
        std::printf("\n");
        for (const auto& d : dead) {
            std::printf("  %s  attempts=%d  reason=%s  error=%s\n    %s\n", d.dead_at.c_str(), d.attempts,
                        d.reason.c_str(), d.last_error.c_str(), d.body.c_str());
        }
        total += static_cast<std::size_t>(stats.dead);
    }
    if (queue_name.empty() && total == 0) std::printf("no dead letters\n");
    return 0;
}

int CmdDeadRetry(const Context& ctx, const std::string& queue_name) {
    RequireDatabase(ctx.cfg);
    worker::ProcessShared shared(ctx.cfg);
    auto q = queue::OpenQueue(ctx.cfg.rabbitmq_url, ctx.cfg.database_url);
    q->Declare(queue_name);
    auto n = q->RetryDead(queue_name);
    std::printf("%s: %zu dead letter(s) put back\n", queue_name.c_str(), n);
    return 0;
}

void RegisterWorkerCommands(const AddCommand& add, const Bind& bind, AddFlags add_worker_flags) {
    static std::map<std::string, WorkerFlags> flags;  // lives as long as the parse
    for (const auto& spec : Workers()) {
        auto* sub = add(spec.command, spec.help + MetricsNote(spec.command));
        add_worker_flags(sub, flags[spec.command]);
        bind(sub, [&spec](const Context& c) { return RunWorkerCommand(c, spec, flags[spec.command]); });
    }

    static LiveFlags live;  // lives as long as the parse
    auto* redisq = add("worker:redisq",
                       "zKillboard's live feed (R2Z2): every new killmail, 0 ESI requests; its ids → the info queues" +
                           MetricsNote("worker:redisq"));
    redisq->add_option("--from", live.from, "start at this sequence (default: the stored cursor, else the newest)")
        ->type_name("SEQ")
        ->check(WholeArgument("--from", 1, 1'000'000'000'000'000'000));
    redisq->add_flag("--from-now", live.from_now, "start at the newest sequence, whatever is stored")
        ->excludes("--from");
    redisq->add_flag("--until-idle", live.until_idle, "exit 0 once the feed is at its head and its ids are published");
    bind(redisq, [](const Context& c) { return RunLiveCommand(c, live); });

    static BackfillFlags backfill;  // lives as long as the parse
    auto* bf = add("backfill",
                   "whole UTC days from zKillboard's history dumps (raw ESI killmails, else the day's "
                   "index + ESI); resumable: what is stored is skipped");
    bf->add_option("--from", backfill.from, "first UTC day (YYYY-MM-DD)")
        ->required()
        ->type_name("DATE")
        ->check(DayArgument("--from"));
    bf->add_option("--to", backfill.to, "last UTC day (YYYY-MM-DD; default: --from)")
        ->type_name("DATE")
        ->check(DayArgument("--to"));
    bind(bf, [](const Context& c) { return RunBackfillCommand(c, backfill); });

    auto* run = add(
        "run", "every worker in one process, and the live feed (the embedded default's main job)" + MetricsNote("run"));
    add_worker_flags(run, flags["run"]);
    run->add_flag("--no-live", flags["run"].no_live, "without the live feed (as KILLREPORT_LIVE=0)");
    bind(run, [](const Context& c) { return RunAll(c, flags["run"], worker::InstallShutdownHandlers()); });

    bind(add("queue:alliances", "all alliance ids from ESI → esi_alliance_info_queue (batches of 100)"),
         [](const Context& c) { return RunScript(c, "queue:alliances", worker::QueueAlliances); });
    static std::size_t expired_limit = 0;
    auto* corporations = add("queue:corporations",
                             "NPC corporations from ESI + corporations the database references but lacks + stored ones "
                             "whose ESI Expires passed → esi_corporation_info_queue");
    corporations->add_option("--limit", expired_limit,
                             "at most this many expired corporations, the longest expired first (0 = all)");
    bind(corporations, [](const Context& c) {
        return RunScript(c, "queue:corporations",
                         [](worker::Runtime& rt) { return worker::QueueCorporations(rt, expired_limit); });
    });
    bind(add("queue:character", "every user's character → zkillboard_character_queue"),
         [](const Context& c) { return RunScript(c, "queue:character", worker::QueueUserCharacters); });
    static std::vector<Id> zkb_ids;
    auto* zkb = add("queue:zkillboard", "a sync job for each given character id → zkillboard_character_queue");
    zkb->add_option("ID", zkb_ids, "character ids")->required()->type_name("ID")->check(IdArgument("character id"));
    bind(zkb, [](const Context& c) {
        return RunScript(c, "queue:zkillboard",
                         [](worker::Runtime& rt) { return worker::QueueZkillboard(rt, zkb_ids); });
    });
    static std::vector<Id> character_ids;
    auto* characters =
        add("queue:characters",
            "affiliation sweep of the given character ids, or of every stored character: changes applied, "
            "changed / old characters → esi_character_info_queue");
    characters->add_option("ID", character_ids, "character ids (none: every stored character)")
        ->type_name("ID")
        ->check(IdArgument("character id"));
    bind(characters, [](const Context& c) {
        return RunScript(
            c, "queue:characters",
            [&c](worker::Runtime& rt) {
                worker::AffiliationSweepOptions o;
                o.max_age_ms = c.cfg.max_age_seconds * 1000;
                rt.Esi().SetRefreshTraffic(true);  // KILLREPORT_REFRESH_SHARE of the budget while new work waits
                // A sweep of every stored character is the refresh schedule's "affiliations" run
                // (recorded as its last run whatever its time: `refresh` and `run` skip it for an hour).
                if (character_ids.empty()) {
                    rt.Store().ClaimRefresh("affiliations", std::numeric_limits<std::int64_t>::max(), true);
                }
                return worker::SweepAffiliations(rt, character_ids, o).Published();
            },
            /*progress=*/false);
    });
    bind(add("refresh",
             "one cycle of the refresh schedule (for a timer; `run` runs it by itself): affiliations hourly, "
             "alliances and corporations whose ESI Expires passed, types after the daily downtime"),
         [](const Context& c) {
             worker::ProcessShared shared(c.cfg);
             worker::Runtime rt(shared, 8);
             auto r = worker::RefreshCycle(rt, RefreshOptionsFor(c.cfg, /*first_is_due=*/true));
             std::string ran;
             for (const auto& s : r.ran) ran += (ran.empty() ? "" : ", ") + s;
             std::printf("refresh: %s; %zu message(s) published\n", ran.empty() ? "nothing due" : ran.c_str(),
                         r.published);
             return r.failed.empty() ? 0 : 1;
         });
    // The queue scripts of ESI's id lists (static data: the universe), one per registry row.
    static std::map<std::string, std::vector<Id>> listed_ids;  // lives as long as the parse
    for (const auto& k : EntityKinds()) {
        if (!k.queue_command) continue;
        std::string noun = k.name;  // "solar_system" → "solar system"
        std::replace(noun.begin(), noun.end(), '_', ' ');
        auto* sub = add(k.queue_command, "the given " + noun + " ids, or every id of ESI " + k.list_path +
                                             " (conditional) → " + k.queue);
        sub->add_option("ID", listed_ids[k.queue_command], noun + " ids (none: ESI's list)")
            ->type_name("ID")
            ->check(IdArgument(noun + " id"));
        bind(sub, [kind = k.kind](const Context& c) {
            const auto& info = KindInfo(kind);
            return RunScript(c, info.queue_command, [&](worker::Runtime& rt) {
                return worker::QueueListed(rt, kind, listed_ids[info.queue_command]);
            });
        });
    }
    bind(add("queue:alliance-corporations", "every alliance id in the database → esi_alliance_corporations_queue"),
         [](const Context& c) {
             return RunScript(c, "queue:alliance-corporations", worker::QueueAllianceCorporations);
         });
    bind(add("scan:entities",
             "queue the characters, corporations, alliances, types and solar systems killmails reference that the "
             "database lacks"),
         [](const Context& c) {
             worker::ProcessShared shared(c.cfg);
             worker::Runtime rt(shared, 4);
             auto r = worker::ScanEntities(rt, true);
             std::printf("scan:entities: queued");
             const char* sep = " ";
             for (EntityKind k : ScanOrder()) {
                 std::printf("%s%zu %s", sep, r.queued[k], KindInfo(k).plural);
                 sep = ", ";
             }
             std::printf("\n");
             return 0;
         });
    RegisterDemo(add, bind);
}

}  // namespace kr::app
