#pragma once
// GET /metrics over HTTP (cpp-httplib) on a thread of its own: the registry's scrape in the text
// exposition format. Bound to 127.0.0.1 unless the address names a host.
#include <memory>
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

private:
    Registry& registry_;
    std::string host_;
    int port_ = 0;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
};

}  // namespace kr::metrics
