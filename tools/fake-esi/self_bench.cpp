// fake-esi --self-bench: start a server in-process and measure keep-alive throughput with
// cpp-httplib clients on other threads (client and server share the machine's cores).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "server.hpp"

namespace fakeesi {

double RunSelfBench(Options o, double seconds, int connections) {
    o.port = 0;
    o.port_file.clear();
    o.error_limit = 1 << 30;
    o.killmail_bucket_tokens = 1 << 30;
    o.faults = FaultConfig{};
    Server s(o);
    if (!s.Start()) {
        std::fprintf(stderr, "self-bench: cannot start server\n");
        return 0;
    }
    Universe& u = s.GetUniverse();
    // a mix of routes: characters, corporations, alliances, types, killmails
    std::vector<std::string> urls;
    auto chars = u.AllCharacterIds();
    auto corps = u.AllCorporationIds();
    auto alls = u.AllAllianceIds();
    auto types = u.AllTypeIds();
    auto kms = u.AllKillmailIds();
    for (std::size_t i = 0; i < 2000; ++i) {
        switch (i % 5) {
            case 0: urls.push_back("/characters/" + std::to_string(chars[i % chars.size()]) + "/"); break;
            case 1: urls.push_back("/corporations/" + std::to_string(corps[i % corps.size()]) + "/"); break;
            case 2: urls.push_back("/alliances/" + std::to_string(alls[i % alls.size()]) + "/"); break;
            case 3: urls.push_back("/universe/types/" + std::to_string(types[i % types.size()]) + "/"); break;
            default: {
                auto id = kms[i % kms.size()];
                urls.push_back("/killmails/" + std::to_string(id) + "/" + *u.KillmailHash(id) + "/");
            }
        }
    }
    std::atomic<bool> go{true};
    std::atomic<std::uint64_t> done{0}, failed{0};
    std::vector<std::thread> th;
    const int port = s.Port();
    auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < connections; ++c) {
        th.emplace_back([&, c] {
            httplib::Client cli("127.0.0.1", port);
            cli.set_keep_alive(true);
            cli.set_tcp_nodelay(true);
            std::size_t i = static_cast<std::size_t>(c) * 97;
            while (go.load(std::memory_order_relaxed)) {
                auto r = cli.Get(urls[i++ % urls.size()].c_str());
                if (r && r->status == 200)
                    done.fetch_add(1, std::memory_order_relaxed);
                else
                    failed.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    go = false;
    for (auto& t : th) t.join();
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double rps = static_cast<double>(done.load()) / el;
    std::printf("self-bench: %d keep-alive connections, %.1f s: %llu ok, %llu failed, %.0f req/s\n", connections, el,
                static_cast<unsigned long long>(done.load()), static_cast<unsigned long long>(failed.load()), rps);
    s.Stop();
    return rps;
}

}  // namespace fakeesi
