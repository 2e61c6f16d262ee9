#include "stats.hpp"

#include "http_util.hpp"

namespace fakeesi {

using json = nlohmann::json;

Stats::Stats() {
    esi_max_.EnableHistogram();  // for GET /_admin/timeline
    for (auto& m : route_max_) m.EnableHistogram();
    Reset(NowMs());
}

void Stats::Reset(std::int64_t now) {
    origin_ms_ = now;
    for (auto& r : route_status_)
        for (auto& c : r) c = 0;
    esi_max_.Reset(now);
    zkb_max_.Reset(now);
    r2z2_max_.Reset(now);
    for (auto& m : route_max_) m.Reset(now);
    for (Counter* c :
         {&error_limited_420, &downtime_503, &rate_limited_429, &zkb_rate_limited_429, &r2z2_rate_limited_429,
          &r2z2_banned_403, &errors_counted, &conditional_requests, &not_modified_304, &npc_character_requests,
          &repeated_before_expires, &repeated_before_expires_unconditional, &esi_requests_, &zkb_requests_,
          &r2z2_requests_, &admin_requests_})
        *c = 0;
}

void Stats::CountEsi(int route, std::int64_t now) {
    ++esi_requests_;
    esi_max_.Add(now);
    route_max_[static_cast<std::size_t>(route)].Add(now);
}

void Stats::CountZkb(int route, std::int64_t now) {
    ++zkb_requests_;
    zkb_max_.Add(now);
    route_max_[static_cast<std::size_t>(route)].Add(now);
}

void Stats::CountR2z2(int route, std::int64_t now) {
    ++r2z2_requests_;
    r2z2_max_.Add(now);
    route_max_[static_cast<std::size_t>(route)].Add(now);
}

void Stats::CountAdmin() {
    ++admin_requests_;
    Record(kAdmin, 200);
}

void Stats::Record(int route, int status) {
    route_status_[static_cast<std::size_t>(route)][static_cast<std::size_t>(StatusSlot(status))].fetch_add(
        1, std::memory_order_relaxed);
}

json Stats::RoutesPerSecond() const {
    json out = json::object();
    for (int r = 0; r < kRouteCount; ++r) {
        if (r == kAdmin) continue;
        auto per_second = route_max_[static_cast<std::size_t>(r)].PerSecond();
        if (!per_second.empty()) out[RouteName(r)] = std::move(per_second);
    }
    return out;
}

json Stats::ToJson(std::int64_t now) const {
    json routes = json::object();
    json totals = json::object();
    std::array<std::uint64_t, kStatusSlots> tot{};
    for (int r = 0; r < kRouteCount; ++r) {
        json by = json::object();
        std::uint64_t sum = 0;
        for (int s = 0; s < kStatusSlots; ++s) {
            std::uint64_t c = route_status_[static_cast<std::size_t>(r)][static_cast<std::size_t>(s)].load();
            if (!c) continue;
            by[StatusSlotName(s)] = c;
            sum += c;
            if (r != kAdmin) tot[static_cast<std::size_t>(s)] += c;
        }
        std::uint64_t mx = route_max_[static_cast<std::size_t>(r)].Max();
        if (sum == 0 && mx == 0) continue;
        routes[RouteName(r)] = {{"total", sum}, {"by_status", by}, {"max_per_second", mx}};
    }
    for (int s = 0; s < kStatusSlots; ++s)
        if (tot[static_cast<std::size_t>(s)]) totals[StatusSlotName(s)] = tot[static_cast<std::size_t>(s)];
    json j;
    j["since_unix_ms"] = origin_ms_.load();
    j["now_unix_ms"] = now;
    j["esi_requests"] = esi_requests_.load();
    j["zkb_requests"] = zkb_requests_.load();
    j["r2z2_requests"] = r2z2_requests_.load();
    j["admin_requests"] = admin_requests_.load();
    j["routes"] = routes;
    j["status"] = totals;
    j["max_per_second"] = {{"esi", esi_max_.Max()}, {"zkb", zkb_max_.Max()}, {"r2z2", r2z2_max_.Max()}};
    j["error_limited_420"] = error_limited_420.load();
    j["downtime_503"] = downtime_503.load();
    j["rate_limited_429"] = rate_limited_429.load();
    j["zkb_rate_limited_429"] = zkb_rate_limited_429.load();
    j["r2z2_rate_limited_429"] = r2z2_rate_limited_429.load();
    j["r2z2_banned_403"] = r2z2_banned_403.load();
    j["errors_counted"] = errors_counted.load();
    j["conditional_requests"] = conditional_requests.load();
    j["not_modified_304"] = not_modified_304.load();
    j["npc_character_requests"] = npc_character_requests.load();
    j["repeated_before_expires"] = repeated_before_expires.load();
    j["repeated_before_expires_unconditional"] = repeated_before_expires_unconditional.load();
    return j;
}

}  // namespace fakeesi
