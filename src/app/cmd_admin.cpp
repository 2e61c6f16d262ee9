// Administrative subcommands: config, db:migrate, derive:rebuild; the database check of the
// read-only ones.
#include <cstdio>
#include <filesystem>

#include "app/commands.hpp"
#include "app/worker_commands.hpp"
#include "core/errors.hpp"
#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "db/sqlite_connection.hpp"
#include "log/log.hpp"
#include "store/store.hpp"

namespace kr::app {

void RequireDatabase(const config::Config& cfg) {
    const std::string shown = db::MaskUrl(cfg.database_url);
    if (!cfg.UsesPostgres()) {
        const std::string path = db::SqliteConnection::PathFromUrl(cfg.database_url);
        std::error_code ec;
        if (path != ":memory:" && !std::filesystem::is_regular_file(path, ec)) {
            const auto absolute = std::filesystem::absolute(path, ec);
            const auto source = cfg.sources.find("DATABASE_URL");
            const bool by_default = source == cfg.sources.end() || source->second == config::Source::kDefault;
            throw FatalError(
                "no database at " + (ec ? path : absolute.string()) +
                (by_default ? " (the default: killreport.db in the current directory; set DATABASE_URL)" : "") +
                ": create it with `killreport db:migrate`");
        }
    }
    auto conn = db::Open(cfg.database_url);
    const auto pending = db::PendingMigrations(*conn);
    if (!pending.empty()) {
        throw FatalError("the database " + shown + " lacks " + std::to_string(pending.size()) +
                         " of killreport's migrations (" + pending.front() + (pending.size() > 1 ? ", …" : "") +
                         "): run `killreport db:migrate`");
    }
}

int CmdConfig(const Context& ctx) {
    std::string defaults;
    for (const auto& [command, addr] : DefaultMetricsAddrs())
        defaults += (defaults.empty() ? "" : ", ") + command + " " + addr;
    for (const auto& line : config::Describe(ctx.cfg, defaults)) std::printf("%s\n", line.c_str());
    return 0;
}

int CmdMigrate(const Context& ctx) {
    auto conn = db::Open(ctx.cfg.database_url);
    auto report = db::Migrate(*conn, {}, SystemClock::Instance(), ctx.cfg.progress_every_seconds);
    if (report.killreport_tables_existed) {
        std::printf("KillReport's tables were already there: left as they are, only ours were added\n");
    }
    for (const auto& m : report.applied) std::printf("applied %s\n", m.c_str());
    std::printf("schema is current on %s (%zu migration(s) applied now)\n", conn->DisplayUrl().c_str(),
                report.applied.size());
    return 0;
}

int CmdUserList(const Context& ctx) {
    RequireDatabase(ctx.cfg);
    auto store = store::OpenStore(ctx.cfg.database_url);
    const auto users = store->ListUserCharacters();
    if (users.empty()) std::printf("no tracked characters (add one with `killreport user:add ID`)\n");
    for (const auto& [id, name] : users) std::printf("%lld  %s\n", static_cast<long long>(id), name.c_str());
    return 0;
}

int CmdUserRemove(const Context& ctx, Id character_id) {
    RequireDatabase(ctx.cfg);
    auto store = store::OpenStore(ctx.cfg.database_url);
    if (!store->RemoveUser(character_id)) {
        throw FatalError("character " + std::to_string(character_id) + " is not tracked (see `killreport user:list`)");
    }
    std::printf("character %lld is no longer tracked\n", static_cast<long long>(character_id));
    return 0;
}

int CmdDeriveRebuild(const Context& ctx, const std::string& from_date) {
    RequireDatabase(ctx.cfg);
    auto store = store::OpenStore(ctx.cfg.database_url);
    std::optional<std::string> from;
    if (!from_date.empty()) from = from_date;
    const auto counts = store->RebuildDerived(from);
    std::printf("derived tables rebuilt%s: %lld killmail_filters row(s), %lld kill-stats row(s)\n",
                from ? (" from " + *from).c_str() : "", static_cast<long long>(counts.filters),
                static_cast<long long>(counts.kill_stats));
    return 0;
}

}  // namespace kr::app
