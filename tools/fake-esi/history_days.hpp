// zKillboard's per-day dumps as the simulator serves them (under /r2z2/history/): every killmail of
// the universe under the UTC day of its killmail_time, from the same universe as ESI and the feed.
//   /history/totals.json          {"YYYYMMDD": count, …}
//   /history/YYYYMMDD.json        {"<killmail_id>": "<hash>", …}; every `ccp_verified_every`-th
//                                 killmail (by id) has the hash "CCP VERIFIED" (ESI cannot serve it)
//   /history/raw/YYYYMMDD.json    {"<killmail_id>": <ESI killmail>, …} for the days ≥ raw_from
//                                 (zKillboard has pushed raw dumps only since 2026-07-01); 404 before
// A day without killmails is 404 in both, as a day not dumped yet.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fakeesi {

class Universe;

struct HistoryOptions {
    std::string raw_from;        ///< "YYYYMMDD": first day with a raw dump; "" = every day has one
    int ccp_verified_every = 0;  ///< 0 = none
};

class HistoryDays {
public:
    HistoryDays(const Universe& uni, HistoryOptions o);

    nlohmann::json Totals() const;
    std::optional<nlohmann::json> Index(const std::string& day) const;
    std::optional<nlohmann::json> Raw(const std::string& day) const;
    /// Ids whose index hash is "CCP VERIFIED", ascending.
    std::vector<std::int64_t> CcpVerified() const;
    /// The day ("YYYYMMDD") of a killmail's killmail_time.
    static std::string DayOf(const std::string& killmail_time);

private:
    bool Verified(std::int64_t id) const;

    const Universe& uni_;
    HistoryOptions o_;
    std::map<std::string, std::vector<std::int64_t>> days_;  ///< day → ids, ascending
};

}  // namespace fakeesi
