#include "admin.hpp"

#include <httplib.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

#include "http_util.hpp"
#include "routes.hpp"
#include "server_state.hpp"

namespace fakeesi {
namespace {

using json = nlohmann::json;

void Json(httplib::Response& res, const json& j, int status = 200) {
    res.status = status;
    res.set_content(j.dump(), "application/json");
}

json IdList(const std::vector<std::int64_t>& v) { return json(v); }

}  // namespace

json Admin::Stats() const {
    std::int64_t now = NowMs();
    json j = st_.stats.ToJson(now);
    const EsiCache::HitSummary hits = st_.cache.Hits();
    j["distinct_urls"] = hits.distinct_urls;
    j["max_requests_per_url"] = hits.max_hits;
    j["most_requested_url"] = hits.most_requested_url;
    j["faults"] = st_.faults.CountersJson();
    const ErrorLimiter& errlim = st_.errlim;
    std::int64_t storm = st_.storm_until_ms.load();
    j["error_limit"] = {{"limit", errlim.Limit()},
                        {"window_seconds", errlim.WindowSeconds()},
                        {"remain", now < storm ? 0 : errlim.Remain(now)},
                        {"reset_seconds", errlim.ResetSeconds(now)},
                        {"storm_remaining_ms", std::max<std::int64_t>(0, storm - now)}};
    j["downtime_remaining_ms"] = std::max<std::int64_t>(0, st_.downtime_until_ms.load() - now);
    TokenBucket& kmbucket = st_.kmbucket;
    j["killmail_bucket"] = {{"limit", kmbucket.LimitHeader()},
                            {"tokens", kmbucket.Tokens()},
                            {"used", kmbucket.Used(now)},
                            {"remaining", kmbucket.Remaining(now)}};
    return j;
}

json Admin::Config() const {
    return {{"cache_seconds", st_.cache_seconds.load()},
            {"error_limit", st_.errlim.Limit()},
            {"error_window_seconds", st_.errlim.WindowSeconds()},
            {"error_headers_on_bucket_routes", st_.error_headers_everywhere.load()},
            {"killmail_bucket_tokens", st_.kmbucket.Tokens()},
            {"killmail_bucket_window_seconds", st_.kmbucket.WindowSeconds()},
            {"zkb_format", st_.zkb_full.load() ? "full" : "ids"},
            {"zkb_page_size", st_.zkb_page_size.load()},
            {"zkb_max_page", st_.zkb_max_page.load()},
            {"zkb_rate", st_.zkblim.Rate()},
            {"zkb_missing_slash_status", st_.zkb_missing_slash_status.load()}};
}

void Admin::UpdateConfig(const json& j) {
    if (j.contains("cache_seconds")) st_.cache_seconds = j["cache_seconds"].get<int>();
    if (j.contains("error_limit") || j.contains("error_window_seconds"))
        st_.errlim.Configure(j.value("error_limit", st_.errlim.Limit()),
                             j.value("error_window_seconds", st_.errlim.WindowSeconds()));
    if (j.contains("error_headers_on_bucket_routes"))
        st_.error_headers_everywhere = j["error_headers_on_bucket_routes"].get<bool>();
    if (j.contains("killmail_bucket_tokens") || j.contains("killmail_bucket_window_seconds"))
        st_.kmbucket.Configure(j.value("killmail_bucket_tokens", st_.kmbucket.Tokens()),
                               j.value("killmail_bucket_window_seconds", st_.kmbucket.WindowSeconds()));
    if (j.contains("zkb_format")) {
        std::string f = j["zkb_format"].get<std::string>();
        if (f != "ids" && f != "full") throw std::invalid_argument("zkb_format must be ids or full");
        st_.zkb_full = f == "full";
    }
    if (j.contains("zkb_page_size")) st_.zkb_page_size = std::max(1, j["zkb_page_size"].get<int>());
    if (j.contains("zkb_max_page")) st_.zkb_max_page = std::max(1, j["zkb_max_page"].get<int>());
    if (j.contains("zkb_rate")) st_.zkblim.Configure(j["zkb_rate"].get<double>());
    if (j.contains("zkb_missing_slash_status")) st_.zkb_missing_slash_status = j["zkb_missing_slash_status"].get<int>();
}

json Admin::Timeline() const {
    return {{"since_unix_ms", st_.stats.SinceMs()},
            {"esi_per_second", st_.stats.EsiPerSecond()},
            {"routes_per_second", st_.stats.RoutesPerSecond()}};
}

void Admin::ResetStats() {
    st_.stats.Reset(NowMs());
    st_.faults.ResetCounters();
    st_.cache.ResetHits();
}

void Admin::ResetLimits() {
    std::int64_t now = NowMs();
    st_.errlim.Reset(now);
    st_.kmbucket.Reset();
    st_.zkblim.Reset();
    st_.r2z2lim.Reset();
    st_.r2z2_ban_until_ms = 0;
    st_.storm_until_ms = 0;
    st_.downtime_until_ms = 0;
}

void Admin::StartStorm(double seconds) { st_.storm_until_ms = NowMs() + static_cast<std::int64_t>(seconds * 1000); }

void Admin::Handle(const httplib::Request& req, httplib::Response& res, bool post) {
    st_.stats.CountAdmin();
    auto seg = Split(std::string_view(req.path).substr(kAdminPrefix.size()));
    const std::size_t n = seg.size();
    auto body_json = [&]() -> json {
        if (req.body.empty()) return json::object();
        return json::parse(req.body);
    };
    try {
        if (!post && n == 1 && seg[0] == "stats") return Json(res, Stats());
        if (!post && n == 1 && seg[0] == "timeline") {
            return Json(res, Timeline());
        }
        if (post && n == 1 && seg[0] == "reset-stats") {
            ResetStats();
            return Json(res, {{"ok", true}});
        }
        if (post && n == 1 && seg[0] == "reset-limits") {
            ResetLimits();
            return Json(res, {{"ok", true}});
        }
        if (post && n == 1 && seg[0] == "reset") {
            st_.faults.Set(FaultConfig{});
            ResetLimits();
            st_.cache.Clear();
            ResetStats();
            return Json(res, {{"ok", true}});
        }
        if (post && n == 1 && seg[0] == "invalidate-cache") {
            st_.cache.Clear();
            return Json(res, {{"ok", true}});
        }
        if (n == 1 && seg[0] == "faults") {
            if (post) {
                FaultConfig f = st_.faults.Get();
                f.Update(body_json());
                st_.faults.Set(f);
            }
            return Json(res, st_.faults.Get().ToJson());
        }
        if (post && n == 2 && seg[0] == "faults" && seg[1] == "clear") {
            st_.faults.Set(FaultConfig{});
            return Json(res, st_.faults.Get().ToJson());
        }
        if (post && n == 1 && seg[0] == "storm") {
            double secs = 0;
            if (req.has_param("seconds"))
                secs = std::stod(req.get_param_value("seconds"));
            else
                secs = body_json().value("seconds", 0.0);
            StartStorm(secs);
            return Json(res, {{"ok", true}, {"seconds", secs}});
        }
        if (post && n == 1 && seg[0] == "downtime") {
            double secs = 0;
            if (req.has_param("seconds"))
                secs = std::stod(req.get_param_value("seconds"));
            else
                secs = body_json().value("seconds", 0.0);
            st_.downtime_until_ms = NowMs() + static_cast<std::int64_t>(secs * 1000);
            return Json(res, {{"ok", true}, {"seconds", secs}});
        }
        if (n == 1 && seg[0] == "config") {
            if (post) UpdateConfig(body_json());
            return Json(res, Config());
        }
        if (post && n == 1 && seg[0] == "r2z2") {
            // {"publish": n, "update": seq, "expire_before": seq, "ban_seconds": s, "kill_rate": r, "rate": r}
            const json j = body_json();
            const std::int64_t now = NowMs();
            if (j.contains("kill_rate")) st_.r2z2.SetKillRate(j["kill_rate"].get<double>(), now);
            if (j.contains("publish")) st_.r2z2.Publish(j["publish"].get<int>(), now);
            if (j.contains("update") && !st_.r2z2.Update(j["update"].get<std::int64_t>(), now))
                return Json(res, {{"error", "no such sequence"}}, 404);
            if (j.contains("expire_before")) st_.r2z2.ExpireBefore(j["expire_before"].get<std::int64_t>());
            if (j.contains("ban_seconds"))
                st_.r2z2_ban_until_ms = now + static_cast<std::int64_t>(j["ban_seconds"].get<double>() * 1000);
            if (j.contains("rate")) st_.r2z2lim.Configure(j["rate"].get<double>());
            return Json(res, st_.r2z2.Truth(now));
        }
        if (n == 2 && seg[0] == "truth" && seg[1] == "r2z2") return Json(res, st_.r2z2.Truth(NowMs()));
        if (n >= 1 && seg[0] == "truth") return Truth(req, res, seg);
        if (post && n >= 3 && seg[0] == "mutate") return Mutate(req, res, seg);
    } catch (const std::exception& e) {
        return Json(res, {{"error", e.what()}}, 400);
    }
    Json(res, {{"error", "unknown admin endpoint"}}, 404);
}

void Admin::Truth(const httplib::Request& req, httplib::Response& res, const Segments& seg) const {
    Universe& uni = st_.uni;
    const std::size_t n = seg.size();
    if (n == 1) {
        const auto& p = uni.Params();
        const std::string base = "http://127.0.0.1:" + std::to_string(st_.port);
        return Json(res, {{"seed", p.seed},
                          {"alliances", p.alliances},
                          {"corporations", p.corporations},
                          {"npc_corporations", p.npc_corporations},
                          {"characters", p.characters},
                          {"npc_characters", p.npc_characters},
                          {"types", p.types},
                          {"killmails", p.killmails},
                          {"history_characters", uni.HistoryCharacterIds()},
                          {"samples_dir", p.samples_dir},
                          {"samples_loaded", uni.SampleCount()},
                          {"esi_base_url", base},
                          {"zkb_base_url", base + std::string(kZkbPrefix)},
                          {"mutations", uni.MutationCount()},
                          {"regions", p.regions},
                          {"constellations_per_region", p.constellations_per_region},
                          {"systems_per_constellation", p.systems_per_constellation},
                          {"server_version", uni.Geo().ServerVersion()},
                          {"patches", uni.Geo().Patches()}});
    }
    std::string_view what = seg[1];
    if (n == 2) {
        if (what == "alliances") return Json(res, IdList(uni.AllAllianceIds()));
        if (what == "corporations") return Json(res, IdList(uni.AllCorporationIds()));
        if (what == "npc-corporations") return Json(res, uni.NpcCorpIds());
        if (what == "characters") return Json(res, IdList(uni.AllCharacterIds()));
        if (what == "npc-characters") return Json(res, IdList(uni.NpcCharacterIds()));
        if (what == "deleted-characters" || what == "missing") return Json(res, IdList(uni.DeletedCharacterIds()));
        if (what == "history-characters") return Json(res, IdList(uni.HistoryCharacterIds()));
        if (what == "types") return Json(res, IdList(uni.AllTypeIds()));
        if (what == "regions") return Json(res, uni.Geo().RegionIds());
        if (what == "constellations") return Json(res, uni.Geo().ConstellationIds());
        if (what == "solar-systems") return Json(res, uni.Geo().SystemIds());
        if (what == "killmails") {
            auto all = uni.AllKillmailIds();
            std::size_t off = req.has_param("offset") ? std::stoull(req.get_param_value("offset")) : 0;
            std::size_t lim = req.has_param("limit") ? std::stoull(req.get_param_value("limit")) : all.size();
            json out = json::array();
            for (std::size_t i = off; i < all.size() && i < off + lim; ++i)
                out.push_back({{"killmail_id", all[i]}, {"hash", *uni.KillmailHash(all[i])}});
            return Json(res, out);
        }
    }
    std::int64_t id = 0;
    if (n >= 3 && ParseId(seg[2], id)) {
        if (n == 4 && (what == "characters" || what == "character") && seg[3] == "killmails")
            return Json(res, IdList(uni.CharacterKillmails(id)));
        std::optional<json> rec;
        if (n == 3) {
            if (what == "alliance")
                rec = uni.Alliance(id);
            else if (what == "alliance-corporations")
                rec = uni.AllianceCorporations(id);
            else if (what == "corporation")
                rec = uni.Corporation(id);
            else if (what == "character")
                rec = uni.Character(id);
            else if (what == "type")
                rec = uni.Type(id);
            else if (what == "killmail") {
                rec = uni.Killmail(id);
                if (rec) rec = json{{"killmail", *rec}, {"hash", *uni.KillmailHash(id)}};
            } else if (what == "zkb")
                rec = uni.Zkb(id);
            else if (what == "affiliation")
                rec = uni.Affiliation(id);
            else if (what == "name")
                rec = uni.Name(id);
            else if (what == "region")
                rec = uni.Geo().Region(id);
            else if (what == "constellation")
                rec = uni.Geo().Constellation(id);
            else if (what == "solar-system")
                rec = uni.Geo().SolarSystem(id);
            else
                return Json(res, {{"error", "unknown truth kind"}}, 404);
            if (rec) return Json(res, *rec);
            return Json(res, {{"error", "not found"}, {"deleted", what == "character" && uni.IsDeletedCharacter(id)}},
                        404);
        }
    }
    Json(res, {{"error", "unknown truth endpoint"}}, 404);
}

void Admin::Mutate(const httplib::Request& req, httplib::Response& res, const Segments& seg) {
    Universe& uni = st_.uni;
    std::int64_t id = 0, other = 0;
    if (!ParseId(seg[2], id)) return Json(res, {{"error", "bad id"}}, 400);
    const std::size_t n = seg.size();
    bool ok = false;
    if (seg[1] == "corporation" && n == 4 && seg[3] == "leave-alliance")
        ok = uni.CorporationLeaveAlliance(id);
    else if (seg[1] == "corporation" && n == 5 && seg[3] == "join-alliance" && ParseId(seg[4], other))
        ok = uni.CorporationJoinAlliance(id, other);
    else if (seg[1] == "alliance" && n == 4 && seg[3] == "remove-executor")
        ok = uni.AllianceRemoveExecutor(id);
    else if (seg[1] == "character" && n == 5 && seg[3] == "move" && ParseId(seg[4], other))
        ok = uni.CharacterMove(id, other);
    else if (seg[1] == "character" && n == 4 && seg[3] == "delete")
        ok = uni.CharacterDelete(id);
    else if (seg[1] == "type" && n == 4 && seg[3] == "rename") {
        const auto current = uni.Type(id);
        std::string name = req.has_param("name") ? req.get_param_value("name") : "";
        if (name.empty() && current) name = (*current)["name"].get<std::string>() + " II";
        ok = uni.TypeRename(id, name);
    }
    // A game patch: the map changes and ESI's server version with it.
    else if (seg[1] == "solar-system" && n == 4 && seg[3] == "rename") {
        const auto current = uni.Geo().SolarSystem(id);
        std::string name = req.has_param("name") ? req.get_param_value("name") : "";
        if (name.empty() && current) name = (*current)["name"].get<std::string>() + " II";
        ok = uni.Geo().RenameSystem(id, name);
    } else if (seg[1] == "constellation" && n == 5 && seg[3] == "move" && ParseId(seg[4], other))
        ok = uni.Geo().MoveConstellation(id, other);
    else if (seg[1] == "constellation" && n == 4 && seg[3] == "add-system") {
        auto added = uni.Geo().AddSystem(id);
        ok = added.has_value();
        other = added.value_or(0);
    } else
        return Json(res, {{"error", "unknown mutation"}}, 404);
    if (!ok) return Json(res, {{"error", "unknown entity"}}, 404);
    if (req.has_param("invalidate") && req.get_param_value("invalidate") != "0") st_.cache.Clear();
    json out{{"ok", true}, {"mutations", uni.MutationCount()}, {"server_version", uni.Geo().ServerVersion()}};
    if (seg[3] == "add-system") out["system_id"] = other;
    Json(res, out);
}

}  // namespace fakeesi
