#include "worker/zkillboard_worker.hpp"

#include <algorithm>
#include <iterator>

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
                                   std::vector<Executor<store::Store>*> committers, push::KillmailEvents& events)
    : options_(options), store_(store), esi_(esi), zkb_(zkb), settler_(settler), clock_(clock), events_(events) {
    if (options_.concurrency <= 0) options_.concurrency = 1;
    for (auto* c : committers) storing_.push_back({c, nullptr, {}, 0});
    try {
        Recover();
    } catch (const FatalError&) {
        throw;
    } catch (const std::exception& e) {
        spdlog::warn("zkillboard: cannot publish what an earlier run recorded yet ({}); retrying with the first page",
                     e.what());
    }
    // A page fetch can wait minutes (a zKillboard 429 pause, an ESI error-limit pause): keep the
    // queue connection alive. Set after Recover (which waits on neither client), so a FatalError
    // out of it leaves no hook pointing at a worker that was never constructed.
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

void ZkillboardWorker::Pump(std::chrono::milliseconds wait) {
    if (Storing* oldest = Oldest()) FinishStoring(*oldest, wait);
    for (auto& s : storing_) FinishStoring(s, std::chrono::milliseconds(0));
}

void ZkillboardWorker::ReleaseAll() { FinishStoringAll(std::chrono::hours(1)); }  // it commits: ack it

std::size_t ZkillboardWorker::Held() const {
    return static_cast<std::size_t>(
        std::count_if(storing_.begin(), storing_.end(), [](const Storing& s) { return s.page != nullptr; }));
}

namespace {
using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

constexpr std::uint8_t kEntityPriority = 5;
constexpr const char* kSource = "zkillboard_sync";

/// The ids of `of` that are also in `in` (both sorted).
Referenced Intersect(const Referenced& of, const Referenced& in) {
    Referenced out;
    for (const auto& k : EntityKinds()) {
        std::set_intersection(of[k.kind].begin(), of[k.kind].end(), in[k.kind].begin(), in[k.kind].end(),
                              std::back_inserter(out[k.kind]));
    }
    return out;
}

void Append(Referenced& to, const Referenced& ids) {
    for (const auto& k : EntityKinds()) to[k.kind].insert(to[k.kind].end(), ids[k.kind].begin(), ids[k.kind].end());
}
}  // namespace

void ZkillboardWorker::Recover() {
    FinishStoringAll(std::chrono::hours(1));  // what the committers store is their pages' to publish
    auto& q = settler_.Queue();
    const std::size_t ids = PublishOutbox(q, store_, clock_, kEntityPriority, kSource);
    std::size_t pages = 0;
    for (Id after = 0;;) {
        const auto next = store_.UnpublishedZkbPages(after, 100);
        if (next.empty()) break;
        q.Declare(queue::kZkillboardCharacter);
        for (const auto& n : next) {
            q.Publish(queue::kZkillboardCharacter, {{n.job, n.priority, 0}});
            store_.ClearPublished({}, &n.at);
            after = n.at.character_id;
            ++pages;
        }
    }
    if (ids + pages > 0) {
        spdlog::info("zkillboard: published {} entity id(s) and {} next page(s) recorded earlier and not published",
                     ids, pages);
    }
    settler_.Counters().published += static_cast<std::int64_t>(ids + pages);
    recover_ = false;
}

void ZkillboardWorker::Process(const queue::Delivery& d) {
    if (recover_) Recover();
    auto fetched = Fetch(d);
    if (!fetched) return;
    auto page = std::make_unique<Page>(std::move(*fetched));
    if (storing_.empty()) {
        try {
            Store(store_, *page);
        } catch (...) {
            recover_ = true;  // a refused page's halves may have recorded ids
            throw;
        }
        Finish(*page);
        return;
    }
    // Killmails this page shares with pages being stored were neither fetched nor stored with it:
    // those pages settle first; if one of them failed, this page is fetched again.
    if (page->relies_on_storing && !FinishStoringAll(std::chrono::hours(1))) {
        throw TransientError("killmails shared with a page whose store failed");
    }
    Storing& s = IdleCommitter();
    s.page = std::shared_ptr<Page>(std::move(page));
    s.ids.clear();
    for (const auto& km : s.page->killmails) s.ids.insert(km.killmail_id);
    s.submitted = ++submitted_;
    // The job shares the page: if this worker is destroyed while the committer still stores it
    // (a FatalError unwinding RunWorker), the page outlives the worker until the job ends.
    s.committer->Submit([p = s.page](store::Store& st) { Store(st, *p); });
}

ZkillboardWorker::Storing* ZkillboardWorker::Oldest() {
    Storing* oldest = nullptr;
    for (auto& s : storing_) {
        if (s.page && (!oldest || s.submitted < oldest->submitted)) oldest = &s;
    }
    return oldest;
}

ZkillboardWorker::Storing& ZkillboardWorker::IdleCommitter() {
    for (auto& s : storing_) FinishStoring(s, std::chrono::milliseconds(0));  // stored meanwhile
    for (auto& s : storing_) {
        if (!s.page) return s;
    }
    Storing& oldest = *Oldest();
    while (!FinishStoring(oldest, std::chrono::hours(1)) && oldest.page) {}
    return oldest;
}

bool ZkillboardWorker::FinishStoringAll(std::chrono::milliseconds wait) {
    bool ok = true;
    while (Storing* oldest = Oldest()) {
        const bool settled = FinishStoring(*oldest, wait);
        ok = ok && settled;
        if (oldest->page) return false;  // still running after `wait`
    }
    return ok;
}

bool ZkillboardWorker::BeingStored(Id id) const {
    return std::any_of(storing_.begin(), storing_.end(), [id](const Storing& s) { return s.ids.count(id) > 0; });
}

bool ZkillboardWorker::FinishStoring(Storing& s, std::chrono::milliseconds wait) {
    if (!s.page) return true;
    auto outcome = s.committer->Collect(wait);
    if (!outcome) return false;
    auto page = std::move(s.page);  // leaves the slot idle
    s.ids.clear();
    if (*outcome) {
        recover_ = true;                   // a refused page's halves may have recorded ids
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
    // A message without a chain starts a sync: the chain's key is its queuedAt (a redelivery of it
    // is the same sync; a later queue:character run another one).
    const bool takeover = !p.job.chain;
    const std::string chain = p.job.chain ? *p.job.chain
                              : !p.job.queued_at.empty() && p.job.queued_at.size() <= queue::kMaxChainKey
                                  ? p.job.queued_at
                                  : "received " + IsoUtc(clock_.NowMs());
    p.step = store::ZkbChainStep{{p.job.character_id, chain, p.page}, takeover, std::nullopt, d.priority};
    if (IsStale(p)) {
        spdlog::debug(
            "zkillboard: character {} page {} of chain {} is stale (a duplicate, or its chain went on); "
            "acked without fetching",
            p.job.character_id, p.page, chain);
        settler_.Ack(d, "skipped (stale page)");
        return std::nullopt;
    }
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
        settler_.Ack(d, "end of history", zp.http_status);
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
        if (BeingStored(e.killmail_id)) {  // a page being stored has it
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

    // What the new killmails reference and this worker has not seen yet: recorded with them (the
    // store decides, with the page stored, which of those are missing).
    const auto refs = ReferencedBy(killmails);
    for (const auto& k : EntityKinds()) {
        const auto& seen = seen_[k.kind];
        for (Id id : refs[k.kind]) {
            if (!seen.count(id)) p.unseen[k.kind].push_back(id);
        }
    }
    if (!transient.empty()) {
        p.step.reset();  // the page is retried: the chain stays where it is
    } else if (p.page < options_.max_pages) {
        auto next = p.job;
        next.page = p.page + 1;
        next.chain = p.step->at.chain;
        next.queued_at = IsoUtc(clock_.NowMs());
        p.step->next_job = queue::BuildZkillboardJob(next);
    }
    return p;
}

bool ZkillboardWorker::IsStale(const Page& p) {
    const auto at = store_.LoadZkbChain(p.step->at.character_id);
    if (!at) return false;
    if (at->chain == p.step->at.chain) return at->page >= p.page;
    return !p.step->takeover;
}

void ZkillboardWorker::Store(store::Store& store, Page& p) {
    auto t = Clock::now();
    const store::ZkbChainStep* step = p.step ? &*p.step : nullptr;
    try {
        p.result = store.StoreKillmailPage(p.killmails, p.unseen, step);
        p.recorded = p.unseen;
    } catch (const PermanentError& e) {
        // One killmail the database refuses must not cost the page: isolate it, store the rest.
        spdlog::warn("zkillboard: character {} page {}: the database refused the page ({}); storing it in parts",
                     p.job.character_id, p.page, e.what());
        p.result = {};
        p.recorded = {};
        if (!p.killmails.empty()) StoreApart(store, p, p.killmails);
        if (step) p.result.step_taken = store.StoreKillmailPage({}, {}, step).step_taken;
    }
    p.store_ms = MsSince(t);
    // Not stored, not already waiting in a queue, not known to be gone (404 recorded).
    for (const auto& k : EntityKinds()) {
        if (!p.recorded[k.kind].empty()) p.missing[k.kind] = store.FilterMissing(k.kind, p.recorded[k.kind]);
    }
}

void ZkillboardWorker::StoreApart(store::Store& store, Page& p, std::span<const Killmail> killmails) {
    const std::size_t half = killmails.size() / 2;
    for (auto part : {killmails.first(half), killmails.subspan(half)}) {
        if (part.empty()) continue;
        const auto enrich = Intersect(ReferencedBy(part), p.unseen);
        try {
            p.result += store.StoreKillmailPage(part, enrich, nullptr);
            Append(p.recorded, enrich);
        } catch (const PermanentError& e) {
            if (part.size() > 1) {
                StoreApart(store, p, part);
                continue;
            }
            spdlog::warn("zkillboard: killmail {} refused by the database: {}", part.front().killmail_id, e.what());
            p.result.rejected.emplace_back(part.front().killmail_id, std::string("refused: ") + e.what());
        }
    }
}

void ZkillboardWorker::Finish(Page& p) {
    auto& c = settler_.Counters();
    const auto& d = p.d;
    bool published = false;
    try {
        auto t = Clock::now();
        events_.Stored(p.result.new_ids);  // committed (Store); a page stored again has none
        stored_ += static_cast<std::int64_t>(p.result.inserted);
        c.created += static_cast<std::int64_t>(p.result.inserted);
        c.unchanged += static_cast<std::int64_t>(p.result.already_present);
        for (const auto& [id, why] : p.result.rejected) p.unavailable.push_back(std::to_string(id) + " (" + why + ")");
        // Queue what the new killmails reference and the database lacks (the original left that
        // to a manual scan); marked pending, they are not published again if what follows fails.
        for (const auto& k : EntityKinds()) {
            c.published += static_cast<std::int64_t>(
                PublishEntities(settler_.Queue(), store_, clock_, k.kind, p.missing[k.kind], kEntityPriority, kSource));
        }
        // The page's step was taken: this delivery holds the chain and publishes the next page.
        const bool next = p.step && p.result.step_taken && p.step->next_job;
        if (next) {
            settler_.Queue().Publish(queue::kZkillboardCharacter, {{*p.step->next_job, p.step->next_priority, 0}});
            ++c.published;
        } else if (p.step && !p.result.step_taken) {
            spdlog::debug("zkillboard: character {} page {}: stored by another delivery of it; no next page",
                          p.job.character_id, p.page);
        }
        store_.ClearPublished(p.recorded, next ? &p.step->at : nullptr);  // both confirmed: forget them
        published = true;
        for (const auto& k : EntityKinds()) {
            auto& seen = seen_[k.kind];
            if (seen.size() > 200'000) seen.clear();
            seen.insert(p.recorded[k.kind].begin(), p.recorded[k.kind].end());
        }
        spdlog::debug(
            "zkillboard: character {} page {}: {} listed, {} new; zkb {:.0f} ms, esi {:.0f} ms, store {:.0f} "
            "ms, queue {:.0f} ms",
            p.job.character_id, p.page, p.listed, p.killmails.size(), p.fetch_ms, p.esi_ms, p.store_ms, MsSince(t));
        if (!p.transient.empty()) throw TransientError(p.transient);  // stored ones are skipped next time
        if (!p.unavailable.empty()) {
            std::string list;
            for (const auto& u : p.unavailable) list += (list.empty() ? "" : ", ") + u;
            throw PermanentError("killmail_unavailable", "page " + std::to_string(p.page) + ": killmails " + list);
        }
        settler_.Ack(d, fmt::format("page {}: {} listed, {} new", p.page, p.listed, p.killmails.size()));
    } catch (const FatalError&) {
        throw;
    } catch (...) {
        if (!published) recover_ = true;  // what the page recorded may be unpublished
        settler_.Fail(d, std::current_exception());
    }
}

}  // namespace kr::worker
