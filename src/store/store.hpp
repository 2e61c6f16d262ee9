#pragma once
// The Store: everything the workers persist, over one kr::db::Connection.
//
// Contract (both backends):
// - One Store per thread; it owns its Connection (do not keep a transaction open across Store
//   calls).
// - Every write method is one transaction: it commits everything or nothing. Errors are the
//   Connection's (kr::TransientError / PermanentError / FatalError). On a PermanentError from a
//   batch (a constraint or out-of-range value in one element) nothing of the batch is written;
//   callers isolate the culprit by retrying the elements one at a time.
// - Entity upserts write EVERY column of the ESI response; an optional field ESI left out
//   becomes NULL (the original kept stale values: defect 8). created_at is set on insert only,
//   updated_at on insert and on a real change. A row whose columns are all unchanged is not
//   rewritten and is counted as `unchanged`. Duplicate ids inside one batch: the last one wins.
// - Killmail storage is idempotent: a killmail whose killmail_id exists is skipped entirely
//   (nothing duplicated, nothing changed), and each killmail is stored atomically with its victim,
//   attackers, top-level items (killmail_items) and nested container items
//   (kr_killmail_item_children).
// - The derived tables (store/derived.cpp) are written in the transaction that stores the
//   killmails, set-based per batch, for the killmails that were NEW in it (a killmail delivered
//   again is not counted again): one killmail_filters row each (attacker arrays without NULLs and
//   duplicates; constellation/region/security from the universe tables, NULL while the solar
//   system is not stored) and +1 per UTC day for each distinct attacker character, corporation
//   and alliance in the kill-stats tables. A failure fails the whole batch. Storing a solar system
//   or constellation fills the location columns of the filters that name it (ApplyEntityBatch).
// - Ids are int64. Tables we create use BIGINT ids; a pre-existing KillReport database keeps its
//   INT columns and an id above 2^31-1 there fails as a PermanentError (SQLSTATE 22003).
// - Times: ESI ISO-8601 strings in the model; TIMESTAMP(3) (UTC, without time zone, as Prisma)
//   on PostgreSQL and ISO-8601 TEXT on SQLite. Cache/pending times are unix milliseconds.
// - "Now" (created_at/updated_at, checked_at, pending marks and their expiry, unexpired 404s) is
//   the time of the Clock the store was opened with.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/cache_entry.hpp"
#include "core/clock.hpp"
#include "core/entity_kind.hpp"
#include "core/errors.hpp"
#include "core/model.hpp"
#include "db/connection.hpp"

namespace kr::store {

struct UpsertCounts {
    std::size_t created = 0;
    std::size_t updated = 0;
    std::size_t unchanged = 0;
    UpsertCounts& operator+=(const UpsertCounts& o) {
        created += o.created;
        updated += o.updated;
        unchanged += o.unchanged;
        return *this;
    }
};

/// What an info worker persists for one batch of deliveries, in ONE transaction.
struct EntityBatch {
    std::vector<Entity> entities;
    /// 200s (new expiry/etag), 304 refreshes (new expiry only), 404 records (expires days ahead).
    std::vector<CacheEntry> cache;
};

struct EntityBatchResult {
    PerKind<UpsertCounts> counts;
    std::size_t cache_saved = 0;
    UpsertCounts Total() const {
        UpsertCounts t;
        for (const auto& c : counts.values) t += c;
        return t;
    }
};

struct StoreKillmailsResult {
    std::size_t inserted = 0;
    std::size_t already_present = 0;
    /// The killmails new in the commit (written by it, not there before): what is pushed
    /// (push/killmail_events.hpp) after the commit.
    std::vector<Id> new_ids;
    /// Killmails refused before touching the database (killmail_id, reason), e.g. a victim
    /// without corporation_id (victims.corporation_id is NOT NULL in the original schema).
    std::vector<std::pair<Id, std::string>> rejected;
    /// StoreKillmailPage: whether its chain step was taken (false: another delivery holds the
    /// character's chain, or already stored this page).
    bool step_taken = false;

    StoreKillmailsResult& operator+=(const StoreKillmailsResult& o) {
        inserted += o.inserted;
        already_present += o.already_present;
        new_ids.insert(new_ids.end(), o.new_ids.begin(), o.new_ids.end());
        rejected.insert(rejected.end(), o.rejected.begin(), o.rejected.end());
        step_taken = step_taken || o.step_taken;
        return *this;
    }
};

/// What RebuildDerived wrote.
struct DerivedCounts {
    std::int64_t filters = 0;     ///< killmail_filters rows
    std::int64_t kill_stats = 0;  ///< rows of character/corporation/alliance_kill_stats
};

/// Where a character's zKillboard page chain is (a row of kr_zkb_sync): the sync that holds the
/// character and the last page of it that was stored.
struct ZkbChainAt {
    Id character_id = 0;
    std::string chain;  ///< the sync's key (worker/zkillboard_worker.hpp)
    int page = 0;
};

/// A step of a character's page chain, taken in the transaction that stores the page.
struct ZkbChainStep {
    ZkbChainAt at;          ///< the page being stored
    bool takeover = false;  ///< a new sync: it replaces whichever chain holds the character
    /// The next page's message (none after the last page), kept in kr_zkb_sync until published.
    std::optional<std::string> next_job;
    std::uint8_t next_priority = 0;
};

/// A next page that was recorded with its page and is not known to be published yet.
struct ZkbNextPage {
    ZkbChainAt at;  ///< the page that was stored; `job` is the message of the page after it
    std::string job;
    std::uint8_t priority = 0;
};

/// Where the sweep of one of ESI's id lists stands (a row of kr_list_sweeps; worker/static_data.hpp):
/// the list is looked at again a check interval after checked_at, and swept again when it changed
/// or ESI's server version did.
struct ListSweep {
    std::string path;                           ///< the list's ESI path ("/universe/systems/")
    std::optional<std::string> server_version;  ///< ESI's server version at the last sweep
    std::optional<std::int64_t> swept_at_ms;    ///< when the list's ids were last published (unix ms)
    std::int64_t checked_at_ms = 0;             ///< when the list was last looked at (unix ms)
    bool operator==(const ListSweep&) const = default;
};

/// An alliance's corporation list as ESI gave it last (a row of kr_alliance_corporations, store/7).
struct AllianceList {
    Id alliance_id = 0;
    std::vector<Id> corporations;  ///< ascending, unique
    bool operator==(const AllianceList&) const = default;
};

/// What worker:alliance-corporations compares: ESI's list as last stored and the corporations
/// stored with the alliance's id (corporations.alliance_id).
struct AllianceMembers {
    std::optional<std::vector<Id>> listed;  ///< none: no list stored yet
    std::vector<Id> stored;                 ///< ascending
};

/// Where MissingReferencedIds looks for references.
enum RefSources : unsigned {
    kFromKillmails = 1u,  ///< victims, attackers, killmail_items (+ nested children)
    kFromEntities = 2u,   ///< characters.corporation_id / .alliance_id, corporations.alliance_id
    kFromAll = 3u,
};

struct ScanOptions {
    /// Ids marked pending (MarkPending) less than this long ago are skipped.
    std::chrono::milliseconds pending_ttl = std::chrono::hours(6);
    unsigned sources = kFromAll;
};

/// What AddUser writes into the original's SSO columns that it cannot know (users.character_owner_hash,
/// access_token, refresh_token when NOT NULL): marked as ours, never a valid token or hash.
inline constexpr const char* kSsoPlaceholder = "killreport:placeholder:no-sso-login";

/// Where a live feed stands (a row of kr_live_cursor; worker/live_worker.hpp).
struct LiveCursor {
    std::string feed;
    std::optional<std::int64_t> sequence;  ///< the next sequence to fetch; none = not started yet
    std::optional<std::string> holder;     ///< the process that holds the feed, until held_until_ms
    std::int64_t held_until_ms = 0;
    std::optional<std::string> note;  ///< the last problem the feed reported (a ban), for `status`
    std::int64_t updated_at_ms = 0;
};

/// A live feed's step, taken in the transaction that stores what it passed over.
struct LiveCursorStep {
    std::string feed;
    std::string holder;
    std::int64_t from = 0;     ///< the cursor must stand here, held by `holder` …
    std::int64_t to = 0;       ///< … and moves here
    std::int64_t hold_ms = 0;  ///< the hold is renewed for this long
    /// Killmails stored earlier whose zKillboard values changed (R2Z2's sequence_updated): their
    /// total/destroyed/dropped values are rewritten.
    std::span<const Killmail> revalued;
};

/// StoreLivePage: `holder` does not hold the feed at `from` any more (another process took it
/// over, or stored that step already); nothing was written.
class LiveCursorLost : public TransientError {
public:
    using TransientError::TransientError;
};

/// Row counts for `status`: the nine original tables and ours.
using TableCounts = std::vector<std::pair<std::string, std::int64_t>>;

class Store {
public:
    virtual ~Store() = default;

    // ---- entities ------------------------------------------------------------------------------
    /// Entities + their cache rows in one transaction. Stored entities are also removed from
    /// kr_pending_entities (they are no longer missing).
    virtual EntityBatchResult ApplyEntityBatch(const EntityBatch& batch) = 0;
    /// Which of `ids` exist in the entity table (one query per batch: PostgreSQL
    /// `= ANY($1::bigint[])`, SQLite `IN (SELECT value FROM json_each($1))` — one bound parameter).
    virtual std::unordered_set<Id> ExistingIds(EntityKind kind, const std::vector<Id>& ids) = 0;
    /// Ids stored in the entity table, id > `after`, ascending, at most `limit` (keyset paging).
    virtual std::vector<Id> ListIds(EntityKind kind, Id after, std::size_t limit) = 0;
    /// What an info worker needs to decide about a batch: which of `ids` exist and the cache rows
    /// of `paths` (paths[i] is ids[i]'s entity path). ExistingIds + LoadHttpCache; PostgreSQL
    /// answers both in one query (one round trip per batch instead of two).
    struct Freshness {
        std::unordered_set<Id> existing;
        std::unordered_map<std::string, CacheEntry> cache;
    };
    virtual Freshness LookupFreshness(EntityKind kind, const std::vector<Id>& ids,
                                      const std::vector<std::string>& paths) {
        return {ExistingIds(kind, ids), LoadHttpCache(paths)};
    }

    // ---- HTTP cache (kr_http_cache) --------------------------------------------------------
    /// The entries for `paths` that exist (one query per batch).
    virtual std::unordered_map<std::string, CacheEntry> LoadHttpCache(const std::vector<std::string>& paths) = 0;
    /// Inserts or replaces the entries (last one wins per path), one transaction. A row is
    /// replaced as a whole: for a 304 refresh pass the stored etag/last_modified back with the
    /// new expiry. Entries with entity_kind set also fill entity_kind/entity_id, which the
    /// scanner uses to skip unexpired 404s (and a 404 clears the entity's pending mark).
    virtual void SaveHttpCache(const std::vector<CacheEntry>& entries) = 0;

    // ---- killmails -------------------------------------------------------------------------
    /// Stores new killmails; killmails already present are counted and left untouched.
    /// attacker_count = attackers.size(); killmail_hash as given; total/destroyed/dropped values
    /// from the model (zKillboard); is_war_related = war_id present. Victims without a character
    /// (structures) and attackers with only a faction are stored.
    StoreKillmailsResult StoreKillmails(const std::vector<Killmail>& killmails) {
        return StoreKillmailPage(killmails, {}, nullptr);
    }
    /// derive:rebuild: recomputes the derived tables from the stored killmails, set-based, in one
    /// transaction: every row when `from_date` is empty, else the days from `from_date`
    /// ("YYYY-MM-DD", UTC) on (killmail_filters by killmail_time, the kill stats by kill_date).
    virtual DerivedCounts RebuildDerived(const std::optional<std::string>& from_date) = 0;
    /// Which of `ids` are stored (one query per batch) — check before fetching from ESI.
    virtual std::unordered_set<Id> ExistingKillmailIds(const std::vector<Id>& ids) = 0;

    // ---- worker:zkillboard's page (kr_entity_outbox, kr_zkb_sync) ---------------------------
    /// StoreKillmails, and in the SAME transaction: `enrich` (ids the killmails reference, to
    /// queue for the info workers) recorded in kr_entity_outbox until ClearPublished, and `step`
    /// (when given) taken on kr_zkb_sync. The step is taken (result.step_taken) only when the
    /// character has no chain yet, when the step's chain holds it at an earlier page, or — with
    /// takeover — when another chain holds it: one check-and-advance statement, so of two
    /// deliveries storing the same page only one takes the step. A transaction is written even
    /// without killmails (a page whose killmails were all stored still takes its step).
    virtual StoreKillmailsResult StoreKillmailPage(std::span<const Killmail> killmails,
                                                   const PerKind<std::vector<Id>>& enrich,
                                                   const ZkbChainStep* step) = 0;
    /// The character's chain, if any page of any chain was stored for it.
    virtual std::optional<ZkbChainAt> LoadZkbChain(Id character_id) = 0;
    /// Ids of `kind` in kr_entity_outbox, id > `after`, ascending, at most `limit` (what a crash
    /// left unpublished, or another process is publishing right now).
    virtual std::vector<Id> ListEntityOutbox(EntityKind kind, Id after, std::size_t limit) = 0;
    /// Next pages recorded and not cleared, character_id > `after`, ascending, at most `limit`.
    virtual std::vector<ZkbNextPage> UnpublishedZkbPages(Id after, std::size_t limit) = 0;
    /// Forgets what was published, in one transaction: the kr_entity_outbox rows of `ids` and,
    /// when given, the next page recorded by that step (unless the chain moved on since).
    virtual void ClearPublished(const PerKind<std::vector<Id>>& ids, const ZkbChainAt* next_of) = 0;

    // ---- the live feed (kr_live_cursor) -----------------------------------------------------
    /// The feed's row, if any.
    virtual std::optional<LiveCursor> LoadLiveCursor(const std::string& feed) = 0;
    /// Takes (or renews) the feed for `holder` until now + hold_ms when nobody holds it, the hold
    /// expired or `holder` holds it already (the row is created, not started, when absent); one
    /// statement, so of two processes only one holds it. Returns the row as it is now: `holder`
    /// says who holds the feed.
    virtual LiveCursor HoldLiveCursor(const std::string& feed, const std::string& holder, std::int64_t hold_ms) = 0;
    /// Sets where the feed starts (--from, sequence.json) if `holder` holds it; whether it did.
    virtual bool SetLiveCursor(const std::string& feed, const std::string& holder, std::int64_t sequence) = 0;
    /// Sets the feed's note ("" clears it).
    virtual void NoteLiveCursor(const std::string& feed, const std::string& note) = 0;
    /// Lets go of the feed (a clean stop): another process may take it at once.
    virtual void ReleaseLiveCursor(const std::string& feed, const std::string& holder) = 0;
    /// What StoreKillmailPage writes (the killmails, `enrich` in kr_entity_outbox: the same write
    /// path) and, in the SAME transaction, the step's revalued killmails and the cursor moved from
    /// step.from to step.to — only if step.holder holds it at step.from; otherwise nothing is
    /// written and LiveCursorLost is thrown.
    virtual StoreKillmailsResult StoreLivePage(std::span<const Killmail> killmails,
                                               const PerKind<std::vector<Id>>& enrich, const LiveCursorStep& step) = 0;

    // ---- the refresh scheduler (kr_refresh_runs) ------------------------------------------------
    /// Claims a run of refresh sweep `sweep` now: when its last run started before `due_before_ms`
    /// (unix ms), records now as its last run and returns true; otherwise false. A sweep never run
    /// before gets its row with now as well and is due only when `first_is_due`. One statement each:
    /// of several processes asking at once, exactly one is given the run.
    virtual bool ClaimRefresh(const std::string& sweep, std::int64_t due_before_ms, bool first_is_due) = 0;

    // ---- sweeps of ESI's id lists (kr_list_sweeps) ---------------------------------------------
    /// The rows of `paths` that exist.
    virtual std::unordered_map<std::string, ListSweep> LoadListSweeps(const std::vector<std::string>& paths) = 0;
    /// Inserts or replaces the sweep row and, when given, the list's kr_http_cache row, in one
    /// transaction (the list's ETag is kept only with the sweep that published its ids).
    virtual void SaveListSweep(const ListSweep& sweep, const std::optional<CacheEntry>& list_cache) = 0;

    // ---- alliance membership (kr_alliance_corporations) ----------------------------------------
    /// The alliance's stored list (if any) and the corporations stored with its id.
    virtual AllianceMembers LoadAllianceMembers(Id alliance_id) = 0;
    /// Replaces the alliance's stored list and, when given, saves the list's kr_http_cache row, in
    /// one transaction.
    virtual void SaveAllianceList(const AllianceList& list, const std::optional<CacheEntry>& list_cache) = 0;
    /// The kr_http_cache rows of `paths` expire now (at the latest), their ETags kept: the next
    /// fetch asks ESI (a 304 if nothing changed) instead of trusting the row. One statement.
    virtual void ExpireHttpCache(const std::vector<std::string>& paths) = 0;

    /// Stored entities of `kind` whose ESI Expires has passed (their kr_http_cache row expired, or
    /// none at all: stored without one), the longest expired first, at most `limit` (0 = all).
    virtual std::vector<Id> ListExpired(EntityKind kind, std::size_t limit) = 0;

    // ---- affiliation sweeps (queue:characters) -------------------------------------------------
    /// Writes ESI's affiliations onto the stored characters in one statement: corporation_id,
    /// alliance_id and faction_id (NULL when absent) and updated_at of the rows that differ;
    /// characters not stored are left alone. Returns the ids of the rows changed, ascending.
    virtual std::vector<Id> ApplyAffiliations(const std::vector<CharacterAffiliation>& affiliations) = 0;
    /// Of the (corporation, alliance) pairs an affiliation sweep saw, the stored corporations whose
    /// alliance_id differs (their alliance changed since they were stored), ascending.
    virtual std::vector<Id> CorporationsWithOtherAlliance(
        const std::vector<std::pair<Id, std::optional<Id>>>& corporation_alliances) = 0;
    /// The stored corporations whose alliance changed as the last sweep saw it: a member whose
    /// stored affiliation is newer than the corporation's row (updated_at: written by a sweep, or
    /// by a character fetched after the corporation) names another alliance_id. Ascending, at most
    /// `limit` (0 = all). A corporation fetched since then is newer again and drops out.
    virtual std::vector<Id> CorporationsWithNewerOtherAlliance(std::size_t limit) = 0;

    // ---- users -----------------------------------------------------------------------------
    /// Adds (or renames) a tracked character in `users`; returns users.id. Columns of an
    /// existing KillReport `users` table that are NOT NULL without default (the SSO login's
    /// character_owner_hash and tokens, expires_at) get placeholders: kSsoPlaceholder / the epoch
    /// (an expired token); the original's login replaces them when the character logs in.
    virtual std::int64_t AddUser(Id character_id, const std::string& name) = 0;
    /// (character_id, character_name) of every user, ordered by character_id.
    virtual std::vector<std::pair<Id, std::string>> ListUserCharacters() = 0;
    /// Removes the character's user row; whether there was one.
    virtual bool RemoveUser(Id character_id) = 0;

    // ---- scanner support -------------------------------------------------------------------
    /// Ids of `kind` referenced (see RefSources) but absent from the entity table, not pending
    /// (< pending_ttl) and not known-missing (kr_http_cache 404 not expired), id > `after`,
    /// ascending, at most `limit` (keyset pagination: pass the last id as the next `after`).
    /// NPC characters (id < 1,000,000 or 3,000,000–3,999,999) are never returned.
    /// References: characters: victims + attackers; corporations: victims + attackers
    /// (+ characters.corporation_id); alliances: victims + attackers (+ characters/corporations
    /// alliance_id); types: victim ship, attacker ship + weapon, item types incl. nested.
    virtual std::vector<Id> MissingReferencedIds(EntityKind kind, Id after, std::size_t limit,
                                                 const ScanOptions& options = {}) = 0;
    /// The subset of `ids` (any order, duplicates allowed) that MissingReferencedIds would return:
    /// absent from the entity table, not pending, not known missing. Ascending, one query.
    virtual std::vector<Id> FilterMissing(EntityKind kind, const std::vector<Id>& ids,
                                          const ScanOptions& options = {}) = 0;
    /// Records that `ids` were queued for fetching now; one transaction.
    virtual void MarkPending(EntityKind kind, const std::vector<Id>& ids) = 0;

    /// Row counts of every table of the store (the original's and our kr_* tables).
    virtual TableCounts Counts() = 0;
};

/// What a store maintains besides the killmails and entities (the operator's choices).
struct StoreOptions {
    /// KILLREPORT_DERIVE: the derived tables (killmail_filters, the kill stats) are written with
    /// each killmail page. Off, they are not maintained (`derive:rebuild` fills them later).
    bool derive = true;
};

/// Opens a store by URL scheme: "sqlite:///path.db" → SqliteStore, "postgresql://…" → PgStore.
/// Does not migrate (db::Migrate on a connection of its own: `db:migrate`). `clock` (which must
/// outlive the store) says what time it is.
std::unique_ptr<Store> OpenStore(const std::string& database_url, const Clock& clock = SystemClock::Instance(),
                                 StoreOptions options = {});

}  // namespace kr::store
