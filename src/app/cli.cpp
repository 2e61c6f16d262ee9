#include "app/cli.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <regex>

#include <CLI/CLI.hpp>

#include "app/arguments.hpp"
#include "app/commands.hpp"
#include "app/worker_commands.hpp"
#include "core/errors.hpp"
#include "log/log.hpp"

namespace kr::app {

namespace {

/// The global flags: each sets the environment variable of the same meaning (config::Load checks
/// the values, with the variable's name in the message). `type` is what --help shows.
struct GlobalFlags {
    std::map<std::string, std::string> values;
    void Add(CLI::App& app, const std::string& flag, const std::string& type, const std::string& env,
             const std::string& help) {
        app.add_option_function<std::string>(
               flag, [this, env](const std::string& v) { values[env] = v; }, help + " (env " + env + ")")
            ->type_name(type)
            ->configurable(false);
    }
};

void AddWorkerFlags(CLI::App* sub, WorkerFlags& f) {
    sub->add_option("--concurrency,-c", f.concurrency, "messages processed in parallel (= prefetch)")
        ->type_name("N")
        ->check(WholeArgument("--concurrency", 1, 100000));
    sub->add_flag("--until-idle", f.until_idle,
                  "exit 0 once the queue is empty and nothing is in flight or waiting for a retry");
}

/// CLI11 2.1 forbids ':' in subcommand names, but ours are the spec's yarn script names
/// ("queue:alliances"). They are registered with '/' in place of ':'; the command line is mapped
/// before parsing and help/error texts after formatting.
struct CommandNames {
    std::vector<std::pair<std::string, std::string>> names;  // colon form, internal form
    std::string Internal(const std::string& colon) {
        std::string internal = colon;
        for (auto& ch : internal) {
            if (ch == ':') ch = '/';
        }
        if (internal != colon) names.emplace_back(colon, internal);
        return internal;
    }
    std::string Display(std::string text) const {
        for (const auto& [colon, internal] : names) {
            for (auto pos = text.find(internal); pos != std::string::npos;
                 pos = text.find(internal, pos + colon.size())) {
                text.replace(pos, internal.size(), colon);
            }
        }
        return text;
    }
};

class ColonFormatter : public CLI::Formatter {
public:
    explicit ColonFormatter(const CommandNames& names) : names_(names) {}
    std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
        return names_.Display(CLI::Formatter::make_help(app, std::move(name), mode));
    }

private:
    const CommandNames& names_;
};

/// Error texts from C libraries span lines (libpq); the operator gets one line.
std::string OneLine(const std::string& text) {
    std::string out;
    bool space = false;
    for (char ch : text) {
        if (ch == '\n' || ch == '\t' || ch == '\r' || ch == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += ch;
    }
    return out;
}

/// CLI11's range message in plain words, for an option checked with CLI::Range rather than the
/// validators of app/arguments.hpp: "ID: Value abc not in range 1 to 9" → "ID: not a whole number
/// from 1 to 9: abc".
std::string PlainParseError(const std::string& text) {
    static const std::regex range("^(.*): Value (.*) not in range (\\S+) to (\\S+)$");
    std::smatch m;
    if (!std::regex_match(text, m, range)) return text;
    return m[1].str() + ": not a whole number from " + m[3].str() + " to " + m[4].str() + ": " + m[2].str();
}

}  // namespace

int Main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"killreport: KillReport's queue scripts and workers (ESI + zKillboard enrichment) in C++",
                 "killreport"};
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", std::string("killreport ") + KR_VERSION);
    GlobalFlags g;
    g.Add(app, "--database-url", "URL", "DATABASE_URL", "postgresql://… or sqlite:///path/file.db");
    g.Add(app, "--rabbitmq-url", "URL", "RABBITMQ_URL", "amqp://…; unset keeps the queue in the database");
    g.Add(app, "--esi-base-url", "URL", "ESI_BASE_URL", "ESI base URL");
    g.Add(app, "--zkillboard-base-url", "URL", "ZKILLBOARD_BASE_URL", "zKillboard API base URL");
    g.Add(app, "--r2z2-base-url", "URL", "R2Z2_BASE_URL", "zKillboard's live feed (R2Z2) base URL");
    g.Add(app, "--r2z2-rate-limit", "REQ/S", "R2Z2_RATE_LIMIT", "R2Z2 requests/s for the whole deployment, 0 = off");
    g.Add(app, "--refresh-share", "SHARE", "KILLREPORT_REFRESH_SHARE",
          "refresh traffic's share of the ESI budget while new work waits (0..1; 1 = no cap)");
    g.Add(app, "--esi-rate-limit", "REQ/S", "ESI_RATE_LIMIT", "ESI requests/s for the whole deployment, 0 = off");
    g.Add(app, "--zkillboard-rate-limit", "REQ/S", "ZKILLBOARD_RATE_LIMIT", "zKillboard requests/s, 0 = off");
    g.Add(app, "--user-agent", "TEXT", "KILLREPORT_USER_AGENT", "User-Agent sent to ESI and zKillboard");
    g.Add(app, "--compatibility-date", "DATE", "ESI_COMPATIBILITY_DATE", "X-Compatibility-Date sent to ESI");
    g.Add(app, "--max-attempts", "N", "KILLREPORT_MAX_ATTEMPTS", "attempts before a message is dead-lettered");
    g.Add(app, "--max-age", "SECONDS", "KILLREPORT_MAX_AGE",
          "refresh entities older than this many seconds (0 = ESI's Expires)");
    g.Add(app, "--db-connections", "N", "KILLREPORT_DB_CONNECTIONS", "database connections per process");
    g.Add(app, "--outage-limit", "SECONDS", "KILLREPORT_OUTAGE_LIMIT",
          "seconds --until-idle waits for a database that refuses writes before it exits 1");
    g.Add(app, "--universe-check", "SECONDS", "KILLREPORT_UNIVERSE_CHECK",
          "seconds between `run`'s looks at ESI's universe lists (0 = never)");
    g.Add(app, "--log-level", "LEVEL", "LOG_LEVEL", "debug, info, warn, error");
    g.Add(app, "--log-format", "FORMAT", "LOG_FORMAT", "text, or json: one JSON object per line");
    g.Add(app, "--metrics-addr", "ADDR", "KILLREPORT_METRICS_ADDR",
          "serve Prometheus /metrics from run and worker:* on PORT (127.0.0.1) or HOST:PORT (in use: an error); "
          "empty = off; unset = each command's default ([/metrics …] in its help, `config` lists them; a default "
          "port in use is a warning)");

    CommandNames names;
    auto add = [&](const std::string& name, const std::string& desc) {
        return app.add_subcommand(names.Internal(name), desc);
    };
    app.formatter(std::make_shared<ColonFormatter>(names));

    std::function<int(const Context&)> run;
    auto on = [&](CLI::App* sub, std::function<int(const Context&)> fn) {
        sub->callback([&run, fn = std::move(fn)] { run = fn; });
    };

    on(add("config", "print each effective setting and where it came from"), CmdConfig);
    on(add("db:migrate", "create or upgrade the schema (idempotent; keeps KillReport's tables)"), CmdMigrate);
    StatusFlags status_flags;
    auto* status = add("status",
                       "queues (depth, consumers, retries, dead letters), the shared ESI budget's state (error limit, "
                       "paused route groups), workers, row counts; exit 1 when dead letters exist or a worker is down");
    status->add_flag("--json", status_flags.json, "one JSON object (with --watch: one per refresh, a line each)");
    status->add_flag("--watch", status_flags.watch, "refresh in place until interrupted");
    status->add_option("--every", status_flags.every_s, "seconds between refreshes with --watch")
        ->type_name("SECONDS")
        ->check(CLI::Range(0.2, 3600.0));
    auto* serve = status
                      ->add_option("--serve", status_flags.serve_addr,
                                   std::string("serve the live status page (HTML, /status.json) on ADDR until "
                                               "interrupted; default ") +
                                       kDefaultStatusAddr)
                      ->type_name("ADDR")
                      ->expected(0, 1);
    on(status, [&, serve](const Context& c) {
        status_flags.serve = serve->count() > 0;
        return CmdStatus(c, status_flags);
    });

    Id user_id = 0;
    std::string user_name;
    auto* user_add = add("user:add", "add a tracked character to users");
    user_add->add_option("ID", user_id, "character id")->required()->type_name("ID")->check(IdArgument("character id"));
    user_add->add_option("--name", user_name, "character name (default: looked up on ESI)");
    on(user_add, [&](const Context& c) { return CmdUserAdd(c, user_id, user_name); });
    on(add("user:list", "list the tracked characters"), CmdUserList);
    Id remove_id = 0;
    auto* user_remove = add("user:remove", "stop tracking a character (removes it from users)");
    user_remove->add_option("ID", remove_id, "character id")
        ->required()
        ->type_name("ID")
        ->check(IdArgument("character id"));
    on(user_remove, [&](const Context& c) { return CmdUserRemove(c, remove_id); });

    std::string derive_from;
    auto* derive = add("derive:rebuild",
                       "recompute killmail_filters and the kill stats from the stored killmails (all, or from a day)");
    derive->add_option("--from", derive_from, "first UTC day to rebuild (YYYY-MM-DD)")
        ->type_name("DATE")
        ->check(DayArgument("--from"));
    on(derive, [&](const Context& c) { return CmdDeriveRebuild(c, derive_from); });

    std::string dead_queue;
    std::size_t dead_limit = 50;
    auto* dead_list = add("dead:list", "show dead letters with reasons and counts");
    dead_list->add_option("QUEUE", dead_queue, "queue name (all queues when omitted)")
        ->type_name("QUEUE")
        ->check(OneOf("queue", KnownQueues()));
    dead_list->add_option("--limit", dead_limit, "messages to show per queue")
        ->type_name("N")
        ->check(WholeArgument("--limit", 1, 1000000));
    on(dead_list, [&](const Context& c) { return CmdDeadList(c, dead_queue, dead_limit); });
    std::string retry_queue;
    auto* dead_retry = add("dead:retry", "put a queue's dead letters back on it");
    dead_retry->add_option("QUEUE", retry_queue, "queue name")
        ->required()
        ->type_name("QUEUE")
        ->check(OneOf("queue", KnownQueues()));
    on(dead_retry, [&](const Context& c) { return CmdDeadRetry(c, retry_queue); });

    RegisterWorkerCommands(
        add, [&](CLI::App* sub, std::function<int(const Context&)> fn) { on(sub, std::move(fn)); }, AddWorkerFlags);

    // An unknown command gets its own clear message (CLI11 would only say one is required).
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0) {
            if (a.find('=') == std::string::npos && app.get_option_no_throw(a) != nullptr && a != "--help" &&
                a != "--version") {
                ++i;  // a global option's value
            }
            continue;
        }
        if (a[0] == '-') continue;
        std::vector<std::string> commands;
        for (const auto* sub : app.get_subcommands({})) commands.push_back(names.Display(sub->get_name()));
        if (std::find(commands.begin(), commands.end(), a) == commands.end()) {
            auto near = Nearest(a, commands);
            std::fprintf(stderr, "killreport: error: unknown command '%s'%s (see killreport --help)\n", a.c_str(),
                         near ? ("; did you mean " + *near + "?").c_str() : "");
            return 2;
        }
        break;
    }
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 1; --i) {  // CLI11 takes the arguments reversed
        std::string a = argv[i];
        for (const auto& [colon, internal] : names.names) {
            if (a == colon) a = internal;
        }
        args.push_back(std::move(a));
    }
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const BadArgument& e) {
        std::fprintf(stderr, "killreport: error: %s\n", names.Display(e.what()).c_str());
        return 2;
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "killreport: error: %s (see killreport --help)\n",
                     PlainParseError(names.Display(e.what())).c_str());
        return 2;
    }
    try {
        Context ctx{config::Load(config::Overrides{g.values})};
        log::Init(ctx.cfg.log_level, ctx.cfg.log_format);
        return run ? run(ctx) : 2;
    } catch (const std::exception& e) {
        log::CommandError(OneLine(e.what()));
        return 1;
    }
}

}  // namespace kr::app
