#include "esi_handlers.hpp"

#include <httplib.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_util.hpp"
#include "routes.hpp"
#include "server_state.hpp"

namespace fakeesi {
namespace {

using json = nlohmann::json;

bool IsNpc(std::int64_t id) { return Universe::IsNpcCharacterId(id); }

// ESI's cache times per route (cache_seconds >= 0 overrides them all).
int CacheSecondsFor(int route, int cache_seconds) {
    if (cache_seconds >= 0) return cache_seconds;
    switch (route) {
        case kCharacter:
        case kType:
        case kNpcCorps:
        case kRegionsList:
        case kRegion:
        case kConstellationsList:
        case kConstellation:
        case kSystemsList:
        case kSystem: return 86400;  // ESI: expires daily at 11:05
        case kKillmail: return 2592000;
        case kStatus: return 30;
        default: return 3600;
    }
}

// The headers of every 200 (and 304).
void SetCacheHeaders(httplib::Response& res, const std::string& etag, std::int64_t expires_ms,
                     std::int64_t last_modified_s, std::int64_t now) {
    res.set_header("Cache-Control",
                   "public, max-age=" + std::to_string(std::max<std::int64_t>(0, (expires_ms - now) / 1000)));
    res.set_header("ETag", etag);
    res.set_header("Expires", HttpDate(expires_ms / 1000));
    res.set_header("Last-Modified", HttpDate(last_modified_s));
}

}  // namespace

std::int64_t EsiHandlers::ExpiresMs(int route, std::int64_t now) const {
    return (now / 1000 + 1 + CacheSecondsFor(route, st_.cache_seconds.load())) * 1000;
}

void EsiHandlers::ErrorLimitHeaders(httplib::Response& res, std::int64_t now) const {
    std::int64_t storm = st_.storm_until_ms.load();
    if (now < storm) {
        res.set_header("X-ESI-Error-Limit-Remain", "0");
        res.set_header("X-ESI-Error-Limit-Reset",
                       std::to_string(std::max<std::int64_t>(1, (storm - now + 999) / 1000)));
        return;
    }
    res.set_header("X-ESI-Error-Limit-Remain", std::to_string(st_.errlim.Remain(now)));
    res.set_header("X-ESI-Error-Limit-Reset", std::to_string(st_.errlim.ResetSeconds(now)));
}

int EsiHandlers::Generate(const EsiRoute& r, std::string& body, std::string& err) const {
    Universe& uni = st_.uni;
    std::optional<json> j;
    switch (r.route) {
        case kAlliancesList: j = uni.AllianceIds(); break;
        case kAlliance:
            j = uni.Alliance(r.id);
            err = "Alliance not found";
            break;
        case kAllianceCorps:
            j = uni.AllianceCorporations(r.id);
            err = "Alliance not found";
            break;
        case kCorporation:
            j = uni.Corporation(r.id);
            err = "Corporation not found";
            break;
        case kNpcCorps: j = uni.NpcCorpIds(); break;
        case kCharacter:
            j = uni.Character(r.id);
            err = "Character not found";
            break;
        case kType:
            j = uni.Type(r.id);
            err = "Type not found";
            break;
        case kKillmail: {
            auto h = uni.KillmailHash(r.id);
            if (!h || *h != r.hash) {
                err = "Invalid killmail_id and/or killmail_hash";
                return 422;
            }
            j = uni.Killmail(r.id);
            err = "Invalid killmail_id and/or killmail_hash";
            if (!j) return 422;
            break;
        }
        case kStatus:
            j = json{{"players", 23456},
                     {"server_version", uni.Geo().ServerVersion()},
                     {"start_time", IsoDate(st_.start_ms / 1000)}};
            break;
        case kRegionsList: j = uni.Geo().RegionIds(); break;
        case kConstellationsList: j = uni.Geo().ConstellationIds(); break;
        case kSystemsList: j = uni.Geo().SystemIds(); break;
        case kRegion:
            j = uni.Geo().Region(r.id);
            err = "Region not found";
            break;
        case kConstellation:
            j = uni.Geo().Constellation(r.id);
            err = "Constellation not found";
            break;
        case kSystem:
            j = uni.Geo().SolarSystem(r.id);
            err = "Solar system not found";
            break;
        default: err = "Not found"; return 404;
    }
    if (!j) return 404;
    body = j->dump();
    return 200;
}

void EsiHandlers::ServeGet(const httplib::Request& req, httplib::Response& res, const EsiRoute& r, std::int64_t now) {
    Stats& stats = st_.stats;
    const bool store_body = r.route != kKillmail;
    const std::string inm = req.get_header_value("If-None-Match");
    const bool conditional_req = req.has_header("If-None-Match");
    if (conditional_req) ++stats.conditional_requests;

    std::shared_ptr<const std::string> body;
    std::string etag;
    std::int64_t last_modified = 0, expires = 0;
    bool have = false;
    auto& shard = st_.cache.For(r.key);
    {
        std::lock_guard lk(shard.mu);
        auto it = shard.map.find(r.key);
        if (it != shard.map.end() && now < it->second.expires_ms) {
            ++stats.repeated_before_expires;
            if (!conditional_req) ++stats.repeated_before_expires_unconditional;
            it->second.hits++;
            have = true;
            body = it->second.body;
            etag = it->second.etag;
            last_modified = it->second.last_modified_s;
            expires = it->second.expires_ms;
        }
    }
    bool counted = have;
    if (have && conditional_req && EtagMatches(inm, etag)) {
        // 304 without regenerating
    } else if (!have || !body) {
        std::string fresh, err;
        int st = Generate(r, fresh, err);
        if (st != 200) {
            SetError(res, st, err);
            return;
        }
        auto fresh_etag = ETagOf(fresh);
        std::lock_guard lk(shard.mu);
        CacheEntry& e = shard.map[r.key];
        if (!(now < e.expires_ms)) {  // (re)fill: new Expires window
            if (e.etag != fresh_etag) {
                e.last_modified_s = e.etag.empty() ? st_.start_ms / 1000 : now / 1000;
                e.etag = fresh_etag;
            }
            e.body = store_body ? std::make_shared<const std::string>(fresh) : nullptr;
            e.expires_ms = ExpiresMs(r.route, now);
        }
        if (!counted) e.hits++;
        etag = e.etag;
        last_modified = e.last_modified_s;
        expires = e.expires_ms;
        body = e.body ? e.body : std::make_shared<const std::string>(std::move(fresh));
    }
    SetCacheHeaders(res, etag, expires, last_modified, now);
    if (conditional_req && EtagMatches(inm, etag)) {
        ++stats.not_modified_304;
        res.status = 304;
        return;
    }
    res.status = 200;
    res.set_content(*body, kJson);
}

void EsiHandlers::ServePost(const httplib::Request& req, httplib::Response& res, const EsiRoute& r, std::int64_t now) {
    json ids;
    try {
        ids = json::parse(req.body);
    } catch (const std::exception&) {
        SetError(res, 400, "Invalid body: not JSON");
        return;
    }
    if (!ids.is_array() || ids.empty() || ids.size() > 1000) {
        SetError(res, 400, "Invalid body: expected an array of 1 to 1000 ids");
        return;
    }
    std::vector<std::int64_t> v;
    for (const auto& x : ids) {
        if (!x.is_number_integer()) {
            SetError(res, 400, "Invalid body: ids must be integers");
            return;
        }
        v.push_back(x.get<std::int64_t>());
    }
    auto sorted = v;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
        SetError(res, 400, "Invalid body: ids must be unique");
        return;
    }
    json out = json::array();
    for (auto id : v) {
        if (IsNpc(id) && r.route == kAffiliation) ++st_.stats.npc_character_requests;
        auto e = r.route == kNames ? st_.uni.Name(id) : st_.uni.Affiliation(id);
        if (!e) {
            // One id that is not a character fails the whole batch, on both routes.
            if (r.route == kNames) {
                SetError(res, 404, "Ensure all IDs are valid before resolving");
            } else {
                SetError(res, 400, "Invalid character ID");
            }
            return;
        }
        out.push_back(std::move(*e));
    }
    std::string body = out.dump();
    SetCacheHeaders(res, ETagOf(body), ExpiresMs(r.route, now), now / 1000, now);
    res.status = 200;
    res.set_content(body, kJson);
}

void EsiHandlers::Handle(const httplib::Request& req, httplib::Response& res, bool post) {
    Stats& stats = st_.stats;
    std::int64_t now = NowMs();
    const EsiRoute r = MatchEsi(req.path, post);
    stats.CountEsi(r.route, now);
    if (r.route == kCharacter && IsNpc(r.id)) ++stats.npc_character_requests;
    const bool bucket_route = r.route == kKillmail;
    FaultInjector::Request fault = st_.faults.Begin(r.route);
    if (fault.Delay()) now = NowMs();

    // the error limit (and forced 420 storms) come first, on every route
    if (now < st_.storm_until_ms.load() || st_.errlim.Exhausted(now)) {
        ++stats.error_limited_420;
        SetError(res, 420,
                 "This software has exceeded the error limit for ESI. If you are a user, please "
                 "contact the maintainer of this software. If you are a developer/maintainer, "
                 "please make a greater effort in the future to receive valid responses.");
        ErrorLimitHeaders(res, now);
        stats.Record(r.route, 420);
        return;
    }

    // ESI's downtime (11:00 UTC, or an unplanned one): every route answers 503, /status/ too. It
    // counts against the error limit like any 5xx, so a client that keeps asking spends it.
    if (now < st_.downtime_until_ms.load()) {
        SetError(res, 503, "The datasource tranquility is temporarily unavailable");
        ++stats.downtime_503;
        st_.errlim.AddError(now);
        ++stats.errors_counted;
        ErrorLimitHeaders(res, now);
        stats.Record(r.route, 503);
        return;
    }

    if (fault.Hang(res)) {
        stats.Record(r.route, 504);
        return;
    }

    int status = fault.Fail(res);
    int retry_after = 0;
    if (status != 0) {
        // a 5xx from the fault injector; it counts as an error like any other
    } else if (bucket_route && !st_.kmbucket.Admit(now, retry_after)) {
        SetError(res, 429, "Too many requests");
        res.set_header("Retry-After", std::to_string(retry_after));
        ++stats.rate_limited_429;
        status = 429;
    } else if (r.route == kEsiUnknown) {
        SetError(res, 404, "Not found");
        status = 404;
    } else if (post) {
        ServePost(req, res, r, now);
        status = res.status;
    } else {
        ServeGet(req, res, r, now);
        status = res.status;
    }

    if (status >= 400) {
        st_.errlim.AddError(now);
        ++stats.errors_counted;
    }
    if (status == 200) fault.Corrupt(res, kJson);

    if (bucket_route) {
        int cost = status < 300 ? 2 : status < 400 ? 1 : (status < 500 ? (status == 429 ? 0 : 5) : 0);
        int remaining = st_.kmbucket.Charge(now, cost);
        res.set_header("X-Ratelimit-Group", "killmail");
        res.set_header("X-Ratelimit-Limit", st_.kmbucket.LimitHeader());
        res.set_header("X-Ratelimit-Remaining", std::to_string(remaining));
        res.set_header("X-Ratelimit-Used", std::to_string(cost));
        if (st_.error_headers_everywhere.load()) ErrorLimitHeaders(res, now);
    } else {
        ErrorLimitHeaders(res, now);
    }
    stats.Record(r.route, status);
}

}  // namespace fakeesi
