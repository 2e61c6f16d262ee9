#include "worker/scripts.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "core/entity_kind.hpp"
#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "core/time_format.hpp"
#include "log/log.hpp"
#include "log/progress.hpp"
#include "queue/messages.hpp"
#include "worker/executor.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

namespace {

constexpr std::size_t kPage = 10000;

std::vector<Id> FetchIdList(Runtime& rt, const std::string& path) {
    esi::EsiRequest req;
    req.path = path;
    auto r = rt.Esi().Fetch(std::move(req));
    r.ThrowIfError("ESI " + path);
    if (r.outcome != esi::Outcome::kOk)
        throw TransientError("ESI " + path + ": " + std::string(esi::ToString(r.outcome)));
    try {
        return esi_json::ParseIdList(r.body);
    } catch (const esi_json::ParseError& e) {
        throw TransientError("ESI " + path + ": unusable body: " + e.what());
    }
}

std::size_t PublishJobs(Runtime& rt, const std::vector<queue::ZkillboardJob>& jobs, std::uint8_t priority) {
    if (jobs.empty()) return 0;
    auto& q = rt.Queue();
    q.Declare(queue::kZkillboardCharacter);
    std::vector<queue::OutMessage> out;
    out.reserve(jobs.size());
    const std::string now = IsoUtc(rt.Clock().NowMs());
    for (auto j : jobs) {
        j.queued_at = now;
        out.push_back({queue::BuildZkillboardJob(j), priority, 0});
    }
    q.Publish(queue::kZkillboardCharacter, out);
    return out.size();
}

}  // namespace

std::size_t QueueAlliances(Runtime& rt) {
    auto ids = FetchIdList(rt, esi_paths::Alliances());
    spdlog::info("queue:alliances: {} alliance ids from ESI", ids.size());
    if (auto* p = rt.PublishProgress()) p->Expect(static_cast<std::int64_t>(ids.size()));
    return PublishIds(rt.Queue(), rt.Clock(), kr::EntityKind::kAlliance, ids, 0, "queue-alliances", 100);
}

std::size_t QueueCorporations(Runtime& rt, std::size_t expired_limit) {
    auto& store = rt.Store();
    auto npc = FetchIdList(rt, esi_paths::NpcCorporations());
    auto have = store.ExistingIds(kr::EntityKind::kCorporation, npc);
    std::vector<Id> missing;
    for (Id id : npc) {
        if (!have.count(id)) missing.push_back(id);
    }
    std::size_t n =
        PublishEntities(rt.Queue(), store, rt.Clock(), kr::EntityKind::kCorporation, missing, 0, "queue-corporations");
    store::ScanOptions opts;
    opts.sources = store::kFromAll;
    for (Id after = 0;;) {
        auto ids = store.MissingReferencedIds(kr::EntityKind::kCorporation, after, kPage, opts);
        if (ids.empty()) break;
        after = ids.back();
        n += PublishEntities(rt.Queue(), store, rt.Clock(), kr::EntityKind::kCorporation, ids, 0, "queue-corporations");
    }
    // Stored ones past their Expires (refreshed: 304s where nothing changed). Not marked pending:
    // they are stored, the scan does not look for them.
    auto expired = store.ListExpired(kr::EntityKind::kCorporation, expired_limit);
    const std::size_t refreshed =
        PublishIds(rt.Queue(), rt.Clock(), kr::EntityKind::kCorporation, expired, 0, "queue-corporations");
    // Those whose alliance changed in the last sweep: stale first (the info worker would skip a
    // row within its Expires), then queued.
    auto moved = store.CorporationsWithNewerOtherAlliance(0);
    const std::unordered_set<Id> queued(expired.begin(), expired.end());
    std::erase_if(moved, [&queued](Id id) { return queued.count(id) > 0; });  // queued above already
    if (!moved.empty()) {
        std::vector<std::string> paths;
        paths.reserve(moved.size());
        for (Id id : moved) paths.push_back(EntityPath(kr::EntityKind::kCorporation, id));
        store.ExpireHttpCache(paths);
    }
    const std::size_t moved_n =
        PublishIds(rt.Queue(), rt.Clock(), kr::EntityKind::kCorporation, moved, 0, "queue-corporations");
    spdlog::info(
        "queue:corporations: {} NPC corporations listed by ESI, {} missing corporations queued, {} expired "
        "ones and {} whose alliance changed in the last sweep queued for a refresh",
        npc.size(), n, refreshed, moved_n);
    return n + refreshed + moved_n;
}

std::size_t QueueUserCharacters(Runtime& rt) {
    std::vector<queue::ZkillboardJob> jobs;
    for (const auto& [id, name] : rt.Store().ListUserCharacters()) {
        queue::ZkillboardJob j;
        j.character_id = id;  // userId null: zKillboard is public, no token needed (defect 26)
        j.character_name = name.empty() ? "Character_" + std::to_string(id) : name;
        jobs.push_back(std::move(j));
    }
    if (jobs.empty()) spdlog::warn("queue:character: no users (add one with `killreport user:add ID`)");
    return PublishJobs(rt, jobs, 0);
}

std::size_t QueueZkillboard(Runtime& rt, const std::vector<Id>& character_ids) {
    std::vector<queue::ZkillboardJob> jobs;
    for (Id id : character_ids) {
        queue::ZkillboardJob j;
        j.character_id = id;
        j.character_name = "Character_" + std::to_string(id);
        jobs.push_back(std::move(j));
    }
    return PublishJobs(rt, jobs, 5);
}

std::size_t QueueAllianceCorporations(Runtime& rt) {
    std::size_t n = 0;
    for (Id after = 0;;) {
        auto ids = rt.Store().ListIds(kr::EntityKind::kAlliance, after, kPage);
        if (ids.empty()) break;
        after = ids.back();
        // Below new work: the lists' revalidation is refresh traffic (KILLREPORT_REFRESH_SHARE).
        n += PublishIds(rt.Queue(), rt.Clock(), queue::kAllianceCorporations, ids, 0, queue::kAllianceCorporations);
    }
    if (n == 0) spdlog::warn("queue:alliance-corporations: no alliances in the database (run queue:alliances first)");
    return n;
}

namespace {

/// Publishes and marks the pages of scan:entities. The scan's three steps — find missing ids,
/// publish them, mark them pending — cost about the same; on separate connections the database
/// runs them on both cores at once: publishing and marking are two pipeline stages (Executors
/// with a Runtime of their own), a page going from the first to the second. Pages are
/// keyset-ordered, so a page never contains an id of an earlier page whose mark is still in
/// flight. At most kDepth pages wait per stage (bounded memory); errors travel upstream (Push and
/// Drain rethrow them). On the caller's thread for an in-memory SQLite database (a second
/// connection would open another, empty, database).
class ScanPublisher {
public:
    using Stage = Executor<Runtime>;
    /// `batch`: messages built and confirmed per Publish call (memory: ~350 bytes each). `mark`:
    /// a marking stage shared with other publishers (drained by its owner), else one of its own.
    explicit ScanPublisher(Runtime& rt, std::size_t batch = kPage, Stage* mark = nullptr)
        : rt_(rt), batch_(batch), mark_(mark) {
        if (rt.Shared().Cfg().database_url.find(":memory:") == std::string::npos) {
            if (!mark_) {
                own_mark_ = std::make_unique<Stage>(std::make_unique<Runtime>(rt.Shared(), 1), kDepth);
                mark_ = own_mark_.get();
            }
            publish_ = std::make_unique<Stage>(std::make_unique<Runtime>(rt.Shared(), 1), kDepth);
        }
    }
    void Push(kr::EntityKind kind, std::vector<Id> ids) {
        if (!publish_) {
            PublishEntities(rt_.Queue(), rt_.Store(), rt_.Clock(), kind, ids, 5, kSource, kPage);
            return;
        }
        auto page = std::make_shared<const Page>(Page{kind, std::move(ids)});
        publish_->Submit([page, mark = mark_, batch = batch_](Runtime& own) {
            PublishIds(own.Queue(), own.Clock(), page->kind, page->ids, 5, kSource, batch);
            mark->Submit([page](Runtime& marker) { marker.Store().MarkPending(page->kind, page->ids); });
        });
    }
    /// Waits until both stages have worked every page (a shared marking stage: its owner waits).
    void Drain() {
        for (Stage* stage : {publish_.get(), own_mark_.get()}) {
            if (!stage) continue;
            std::optional<std::exception_ptr> outcome;
            while (!(outcome = stage->Collect(std::chrono::seconds(1)))) {}
            if (*outcome) std::rethrow_exception(*outcome);
        }
    }

private:
    struct Page {
        kr::EntityKind kind;
        std::vector<Id> ids;
    };
    static constexpr std::size_t kDepth = 2;
    static constexpr const char* kSource = "killmail_scan";

    Runtime& rt_;
    std::size_t batch_;
    Stage* mark_;
    std::unique_ptr<Stage> own_mark_;  // destroyed after publish_, which feeds it
    std::unique_ptr<Stage> publish_;
};

/// One kind's missing ids, page by page, into `publisher`; `found` hears of each page.
std::size_t ScanKind(store::Store& store, EntityKind kind, const store::ScanOptions& opts, ScanPublisher& publisher,
                     const std::function<void(std::size_t)>& found) {
    std::size_t queued = 0;
    for (Id after = 0;;) {
        auto ids = store.MissingReferencedIds(kind, after, kPage, opts);
        if (ids.empty()) break;
        after = ids.back();
        queued += ids.size();
        found(ids.size());
        publisher.Push(kind, std::move(ids));
    }
    publisher.Drain();
    return queued;
}

}  // namespace

ScanReport ScanEntities(Runtime& rt, bool progress) {
    ScanReport report;
    store::ScanOptions opts;
    opts.sources = store::kFromKillmails;
    const bool tty = progress && ::isatty(STDERR_FILENO);
    // One line for the whole scan (the kinds' totals are not known before they are found).
    std::optional<log::Progress> found;
    if (progress) {
        found.emplace("scan:entities", -1, "ids queued",
                      log::Progress::ForStderr(rt.Shared().Cfg().progress_every_seconds));
    }
    std::mutex found_mu;
    auto count = [&](std::size_t n) {
        std::lock_guard lock(found_mu);
        if (found) found->Add(static_cast<std::int64_t>(n));
    };
    const auto& cfg = rt.Shared().Cfg();
    if (cfg.UsesRabbitMq() && cfg.database_url.find(":memory:") == std::string::npos) {
        // On RabbitMQ the scan is bound by the broker's confirms, and one queue is one process of
        // the broker: the kind with many distinct references (characters: ~90 % of the messages)
        // gets a pipeline of its own, on its own thread and connections, and the other kinds share
        // a second one, in scan order. More pipelines were slower at 1M killmails on 2 cores (their
        // finds and publishes compete with the broker's queue process for the CPU); fewer leave
        // the big queue waiting for the small ones. The marks (quick, set-based) share one stage.
        std::vector<std::vector<EntityKind>> groups(1);
        for (const EntityKind kind : ScanOrder()) {
            if (KindInfo(kind).many_distinct_references) {
                groups.insert(groups.begin(), {kind});
            } else {
                groups.back().push_back(kind);
            }
        }
        std::vector<std::exception_ptr> errors(groups.size() + 1);
        ScanPublisher::Stage mark(std::make_unique<Runtime>(rt.Shared(), 1), groups.size() * 2);
        std::mutex report_mu;
        {
            std::vector<std::jthread> threads;
            for (std::size_t i = 0; i < groups.size(); ++i) {
                threads.emplace_back([&, i] {
                    try {
                        Runtime own(rt.Shared(), 1);
                        ScanPublisher publisher(own, kPage, &mark);
                        for (const EntityKind kind : groups[i]) {
                            const std::size_t n = ScanKind(own.Store(), kind, opts, publisher, count);
                            std::lock_guard lock(report_mu);
                            report.queued[kind] = n;
                        }
                    } catch (...) {
                        errors[i] = std::current_exception();
                    }
                });
            }
        }
        std::optional<std::exception_ptr> marked;
        while (!(marked = mark.Collect(std::chrono::seconds(1)))) {}
        errors.back() = *marked;
        for (const auto& e : errors) {
            if (e) std::rethrow_exception(e);
        }
        if (tty) {
            for (const EntityKind kind : ScanOrder()) {
                std::fprintf(stderr, "\rscan:entities: %-12s %10zu queued%-30s\n", KindInfo(kind).plural,
                             report.queued[kind], "");
            }
        }
        return report;
    }
    // The database queue: one pipeline (its writers share one database; more would only wait).
    ScanPublisher publisher(rt);
    for (const EntityKind kind : ScanOrder()) {
        std::size_t queued = 0;
        for (Id after = 0;;) {
            auto ids = rt.Store().MissingReferencedIds(kind, after, kPage, opts);
            if (ids.empty()) break;
            after = ids.back();
            queued += ids.size();
            count(ids.size());
            publisher.Push(kind, std::move(ids));
        }
        if (tty) std::fprintf(stderr, "\rscan:entities: %-12s %10zu queued%-30s\n", KindInfo(kind).plural, queued, "");
        report.queued[kind] = queued;
    }
    publisher.Drain();
    return report;
}

}  // namespace kr::worker
