#include "history_days.hpp"

#include <algorithm>

#include "universe.hpp"

namespace fakeesi {

using json = nlohmann::json;

std::string HistoryDays::DayOf(const std::string& killmail_time) {
    // "2025-01-01T12:34:56Z" → "20250101"
    if (killmail_time.size() < 10) return {};
    return killmail_time.substr(0, 4) + killmail_time.substr(5, 2) + killmail_time.substr(8, 2);
}

HistoryDays::HistoryDays(const Universe& uni, HistoryOptions o) : uni_(uni), o_(std::move(o)) {
    for (std::int64_t id : uni_.AllKillmailIds()) {
        const auto km = uni_.Killmail(id);
        if (!km || !km->contains("killmail_time")) continue;
        days_[DayOf((*km)["killmail_time"].get<std::string>())].push_back(id);
    }
}

bool HistoryDays::Verified(std::int64_t id) const {
    return o_.ccp_verified_every > 0 && id % o_.ccp_verified_every == 0;
}

json HistoryDays::Totals() const {
    json out = json::object();
    for (const auto& [day, ids] : days_) out[day] = ids.size();
    return out;
}

std::optional<json> HistoryDays::Index(const std::string& day) const {
    const auto it = days_.find(day);
    if (it == days_.end()) return std::nullopt;
    json out = json::object();
    for (std::int64_t id : it->second) {
        out[std::to_string(id)] = Verified(id) ? std::string("CCP VERIFIED") : uni_.KillmailHash(id).value_or("");
    }
    return out;
}

std::optional<json> HistoryDays::Raw(const std::string& day) const {
    if (!o_.raw_from.empty() && day < o_.raw_from) return std::nullopt;
    const auto it = days_.find(day);
    if (it == days_.end()) return std::nullopt;
    json out = json::object();
    for (std::int64_t id : it->second) {
        if (auto km = uni_.Killmail(id)) out[std::to_string(id)] = std::move(*km);
    }
    return out;
}

std::vector<std::int64_t> HistoryDays::CcpVerified() const {
    std::vector<std::int64_t> out;
    for (const auto& [day, ids] : days_) {
        for (std::int64_t id : ids) {
            if (Verified(id)) out.push_back(id);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace fakeesi
