#include "worker/zkillboard_worker.hpp"

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "core/time_format.hpp"
#include "esi/request_group.hpp"
#include "log/log.hpp"
#include "queue/messages.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

ZkillboardWorker::ZkillboardWorker(ZkillboardWorkerOptions options, store::Store& store, esi::EsiClient& esi,
                                   esi::ZkbClient& zkb, Settler& settler, const Clock& clock,
                                   Executor<store::Store>* committer)
    : options_(options), store_(store), esi_(esi), zkb_(zkb), settler_(settler), clock_(clock), committer_(committer) {
    if (options_.concurrency <= 0) options_.concurrency = 1;
    // A page fetch can wait minutes (a zKillboard 429 pause, an ESI error-limit pause): keep the
    // queue connection alive.
    zkb_.SetIdleHook([this] { settler_.KeepAlive(); });
    esi_.SetIdleHook([this] { settler_.KeepAlive(); });
}

ZkillboardWorker::~ZkillboardWorker() {
    zkb_.SetIdleHook(nullptr);
    esi_.SetIdleHook(nullptr);
}

std::vector<std::string> ZkillboardWorker::Queues() const { return {queue::kZkillboardCharacter}; }

void ZkillboardWorker::Admit(std::vector<queue::Delivery> deliveries) {
    ForEachDelivery(settler_, deliveries, [this](const queue::Delivery& d) { Process(d); });
}

void ZkillboardWorker::Pump(std::chrono::milliseconds wait) { FinishStoring(wait); }

void ZkillboardWorker::ReleaseAll() { FinishStoring(std::chrono::hours(1)); }  // it commits: ack it

namespace {
using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
}  // namespace

void ZkillboardWorker::Process(const queue::Delivery& d) {
    auto fetched = Fetch(d);
    if (!fetched) return;
    auto page = std::make_unique<Page>(std::move(*fetched));
    if (!committer_) {
        try {
            Store(store_, *page);
        } catch (...) {
            ForgetSeen();  // its references were never queued
            throw;
        }
        Finish(*page);
        return;
    }
    // The previous page is stored while this one was fetched: settle it, then hand this one over.
    if (!FinishStoring(std::chrono::hours(1)) && page->relies_on_storing) {
        // Killmails this page shares with that one were neither fetched nor stored: do it again.
        throw TransientError("killmails shared with a page whose store failed");
    }
    storing_ = std::move(page);
    storing_ids_.clear();
    for (const auto& km : storing_->killmails) storing_ids_.insert(km.killmail_id);
    committer_->Submit([p = storing_.get()](store::Store& s) { Store(s, *p); });
}

void ZkillboardWorker::ForgetSeen() {
    for (auto& seen : seen_.values) seen.clear();
}

bool ZkillboardWorker::FinishStoring(std::chrono::milliseconds wait) {
    if (!storing_) return true;
    auto outcome = committer_->Collect(wait);
    if (!outcome) return false;
    auto page = std::move(storing_);
    storing_ids_.clear();
    if (*outcome) {
        ForgetSeen();                      // its references were never queued
        settler_.Fail(page->d, *outcome);  // rethrows FatalError
        return false;
    }
    Finish(*page);
    return true;
}

std::optional<ZkillboardWorker::Page> ZkillboardWorker::Fetch(const queue::Delivery& d) {
    Page p;
    p.d = d;
    p.job = queue::ParseZkillboardJob(d.body);  // permanent on a bad body
    p.page = p.job.page.value_or(1);
    auto& c = settler_.Counters();

    auto t0 = Clock::now();
    auto zp = zkb_.FetchCharacterPage(p.job.character_id, p.page);
    p.fetch_ms = MsSince(t0);
    zp.ThrowIfError("zKillboard character " + std::to_string(p.job.character_id) + " page " + std::to_string(p.page));
    std::vector<esi_json::ZkbEntry> entries;
    try {
        entries = esi_json::ParseZkbPage(zp.body);
    } catch (const esi_json::ParseError& e) {
        throw TransientError("zKillboard page " + std::to_string(p.page) + ": unusable body: " + e.what());
    }
    if (entries.empty()) {  // the end of this character's history
        settler_.Ack(d);
        return std::nullopt;
    }
    p.listed = entries.size();

    std::vector<Id> ids;
    ids.reserve(entries.size());
    for (const auto& e : entries) ids.push_back(e.killmail_id);
    auto t1 = Clock::now();
    const auto stored = store_.ExistingKillmailIds(ids);

    auto& killmails = p.killmails;
    auto& unavailable = p.unavailable;
    auto& transient = p.transient;
    esi::RequestGroup requests(esi_);  // its callbacks refer to `p`: leaving early cancels them
    for (auto& e : entries) {
        if (stored.count(e.killmail_id)) {
            ++c.skipped;
            continue;
        }
        if (storing_ids_.count(e.killmail_id)) {  // the previous page stores it right now
            p.relies_on_storing = true;
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
        requests.Submit(std::move(req), [&, id = e.killmail_id, zkb = e.zkb](esi::EsiResult r) {
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
    requests.Wait();  // runs the idle hook; on a stop, kr::StoppedError hands the page back
    p.esi_ms = MsSince(t1);

    // What the new killmails reference and this worker has not seen yet (the store decides, with
    // the page stored, which of those are missing).
    const auto refs = ReferencedBy(killmails);
    for (const auto& k : EntityKinds()) {
        auto& seen = seen_[k.kind];
        if (seen.size() > 200'000) seen.clear();
        for (Id id : refs[k.kind]) {
            if (seen.insert(id).second) p.unseen[k.kind].push_back(id);
        }
    }
    return p;
}

void ZkillboardWorker::Store(store::Store& store, Page& p) {
    auto t = Clock::now();
    if (!p.killmails.empty()) p.result = store.StoreKillmails(p.killmails);
    p.store_ms = MsSince(t);
    // Not stored, not already waiting in a queue, not known to be gone (404 recorded).
    for (const auto& k : EntityKinds()) {
        if (!p.unseen[k.kind].empty()) p.missing[k.kind] = store.FilterMissing(k.kind, p.unseen[k.kind]);
    }
}

void ZkillboardWorker::Finish(Page& p) {
    auto& c = settler_.Counters();
    const auto& d = p.d;
    try {
        auto t = Clock::now();
        stored_ += static_cast<std::int64_t>(p.result.inserted);
        c.created += static_cast<std::int64_t>(p.result.inserted);
        c.unchanged += static_cast<std::int64_t>(p.result.already_present);
        for (const auto& [id, why] : p.result.rejected) p.unavailable.push_back(std::to_string(id) + " (" + why + ")");
        // Queue what the new killmails reference and the database lacks (the original left that
        // to a manual scan).
        for (const auto& k : EntityKinds()) {
            c.published += static_cast<std::int64_t>(
                PublishEntities(settler_.Queue(), store_, clock_, k.kind, p.missing[k.kind], 5, "zkillboard_sync"));
        }
        spdlog::debug(
            "zkillboard: character {} page {}: {} listed, {} new; zkb {:.0f} ms, esi {:.0f} ms, store {:.0f} "
            "ms, queue {:.0f} ms",
            p.job.character_id, p.page, p.listed, p.killmails.size(), p.fetch_ms, p.esi_ms, p.store_ms, MsSince(t));
        if (!p.transient.empty()) throw TransientError(p.transient);  // stored ones are skipped next time

        if (p.page < options_.max_pages) {
            auto next = p.job;
            next.page = p.page + 1;
            next.queued_at = IsoUtc(clock_.NowMs());
            settler_.Queue().Publish(queue::kZkillboardCharacter, {{queue::BuildZkillboardJob(next), d.priority, 0}});
            ++c.published;
        }
        if (!p.unavailable.empty()) {
            std::string list;
            for (const auto& u : p.unavailable) list += (list.empty() ? "" : ", ") + u;
            throw PermanentError("killmail_unavailable", "page " + std::to_string(p.page) + ": killmails " + list);
        }
        settler_.Ack(d);
    } catch (const FatalError&) {
        throw;
    } catch (...) {
        settler_.Fail(d, std::current_exception());
    }
}

}  // namespace kr::worker
