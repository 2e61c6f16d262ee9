// fake-esi: ESI + zKillboard simulator for tests, benchmarks and the offline demo.
// Thin wrapper around fakeesi::Server; see README.md.
#include <pthread.h>

#include <csignal>
#include <cstdio>

#include "server.hpp"

int main(int argc, char** argv) {
    fakeesi::Options o;
    std::string err;
    bool help = false, bench = false;
    double bench_seconds = 3;
    int bench_connections = 8;
    if (!fakeesi::ParseArgs(argc, argv, o, err, help, bench, bench_seconds, bench_connections)) {
        std::fprintf(stderr, "fake-esi: %s\n%s", err.c_str(), fakeesi::Usage().c_str());
        return 2;
    }
    if (help) {
        std::fputs(fakeesi::Usage().c_str(), stdout);
        return 0;
    }
    if (bench) return fakeesi::RunSelfBench(o, bench_seconds, bench_connections) > 0 ? 0 : 1;

    // Block the stop signals in every thread; this thread waits for them with sigwait.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    fakeesi::Server server(o);
    if (!server.Start()) {
        std::fprintf(stderr, "fake-esi: cannot listen on 127.0.0.1:%d\n", o.port);
        return 1;
    }
    if (!o.quiet) {
        std::printf("fake-esi listening on http://127.0.0.1:%d\n", server.Port());
        std::fflush(stdout);
    }
    int sig = 0;
    sigwait(&set, &sig);
    server.Stop();
    return 0;
}
