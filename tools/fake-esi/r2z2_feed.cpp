#include "r2z2_feed.hpp"

#include <algorithm>
#include <cmath>

#include "universe.hpp"

namespace fakeesi {

using json = nlohmann::json;

namespace {
/// What one update adds to a killmail's values (ISK).
constexpr double kUpdateIsk = 1000.0;
}  // namespace

R2z2Feed::R2z2Feed(const Universe& uni, R2z2Options o, std::int64_t start_ms)
    : uni_(uni), o_(o), killmails_(uni.AllKillmailIds()), rate_origin_ms_(start_ms) {
    const std::size_t backlog = o_.backlog < 0 ? killmails_.size() : static_cast<std::size_t>(o_.backlog);
    std::lock_guard lk(mu_);
    while (next_killmail_ < std::min(backlog, killmails_.size())) Upload(start_ms);
}

void R2z2Feed::Upload(std::int64_t now_ms) {
    entries_.push_back({killmails_[next_killmail_++], std::nullopt, now_ms / 1000});
}

void R2z2Feed::Advance(std::int64_t now_ms) {
    if (o_.kill_rate <= 0) return;
    const auto due =
        static_cast<std::int64_t>(std::floor(static_cast<double>(now_ms - rate_origin_ms_) / 1000.0 * o_.kill_rate));
    while (rate_uploaded_ < due && next_killmail_ < killmails_.size()) {
        Upload(now_ms);
        ++rate_uploaded_;
    }
}

void R2z2Feed::SetKillRate(double rate, std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Advance(now_ms);
    o_.kill_rate = std::max(0.0, rate);
    rate_origin_ms_ = now_ms;
    rate_uploaded_ = 0;
}

void R2z2Feed::Publish(int n, std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Advance(now_ms);
    for (int i = 0; i < n && next_killmail_ < killmails_.size(); ++i) Upload(now_ms);
}

bool R2z2Feed::Update(std::int64_t seq, std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Advance(now_ms);
    const std::int64_t i = seq - o_.first_sequence;
    if (i < 0 || i >= static_cast<std::int64_t>(entries_.size())) return false;
    const Entry original = entries_[static_cast<std::size_t>(i)];
    ++versions_[original.killmail_id];
    entries_.push_back({original.killmail_id, original.updates.value_or(seq), now_ms / 1000});
    return true;
}

void R2z2Feed::ExpireBefore(std::int64_t seq) {
    std::lock_guard lk(mu_);
    expire_before_ = std::max(expire_before_, seq);
}

std::int64_t R2z2Feed::Newest(std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Advance(now_ms);
    return o_.first_sequence + static_cast<std::int64_t>(entries_.size()) - 1;
}

std::optional<json> R2z2Feed::ZkbLocked(std::int64_t killmail_id) const {
    auto z = uni_.Zkb(killmail_id);
    if (!z) return z;
    auto v = versions_.find(killmail_id);
    if (v != versions_.end()) {
        const double add = kUpdateIsk * v->second;
        (*z)["destroyedValue"] = (*z)["destroyedValue"].get<double>() + add;
        (*z)["totalValue"] = (*z)["totalValue"].get<double>() + add;
    }
    return z;
}

std::optional<json> R2z2Feed::Zkb(std::int64_t killmail_id) const {
    std::lock_guard lk(mu_);
    return ZkbLocked(killmail_id);
}

std::optional<json> R2z2Feed::File(std::int64_t seq, std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Advance(now_ms);
    const std::int64_t i = seq - o_.first_sequence;
    if (i < 0 || i >= static_cast<std::int64_t>(entries_.size())) return std::nullopt;
    const std::int64_t kept_from =
        o_.keep > 0 ? o_.first_sequence + static_cast<std::int64_t>(entries_.size()) - o_.keep : 0;
    if (seq < expire_before_ || seq < kept_from) return std::nullopt;
    const Entry& e = entries_[static_cast<std::size_t>(i)];
    auto km = uni_.Killmail(e.killmail_id);
    auto hash = uni_.KillmailHash(e.killmail_id);
    auto zkb = ZkbLocked(e.killmail_id);
    if (!km || !hash || !zkb) return std::nullopt;
    (*zkb)["attackerCount"] = (*km)["attackers"].size();
    (*zkb)["href"] = "https://esi.evetech.net/killmails/" + std::to_string(e.killmail_id) + "/" + *hash + "/";
    json out = {{"killmail_id", e.killmail_id},   {"hash", *hash},
                {"esi", std::move(*km)},          {"zkb", std::move(*zkb)},
                {"uploaded_at", e.uploaded_at_s}, {"sequence_id", seq}};
    if (e.updates) out["sequence_updated"] = *e.updates;
    return out;
}

json R2z2Feed::Truth(std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Advance(now_ms);
    json ids = json::array();
    for (const auto& e : entries_) {
        if (!e.updates) ids.push_back(e.killmail_id);
    }
    json updates = json::object();
    for (const auto& [id, v] : versions_) {
        if (auto z = ZkbLocked(id)) updates[std::to_string(id)] = (*z)["totalValue"];
    }
    const std::int64_t newest = o_.first_sequence + static_cast<std::int64_t>(entries_.size()) - 1;
    const std::int64_t kept_from = o_.keep > 0 ? newest + 1 - o_.keep : 0;
    return {{"first_sequence", o_.first_sequence},
            {"newest", newest},
            {"oldest", std::max({o_.first_sequence, expire_before_, kept_from})},
            {"kill_rate", o_.kill_rate},
            {"remaining", killmails_.size() - next_killmail_},
            {"killmails", std::move(ids)},
            {"updates", std::move(updates)}};
}

}  // namespace fakeesi
