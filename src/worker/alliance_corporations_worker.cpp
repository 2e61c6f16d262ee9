#include "worker/alliance_corporations_worker.hpp"

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "queue/messages.hpp"
#include "worker/info_worker.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

AllianceCorporationsWorker::AllianceCorporationsWorker(int concurrency, store::Store& store, esi::EsiClient& esi,
                                                       Settler& settler, const Clock& clock)
    : concurrency_(concurrency > 0 ? concurrency : 5), store_(store), esi_(esi), settler_(settler), clock_(clock) {
    // Fetch can wait minutes (an error-limit pause, a 429): keep the queue connection alive.
    esi_.SetIdleHook([this] { settler_.KeepAlive(); });
}

AllianceCorporationsWorker::~AllianceCorporationsWorker() { esi_.SetIdleHook(nullptr); }

std::vector<std::string> AllianceCorporationsWorker::Queues() const { return {queue::kAllianceCorporations}; }

void AllianceCorporationsWorker::Admit(std::vector<queue::Delivery> deliveries) {
    ForEachDelivery(settler_, deliveries, [this](const queue::Delivery& d) { Process(d); });
}

void AllianceCorporationsWorker::Process(const queue::Delivery& d) {
    const Id alliance = queue::ParseEntityMessage(d.body).entity_id;
    const std::string path = esi_paths::AllianceCorporations(alliance);
    auto cached = store_.LoadHttpCache({path});
    esi::EsiRequest req;
    req.path = path;
    if (auto it = cached.find(path); it != cached.end() && it->second.status == 200) {
        req.cache = it->second;
    } else if (it != cached.end() && it->second.status == 404 && it->second.expires_at_ms > clock_.NowMs()) {
        ++settler_.Counters().skipped;
        settler_.Ack(d);
        return;
    }
    auto r = esi_.Fetch(std::move(req));
    const std::int64_t now = clock_.NowMs();
    auto& c = settler_.Counters();
    switch (r.outcome) {
        case esi::Outcome::kFresh:  // within Expires: nothing was asked, nothing to record
            ++c.skipped;
            break;
        case esi::Outcome::kNotModified:  // revalidated: the row gets its new expiry and check time
            ++c.skipped;
            if (r.cache) store_.SaveHttpCache({*r.cache});
            break;
        case esi::Outcome::kNotFound: {
            kr::CacheEntry e;
            e.path = path;
            e.status = 404;
            e.expires_at_ms = now + 3LL * 24 * 3600 * 1000;
            e.checked_at_ms = now;
            store_.SaveHttpCache({e});
            ++c.not_found;
            break;
        }
        case esi::Outcome::kOk: {
            std::vector<Id> corporations;
            try {
                corporations = esi_json::ParseIdList(r.body);
            } catch (const esi_json::ParseError& e) {
                throw TransientError("ESI " + path + ": unusable body: " + e.what());
            }
            // Publish (confirmed) before the cache row says "seen" and before the ack.
            c.published += static_cast<std::int64_t>(PublishEntities(settler_.Queue(), store_, clock_,
                                                                     kr::EntityKind::kCorporation, corporations, 3,
                                                                     "alliance_" + std::to_string(alliance)));
            if (r.cache) store_.SaveHttpCache({*r.cache});
            ++c.updated;
            break;
        }
        default: r.ThrowIfError("ESI " + path);
    }
    settler_.Ack(d);
}

}  // namespace kr::worker
