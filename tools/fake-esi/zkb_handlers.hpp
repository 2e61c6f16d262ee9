// The zKillboard side of fake-esi (/zkb/api): a character's killmails page by page, or one
// killmail, as {killmail_id, zkb} or full ESI killmails; zKillboard's manners (403 on a query
// string or a missing trailing slash, 429 over the rate) and the fault injector.
#pragma once

#include <httplib.h>

namespace fakeesi {

struct ServerState;

class ZkbHandlers {
public:
    explicit ZkbHandlers(ServerState& st) : st_(st) {}
    void Handle(const httplib::Request& req, httplib::Response& res);  // GET only

private:
    ServerState& st_;
};

}  // namespace fakeesi
