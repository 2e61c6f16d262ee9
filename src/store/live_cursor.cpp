// SqlStore, part 5: the live feed's cursor (kr_live_cursor): which process holds the feed, and
// where it stands — moved in the transaction of the killmails it passed over (StoreLivePage).
#include "core/time_format.hpp"
#include "store/sql_store.hpp"
#include "store/tables.hpp"

namespace kr::store::detail {

namespace {

/// Creates the feed's row (not started) held by $2, or takes it over when nobody holds it, its
/// hold expired ($4 = now) or $2 holds it already (a renewal). Otherwise no row changes.
constexpr const char* kHoldLiveCursor =
    "INSERT INTO kr_live_cursor (feed, sequence, holder, held_until, note, updated_at)"
    " VALUES ($1, NULL, $2, $3, NULL, $4) ON CONFLICT (feed) DO UPDATE SET holder = excluded.holder,"
    " held_until = excluded.held_until"
    " WHERE kr_live_cursor.holder IS NULL OR kr_live_cursor.holder = excluded.holder"
    " OR kr_live_cursor.held_until < $4";

constexpr const char* kLoadLiveCursor =
    "SELECT sequence, holder, held_until, note, updated_at FROM kr_live_cursor WHERE feed = $1";

constexpr const char* kSetLiveCursor =
    "UPDATE kr_live_cursor SET sequence = $3, updated_at = $4 WHERE feed = $1 AND holder = $2";

constexpr const char* kNoteLiveCursor = "UPDATE kr_live_cursor SET note = $2 WHERE feed = $1";

constexpr const char* kReleaseLiveCursor =
    "UPDATE kr_live_cursor SET holder = NULL, held_until = 0 WHERE feed = $1 AND holder = $2";

/// The step: only from where the holder's cursor stands.
constexpr const char* kStepLiveCursor =
    "UPDATE kr_live_cursor SET sequence = $3, held_until = $4, updated_at = $5"
    " WHERE feed = $1 AND holder = $2 AND sequence = $6";

/// zKillboard's values of a stored killmail changed (R2Z2's sequence_updated).
constexpr const char* kRevalueKillmail =
    "UPDATE killmails SET total_value = $2, destroyed_value = $3, dropped_value = $4, updated_at = $5"
    " WHERE killmail_id = $1";

}  // namespace

std::optional<LiveCursor> SqlStore::LoadLiveCursor(const std::string& feed) {
    auto r = conn_->Exec(kLoadLiveCursor, {feed});
    if (r.Rows() == 0) return std::nullopt;
    LiveCursor c;
    c.feed = feed;
    c.sequence = r.OptInt(0, 0);
    c.holder = r.OptText(0, 1);
    c.held_until_ms = r.Int(0, 2);
    c.note = r.OptText(0, 3);
    c.updated_at_ms = r.Int(0, 4);
    return c;
}

LiveCursor SqlStore::HoldLiveCursor(const std::string& feed, const std::string& holder, std::int64_t hold_ms) {
    const std::int64_t now = clock_.NowMs();
    {
        db::Transaction tx(*conn_);
        conn_->Exec(kHoldLiveCursor, {feed, holder, now + hold_ms, now});
        tx.Commit();
    }
    if (auto c = LoadLiveCursor(feed)) return *c;
    LiveCursor none;
    none.feed = feed;
    return none;
}

bool SqlStore::SetLiveCursor(const std::string& feed, const std::string& holder, std::int64_t sequence) {
    db::Transaction tx(*conn_);
    const bool set = conn_->Exec(kSetLiveCursor, {feed, holder, sequence, clock_.NowMs()}).Affected() > 0;
    tx.Commit();
    return set;
}

void SqlStore::NoteLiveCursor(const std::string& feed, const std::string& note) {
    db::Transaction tx(*conn_);
    conn_->Exec(kNoteLiveCursor, {feed, note.empty() ? db::Param(std::monostate{}) : db::Param(note)});
    tx.Commit();
}

void SqlStore::ReleaseLiveCursor(const std::string& feed, const std::string& holder) {
    db::Transaction tx(*conn_);
    conn_->Exec(kReleaseLiveCursor, {feed, holder});
    tx.Commit();
}

void SqlStore::TakeLiveStep(const LiveCursorStep& live) {
    const std::int64_t now = clock_.NowMs();
    if (!live.revalued.empty()) {
        const std::string now_iso = IsoUtc(now);
        for (const auto& km : live.revalued) {
            conn_->Exec(kRevalueKillmail, {km.killmail_id, db::Opt(km.total_value), db::Opt(km.destroyed_value),
                                           db::Opt(km.dropped_value), now_iso});
        }
    }
    const auto r = conn_->Exec(kStepLiveCursor, {live.feed, live.holder, live.to, now + live.hold_ms, now, live.from});
    if (r.Affected() == 0) {
        throw LiveCursorLost("the " + live.feed + " feed is not held by " + live.holder + " at sequence " +
                             std::to_string(live.from) + " any more (another process took it over)");
    }
}

}  // namespace kr::store::detail
