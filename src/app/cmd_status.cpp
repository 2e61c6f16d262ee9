// `status`: what the deployment is doing, from the shared stores every process writes — the queues
// (depth, consumers, retries, dead letters), the shared ESI budget's state in kr_rate_state (error
// limit, paused route groups and until when), row counts, the universe's sweeps. One snapshot (JSON)
// feeds both the text and `--json`; `--watch` redraws it in place; `--serve` serves the status page.
// Exit code 1 when dead letters exist or a worker is down.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/status_page.hpp"
#include "app/status_snapshot.hpp"
#include "metrics/metrics_server.hpp"
#include "worker/shutdown.hpp"

namespace kr::app {

using nlohmann::json;

int CmdStatus(const Context& ctx, const StatusFlags& flags) {
    RequireDatabase(ctx.cfg);
    if (flags.serve) {
        const auto stop = worker::InstallShutdownHandlers();
        metrics::MetricsServer server(
            metrics::ParseListenAddress(flags.serve_addr.empty() ? kDefaultStatusAddr : flags.serve_addr, "--serve"));
        StatusPage page(server, ctx.cfg);
        std::printf("status page: %s (Ctrl-C stops)\n", page.Url().c_str());
        std::fflush(stdout);
        while (!stop.stop_requested()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // wakes on stop within 50 ms
        }
        return 0;
    }
    StatusSnapshot sources(ctx.cfg);
    if (!flags.watch) {
        const json s = sources.Snapshot();
        const std::string text = flags.json ? s.dump(2) + "\n" : sources.Text(s);
        std::fputs(text.c_str(), stdout);
        return StatusSnapshot::ExitCode(s);
    }
    const auto stop = worker::InstallShutdownHandlers();
    const bool tty = ::isatty(STDOUT_FILENO) != 0;
    int code = 0;
    while (!stop.stop_requested()) {
        const json s = sources.Snapshot();
        code = StatusSnapshot::ExitCode(s);
        if (flags.json) {
            std::fputs((s.dump() + "\n").c_str(), stdout);
        } else {
            // Home + clear below: the page is redrawn in place, as top does.
            std::fputs(
                ((tty ? "\x1b[H\x1b[J" : "") + s["at"].get<std::string>() + "\n" + sources.Text(s) + (tty ? "" : "\n"))
                    .c_str(),
                stdout);
        }
        std::fflush(stdout);
        const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(flags.every_s);
        while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // wakes on stop within 50 ms
        }
    }
    return code;
}

}  // namespace kr::app
