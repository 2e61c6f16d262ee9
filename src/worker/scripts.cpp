#include "worker/scripts.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "core/errors.hpp"
#include "log/log.hpp"
#include "queue/messages.hpp"
#include "worker/entity_kind.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

namespace {

constexpr std::size_t kPage = 10000;

std::vector<Id> FetchIdList(Runtime& rt, const std::string& path) {
    esi::EsiRequest req;
    req.path = path;
    auto r = rt.Esi().Fetch(std::move(req));
    r.ThrowIfError("ESI " + path);
    if (r.outcome != esi::Outcome::kOk) throw TransientError("ESI " + path + ": " + std::string(esi::ToString(r.outcome)));
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
    for (const auto& j : jobs) out.push_back({queue::BuildZkillboardJob(j), priority, 0});
    q.Publish(queue::kZkillboardCharacter, out);
    return out.size();
}

}  // namespace

std::size_t QueueAlliances(Runtime& rt) {
    auto ids = FetchIdList(rt, esi_paths::Alliances());
    spdlog::info("queue:alliances: {} alliance ids from ESI", ids.size());
    return PublishIds(rt.Queue(), queue::kAllianceInfo, ids, 0, "queue-alliances", 100);
}

std::size_t QueueCorporations(Runtime& rt) {
    auto& store = rt.Store();
    auto npc = FetchIdList(rt, esi_paths::NpcCorporations());
    auto have = store.ExistingIds(store::EntityKind::kCorporation, npc);
    std::vector<Id> missing;
    for (Id id : npc) {
        if (!have.count(id)) missing.push_back(id);
    }
    std::size_t n = PublishEntities(rt.Queue(), store, store::EntityKind::kCorporation, missing, 0, "queue-corporations");
    store::ScanOptions opts;
    opts.sources = store::kFromAll;
    for (Id after = 0;;) {
        auto ids = store.MissingReferencedIds(store::EntityKind::kCorporation, after, kPage, opts);
        if (ids.empty()) break;
        after = ids.back();
        n += PublishEntities(rt.Queue(), store, store::EntityKind::kCorporation, ids, 0, "queue-corporations");
    }
    spdlog::info("queue:corporations: {} NPC corporations listed by ESI, {} corporations queued", npc.size(), n);
    return n;
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
        auto ids = rt.Store().ListIds(store::EntityKind::kAlliance, after, kPage);
        if (ids.empty()) break;
        after = ids.back();
        n += PublishIds(rt.Queue(), queue::kAllianceCorporations, ids, 5, queue::kAllianceCorporations);
    }
    if (n == 0) spdlog::warn("queue:alliance-corporations: no alliances in the database (run queue:alliances first)");
    return n;
}

ScanReport ScanEntities(Runtime& rt, bool progress) {
    ScanReport report;
    auto& store = rt.Store();
    store::ScanOptions opts;
    opts.sources = store::kFromKillmails;
    const bool tty = progress && ::isatty(STDERR_FILENO);
    for (auto kind : {store::EntityKind::kCharacter, store::EntityKind::kCorporation, store::EntityKind::kAlliance,
                      store::EntityKind::kType}) {
        std::size_t queued = 0;
        for (Id after = 0;;) {
            auto ids = store.MissingReferencedIds(kind, after, kPage, opts);
            if (ids.empty()) break;
            after = ids.back();
            queued += PublishEntities(rt.Queue(), store, kind, ids, 5, "killmail_scan", kPage);
            if (tty) std::fprintf(stderr, "\rscan:entities: %-12s %10zu queued (last id %lld)", Traits(kind).label,
                                  queued, static_cast<long long>(after));
        }
        if (tty) std::fprintf(stderr, "\rscan:entities: %-12s %10zu queued%-30s\n", Traits(kind).label, queued, "");
        switch (kind) {
            case store::EntityKind::kCharacter: report.characters = queued; break;
            case store::EntityKind::kCorporation: report.corporations = queued; break;
            case store::EntityKind::kAlliance: report.alliances = queued; break;
            case store::EntityKind::kType: report.types = queued; break;
        }
    }
    return report;
}

}  // namespace kr::worker
