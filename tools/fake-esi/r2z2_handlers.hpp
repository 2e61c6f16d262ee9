// The R2Z2 side of fake-esi (/r2z2, r2z2_feed.hpp): GET /r2z2/ephemeral/sequence.json and
// /r2z2/ephemeral/{N}.json, with R2Z2's manners: 404 at the head and for expired sequences, 429
// + Retry-After when polled faster than its rate, 403 for every request while a ban lasts
// (POST /_admin/r2z2 {"ban_seconds": N}), with the ban's remaining seconds in Retry-After.
#pragma once

#include <httplib.h>

namespace fakeesi {

struct ServerState;

class R2z2Handlers {
public:
    explicit R2z2Handlers(ServerState& st) : st_(st) {}
    void Handle(const httplib::Request& req, httplib::Response& res);  // GET only

private:
    ServerState& st_;
};

}  // namespace fakeesi
