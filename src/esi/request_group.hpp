#pragma once
// ESI requests submitted together whose callbacks may refer to the submitter's frame: the group
// cancels what is still pending when it is destroyed, so no callback outlives that frame however
// it is left (a throw, a stop). Declare it after everything its callbacks refer to.
//
//   std::vector<Killmail> found;
//   esi::RequestGroup requests(esi);
//   for (…) requests.Submit(req, [&found](esi::EsiResult r) { found.push_back(…); });
//   requests.Wait();  // every callback has run
#include <cstdint>
#include <memory>
#include <unordered_set>

#include "esi/esi_client.hpp"

namespace kr::esi {

class RequestGroup {
public:
    /// `esi` must outlive the group.
    explicit RequestGroup(EsiClient& esi) : esi_(esi) {}
    ~RequestGroup() { Cancel(); }
    RequestGroup(const RequestGroup&) = delete;
    RequestGroup& operator=(const RequestGroup&) = delete;

    /// EsiClient::Submit; the callback runs from a later drive of the client, unless cancelled.
    void Submit(EsiRequest request, EsiCallback callback);
    /// Submitted callbacks that have not run yet.
    std::size_t Pending() const { return tickets_.size(); }
    /// Drives the client until every callback of the group has run (EsiClient::Await: gives up on
    /// a stop with kr::StoppedError, runs the client's idle hook while it waits).
    void Wait();
    /// The pending callbacks will not run (their requests are dropped unless on the wire).
    void Cancel();

private:
    EsiClient& esi_;
    std::unordered_set<std::uint64_t> tickets_;
};

}  // namespace kr::esi
