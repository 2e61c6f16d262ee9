#include "worker/info_worker.hpp"

#include <algorithm>
#include <thread>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "log/log.hpp"
#include "queue/messages.hpp"
#include "store/tables.hpp"

namespace kr::worker {

namespace {

/// The registry index of the first entity a batch item carries (parents have lower ones).
template <typename D>
std::size_t FirstKind(const D& item) {
    return item.batch.entities.empty() ? 0 : KindIndex(KindOf(item.batch.entities.front()));
}

}  // namespace

InfoWorker::InfoWorker(InfoWorkerOptions options, store::Store& store, esi::EsiClient& esi, Settler& settler,
                       const Clock& clock, Executor<store::Store>* committer)
    : options_(options),
      store_(store),
      esi_(esi),
      settler_(settler),
      clock_(clock),
      committer_(committer),
      requests_(esi) {
    if (options_.concurrency <= 0) options_.concurrency = KindInfo(options_.kind).default_concurrency;
}

void InfoWorker::Admit(std::vector<queue::Delivery> deliveries) {
    const auto kind = options_.kind;
    auto& counters = settler_.Counters();
    std::vector<std::pair<queue::Delivery, Id>> todo;
    todo.reserve(deliveries.size());
    for (auto& d : deliveries) {
        Id id = 0;
        try {
            id = queue::ParseEntityMessage(d.body).entity_id;
        } catch (...) {
            settler_.Fail(d, std::current_exception());  // permanent: dead letter at once
            continue;
        }
        if (!ShouldFetch(kind, id)) {
            ++counters.skipped;
            settler_.Ack(d, "skipped (not asked: an NPC or invalid id)");
            continue;
        }
        todo.emplace_back(std::move(d), id);
    }
    if (todo.empty()) return;

    std::vector<Id> ids;
    std::vector<std::string> paths;
    ids.reserve(todo.size());
    paths.reserve(todo.size());
    for (const auto& [d, id] : todo) {
        ids.push_back(id);
        paths.push_back(kr::EntityPath(kind, id));
    }
    std::unordered_set<Id> existing;
    std::unordered_map<std::string, kr::CacheEntry> cache;
    try {
        auto f = store_.LookupFreshness(kind, ids, paths);
        existing = std::move(f.existing);
        cache = std::move(f.cache);
    } catch (...) {
        auto error = std::current_exception();
        for (auto& [d, id] : todo) settler_.Fail(d, error);
        return;
    }
    const std::int64_t now = clock_.NowMs();
    for (std::size_t i = 0; i < todo.size(); ++i) {
        auto& [d, id] = todo[i];
        if (auto held = holders_.find(id); held != holders_.end()) {
            // This worker already holds a message for the id (a scan and a sweep both queued it):
            // ESI is not asked twice; the duplicate is settled the way the first one is.
            held->second.riders.push_back(std::move(d));
            ++riders_;
            continue;
        }
        const auto it = cache.find(paths[i]);
        const kr::CacheEntry* c = it == cache.end() ? nullptr : &it->second;
        const bool exists = existing.count(id) > 0;
        if (c && c->status == 404 && c->expires_at_ms > now && !exists) {
            ++counters.skipped;  // known missing: don't spend ESI's error budget on it again
            settler_.Ack(d, "skipped (a known 404)");
            continue;
        }
        // What we hold for the path: the stored row when the entity is stored (revalidated with
        // If-None-Match once it expires), else an empty entry (a plain GET).
        CacheEntry known = EntityCacheEntry(kind, id);
        if (exists && c && c->status == 200) {
            known = *c;
            known.entity_kind = kind;
            known.entity_id = id;
            bool too_old = options_.max_age_ms > 0 && now - c->checked_at_ms > options_.max_age_ms;
            if (known.FreshAt(now) && !too_old) {
                ++counters.skipped;  // fresh: nothing to ask ESI
                settler_.Ack(d, "skipped (fresh)");
                continue;
            }
            if (too_old) known.expires_at_ms = 0;  // revalidate (If-None-Match) despite Expires
        }
        esi::EsiRequest req;
        req.path = paths[i];
        req.cache = std::move(known);
        req.refresh = d.priority < queue::kNewWorkPriority;
        ++in_flight_;
        flights_.push_back(d);
        holders_.emplace(id, Holder{d.tag, {}});
        held_ids_.emplace(d.tag, id);
        requests_.Submit(std::move(req), [this, delivery = d, entity = id](esi::EsiResult r) {
            OnResult(delivery, entity, std::move(r));
        });
    }
}

void InfoWorker::OnResult(const queue::Delivery& d, Id id, esi::EsiResult r) {
    --in_flight_;
    flights_.erase(std::find_if(flights_.begin(), flights_.end(),
                                [&](const queue::Delivery& f) { return f.tag == d.tag && f.queue == d.queue; }));
    const std::string path = kr::EntityPath(options_.kind, id);
    const std::int64_t now = clock_.NowMs();
    Done done{d, {}, Done::kFetched, {}, 0, r.status};
    try {
        switch (r.outcome) {
            case esi::Outcome::kOk: {
                try {
                    done.batch.entities.push_back(KindInfo(options_.kind).parse(id, r.body));
                } catch (const esi_json::ParseError& e) {
                    throw TransientError("ESI " + path + ": unusable body: " + e.what());
                }
                if (r.cache) done.batch.cache.push_back(*r.cache);
                break;
            }
            case esi::Outcome::kNotModified:
            case esi::Outcome::kFresh:
                done.what = Done::kNotModified;
                if (r.cache) done.batch.cache.push_back(*r.cache);
                break;
            case esi::Outcome::kNotFound: {
                done.what = Done::kNotFound;
                CacheEntry e = EntityCacheEntry(options_.kind, id);
                e.status = 404;
                e.expires_at_ms = now + options_.not_found_ttl_ms;
                e.checked_at_ms = now;
                done.batch.cache.push_back(std::move(e));
                break;
            }
            default: r.ThrowIfError("ESI " + path);  // kFailed: transient; other 4xx: permanent
        }
    } catch (const FatalError&) {
        throw;
    } catch (...) {
        FailHeld(d, std::current_exception());
        return;
    }
    Finish(std::move(done));
}

void InfoWorker::OnParentResult(Ref parent, esi::EsiResult r) {
    --parent_in_flight_;
    parent_flights_.erase(parent);
    parents_dirty_ = true;
    const auto [kind, id] = parent;
    const std::string path = kr::EntityPath(kind, id);
    Done done;
    try {
        switch (r.outcome) {
            case esi::Outcome::kOk: try { done.batch.entities.push_back(KindInfo(kind).parse(id, r.body));
                } catch (const esi_json::ParseError& e) {
                    throw TransientError("ESI " + path + ": unusable body: " + e.what());
                }
                if (r.cache) done.batch.cache.push_back(*r.cache);
                break;
            case esi::Outcome::kNotFound: {
                // Recorded like any 404; what needs it cannot be written.
                const std::int64_t now = clock_.NowMs();
                CacheEntry e = EntityCacheEntry(kind, id);
                e.status = 404;
                e.expires_at_ms = now + options_.not_found_ttl_ms;
                e.checked_at_ms = now;
                done.what = Done::kNotFound;
                done.batch.cache.push_back(std::move(e));
                parent_errors_[parent] = std::make_exception_ptr(TransientError(
                    "ESI " + path + ": 404, and " + std::string(KindInfo(options_.kind).plural) + " refer to it"));
                break;
            }
            default: r.ThrowIfError("ESI " + path); throw TransientError("ESI " + path + ": no entity");
        }
    } catch (const FatalError&) {
        throw;
    } catch (...) {
        parent_errors_[parent] = std::current_exception();
        return;
    }
    Finish(std::move(done));
}

void InfoWorker::Finish(Done done) {
    if (done.what == Done::kFetched && !done.batch.entities.empty()) {
        done.needs = store::tables::Parents(done.batch.entities.front());
    }
    if (!done.needs.empty()) {
        done.waiting_since_ms = clock_.NowMs();
        waiting_.push_back(std::move(done));
        parents_dirty_ = true;
        return;
    }
    if (done_.empty()) first_done_us_ = clock_.NowUs();
    done_.push_back(std::move(done));
}

void InfoWorker::ResolveParents() {
    const std::int64_t now = clock_.NowMs();
    if (waiting_.empty()) {
        parent_errors_.clear();  // nobody waits for them any more
        return;
    }
    if (!parents_dirty_ && now < next_parent_check_ms_) return;
    parents_dirty_ = false;
    next_parent_check_ms_ = now + options_.parent_check.count();
    // What this batch brings along (written before its children, in the same transaction).
    std::set<Ref> in_batch;
    for (const auto& d : done_) {
        for (const auto& e : d.batch.entities) in_batch.emplace(KindOf(e), IdOf(e));
    }
    // Parents this worker fetched that wait for their own parents: nobody asks for them again.
    std::set<Ref> waiting_here;
    for (const auto& w : waiting_) {
        for (const auto& e : w.batch.entities) waiting_here.emplace(KindOf(e), IdOf(e));
    }
    // The parents to look up: one query per kind for what is not known to be stored.
    std::map<EntityKind, std::vector<Id>> lookup;
    for (const auto& w : waiting_) {
        for (const auto& ref : w.needs) {
            if (!in_batch.count(ref) && !stored_parents_[ref.first].count(ref.second)) {
                lookup[ref.first].push_back(ref.second);
            }
        }
    }
    std::map<EntityKind, std::unordered_set<Id>> unclaimed;  // missing, and nobody fetches them
    try {
        for (auto& [kind, ids] : lookup) {
            std::sort(ids.begin(), ids.end());
            ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
            auto& known = stored_parents_[kind];
            if (known.size() > 100000) known.clear();  // bounded; the universe is ~10k ids
            for (Id id : store_.ExistingIds(kind, ids)) known.insert(id);
            std::vector<Id> missing;
            for (Id id : ids) {
                const Ref ref{kind, id};
                if (!known.count(id) && !parent_flights_.count(ref) && !waiting_here.count(ref)) missing.push_back(id);
            }
            if (missing.empty()) continue;
            for (Id id : store_.FilterMissing(kind, missing)) unclaimed[kind].insert(id);
        }
    } catch (const FatalError&) {
        throw;
    } catch (...) {
        return;  // the store is unreachable: look again at the next check
    }
    // A parent ESI did not give us fails what needs it, and what needs that in turn.
    std::vector<std::exception_ptr> failed(waiting_.size());
    for (bool changed = !parent_errors_.empty(); changed;) {
        changed = false;
        for (std::size_t i = 0; i < waiting_.size(); ++i) {
            if (failed[i]) continue;
            for (const auto& ref : waiting_[i].needs) {
                auto e = parent_errors_.find(ref);
                if (e == parent_errors_.end()) continue;
                failed[i] = e->second;
                for (const auto& entity : waiting_[i].batch.entities) {
                    parent_errors_.emplace(Ref{KindOf(entity), IdOf(entity)}, e->second);
                }
                changed = true;
                break;
            }
        }
    }
    // Each waiting entity: ready, failed, still waiting, or its parents are to be fetched here.
    std::map<EntityKind, std::vector<Id>> claim;
    std::vector<Done> still;
    for (std::size_t i = 0; i < waiting_.size(); ++i) {
        auto& w = waiting_[i];
        if (failed[i]) {
            if (w.d) FailHeld(*w.d, failed[i]);
            continue;
        }
        std::vector<Ref> needs;
        for (const auto& ref : w.needs) {
            if (in_batch.count(ref) || stored_parents_[ref.first].count(ref.second)) continue;
            needs.push_back(ref);
        }
        w.needs = std::move(needs);
        if (w.needs.empty()) {
            if (done_.empty()) first_done_us_ = clock_.NowUs();
            for (const auto& e : w.batch.entities) in_batch.emplace(KindOf(e), IdOf(e));
            done_.push_back(std::move(w));
            parents_dirty_ = true;  // what waits for it is ready too (next round)
            continue;
        }
        const bool waited_enough = now - w.waiting_since_ms >= options_.parent_wait.count();
        for (const auto& [kind, id] : w.needs) {
            if (parent_flights_.count({kind, id}) || waiting_here.count({kind, id})) continue;
            if (waited_enough || unclaimed[kind].count(id)) claim[kind].push_back(id);
        }
        still.push_back(std::move(w));
    }
    waiting_ = std::move(still);
    parent_errors_.clear();  // told to everything that waited for them
    // Claim (mark pending: others wait for this worker instead of asking ESI too), then fetch.
    for (auto& [kind, ids] : claim) {
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        try {
            store_.MarkPending(kind, ids);
        } catch (const FatalError&) {
            throw;
        } catch (...) {
            // A claim is a hint: fetch anyway.
        }
        for (Id id : ids) {
            const Ref ref{kind, id};
            parent_flights_.insert(ref);
            ++parent_in_flight_;
            esi::EsiRequest req;
            req.path = kr::EntityPath(kind, id);
            req.cache = EntityCacheEntry(kind, id);  // not stored: a plain GET
            requests_.Submit(std::move(req), [this, ref](esi::EsiResult r) { OnParentResult(ref, std::move(r)); });
        }
        spdlog::debug("{}: fetching {} {} that {} refer to", Name(), ids.size(), KindInfo(kind).plural,
                      KindInfo(options_.kind).plural);
    }
}

void InfoWorker::Pump(std::chrono::milliseconds wait) {
    const bool driving = in_flight_ > 0 || parent_in_flight_ > 0;
    if (committer_ && committer_->Busy()) {
        // Look at the commit often while it runs: its acks free prefetch slots.
        if (driving) esi_.Drive(std::min(wait, std::chrono::milliseconds(1)));
        CollectCommit(driving ? std::chrono::milliseconds(0) : wait);
    } else if (driving) {
        esi_.Drive(wait);
    } else if (done_.empty() && !waiting_.empty()) {
        std::this_thread::sleep_for(wait);  // only waiting for parents: don't spin
    }
    ResolveParents();
    if (done_.empty()) return;
    // Answered messages still count against the prefetch window until they are acked, so commit
    // early: when a quarter of the window waits, when nothing else is in flight, or after a few ms.
    // With a committer, whatever arrives while one batch commits goes into the next one.
    bool due = (in_flight_ == 0 && parent_in_flight_ == 0) || done_.size() >= options_.flush_max ||
               done_.size() * 4 >= static_cast<std::size_t>(options_.concurrency) ||
               clock_.NowUs() - first_done_us_ >=
                   std::chrono::duration_cast<std::chrono::microseconds>(options_.flush_interval).count();
    if (!due) return;
    if (!committer_) {
        Flush();
    } else if (!committer_->Busy()) {
        StartCommit();
    }
}

void InfoWorker::Flush() {
    std::vector<Done> items;
    items.swap(done_);
    Commit(items);
}

store::EntityBatch InfoWorker::Merge(const std::vector<Done>& items) {
    store::EntityBatch batch;
    for (const auto& it : items) {
        const auto& b = it.batch;
        batch.entities.insert(batch.entities.end(), b.entities.begin(), b.entities.end());
        batch.cache.insert(batch.cache.end(), b.cache.begin(), b.cache.end());
    }
    return batch;
}

void InfoWorker::Commit(std::vector<Done>& items) {
    store::EntityBatchResult result;
    std::exception_ptr error;
    try {
        result = store_.ApplyEntityBatch(Merge(items));
    } catch (...) {
        error = std::current_exception();
    }
    Settle(items, result, error);
}

void InfoWorker::StartCommit() {
    committing_.swap(done_);
    done_.clear();
    auto batch = std::make_shared<store::EntityBatch>(Merge(committing_));
    commit_result_ = std::make_shared<store::EntityBatchResult>();
    committer_->Submit([batch, result = commit_result_](store::Store& s) { *result = s.ApplyEntityBatch(*batch); });
}

void InfoWorker::CollectCommit(std::chrono::milliseconds wait) {
    auto outcome = committer_->Collect(wait);
    if (!outcome) return;
    std::vector<Done> items;
    items.swap(committing_);
    parents_dirty_ = true;  // what waits may have a parent stored now
    Settle(items, *commit_result_, *outcome);
}

void InfoWorker::Settle(std::vector<Done>& items, const store::EntityBatchResult& result, std::exception_ptr error) {
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const PermanentError&) {
            if (items.size() > 1) {
                // One bad row (e.g. an id above 2^31 in an existing KillReport INT column) must not
                // sink the others: commit them one by one so only the culprit is dead-lettered.
                // Parents first, as a batch writes them.
                std::stable_sort(items.begin(), items.end(),
                                 [](const Done& a, const Done& b) { return FirstKind(a) < FirstKind(b); });
                for (auto& it : items) {
                    std::vector<Done> one;
                    one.push_back(std::move(it));
                    Commit(one);
                }
                return;
            }
            if (items.front().d) FailHeld(*items.front().d, error);
            return;
        } catch (const FatalError&) {
            for (const auto& it : items) {
                if (it.d) ReleaseHeld(*it.d);
            }
            throw;
        } catch (...) {
            for (const auto& it : items) {
                if (it.d) FailHeld(*it.d, error);
            }
            return;
        }
    }
    auto& c = settler_.Counters();
    auto total = result.Total();
    c.created += static_cast<std::int64_t>(total.created);
    c.updated += static_cast<std::int64_t>(total.updated);
    c.unchanged += static_cast<std::int64_t>(total.unchanged);
    for (const auto& it : items) {
        if (!it.d) continue;  // a parent this worker fetched: counted in the totals
        if (it.what == Done::kNotModified) ++c.unchanged;
        if (it.what == Done::kNotFound) ++c.not_found;
        AckHeld(*it.d,
                it.what == Done::kFetched       ? "stored"
                : it.what == Done::kNotModified ? "unchanged"
                                                : "not found",
                it.status);
    }
    parents_dirty_ = true;
}

template <typename SettleFn>
std::size_t InfoWorker::SettleHeld(const queue::Delivery& d, SettleFn settle) {
    settle(d);
    const auto tag = held_ids_.find(d.tag);
    if (tag == held_ids_.end()) return 0;
    const auto holder = holders_.find(tag->second);
    held_ids_.erase(tag);
    if (holder == holders_.end() || holder->second.tag != d.tag) return 0;
    auto riders = std::move(holder->second.riders);
    holders_.erase(holder);
    riders_ -= riders.size();
    for (const auto& r : riders) settle(r);
    return riders.size();
}

void InfoWorker::AckHeld(const queue::Delivery& d, std::string_view outcome, long http_status) {
    bool first = true;  // the holder; then the duplicates that rode on its request
    const auto duplicates = SettleHeld(d, [&](const queue::Delivery& x) {
        settler_.Ack(x, first ? outcome : std::string_view("skipped (a duplicate of a message in flight)"),
                     first ? http_status : 0);
        first = false;
    });
    settler_.Counters().skipped += static_cast<std::int64_t>(duplicates);
}

void InfoWorker::FailHeld(const queue::Delivery& d, std::exception_ptr error) {
    SettleHeld(d, [this, &error](const queue::Delivery& x) { settler_.Fail(x, error); });
}

void InfoWorker::ReleaseHeld(const queue::Delivery& d) {
    SettleHeld(d, [this](const queue::Delivery& x) { settler_.Release(x); });
}

void InfoWorker::ReleaseAll() {
    if (committer_ && committer_->Busy()) CollectCommit(std::chrono::hours(1));  // Wait: ack what committed
    if (!done_.empty()) Flush();  // what ESI already answered is committed and acked
    requests_.Cancel();           // their callbacks never run, even if the client is driven again
    for (const auto& d : flights_) ReleaseHeld(d);
    for (const auto& w : waiting_) {
        if (w.d) ReleaseHeld(*w.d);  // its parent never came: handed back, fetched again later
    }
    flights_.clear();
    waiting_.clear();
    for (auto& [id, holder] : holders_) {
        for (const auto& r : holder.riders) settler_.Release(r);  // their holder was settled above
    }
    holders_.clear();
    held_ids_.clear();
    riders_ = 0;
    parent_flights_.clear();
    in_flight_ = 0;
    parent_in_flight_ = 0;
}

}  // namespace kr::worker
