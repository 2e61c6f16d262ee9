// zKillboard's R2Z2 live feed as the simulator serves it (/r2z2): every killmail of the universe,
// in ascending id order, gets a sequence number (first_sequence, first_sequence + 1, …) when it
// is "uploaded". `backlog` of them are uploaded at start, then `kill_rate` per second (and more on
// POST /_admin/r2z2 {"publish": n}). An update of a killmail (its zkb values changed) uploads a
// new sequence that carries `sequence_updated` = the killmail's first sequence, whose file then
// serves the new values. Sequences below the expiry floor (the oldest `keep`, or an explicit
// expire_before) are gone: 404, like a sequence not uploaded yet.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace fakeesi {

class Universe;

struct R2z2Options {
    std::int64_t first_sequence = 96000000;
    int backlog = -1;       ///< killmails uploaded at start; -1 = all of them
    double kill_rate = 0;   ///< killmails uploaded per second afterwards
    int keep = 0;           ///< sequences kept (older ones expire); 0 = all
    double poll_rate = 15;  ///< requests per second before a 429 (sliding); 0 = unlimited
};

class R2z2Feed {
public:
    R2z2Feed(const Universe& uni, R2z2Options o, std::int64_t start_ms);

    /// The file of sequence `seq` ({killmail_id, hash, esi, zkb, uploaded_at, sequence_id[,
    /// sequence_updated]}), nullopt = 404 (not uploaded yet, or expired).
    std::optional<nlohmann::json> File(std::int64_t seq, std::int64_t now_ms);
    /// The newest uploaded sequence (sequence.json); first_sequence - 1 when none is.
    std::int64_t Newest(std::int64_t now_ms);
    /// Uploads `n` more killmails now (as many as are left).
    void Publish(int n, std::int64_t now_ms);
    /// The killmail at `seq` is updated: a new sequence announces it. False if `seq` is unknown.
    bool Update(std::int64_t seq, std::int64_t now_ms);
    /// Sequences below `seq` are gone.
    void ExpireBefore(std::int64_t seq);
    void SetKillRate(double rate, std::int64_t now_ms);

    /// {first_sequence, newest, oldest, kill_rate, killmails: [ids uploaded, ascending sequence],
    /// updates: {"<killmail_id>": totalValue now}}.
    nlohmann::json Truth(std::int64_t now_ms);
    /// The zkb block of a killmail as the feed serves it now (its updates applied).
    std::optional<nlohmann::json> Zkb(std::int64_t killmail_id) const;

private:
    struct Entry {
        std::int64_t killmail_id = 0;
        std::optional<std::int64_t> updates;  ///< sequence_updated
        std::int64_t uploaded_at_s = 0;
    };
    void Advance(std::int64_t now_ms);  // uploads what the kill rate made due (mu_ held)
    void Upload(std::int64_t now_ms);   // the next killmail (mu_ held)
    std::optional<nlohmann::json> ZkbLocked(std::int64_t killmail_id) const;

    const Universe& uni_;
    R2z2Options o_;
    std::vector<std::int64_t> killmails_;  ///< the universe's, ascending
    mutable std::mutex mu_;
    std::vector<Entry> entries_;     ///< entries_[i] is sequence first_sequence + i
    std::size_t next_killmail_ = 0;  ///< index into killmails_
    std::int64_t rate_origin_ms_ = 0;
    std::int64_t rate_uploaded_ = 0;  ///< uploaded by the rate since rate_origin_ms_
    std::int64_t expire_before_ = 0;
    std::unordered_map<std::int64_t, int> versions_;  ///< killmail id → updates so far
};

}  // namespace fakeesi
