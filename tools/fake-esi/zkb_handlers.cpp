#include "zkb_handlers.hpp"

#include <httplib.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_util.hpp"
#include "routes.hpp"
#include "server_state.hpp"

namespace fakeesi {

using json = nlohmann::json;

void ZkbHandlers::Handle(const httplib::Request& req, httplib::Response& res) {
    static constexpr const char* kZkbJson = "application/json; charset=utf-8";
    Universe& uni = st_.uni;
    std::int64_t now = NowMs();
    const ZkbRoute zr = MatchZkb(req.path);
    const int route = zr.route;
    const std::string_view rest = zr.rest;
    const auto& seg = zr.seg;
    st_.stats.CountZkb(route, now);
    FaultInjector::Request fault = st_.faults.Begin(route);
    auto finish = [&](int st) { st_.stats.Record(route, st); };

    if (req.target.find('?') != std::string::npos) {
        SetError(res, 403, "Do not include a query string to evade cache");
        return finish(403);
    }
    if (rest.empty() || rest.back() != '/') {
        int st = st_.zkb_missing_slash_status.load();
        res.status = st;
        if (st != 200) res.set_content(json{{"error", "Missing trailing slash"}}.dump(), "application/json");
        return finish(st);
    }
    int retry = 0;
    if (!st_.zkblim.Admit(now, retry)) {
        ++st_.stats.zkb_rate_limited_429;
        SetError(res, 429, "Too many requests, slow down");
        res.set_header("Retry-After", std::to_string(retry));
        return finish(429);
    }
    fault.Delay();
    if (fault.Hang(res)) return finish(504);
    if (int st = fault.Fail(res)) return finish(st);

    std::vector<std::int64_t> ids;
    std::int64_t id = 0;
    if (route == kZkbCharacter && (seg.size() == 2 || (seg.size() == 4 && seg[2] == "page")) && ParseId(seg[1], id)) {
        const int max_page = st_.zkb_max_page.load();
        std::int64_t page = 1;
        if (seg.size() == 4 && (!ParseId(seg[3], page) || page < 1 || page > max_page)) {
            SetError(res, 400, "page must be between 1 and " + std::to_string(max_page));
            return finish(400);
        }
        ids = uni.CharacterKillmailPage(id, static_cast<int>(page), st_.zkb_page_size.load());
    } else if (route == kZkbKill && seg.size() == 2 && ParseId(seg[1], id)) {
        if (uni.KillmailHash(id)) ids.push_back(id);
    } else {
        std::string bad = seg.empty() ? std::string("(empty)") : std::string(seg[0]);
        SetError(res, 400, bad + " is an invalid parameter");
        return finish(400);
    }
    const bool full = st_.zkb_full.load();
    json out = json::array();
    for (auto kid : ids) {
        auto z = uni.Zkb(kid);
        if (!z) continue;
        if (full) {
            json km = *uni.Killmail(kid);
            km["zkb"] = std::move(*z);
            out.push_back(std::move(km));
        } else {
            out.push_back(json{{"killmail_id", kid}, {"zkb", std::move(*z)}});
        }
    }
    res.status = 200;
    res.set_header("Cache-Control", "public, max-age=3600");
    res.set_content(out.dump(), kZkbJson);
    fault.Corrupt(res, kZkbJson);
    finish(200);
}

}  // namespace fakeesi
