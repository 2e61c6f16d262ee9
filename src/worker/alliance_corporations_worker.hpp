#pragma once
// worker:alliance-corporations: esi_alliance_corporations_queue → GET /alliances/{id}/corporations/
// → the alliance's membership made right both ways, then ack.
//
// The list is compared with the corporations stored with the alliance's id: those that joined
// (listed, not stored with it) and those that left (stored with it, not listed) go onto
// esi_corporation_info_queue (priority 3, source "alliance_<id>"), their cache rows made stale
// first so that worker:info:corporations asks ESI again (a 304 if the corporation did not change;
// its alliance_id is cleared or moved when its own answer says so). The list is cached (ETag and
// Expires in kr_http_cache) and kept (kr_alliance_corporations): within Expires no request, on a
// 304 none but a conditional one — and both compare the kept list, so a corporation that left is
// queued also when the list did not change since. The deliveries of one Admit (up to the worker's
// concurrency) are fetched concurrently.
#include "core/clock.hpp"
#include "esi/esi_client.hpp"
#include "store/store.hpp"
#include "worker/worker_loop.hpp"

namespace kr::worker {

class AllianceCorporationsWorker final : public Worker {
public:
    /// `clock`: 404 expiry and the published messages' queuedAt.
    AllianceCorporationsWorker(int concurrency, store::Store& store, esi::EsiClient& esi, Settler& settler,
                               const Clock& clock);
    ~AllianceCorporationsWorker() override;
    std::string Name() const override { return "worker:alliance-corporations"; }
    std::vector<std::string> Queues() const override;
    int Concurrency() const override { return concurrency_; }
    void Admit(std::vector<queue::Delivery> deliveries) override;
    void Pump(std::chrono::milliseconds) override {}
    std::size_t Held() const override { return 0; }
    void ReleaseAll() override {}

private:
    struct Job;
    /// The delivery's alliance, what is stored about it and the request to make (none: settled).
    void Prepare(Job& job);
    /// Compares, publishes, saves, acks.
    void Finish(Job& job);
    int concurrency_;
    store::Store& store_;
    esi::EsiClient& esi_;
    Settler& settler_;
    const Clock& clock_;
};

}  // namespace kr::worker
