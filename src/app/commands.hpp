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
/// `status` options.
struct StatusFlags {
    bool json = false;       ///< one JSON object (per refresh with watch)
    bool watch = false;      ///< refresh until SIGINT/SIGTERM
    double every_s = 2.0;    ///< the refresh period
    bool serve = false;      ///< serve the status page instead (until SIGINT/SIGTERM)
    std::string serve_addr;  ///< where ("" = kDefaultStatusAddr)
};
/// `status --serve`'s address when none is given.
inline constexpr const char* kDefaultStatusAddr = "127.0.0.1:9465";
// status (cmd_status.cpp): exit code 1 when dead letters exist or a worker is down, else 0 (--serve: 0).
int CmdStatus(const Context& ctx, const StatusFlags& flags);
/// user:add ID [--name NAME]: a character already tracked is reported and left as it is. Without
/// --name, the name is looked up on ESI (an id ESI does not know as a character is refused).
int CmdUserAdd(const Context& ctx, Id character_id, const std::string& name);
/// user:list: the tracked characters (character id, name), by id.
int CmdUserList(const Context& ctx);
/// user:remove ID: stops tracking the character (exit 1 with one line when it is not tracked).
int CmdUserRemove(const Context& ctx, Id character_id);
/// derive:rebuild [--from DATE]: the derived tables recomputed from the stored killmails.
int CmdDeriveRebuild(const Context& ctx, const std::string& from_date);
int CmdDeadList(const Context& ctx, const std::string& queue, std::size_t limit);
int CmdDeadRetry(const Context& ctx, const std::string& queue);

}  // namespace kr::app
