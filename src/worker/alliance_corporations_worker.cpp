#include "worker/alliance_corporations_worker.hpp"

#include <algorithm>
#include <iterator>
#include <optional>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "esi/request_group.hpp"
#include "queue/messages.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

struct AllianceCorporationsWorker::Job {
    const queue::Delivery* d = nullptr;
    Id alliance = 0;
    std::string path;
    store::AllianceMembers members;
    std::optional<esi::EsiRequest> request;  ///< none: settled in Prepare
    esi::EsiResult result;
};

AllianceCorporationsWorker::AllianceCorporationsWorker(int concurrency, store::Store& store, esi::EsiClient& esi,
                                                       Settler& settler, const Clock& clock)
    : concurrency_(concurrency > 0 ? concurrency : 5), store_(store), esi_(esi), settler_(settler), clock_(clock) {
    // Fetch can wait minutes (an error-limit pause, a 429): keep the queue connection alive.
    esi_.SetIdleHook([this] { settler_.KeepAlive(); });
}

AllianceCorporationsWorker::~AllianceCorporationsWorker() { esi_.SetIdleHook(nullptr); }

std::vector<std::string> AllianceCorporationsWorker::Queues() const { return {queue::kAllianceCorporations}; }

void AllianceCorporationsWorker::Admit(std::vector<queue::Delivery> deliveries) {
    std::vector<Job> jobs;
    jobs.reserve(deliveries.size());
    ForEachDelivery(settler_, deliveries, [&](const queue::Delivery& d) {
        Job job;
        job.d = &d;
        Prepare(job);
        if (job.request) jobs.push_back(std::move(job));
    });
    {
        // Every request at once: the client runs them concurrently (its cap, the shared budget).
        esi::RequestGroup requests(esi_);
        for (auto& job : jobs) {
            requests.Submit(std::move(*job.request), [&job](esi::EsiResult r) { job.result = std::move(r); });
        }
        try {
            requests.Wait();
        } catch (const FatalError&) {
            throw;
        } catch (...) {  // a stop: every delivery is handed back (none was answered for good)
            const auto error = std::current_exception();
            for (const auto& job : jobs) settler_.Fail(*job.d, error);
            return;
        }
    }
    for (auto& job : jobs) {
        try {
            Finish(job);
        } catch (const FatalError&) {
            throw;
        } catch (...) {
            settler_.Fail(*job.d, std::current_exception());
        }
    }
}

void AllianceCorporationsWorker::Prepare(Job& job) {
    job.alliance = queue::ParseEntityMessage(job.d->body).entity_id;
    job.path = esi_paths::AllianceCorporations(job.alliance);
    auto cached = store_.LoadHttpCache({job.path});
    job.members = store_.LoadAllianceMembers(job.alliance);
    esi::EsiRequest req;
    req.path = job.path;
    req.refresh = job.d->priority < queue::kNewWorkPriority;
    if (auto it = cached.find(job.path); it != cached.end() && it->second.status == 200) {
        // Without a kept list (stored before store/7) a 304 or a fresh row would leave nothing to
        // compare: ask for the body.
        if (job.members.listed) req.cache = it->second;
    } else if (it != cached.end() && it->second.status == 404 && it->second.expires_at_ms > clock_.NowMs()) {
        ++settler_.Counters().skipped;
        settler_.Ack(*job.d, "skipped (a known 404)");
        return;
    }
    job.request = std::move(req);
}

void AllianceCorporationsWorker::Finish(Job& job) {
    auto& r = job.result;
    auto& c = settler_.Counters();
    std::optional<std::vector<Id>> listed;  // ESI's list now, when it gave one
    switch (r.outcome) {
        case esi::Outcome::kFresh:  // within Expires: nothing was asked
        case esi::Outcome::kNotModified: ++c.skipped; break;
        case esi::Outcome::kNotFound: {
            kr::CacheEntry e;
            e.path = job.path;
            e.status = 404;
            e.checked_at_ms = clock_.NowMs();
            e.expires_at_ms = e.checked_at_ms + 3LL * 24 * 3600 * 1000;
            store_.SaveHttpCache({e});
            ++c.not_found;
            settler_.Ack(*job.d, "not found", r.status);
            return;
        }
        case esi::Outcome::kOk: try { listed = esi_json::ParseIdList(r.body);
            } catch (const esi_json::ParseError& e) {
                throw TransientError("ESI " + job.path + ": unusable body: " + e.what());
            }
            ++c.updated;
            break;
        default: r.ThrowIfError("ESI " + job.path);
    }
    // The list to compare: ESI's answer, else the kept one (a 304 or a fresh row is only asked
    // for when one is kept).
    std::vector<Id> list = listed ? *listed : job.members.listed.value_or(std::vector<Id>{});
    std::vector<Id> sorted = list;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    const auto& stored = job.members.stored;  // ascending
    std::vector<Id> joined;
    std::vector<Id> left;
    std::set_difference(sorted.begin(), sorted.end(), stored.begin(), stored.end(), std::back_inserter(joined));
    std::set_difference(stored.begin(), stored.end(), sorted.begin(), sorted.end(), std::back_inserter(left));
    // In ESI's order for the ones that joined (as before), then the ones that left.
    std::vector<Id> queue_ids;
    for (Id id : list) {
        if (std::binary_search(joined.begin(), joined.end(), id) &&
            std::find(queue_ids.begin(), queue_ids.end(), id) == queue_ids.end()) {
            queue_ids.push_back(id);
        }
    }
    queue_ids.insert(queue_ids.end(), left.begin(), left.end());
    if (!queue_ids.empty()) {
        // Stale first: a corporation's row within its Expires would be skipped by the info worker.
        std::vector<std::string> paths;
        paths.reserve(queue_ids.size());
        for (Id id : queue_ids) paths.push_back(EntityPath(kr::EntityKind::kCorporation, id));
        store_.ExpireHttpCache(paths);
        // Published (confirmed) before the list is kept and the delivery acked.
        c.published +=
            static_cast<std::int64_t>(PublishEntities(settler_.Queue(), store_, clock_, kr::EntityKind::kCorporation,
                                                      queue_ids, 3, "alliance_" + std::to_string(job.alliance)));
    }
    if (listed) {
        store_.SaveAllianceList({job.alliance, *listed}, r.cache);
    } else if (r.outcome == esi::Outcome::kNotModified && r.cache) {
        store_.SaveHttpCache({*r.cache});  // revalidated: the row gets its new expiry and check time
    }
    settler_.Ack(*job.d, listed ? "list stored" : "list unchanged", r.status);
}

}  // namespace kr::worker
