// The ESI side of fake-esi: GET routes served through the ESI cache (ETag, Expires, 304),
// POST /universe/names/ and /characters/affiliation/, the error limit (420 and storms), the
// killmail route's token bucket, and the fault injector.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>

namespace fakeesi {

struct EsiRoute;
struct ServerState;

class EsiHandlers {
public:
    explicit EsiHandlers(ServerState& st) : st_(st) {}
    void Handle(const httplib::Request& req, httplib::Response& res, bool post);

private:
    // Builds the current body for a GET route; returns status (200, 404, 422...) and message.
    int Generate(const EsiRoute& r, std::string& body, std::string& err) const;
    void ServeGet(const httplib::Request& req, httplib::Response& res, const EsiRoute& r, std::int64_t now);
    void ServePost(const httplib::Request& req, httplib::Response& res, const EsiRoute& r, std::int64_t now);
    void ErrorLimitHeaders(httplib::Response& res, std::int64_t now) const;
    // Expires of a response given now: the next whole second plus the route's cache time.
    std::int64_t ExpiresMs(int route, std::int64_t now) const;

    ServerState& st_;
};

}  // namespace fakeesi
