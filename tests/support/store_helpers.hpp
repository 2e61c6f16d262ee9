#pragma once
// Test shorthands over the Store's one write path for entities (ApplyEntityBatch), and a database
// that refuses one killmail.
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "store/store.hpp"
#include "store/tables.hpp"

namespace kr::test {

/// Upserts entities of one kind in one batch; the counts of that kind.
template <typename T>
store::UpsertCounts Upsert(store::Store& s, const std::vector<T>& rows) {
    store::EntityBatch batch;
    for (const auto& r : rows) batch.entities.emplace_back(r);
    return s.ApplyEntityBatch(batch).counts[KindOf(Entity(T{}))];
}
inline store::UpsertCounts UpsertAlliances(store::Store& s, const std::vector<Alliance>& r) { return Upsert(s, r); }
inline store::UpsertCounts UpsertCorporations(store::Store& s, const std::vector<Corporation>& r) {
    return Upsert(s, r);
}
inline store::UpsertCounts UpsertCharacters(store::Store& s, const std::vector<Character>& r) { return Upsert(s, r); }
inline store::UpsertCounts UpsertTypes(store::Store& s, const std::vector<Type>& r) { return Upsert(s, r); }

/// Whether a killmail's tables refer to the kind (regions and constellations: only the universe
/// tables do), from the table definitions.
inline bool KillmailsReferTo(EntityKind kind) {
    for (const auto& ref : store::tables::RefColumns(kind)) {
        if (ref.source & store::kFromKillmails) return true;
    }
    return false;
}

}  // namespace kr::test

namespace kr::test {

/// A kr_http_cache row for an entity's path.
inline CacheEntry EntityCache(EntityKind kind, Id id, std::optional<std::string> etag, std::int64_t expires_at_ms,
                              int status, std::int64_t checked_at_ms) {
    CacheEntry e = EntityCacheEntry(kind, id);
    e.etag = std::move(etag);
    e.expires_at_ms = expires_at_ms;
    e.status = status;
    e.checked_at_ms = checked_at_ms;
    return e;
}

}  // namespace kr::test

namespace kr::test {

/// Makes the database refuse to store killmail `id` for good, as a KillReport database refuses an
/// id beyond one of its INT columns: a trigger raising SQLSTATE 22003 (PostgreSQL) / a constraint
/// failure (SQLite) — kr::PermanentError either way.
inline void RefuseKillmail(db::Connection& c, Id id) {
    const std::string n = std::to_string(id);
    if (c.GetDialect() == db::Dialect::kPostgres) {
        c.ExecScript("CREATE FUNCTION kr_test_refuse_" + n +
                     "() RETURNS trigger AS $f$ BEGIN IF NEW.killmail_id = " + n +
                     " THEN RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003'; END IF; RETURN NEW; END "
                     "$f$ LANGUAGE plpgsql;"
                     "CREATE TRIGGER kr_test_refuse_" +
                     n + " BEFORE INSERT ON killmails FOR EACH ROW EXECUTE FUNCTION kr_test_refuse_" + n + "();");
    } else {
        c.ExecScript("CREATE TRIGGER kr_test_refuse_" + n + " BEFORE INSERT ON killmails WHEN NEW.killmail_id = " + n +
                     " BEGIN SELECT RAISE(ABORT, 'value out of range'); END;");
    }
}

}  // namespace kr::test
