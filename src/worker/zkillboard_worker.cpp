#include "worker/zkillboard_worker.hpp"

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "log/log.hpp"
#include "queue/messages.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

ZkillboardWorker::ZkillboardWorker(ZkillboardWorkerOptions options, store::Store& store, esi::EsiClient& esi,
                                   esi::ZkbClient& zkb, Settler& settler)
    : options_(options), store_(store), esi_(esi), zkb_(zkb), settler_(settler) {
    if (options_.concurrency <= 0) options_.concurrency = 1;
}

std::vector<std::string> ZkillboardWorker::Queues() const { return {queue::kZkillboardCharacter}; }

void ZkillboardWorker::Admit(std::vector<queue::Delivery> deliveries) {
    ForEachDelivery(settler_, deliveries, [this](const queue::Delivery& d) { Process(d); });
}

void ZkillboardWorker::Process(const queue::Delivery& d) {
    auto job = queue::ParseZkillboardJob(d.body);  // permanent on a bad body
    const int page = job.page.value_or(1);
    auto& c = settler_.Counters();

    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    auto ms_since = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };
    auto zp = zkb_.FetchCharacterPage(job.character_id, page);
    const double fetch_ms = ms_since(t0);
    zp.ThrowIfError("zKillboard character " + std::to_string(job.character_id) + " page " + std::to_string(page));
    std::vector<esi_json::ZkbEntry> entries;
    try {
        entries = esi_json::ParseZkbPage(zp.body);
    } catch (const esi_json::ParseError& e) {
        throw TransientError("zKillboard page " + std::to_string(page) + ": unusable body: " + e.what());
    }
    if (entries.empty()) {  // the end of this character's history
        settler_.Ack(d);
        return;
    }

    std::vector<Id> ids;
    ids.reserve(entries.size());
    for (const auto& e : entries) ids.push_back(e.killmail_id);
    auto t1 = Clock::now();
    const auto stored = store_.ExistingKillmailIds(ids);

    std::vector<Killmail> killmails;
    std::vector<std::string> unavailable;  // permanent ESI answers (404/422)
    std::string transient;                 // first transient failure
    std::size_t waiting = 0;
    for (auto& e : entries) {
        if (stored.count(e.killmail_id)) {
            ++c.skipped;
            continue;
        }
        if (e.killmail) {  // 2026 format: the full killmail is in the list
            killmails.push_back(std::move(*e.killmail));
            continue;
        }
        if (e.zkb.hash.empty()) {
            unavailable.push_back(std::to_string(e.killmail_id) + " (no hash)");
            continue;
        }
        esi::EsiRequest req;
        req.path = esi_paths::Killmail(e.killmail_id, e.zkb.hash);
        ++waiting;
        esi_.Submit(std::move(req), [&, id = e.killmail_id, zkb = e.zkb](esi::EsiResult r) {
            --waiting;
            switch (r.outcome) {
                case esi::Outcome::kOk:
                case esi::Outcome::kFresh:
                    try {
                        auto km = esi_json::ParseKillmail(r.body, zkb.hash);
                        km.total_value = zkb.total_value;
                        km.destroyed_value = zkb.destroyed_value;
                        km.dropped_value = zkb.dropped_value;
                        killmails.push_back(std::move(km));
                    } catch (const esi_json::ParseError& ex) {
                        if (transient.empty()) transient = "killmail " + std::to_string(id) + ": " + ex.what();
                    }
                    break;
                case esi::Outcome::kNotFound:
                case esi::Outcome::kUnprocessable:
                case esi::Outcome::kClientError:
                    unavailable.push_back(std::to_string(id) + " (HTTP " + std::to_string(r.status) + ")");
                    break;
                default:
                    if (transient.empty()) transient = "killmail " + std::to_string(id) + ": " + r.error;
            }
        });
    }
    while (waiting > 0) {
        esi_.Drive(std::chrono::milliseconds(50));
        settler_.KeepAlive();  // a page can take long while ESI is paused
    }

    const double esi_ms = ms_since(t1);
    auto t2 = Clock::now();
    double store_ms = 0;
    if (!killmails.empty()) {
        auto res = store_.StoreKillmails(killmails);
        store_ms = ms_since(t2);
        stored_ += static_cast<std::int64_t>(res.inserted);
        c.created += static_cast<std::int64_t>(res.inserted);
        c.unchanged += static_cast<std::int64_t>(res.already_present);
        for (const auto& [id, why] : res.rejected) unavailable.push_back(std::to_string(id) + " (" + why + ")");
        // Queue what the new killmails reference and the database lacks (the original left that
        // to a manual scan).
        auto refs = ReferencedBy(killmails);
        auto queue_missing = [&](store::EntityKind kind, const std::vector<Id>& want) {
            auto& seen = seen_[static_cast<int>(kind)];
            if (seen.size() > 200'000) seen.clear();
            std::vector<Id> unseen;
            for (Id id : want) {
                if (seen.insert(id).second) unseen.push_back(id);
            }
            if (unseen.empty()) return;
            // Not stored, not already waiting in a queue, not known to be gone (404 recorded).
            auto missing = store_.FilterMissing(kind, unseen);
            c.published += static_cast<std::int64_t>(
                PublishEntities(settler_.Queue(), store_, kind, missing, 5, "zkillboard_sync"));
        };
        queue_missing(store::EntityKind::kCharacter, refs.characters);
        queue_missing(store::EntityKind::kCorporation, refs.corporations);
        queue_missing(store::EntityKind::kAlliance, refs.alliances);
        queue_missing(store::EntityKind::kType, refs.types);
    }
    spdlog::debug("zkillboard: character {} page {}: {} listed, {} new; zkb {:.0f} ms, esi {:.0f} ms, store {:.0f} ms, "
                  "queue {:.0f} ms",
                  job.character_id, page, entries.size(), killmails.size(), fetch_ms, esi_ms, store_ms,
                  ms_since(t2) - store_ms);
    if (!transient.empty()) throw TransientError(transient);  // stored ones are skipped next time

    if (page < options_.max_pages) {
        auto next = job;
        next.page = page + 1;
        next.queued_at.clear();
        settler_.Queue().Publish(queue::kZkillboardCharacter, {{queue::BuildZkillboardJob(next), d.priority, 0}});
        ++c.published;
    }
    if (!unavailable.empty()) {
        std::string list;
        for (const auto& u : unavailable) list += (list.empty() ? "" : ", ") + u;
        throw PermanentError("killmail_unavailable", "page " + std::to_string(page) + ": killmails " + list);
    }
    settler_.Ack(d);
}

}  // namespace kr::worker
