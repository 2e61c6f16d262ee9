#include "store/store.hpp"

#include <charconv>

#include "core/errors.hpp"
#include "core/esi_paths.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"

namespace kr::store {

const char* KindName(EntityKind kind) {
    switch (kind) {
        case EntityKind::kAlliance: return "alliance";
        case EntityKind::kCorporation: return "corporation";
        case EntityKind::kCharacter: return "character";
        case EntityKind::kType: return "type";
    }
    return "?";
}

const char* KindTable(EntityKind kind) {
    switch (kind) {
        case EntityKind::kAlliance: return "alliances";
        case EntityKind::kCorporation: return "corporations";
        case EntityKind::kCharacter: return "characters";
        case EntityKind::kType: return "types";
    }
    return "?";
}

std::string EntityPath(EntityKind kind, Id id) {
    switch (kind) {
        case EntityKind::kAlliance: return esi_paths::Alliance(id);
        case EntityKind::kCorporation: return esi_paths::Corporation(id);
        case EntityKind::kCharacter: return esi_paths::Character(id);
        case EntityKind::kType: return esi_paths::Type(id);
    }
    return {};
}

std::optional<std::pair<EntityKind, Id>> EntityFromPath(const std::string& path) {
    static const std::pair<const char*, EntityKind> kPrefixes[] = {
        {"/alliances/", EntityKind::kAlliance},
        {"/corporations/", EntityKind::kCorporation},
        {"/characters/", EntityKind::kCharacter},
        {"/universe/types/", EntityKind::kType},
    };
    for (const auto& [prefix, kind] : kPrefixes) {
        std::string_view p(path);
        std::string_view pre(prefix);
        if (p.substr(0, pre.size()) != pre) continue;
        p.remove_prefix(pre.size());
        // exactly "<digits>/" (so "/alliances/1/corporations/" is not an entity path)
        if (p.size() < 2 || p.back() != '/') return std::nullopt;
        p.remove_suffix(1);
        Id id = 0;
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), id);
        if (ec != std::errc{} || end != p.data() + p.size()) return std::nullopt;
        return std::make_pair(kind, id);
    }
    return std::nullopt;
}

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::unique_ptr<Store> OpenStore(const std::string& database_url) {
    auto conn = db::Open(database_url);
    if (conn->GetDialect() == db::Dialect::kPostgres) return std::make_unique<PgStore>(std::move(conn));
    return std::make_unique<SqliteStore>(std::move(conn));
}

}  // namespace kr::store
