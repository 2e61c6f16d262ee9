#pragma once
// One function per subcommand; src/app/cli.cpp parses the command line and calls them.
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/model.hpp"

namespace kr::app {

struct Context {
    config::Config cfg;
};

/// Options every worker takes.
struct WorkerFlags {
    int concurrency = 0;      ///< 0 = the worker's default (the spec's table)
    bool until_idle = false;  ///< exit 0 once the queue is empty and nothing is in flight or retrying
    bool no_live = false;     ///< `run --no-live`: no live feed (as KILLREPORT_LIVE=0)
};

// admin (cmd_admin.cpp)
/// For the commands that read what the workers wrote (status, dead:list, dead:retry): the database
/// must exist with a current schema. They never create one (a SQLite file where the operator did not
/// expect it, as the default ./killreport.db in cron's $HOME) nor migrate one; otherwise throws
/// kr::FatalError with one line naming the database and `killreport db:migrate`.
void RequireDatabase(const config::Config& cfg);
int CmdConfig(const Context& ctx);
int CmdMigrate(const Context& ctx);
int CmdStatus(const Context& ctx);
int CmdUserAdd(const Context& ctx, Id character_id, const std::string& name);
int CmdDeadList(const Context& ctx, const std::string& queue, std::size_t limit);
int CmdDeadRetry(const Context& ctx, const std::string& queue);

}  // namespace kr::app
