#pragma once
// GET /metrics over HTTP (cpp-httplib) on a thread of its own: the registry's scrape in the text
// exposition format. Bound to 127.0.0.1 unless the address names a host. Other GET routes (the
// status page) are added on the same server with Route().
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/registry.hpp"

namespace httplib {
class Server;
}

namespace kr::metrics {

struct ListenAddress {
    std::string host = "127.0.0.1";
    int port = 0;  ///< 0 = a free port (tests)
};

/// "9464" / ":9464" → 127.0.0.1:9464; "0.0.0.0:9464", "localhost:9464", "[::1]:9464" as given.
/// Throws kr::FatalError naming `what` on anything else.
ListenAddress ParseListenAddress(const std::string& text, const std::string& what = "KILLREPORT_METRICS_ADDR");

class MetricsServer {
public:
    /// Binds at once (kr::FatalError when the address is taken or invalid) and serves until destroyed.
    MetricsServer(const ListenAddress& addr, Registry& registry = Registry::Default());
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    int Port() const { return port_; }
    /// "http://127.0.0.1:9464/metrics".
    std::string Url() const;
    /// "http://127.0.0.1:9464" (no path).
    std::string BaseUrl() const;

    /// What a route answers: the body and its content type.
    struct Page {
        std::string body;
        std::string content_type;
    };
    using Handler = std::function<Page()>;
    /// Serves GET `path` (exact) from `handler` until Unroute(path); any time, also while serving.
    /// Handlers run one at a time (the server's one thread).
    void Route(const std::string& path, Handler handler);
    /// Removes the route; returns once no call of its handler is running.
    void Unroute(const std::string& path);

private:
    Registry& registry_;
    std::mutex routes_mu_;  ///< held while a route's handler runs
    std::map<std::string, Handler> routes_;
    std::string host_;
    int port_ = 0;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
};

}  // namespace kr::metrics
