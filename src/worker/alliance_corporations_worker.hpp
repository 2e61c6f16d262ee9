#pragma once
// worker:alliance-corporations: esi_alliance_corporations_queue → GET /alliances/{id}/corporations/
// → each corporation id onto esi_corporation_info_queue (priority 3, source "alliance_<id>"), then
// ack. The member list is cached (Expires/ETag in kr_http_cache): within Expires no request; a 304
// means the list was already published.
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
    void Process(const queue::Delivery& d);
    int concurrency_;
    store::Store& store_;
    esi::EsiClient& esi_;
    Settler& settler_;
    const Clock& clock_;
};

}  // namespace kr::worker
