#include "worker/shutdown.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace kr::worker {

namespace {

std::stop_source& Source() {
    static std::stop_source source;
    return source;
}

std::atomic<int> g_signals{0};
int g_pipe[2] = {-1, -1};

void OnSignal(int) {
    if (g_signals.fetch_add(1) >= 1) _exit(130);  // second signal: leave now
    char c = 1;
    [[maybe_unused]] auto n = ::write(g_pipe[1], &c, 1);
}

}  // namespace

std::stop_token InstallShutdownHandlers() {
    static bool installed = [] {
        if (::pipe(g_pipe) != 0) return false;
        // A watcher thread turns the async-signal-safe pipe write into a stop request.
        std::thread([] {
            char c;
            while (::read(g_pipe[0], &c, 1) < 0) {}
            Source().request_stop();
        }).detach();
        struct sigaction sa {};
        sa.sa_handler = OnSignal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGTERM, &sa, nullptr);
        ::sigaction(SIGINT, &sa, nullptr);
        return true;
    }();
    (void)installed;
    return Source().get_token();
}

void RequestStop() { Source().request_stop(); }

std::stop_token ShutdownToken() { return Source().get_token(); }

}  // namespace kr::worker
