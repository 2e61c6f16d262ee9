#include "esi/request_group.hpp"

namespace kr::esi {

void RequestGroup::Submit(EsiRequest request, EsiCallback callback) {
    // The ticket is known once Submit returns; the callback never runs before that.
    auto ticket = std::make_shared<std::uint64_t>(0);
    *ticket = esi_.Submit(std::move(request), [this, ticket, callback = std::move(callback)](EsiResult r) {
        tickets_.erase(*ticket);
        if (callback) callback(std::move(r));
    });
    tickets_.insert(*ticket);
}

void RequestGroup::Wait() {
    esi_.Await([this] { return tickets_.empty(); });
}

void RequestGroup::Cancel() {
    for (std::uint64_t t : tickets_) esi_.Cancel(t);
    tickets_.clear();
}

}  // namespace kr::esi
