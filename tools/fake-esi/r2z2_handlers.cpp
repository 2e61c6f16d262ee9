#include "r2z2_handlers.hpp"

#include <string>

#include <nlohmann/json.hpp>

#include "http_util.hpp"
#include "routes.hpp"
#include "server_state.hpp"

namespace fakeesi {

using json = nlohmann::json;

void R2z2Handlers::Handle(const httplib::Request& req, httplib::Response& res) {
    const std::int64_t now = NowMs();
    const std::string_view rest = std::string_view(req.path).substr(kR2z2Prefix.size());
    const auto seg = Split(rest);
    int route = kR2z2Unknown;
    std::int64_t seq = 0;
    if (seg.size() == 2 && seg[0] == "ephemeral") {
        const std::string_view file = seg[1];
        if (file == "sequence.json") {
            route = kR2z2Sequence;
        } else if (file.size() > 5 && file.substr(file.size() - 5) == ".json" &&
                   ParseId(file.substr(0, file.size() - 5), seq)) {
            route = kR2z2Kill;
        }
    }
    // zKillboard's per-day dumps: totals.json, YYYYMMDD.json, raw/YYYYMMDD.json
    std::string day;
    auto day_file = [&](std::string_view file) {
        if (file.size() != 13 || file.substr(8) != ".json") return false;
        for (char c : file.substr(0, 8)) {
            if (c < '0' || c > '9') return false;
        }
        day = std::string(file.substr(0, 8));
        return true;
    };
    if (seg.size() == 2 && seg[0] == "history" && (seg[1] == "totals.json" || day_file(seg[1]))) {
        route = kR2z2History;
    } else if (seg.size() == 3 && seg[0] == "history" && seg[1] == "raw" && day_file(seg[2])) {
        route = kR2z2HistoryRaw;
    }
    st_.stats.CountR2z2(route, now);
    auto finish = [&](int status) { st_.stats.Record(route, status); };

    if (const std::int64_t ban = st_.r2z2_ban_until_ms.load(); now < ban) {
        ++st_.stats.r2z2_banned_403;
        SetError(res, 403, "Banned for polling too fast");
        res.set_header("Retry-After", std::to_string((ban - now + 999) / 1000));
        return finish(403);
    }
    int retry = 0;
    if (!st_.r2z2lim.Admit(now, retry)) {
        ++st_.stats.r2z2_rate_limited_429;
        SetError(res, 429, "Too many requests, slow down");
        res.set_header("Retry-After", std::to_string(retry));
        return finish(429);
    }
    if (route == kR2z2Sequence) {
        res.status = 200;
        res.set_header("Cache-Control", "no-cache");
        res.set_content(json{{"sequence", st_.r2z2.Newest(now)}}.dump(), kJson);
        return finish(200);
    }
    if (route == kR2z2History || route == kR2z2HistoryRaw) {
        std::optional<json> body;
        if (day.empty()) {
            body = st_.history.Totals();
        } else {
            body = route == kR2z2History ? st_.history.Index(day) : st_.history.Raw(day);
        }
        if (body) {
            res.status = 200;
            res.set_header("Cache-Control", day.empty() ? "no-cache" : "public, max-age=31536000");
            res.set_content(body->dump(), kJson);
            return finish(200);
        }
    }
    if (route == kR2z2Kill) {
        if (auto file = st_.r2z2.File(seq, now)) {
            res.status = 200;
            res.set_header("Cache-Control", "public, max-age=86400");
            res.set_content(file->dump(), kJson);
            return finish(200);
        }
    }
    SetError(res, 404, "Not found");
    finish(404);
}

}  // namespace fakeesi
