// Administrative subcommands: config, db:migrate.
#include <cstdio>

#include "app/commands.hpp"
#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "log/log.hpp"

namespace kr::app {

int CmdConfig(const Context& ctx) {
    for (const auto& line : config::Describe(ctx.cfg)) std::printf("%s\n", line.c_str());
    return 0;
}

int CmdMigrate(const Context& ctx) {
    auto conn = db::Open(ctx.cfg.database_url);
    auto report = db::Migrate(*conn);
    if (report.killreport_tables_existed) {
        std::printf("KillReport's tables were already there: left as they are, only ours were added\n");
    }
    for (const auto& m : report.applied) std::printf("applied %s\n", m.c_str());
    std::printf("schema is current on %s (%zu migration(s) applied now)\n", conn->DisplayUrl().c_str(),
                report.applied.size());
    return 0;
}

}  // namespace kr::app
